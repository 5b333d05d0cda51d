/// A streaming reader of delimited text (CSV and its dialects) that exposes each record's
/// fields as UTF-8 byte slices of its own buffer.
///
/// Bytes are pulled from a `ByteSource` in large chunks, transcoded to UTF-8 when needed, and
/// tokenized byte by byte without building a `String` per line or field. The buffer grows only
/// to hold one record (up to `ReaderLimits.maxRecordBytes`). A record that cannot be read
/// (structure, encoding, limits, ragged row) is returned as `.rejected` and reading goes on.
///
/// ```swift
/// let reader = try DelimitedReader(path: "claims.csv")
/// loop: while true {
///     switch try reader.next() {
///     case .record: print(reader.string(0))
///     case .rejected(let reject): print(reject.reason)
///     case .end: break loop
///     }
/// }
/// ```
///
/// Field accessors are valid until the next call to `next()`.
package final class DelimitedReader {
    // MARK: Configuration
    let source: any ByteSource
    /// The file name used in locations, rejects and errors.
    public let displayName: String
    let limits: ReaderLimits
    var dialect: Dialect
    var encoding: ConcreteEncoding = .utf8
    var transcoder: Transcoder? = nil
    let chunkSize: Int
    var validateUTF8 = true
    var delimiterByte: UInt8 = UInt8(ascii: ",")
    var quoteInt = -1
    var escapeInt = -1
    var trimSpaces = false

    // MARK: Buffer (UTF-8 text)
    // The record's bytes and field bounds are read for every field of every record, often through
    // the `RecordReader` witness (joins, lookups) where the optimizer cannot drop the dynamic
    // exclusivity checks of a class property: only this reader's own methods write them, never
    // while a field is being read, so the checks are off for these few properties.
    @exclusivity(unchecked) var buf: UnsafeMutablePointer<UInt8>
    var cap: Int
    let maxCap: Int
    var start = 0
    var end = 0
    var eof = false
    var raw: UnsafeMutableRawBufferPointer
    var prefix: [UInt8] = []
    var prefixOffset = 0
    /// Bytes consumed from the source so far (for progress).
    public internal(set) var bytesRead: Int64 = 0
    /// Delimiter, newline and escape bytes: the stop bytes of the unquoted scan (`stopCount` of
    /// them, at most four).
    let stops: UnsafeMutablePointer<UInt8>
    var stopCount = 0
    /// The buffer's byte classes, a bit per byte and 64 to a word (`harmonize_scan_classes`):
    /// stop bytes, and bytes of 0x80 and above. Valid for the bytes before `classesEnd`; an
    /// unquoted field ends at the next stop bit, found a word at a time, where each field's
    /// bytes were tested eight at a time for each stop byte (`bench/README.md`, seventeenth part).
    @exclusivity(unchecked) var stopBits: UnsafeMutablePointer<UInt64>
    @exclusivity(unchecked) var highBits: UnsafeMutablePointer<UInt64>
    @exclusivity(unchecked) var classesEnd = 0

    // MARK: Fields of the current record
    @exclusivity(unchecked) var fStart: UnsafeMutablePointer<Int>
    @exclusivity(unchecked) var fEnd: UnsafeMutablePointer<Int>
    @exclusivity(unchecked) var fFlags: UnsafeMutablePointer<UInt8>
    var fCap: Int
    /// Number of fields in the current record (0 after a reject or at the end).
    @exclusivity(unchecked) public internal(set) var fieldCount = 0

    // MARK: Result of the last parse
    var pFields = 0
    var pNext = 0
    var pContentEnd = 0
    var pLines = 0
    var pTerminated = false
    var pCRAtEnd = false
    var pNonASCII = false
    var pUnescape = false
    var pUnterminated = false
    var pOverflow = false
    /// The first field (0-based) with text after its closing quote, or -1.
    var pStrayQuote = -1

    // MARK: Position
    /// Physical line (1-based) of the next unconsumed byte.
    var line = 1
    var recordNumber = 0
    var recordLine = 0
    var swallowLF = false
    var expectedColumns: Int? = nil
    var names: [String] = []
    var pending: ReadEvent? = nil

    static let flagQuoted: UInt8 = 1
    static let flagUnescape: UInt8 = 2

    /// Opens a reader over `source`; reads the preamble and the header (detecting the encoding
    /// and the delimiter when the dialect leaves them open) before returning.
    /// - Parameters:
    ///   - source: where the bytes come from.
    ///   - displayName: the file name used in locations, rejects and errors.
    ///   - dialect: how the file is written.
    ///   - limits: bounds on fields, columns and record size.
    /// - Throws: `DelimitedReaderError` on an I/O error, an empty file when a header is
    ///   expected, duplicate column names, a header that cannot be read or an invalid dialect.
    public convenience init(
        source: any ByteSource, displayName: String, dialect: Dialect = Dialect(),
        limits: ReaderLimits = ReaderLimits()
    ) throws(DelimitedReaderError) {
        try self.init(source: source, displayName: displayName, dialect: dialect, limits: limits, chunkSize: 1 << 20)
    }

    /// Opens a file; `displayName` defaults to the path.
    /// - Throws: `DelimitedReaderError` (see `init(source:displayName:dialect:limits:)`).
    public convenience init(
        path: String, displayName: String? = nil, dialect: Dialect = Dialect(), limits: ReaderLimits = ReaderLimits()
    ) throws(DelimitedReaderError) {
        let name = displayName ?? path
        let source: FileByteSource
        do throws(SourceIOError) {
            source = try FileByteSource(path: path)
        } catch {
            throw DelimitedReaderError(file: name, kind: .io(error))
        }
        try self.init(source: source, displayName: name, dialect: dialect, limits: limits)
    }

    /// The designated initializer, with the read chunk size (tests use small chunks).
    init(
        source: any ByteSource, displayName: String, dialect: Dialect, limits: ReaderLimits, chunkSize: Int
    ) throws(DelimitedReaderError) {
        self.source = source
        self.displayName = displayName
        self.dialect = dialect
        self.limits = limits
        self.chunkSize = max(16, chunkSize)
        self.maxCap = limits.maxRecordBytes + self.chunkSize + 64
        self.cap = min(self.chunkSize + 64 << 10, maxCap)
        self.buf = .allocate(capacity: cap)
        self.raw = .allocate(byteCount: self.chunkSize, alignment: 16)
        self.stops = .allocate(capacity: 4)
        self.stops.initialize(repeating: 0, count: 4)
        self.stopBits = .allocate(capacity: Self.classWords(cap))
        self.highBits = .allocate(capacity: Self.classWords(cap))
        self.fCap = min(64, limits.maxColumns)
        self.fStart = .allocate(capacity: fCap)
        self.fEnd = .allocate(capacity: fCap)
        self.fFlags = .allocate(capacity: fCap)
        try validateDialect()
        try readPreamble()
    }

    /// Words of byte classes for a buffer of `cap` bytes (and one past its last word).
    static func classWords(_ cap: Int) -> Int { cap / 64 + 2 }

    deinit {
        buf.deallocate()
        raw.deallocate()
        stops.deallocate()
        stopBits.deallocate()
        highBits.deallocate()
        fStart.deallocate()
        fEnd.deallocate()
        fFlags.deallocate()
    }

    // MARK: Public state

    /// The column names: the header's (empty names become their 1-based position), the declared
    /// ones, or `"1"`, `"2"`… when there is neither.
    public var columnNames: [String] { names }

    /// The dialect with the delimiter and encoding as detected.
    public var resolvedDialect: Dialect { dialect }

    /// Total size of the source in bytes, when known.
    public var totalBytes: Int64? { source.totalBytes }

    /// Where the current record comes from: file, physical line where it starts (1-based,
    /// counting preamble and header lines) and data record number (1-based).
    public var location: SourceLocation {
        SourceLocation(file: displayName, line: recordLine, record: recordNumber)
    }

    // MARK: Reading

    /// Reads the next record.
    /// - Returns: `.record` (fields available until the next call), `.rejected` with the reason
    ///   and location, or `.end`.
    /// - Throws: `DelimitedReaderError` only for I/O errors.
    public func next() throws(DelimitedReaderError) -> ReadEvent {
        if let event = pending {
            pending = nil
            return event
        }
        fieldCount = 0
        while true {
            // Blank lines produce no record.
            while start < end {
                let c = buf[start]
                if swallowLF {
                    swallowLF = false
                    if c == 10 {
                        start += 1
                        continue
                    }
                }
                if c == 10 {
                    line += 1
                    start += 1
                } else if c == 13 {
                    line += 1
                    start += 1
                    swallowLF = true
                } else {
                    break
                }
            }
            if start == end {
                if eof { return .end }
                try fill()
                continue
            }
            if parseRecord(from: start) { return finishRecord() }
            if end - start - 1 > limits.maxRecordBytes { return try skipOversizedRecord() }
            try fill()
        }
    }

    /// The UTF-8 bytes of field `index` of the current record, unquoted and unescaped; an empty
    /// buffer when `index` is out of range. The buffer is valid only inside `body`.
    @inline(__always)
    public func withField<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        guard index >= 0, index < fieldCount else {
            return try body(UnsafeBufferPointer(start: nil, count: 0))
        }
        let s = fStart[index]
        return try body(UnsafeBufferPointer(start: buf + s, count: fEnd[index] - s))
    }

    /// Whether field `index` was quoted (so a quoted empty field `""` can be told from an empty one).
    public func isQuoted(_ index: Int) -> Bool {
        guard index >= 0, index < fieldCount else { return false }
        return fFlags[index] & DelimitedReader.flagQuoted != 0
    }

    /// Field `index` decoded as a `String` (empty when absent).
    public func string(_ index: Int) -> String {
        withField(index) { String(decoding: $0, as: UTF8.self) }
    }

    /// All fields of the current record as strings (convenience; allocates).
    public func strings() -> [String] {
        (0..<fieldCount).map { string($0) }
    }

    // MARK: Record completion

    /// The name of column `index` (0-based) for rejects.
    func columnName(_ index: Int) -> String {
        index < names.count ? names[index] : String(index + 1)
    }

    func reject(_ reason: RejectReason, column: Int? = nil, _ message: String) -> ReadEvent {
        fieldCount = 0
        var loc = location
        loc.column = column.map { $0 + 1 }
        return .rejected(
            Reject(reason: reason, location: loc, field: column.map { columnName($0) }, message: message))
    }

    /// Consumes the record just parsed and checks it.
    func finishRecord() -> ReadEvent {
        let recordStart = start
        recordNumber += 1
        recordLine = line
        line += pLines + (pTerminated ? 1 : 0)
        start = pNext
        if pCRAtEnd { swallowLF = true }
        let nf = pFields
        if pUnterminated {
            return reject(.structureError, "unterminated quoted field at end of file")
        }
        if pStrayQuote >= 0 && !dialect.keepTextAfterQuote {
            return reject(
                .structureError, column: pStrayQuote, "text after the closing quote of a quoted field (a quote inside a quoted field is doubled)")
        }
        if pContentEnd - recordStart > limits.maxRecordBytes {
            return reject(.limitExceeded, "record longer than \(limits.maxRecordBytes) bytes")
        }
        if pOverflow {
            return reject(.limitExceeded, "record has more than \(limits.maxColumns) fields")
        }
        let maxField = limits.maxFieldBytes
        for i in 0..<nf where fEnd[i] - fStart[i] > maxField {
            return reject(.limitExceeded, column: i, "field longer than \(maxField) bytes")
        }
        if let expected = expectedColumns, nf != expected {
            if nf > expected {
                return reject(.extraCell, "record has \(nf) fields, \(expected) expected")
            }
            if dialect.raggedRows == .reject {
                return reject(.missingCell, column: nf, "record has \(nf) fields, \(expected) expected")
            }
        }
        if pNonASCII && validateUTF8 {
            for i in 0..<nf where !UTF8Validation.isValid(buf + fStart[i], count: fEnd[i] - fStart[i]) {
                return reject(.encodingError, column: i, "invalid \(encoding == .utf8 ? "UTF-8" : "UTF-16") bytes")
            }
        }
        if pUnescape {
            for i in 0..<nf where fFlags[i] & DelimitedReader.flagUnescape != 0 { unescapeField(i) }
        }
        fieldCount = nf
        return .record
    }

    /// Removes quotes, doubled quotes and escapes of field `i`, in place (the result is never longer).
    func unescapeField(_ i: Int) {
        var r = fStart[i]
        let e = fEnd[i]
        var inQuote = false
        if fFlags[i] & DelimitedReader.flagQuoted != 0, r < e, Int(buf[r]) == quoteInt {
            inQuote = true
            r += 1
        }
        var w = fStart[i]
        while r < e {
            let c = buf[r]
            if inQuote && Int(c) == quoteInt {
                if r + 1 < e && Int(buf[r + 1]) == quoteInt {
                    buf[w] = c
                    w += 1
                    r += 2
                } else {
                    inQuote = false
                    r += 1
                }
            } else if Int(c) == escapeInt && r + 1 < e {
                buf[w] = buf[r + 1]
                w += 1
                r += 2
            } else {
                buf[w] = c
                w += 1
                r += 1
            }
        }
        fEnd[i] = w
    }

    /// Grows the field arrays; false when `maxColumns` is reached.
    @inline(never)
    func growFields() -> Bool {
        guard fCap < limits.maxColumns else { return false }
        let newCap = min(fCap * 2, limits.maxColumns)
        let s = UnsafeMutablePointer<Int>.allocate(capacity: newCap)
        let e = UnsafeMutablePointer<Int>.allocate(capacity: newCap)
        let f = UnsafeMutablePointer<UInt8>.allocate(capacity: newCap)
        s.update(from: fStart, count: fCap)
        e.update(from: fEnd, count: fCap)
        f.update(from: fFlags, count: fCap)
        fStart.deallocate()
        fEnd.deallocate()
        fFlags.deallocate()
        fStart = s
        fEnd = e
        fFlags = f
        fCap = newCap
        return true
    }
}

@available(*, unavailable)
extension DelimitedReader: Sendable {}
