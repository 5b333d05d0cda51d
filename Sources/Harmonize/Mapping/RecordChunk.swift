// Records of a file copied out of its reader in chunks, and a reader over a chunk: what the
// workers of `run --threads N` map (`ParallelFilePass`), and what a join index loads while its
// file is read on another thread (`ChunkedRead`).

/// What a chunk's mapping produced, in the order the executor sent it.
enum ChunkItem {
    case rows(RowBatch)
    case rejects([RunReject])
}

/// Records of one file copied out of its reader for a worker: the bytes of the fields the
/// mapping reads (one buffer, with each field's start and end in it), each record's location,
/// and the reader's rejects in place; then, once mapped, the batches, rejects and ledger of
/// those records.
final class RecordChunk {
    /// A chunk is handed on past this many bytes of fields, whatever its record count (offsets
    /// in a chunk are 32-bit).
    static let maxBytes = 64 << 20

    let sequence: Int
    let fieldCount: Int
    /// Records of the file read before this chunk's first one (`.record` events).
    let recordsBefore: Int
    // Filled by one thread, then read by one worker: the dynamic exclusivity checks are off.
    @exclusivity(unchecked) private var bytes = GrowableBuffer<UInt8>(capacity: 4096)
    /// For each record, `fieldCount` start and end offsets in `bytes`. A delimited record is
    /// copied whole, delimiters and fields it does not read included (`appendRecordSpan`): its
    /// fields do not follow each other in `bytes`.
    @exclusivity(unchecked) private var starts = GrowableBuffer<Int32>(capacity: 64)
    @exclusivity(unchecked) private var ends = GrowableBuffer<Int32>(capacity: 64)
    // Each record's location: its line and record number, and the rest (file, column, path)
    // as an index into a few distinct ones (`kinds`). A whole location per record held its
    // strings: counted on the reading thread, and again when the worker freed the chunk.
    @exclusivity(unchecked) private var kinds: [SourceLocation] = []
    @exclusivity(unchecked) private var kindOf = GrowableBuffer<Int32>(capacity: 16)
    @exclusivity(unchecked) private var lines = GrowableBuffer<Int>(capacity: 16)
    @exclusivity(unchecked) private var numbers = GrowableBuffer<Int>(capacity: 16)
    @exclusivity(unchecked) private var lastKind = 0
    /// Locations of a chunk with more distinct kinds than `maxKinds`, kept whole (by record index).
    @exclusivity(unchecked) private var wholeLocations: [Int: SourceLocation] = [:]
    private static let maxKinds = 64
    /// The reader's rejects, by record index in the chunk (rare: checked only when not empty).
    @exclusivity(unchecked) private(set) var rejects: [Int: Reject] = [:]
    @exclusivity(unchecked) private(set) var count = 0
    /// Bytes of fields held.
    var byteCount: Int { bytes.count }
    /// The reader's position after this chunk's last record (progress).
    var bytesRead: Int64 = 0
    /// The file the records come from, when a session maps several files
    /// (`ParallelFilePass.Files`): its index and path for the worker, its place among them.
    var file: (index: Int32, path: String, ordinal: Int)?
    // Output.
    var items: [ChunkItem] = []
    var ledger: RunManifest.LedgerEntry?
    var failure: RunError?

    init(sequence: Int, fieldCount: Int, recordsBefore: Int, capacity: Int) {
        self.sequence = sequence
        self.fieldCount = fieldCount
        self.recordsBefore = recordsBefore
        starts = GrowableBuffer(capacity: fieldCount * min(capacity, 1 << 16))
        ends = GrowableBuffer(capacity: fieldCount * min(capacity, 1 << 16))
        kindOf = GrowableBuffer(capacity: min(capacity, 1 << 16))
        lines = GrowableBuffer(capacity: min(capacity, 1 << 16))
        numbers = GrowableBuffer(capacity: min(capacity, 1 << 16))
    }

    /// Copies the fields of the current record of `reader` (at `columns`); `delimited`: the
    /// same reader when it is a `DelimitedReader` (cast once by the caller).
    @inline(__always)
    private func appendFields<Reader: RecordReader>(_ reader: Reader, columns: [Int], delimited: DelimitedReader?) {
        if let delimited, appendRecordSpan(delimited, columns: columns) { return }
        for c in columns {
            // Short values (most fields) copied inline rather than through a call to `memmove`.
            starts.append(Int32(truncatingIfNeeded: bytes.count))
            bytes.appendBytes(reader.field(c))
            ends.append(Int32(truncatingIfNeeded: bytes.count))
        }
    }

    /// Copies the current record of `reader` whole, in one move, when the fields at `columns`
    /// are at least half of its fields, and places each field in the copy (its start and end
    /// offsets, unquoted and unescaped as the reader left them in its buffer): a copy and two
    /// offsets per field cost a third of copying the fields one by one (`bench/README.md`,
    /// twentieth part). False, copying nothing, otherwise.
    @inline(__always)
    private func appendRecordSpan(_ reader: DelimitedReader, columns: [Int]) -> Bool {
        let nf = reader.fieldCount
        guard nf > 0, nf <= 2 * columns.count else { return false }
        let fStart = reader.fStart
        let fEnd = reader.fEnd
        // The fields lie in order in the reader's buffer, from the first's start to the last's end.
        let lo = fStart[0]
        let hi = fEnd[nf - 1]
        let base = bytes.count - lo
        bytes.append(UnsafeBufferPointer(start: reader.buf + lo, count: hi - lo))
        let s = starts.appendUninitialized(columns.count)
        let e = ends.appendUninitialized(columns.count)
        for (k, c) in columns.enumerated() {
            if c >= 0 && c < nf {
                s[k] = Int32(truncatingIfNeeded: base + fStart[c])
                e[k] = Int32(truncatingIfNeeded: base + fEnd[c])
            } else {
                // A column the record does not have (a short row): empty, as the reader gives it.
                s[k] = Int32(truncatingIfNeeded: bytes.count)
                e[k] = s[k]
            }
        }
        return true
    }

    @inline(__always)
    private static func sameKind(_ a: SourceLocation, _ b: SourceLocation) -> Bool {
        a.file == b.file && a.column == b.column && a.path == b.path
    }

    private func appendLocation(_ l: SourceLocation) {
        var k = -1
        if lastKind < kinds.count, Self.sameKind(kinds[lastKind], l) {
            k = lastKind
        } else if let i = kinds.firstIndex(where: { Self.sameKind($0, l) }) {
            k = i
        } else if kinds.count < Self.maxKinds {
            kinds.append(l)
            k = kinds.count - 1
        }
        if k >= 0 { lastKind = k } else { wholeLocations[count] = l }
        kindOf.append(Int32(k))
        lines.append(l.line ?? .min)
        numbers.append(l.record ?? .min)
    }

    /// The location of record `i` of the chunk, as its reader gave it.
    func location(_ i: Int) -> SourceLocation {
        let k = Int(kindOf[i])
        guard k >= 0 else { return wholeLocations[i] ?? SourceLocation(file: "") }
        var l = kinds[k]
        l.line = lines[i] == .min ? nil : lines[i]
        l.record = numbers[i] == .min ? nil : numbers[i]
        return l
    }

    /// Fills the chunk from `reader` (its fields at `columns`) up to `limit` records or `bytes`
    /// bytes of fields (at most `maxBytes`), adding the records read (`.record` events) to
    /// `records`, and sets `bytesRead`. Returns true when the reader reached its end; a read
    /// error is thrown with the records before it kept in the chunk.
    func fill<Reader: RecordReader>(
        from reader: Reader, columns: [Int], limit: Int, bytes: Int = RecordChunk.maxBytes, records: inout Int
    ) throws -> Bool {
        defer { bytesRead = reader.bytesRead }
        let byteLimit = min(bytes, Self.maxBytes)
        if let queued = reader as? any XMLQueuedRecords, queued.queueCollector.boundPaths == columns.count,
            columns.indices.elementsEqual(columns)
        {
            return try fillQueued(from: queued, limit: limit, byteLimit: byteLimit, records: &records)
        }
        // A reader whose records differ only by line and number (`recordPosition`): its
        // location's kind is found once, then each record adds two numbers.
        var uniformKind = -1
        let delimited = reader as? DelimitedReader
        while count < limit && byteCount < byteLimit {
            switch try reader.next() {
            case .end: return true
            case .rejected(let r): appendRejected(r)
            case .record:
                records += 1
                if uniformKind >= 0, let p = reader.recordPosition {
                    appendFields(reader, columns: columns, delimited: delimited)
                    kindOf.append(Int32(uniformKind))
                    lines.append(p.line ?? .min)
                    numbers.append(p.record ?? .min)
                    count += 1
                } else {
                    appendFields(reader, columns: columns, delimited: delimited)
                    appendLocation(reader.location)
                    count += 1
                    if reader.recordPosition != nil, let k = kindOf.last, k >= 0 { uniformKind = Int(k) }
                }
            }
        }
        return false
    }

    /// `fill` from a reader whose records wait in an XML collector's queue, its fields every
    /// bound path in order: the queued records are taken together, their values copied at once
    /// (they follow each other in the collector's arena as they do in `bytes`), each record's
    /// ends computed from its spans. The same chunk as record by record.
    private func fillQueued(from reader: any XMLQueuedRecords, limit: Int, byteLimit: Int, records: inout Int) throws -> Bool {
        let n = fieldCount
        // The index of the records' location kind (file, path), once the first is appended.
        var kind = -1
        while count < limit && byteCount < byteLimit {
            let last = try reader.queueCollector.takeQueued { items, spans, arena throws(SourceIOError) -> Int in
                let b0 = bytes.count
                // The arena's bytes taken so far: from `first` (-1: none yet) to `end`.
                var first = -1
                var end = 0
                var i = 0
                while i < items.count && count < limit {
                    let taken = first < 0 ? 0 : end - first
                    guard b0 + taken < byteLimit else { break }
                    let item = items[i]
                    if item.reject >= 0 {
                        let end32 = Int32(truncatingIfNeeded: b0 + taken)
                        for _ in 0..<n {
                            starts.append(end32)
                            ends.append(end32)
                        }
                        let r = reader.queueCollector.reject(of: item)
                        let reject = Reject(reason: r.reason, location: reader.location(of: item), message: r.message)
                        rejects[count] = reject
                        appendLocation(reject.location)
                    } else {
                        records += 1
                        var s = item.span
                        let st = starts.appendUninitialized(n)
                        let e = ends.appendUninitialized(n)
                        for f in 0..<n {
                            let length = spans[s + 1]
                            // Where the field starts: where the one before it ended.
                            st[f] = Int32(truncatingIfNeeded: first < 0 ? b0 : b0 + end - first)
                            if length >= 0 {
                                if first < 0 {
                                    first = spans[s]
                                    end = first
                                }
                                end += length
                            }
                            e[f] = Int32(truncatingIfNeeded: first < 0 ? b0 : b0 + end - first)
                            s += 2
                        }
                        if kind >= 0 {
                            kindOf.append(Int32(kind))
                            lines.append(item.line > 0 ? item.line : .min)
                            numbers.append(item.record)
                        } else {
                            appendLocation(reader.location(of: item))
                            if let k = kindOf.last, k >= 0 { kind = Int(k) }
                        }
                    }
                    count += 1
                    i += 1
                }
                if first >= 0 { self.bytes.append(UnsafeBufferPointer(rebasing: arena[first..<end])) }
                return i
            }
            if let last {
                reader.took(last)
            } else if try !reader.queueMore() {
                return true
            }
        }
        return false
    }

    /// Keeps a record the reader rejected, in its place.
    func appendRejected(_ r: Reject) {
        let at = Int32(truncatingIfNeeded: bytes.count)
        for _ in 0..<fieldCount {
            starts.append(at)
            ends.append(at)
        }
        rejects[count] = r
        appendLocation(r.location)
        count += 1
    }

    /// The bytes of field `k` of record `r`.
    @inline(__always)
    func field(record r: Int, _ k: Int) -> UnsafeBufferPointer<UInt8> {
        let i = r * fieldCount + k
        let start = Int(starts[i])
        return UnsafeBufferPointer(start: bytes.base + start, count: Int(ends[i]) - start)
    }

    /// Set once the input is freed: the output's estimated bytes.
    private var outputBytes: Int?

    /// An estimate of the memory the chunk holds: its fields and locations until it is mapped,
    /// then its output (cells, lineage, lookups, rejects; text cells longer than a `Value`'s
    /// inline storage are not counted).
    var heldBytes: Int {
        if let outputBytes { return outputBytes }
        return bytes.count + ends.count * 8 + count * 24
    }

    /// Counts the output's bytes (`heldBytes` once the input is freed).
    private func recountOutput() {
        var n = 0
        for item in items {
            switch item {
            case .rows(let b):
                n += b.values.capacity * MemoryLayout<Value>.stride + b.lineage.capacity * MemoryLayout<RowLineage>.stride
                n += b.lookups.capacity * MemoryLayout<RowLookup>.stride
            case .rejects(let r): n += r.count * 256
            }
        }
        outputBytes = n
    }

    /// Frees the input once mapped (the output stays until forwarded).
    func release() {
        recountOutput()
        starts = GrowableBuffer(capacity: 1)
        ends = GrowableBuffer(capacity: 1)
        kinds = []
        kindOf = GrowableBuffer(capacity: 1)
        lines = GrowableBuffer(capacity: 1)
        numbers = GrowableBuffer(capacity: 1)
        wholeLocations = [:]
        rejects = [:]
        bytes = GrowableBuffer(capacity: 1)
    }
}

@available(*, unavailable)
extension RecordChunk: Sendable {}

/// Reads the records of a `RecordChunk` as their file's reader gave them: the same fields, the
/// same locations, the reader's rejects in place.
final class ChunkReader: RecordReader {
    /// The fields the chunk holds, in order (the names the file's reader was bound to).
    let names: [String]
    // Used by one worker thread: the dynamic exclusivity checks are off.
    @exclusivity(unchecked) private var chunk: RecordChunk
    @exclusivity(unchecked) private var position = -1

    init(names: [String]) {
        self.names = names
        chunk = RecordChunk(sequence: -1, fieldCount: names.count, recordsBefore: 0, capacity: 0)
    }

    /// Starts reading `chunk`.
    func reset(_ chunk: RecordChunk) {
        self.chunk = chunk
        position = -1
    }

    func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] {
        try RecordReaderBindError.positions(of: fields, in: names, file: location.file)
    }

    func next() throws -> ReadEvent {
        position += 1
        guard position < chunk.count else { return .end }
        if !chunk.rejects.isEmpty, let r = chunk.rejects[position] { return .rejected(r) }
        return .record
    }

    func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(field(position))
    }

    @inline(__always)
    func field(_ k: Int) -> UnsafeBufferPointer<UInt8> {
        chunk.field(record: position, k)
    }

    var location: SourceLocation {
        let p = min(max(position, 0), chunk.count - 1)
        return p >= 0 ? chunk.location(p) : SourceLocation(file: "")
    }

    var bytesRead: Int64 { chunk.bytesRead }
}

@available(*, unavailable)
extension ChunkReader: Sendable {}
