/// What a replay re-runs: per mapping id and input file (as recorded, relative to the input
/// folder), the records to read again; everything else in those files is skipped.
package struct ReplaySelection: Sendable, Hashable {
    /// The run whose rejects are replayed; nil when the outstanding rejects of every run are.
    public var replayOf: String?
    /// Mapping id → file → records.
    public var records: [String: [String: Set<RecordKey>]]
    /// SHA-256 of each file as recorded by the run that read it: a file that changed since is not
    /// replayed (its record numbers no longer point at the same records).
    public var inputHashes: [String: String]

    /// Creates a selection.
    public init(replayOf: String?, records: [String: [String: Set<RecordKey>]], inputHashes: [String: String]) {
        self.replayOf = replayOf
        self.records = records
        self.inputHashes = inputHashes
    }

    /// Number of records selected.
    public var count: Int { records.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } } }
}

/// A reader that passes on only the selected records (and the selected reader rejects) of another
/// reader; it reads the whole file, so the file's SHA-256 is still computed.
final class SelectingReader<Base: RecordReader>: RecordReader {
    let base: Base
    let keys: Set<RecordKey>

    init(_ base: Base, keys: Set<RecordKey>) {
        self.base = base
        self.keys = keys
    }

    func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] { try base.bind(fields: fields) }

    func next() throws -> ReadEvent {
        while true {
            let event = try base.next()
            switch event {
            case .end: return .end
            case .rejected(let r): if keys.contains(RecordKey(r.location)) { return event }
            case .record: if keys.contains(RecordKey(base.location)) { return event }
            }
        }
    }

    func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try base.withField(position, body)
    }

    func field(_ position: Int) -> UnsafeBufferPointer<UInt8> { base.field(position) }

    var location: SourceLocation { base.location }
    var bytesRead: Int64 { base.bytesRead }
}

/// Opens the concrete type of an existential reader to wrap it.
enum ReaderSelection {
    static func select(_ reader: any RecordReader, keys: Set<RecordKey>) -> any RecordReader {
        wrap(reader, keys)
    }

    private static func wrap<R: RecordReader>(_ reader: R, _ keys: Set<RecordKey>) -> any RecordReader {
        SelectingReader(reader, keys: keys)
    }
}
