/// What to do with a record that has fewer cells than the header.
package enum RaggedRowPolicy: String, Sendable, Hashable, Codable {
    /// Reject records with fewer (`missing-cell`) or more (`extra-cell`) cells than the header.
    case reject
    /// Accept records with fewer cells (the missing trailing cells read as absent); still reject
    /// records with more cells.
    case pad
}

/// How a delimited-text file is written: delimiter, quoting, header, encoding and preamble.
///
/// `nil` for `delimiter` means "detect from the first lines"; `.auto` encoding means
/// "byte order mark, then UTF-8 if valid, else Windows-1252".
package struct Dialect: Sendable, Hashable, Codable {
    /// The field delimiter (an ASCII byte such as `,` `;` tab `|`); nil to detect it.
    public var delimiter: UInt8?
    /// The quote byte (ASCII); nil when fields are never quoted.
    public var quote: UInt8?
    /// An escape byte (ASCII, e.g. backslash) that makes the next byte literal, in addition to
    /// doubled quotes inside quoted fields; nil for none.
    public var escape: UInt8?
    /// Whether the first record (after `skipLines`) is a header with the column names.
    public var header: Bool
    /// Declared column names: used when `header` is false, or to override the header's names.
    public var columns: [String]?
    /// The character encoding of the file.
    public var encoding: TextEncoding
    /// Number of physical lines to skip before the header (a preamble).
    public var skipLines: Int
    /// What to do with records that have fewer cells than the header.
    public var raggedRows: RaggedRowPolicy
    /// Whether leading and trailing spaces of unquoted fields are dropped (and spaces around a
    /// quoted field are allowed).
    public var trimUnquotedSpaces: Bool
    /// Whether text after the closing quote of a quoted field (`"ef"gh`) is kept as text
    /// (`efgh`, `stray_quotes: keep`) instead of rejecting the record (`structure-error`, the
    /// default: the quote inside the field should have been doubled).
    public var keepTextAfterQuote = false

    /// Creates a dialect; the defaults describe an RFC 4180 file with a header, in any encoding,
    /// with the delimiter detected.
    public init(
        delimiter: UInt8? = nil, quote: UInt8? = UInt8(ascii: "\""), escape: UInt8? = nil,
        header: Bool = true, columns: [String]? = nil, encoding: TextEncoding = .auto, skipLines: Int = 0,
        raggedRows: RaggedRowPolicy = .reject, trimUnquotedSpaces: Bool = false
    ) {
        self.delimiter = delimiter
        self.quote = quote
        self.escape = escape
        self.header = header
        self.columns = columns
        self.encoding = encoding
        self.skipLines = skipLines
        self.raggedRows = raggedRows
        self.trimUnquotedSpaces = trimUnquotedSpaces
    }

    /// The delimiters tried by detection, in order of preference on ties.
    public static let candidateDelimiters: [UInt8] = [
        UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "\t"), UInt8(ascii: "|"),
    ]
}

/// Limits that bound the memory and work spent on one record. A record over a limit is
/// rejected with `limit-exceeded` and reading goes on with the next record.
package struct ReaderLimits: Sendable, Hashable, Codable {
    /// Largest field, in UTF-8 bytes as read (default 1 MiB).
    public var maxFieldBytes: Int
    /// Most fields in one record (default 4096).
    public var maxColumns: Int
    /// Largest record, in UTF-8 bytes (default 16 MiB); the read buffer never grows much past it.
    public var maxRecordBytes: Int

    /// Creates limits; the defaults are 1 MiB per field, 4096 columns and 16 MiB per record.
    public init(maxFieldBytes: Int = 1 << 20, maxColumns: Int = 4096, maxRecordBytes: Int = 16 << 20) {
        self.maxFieldBytes = max(1, maxFieldBytes)
        self.maxColumns = max(1, maxColumns)
        self.maxRecordBytes = max(1, maxRecordBytes)
    }
}

/// What `DelimitedReader.next()` found.
package enum ReadEvent: Sendable {
    /// A record is available through `fieldCount`, `withField`, `string` and `location`.
    case record
    /// A record was rejected (structure, encoding, limit or ragged row); reading can go on.
    /// (Boxed: the event of every record stays a word, not the reject's 152 bytes.)
    indirect case rejected(Reject)
    /// No more records.
    case end
}

/// A failure that stops a delimited reader: an I/O error or an unusable header or dialect.
/// Carries the file name and the problem, never cell values.
package struct DelimitedReaderError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable {
        /// Reading the source failed.
        case io(SourceIOError)
        /// The file is empty although a header was expected.
        case emptyFile
        /// Two header columns have the same name.
        case duplicateColumn(String)
        /// The header has a different number of columns than the declared column list.
        case headerMismatch(headerColumns: Int, declaredColumns: Int)
        /// The header cannot be read (unterminated quote, over a limit, bad encoding).
        case invalidHeader(RejectReason)
        /// The dialect cannot be used (a non-ASCII delimiter, quote equal to delimiter…).
        case invalidDialect(String)
    }

    /// The file (display name).
    public var file: String
    /// The problem.
    public var kind: Kind

    /// Creates the error.
    public init(file: String, kind: Kind) {
        self.file = file
        self.kind = kind
    }

    /// A one-line message without any cell value.
    public var description: String {
        switch kind {
        case .io(let e): return e.description
        case .emptyFile: return "\(file): empty file, a header line was expected"
        case .duplicateColumn(let name): return "\(file): duplicate column name '\(name)' in the header"
        case .headerMismatch(let h, let d):
            return "\(file): the header has \(h) columns but \(d) column names are declared"
        case .invalidHeader(let reason): return "\(file): the header cannot be read (\(reason.rawValue))"
        case .invalidDialect(let why): return "\(file): invalid dialect: \(why)"
        }
    }
}
