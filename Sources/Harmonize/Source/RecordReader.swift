/// A streaming reader of records from one source file, whatever its format (delimited text,
/// HL7 v2, XML). The executor asks it for the fields a mapping reads, once, with `bind(fields:)`,
/// then pulls records with `next()` and reads each bound field's UTF-8 bytes with `withField`.
///
/// Readers hold at most one record (plus a bounded read buffer); a record that cannot be read is
/// reported as `.rejected` with its reason and location, and the reader goes on.
package protocol RecordReader: AnyObject {
    /// Resolves the field names a mapping reads to positions for `withField`.
    /// Delimited text resolves header names (exact, then case-insensitive); path-addressed formats
    /// (HL7 v2 `PID-5.1`, XML `patient/@id`) compile the paths and extract them for each record.
    /// - Throws: `RecordReaderBindError` naming the fields this source cannot provide.
    func bind(fields: [String]) throws(RecordReaderBindError) -> [Int]
    /// Reads the next record: `.record` (fields valid until the next call), `.rejected`, or `.end`.
    /// - Throws: only for I/O failures.
    func next() throws -> ReadEvent
    /// The UTF-8 bytes of a bound field of the current record (empty when absent).
    func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R
    /// The UTF-8 bytes of a bound field of the current record (empty when absent), without a
    /// closure: the buffer stays valid until the next call to `next()`. The executor's hot loop uses
    /// it; other callers should prefer `withField`.
    func field(_ position: Int) -> UnsafeBufferPointer<UInt8>
    /// The location of the current record.
    var location: SourceLocation { get }
    /// The current record's line and record number, for a reader whose records' locations differ
    /// in nothing else (file, column and path the same for every record); nil for the others,
    /// whose callers read `location`. Lets a caller that copies many records keep one location
    /// and these two numbers per record, without building a `SourceLocation` (and counting
    /// references to its strings) for each.
    var recordPosition: RecordPosition? { get }
    /// Bytes consumed from the source so far.
    var bytesRead: Int64 { get }
}

/// Fields a source cannot provide, found when a mapping binds to it (before any record is read).
package struct RecordReaderBindError: Error, Sendable, CustomStringConvertible {
    /// The missing fields, each with a suggestion when one is close.
    public var missing: [(field: String, suggestion: String?)]
    /// The file concerned.
    public var file: String

    /// Creates the error.
    public init(missing: [(field: String, suggestion: String?)], file: String) {
        self.missing = missing
        self.file = file
    }

    /// The position of each of `fields` in `names`, the fields bound by a reader that carries
    /// records of other readers (by the names they were bound with).
    /// - Throws: the error naming the fields that are not in `names`.
    static func positions(of fields: [String], in names: [String], file: String) throws(RecordReaderBindError) -> [Int] {
        var out: [Int] = []
        var missing: [(field: String, suggestion: String?)] = []
        for f in fields {
            if let i = names.firstIndex(of: f) { out.append(i) } else { missing.append((f, nil)) }
        }
        guard missing.isEmpty else { throw RecordReaderBindError(missing: missing, file: file) }
        return out
    }

    /// `FILE: no field 'X' (did you mean 'Y'?)`.
    public var description: String {
        let parts = missing.map { m in "no field '\(m.field)'" + (m.suggestion.map { " (did you mean '\($0)'?)" } ?? "") }
        return "\(file): " + parts.joined(separator: ", ")
    }
}

/// A record's line (nil when the format has none) and record number in its file
/// (`RecordReader.recordPosition`).
package struct RecordPosition: Sendable, Hashable {
    /// 1-based physical line where the record starts.
    public var line: Int?
    /// 1-based record number within the file.
    public var record: Int?
}

extension RecordReader {
    /// Default: nil, the record's `location` tells.
    public var recordPosition: RecordPosition? { nil }

    /// Default: the bytes `withField` shows. Conforming readers keep a record's field bytes in
    /// storage that is not touched until `next()`, so the buffer stays valid until then.
    public func field(_ position: Int) -> UnsafeBufferPointer<UInt8> {
        withField(position) { $0 }
    }
}

extension DelimitedReader: RecordReader {
    /// The bytes of field `position`, valid until `next()`.
    @inline(__always)
    public func field(_ position: Int) -> UnsafeBufferPointer<UInt8> {
        withField(position) { $0 }
    }

    /// The current record's line and number: its `location` differs from the others' in nothing
    /// else (the file is the reader's). A chunk of records keeps these two numbers per record
    /// where it built, compared and released a `SourceLocation` for each (about 300 instructions
    /// per claim: `bench/README.md`, seventeenth part).
    public var recordPosition: RecordPosition? { RecordPosition(line: recordLine, record: recordNumber) }

    /// Resolves header names: exact match first, then case-insensitive.
    public func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] {
        let names = columnNames
        var exact: [String: Int] = [:]
        var lowered: [String: Int] = [:]
        for (i, n) in names.enumerated() {
            if exact[n] == nil { exact[n] = i }
            if lowered[n.lowercased()] == nil { lowered[n.lowercased()] = i }
        }
        var out: [Int] = []
        var missing: [(field: String, suggestion: String?)] = []
        for f in fields {
            if let i = exact[f] ?? lowered[f.lowercased()] {
                out.append(i)
            } else {
                missing.append((f, Suggestion.closest(to: f, in: names)))
            }
        }
        if !missing.isEmpty { throw RecordReaderBindError(missing: missing, file: location.file) }
        return out
    }
}
