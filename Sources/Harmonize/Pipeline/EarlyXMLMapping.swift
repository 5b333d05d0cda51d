// A later mapping's records mapped while an earlier mapping parses the file.
//
// When two mappings read one XML file (the stays → visits, their diagnoses → conditions), the
// first mapping's parse feeds the later mapping's collector (a tap, `XMLSharedParse.swift`), and
// the later mapping maps those records at its turn, from the tap's spill. When the run's rows go
// nowhere (`--sink none`: a dry run, with no exclusion audit), the later mapping's own workers
// (`ParallelFilePass.Session`, their contexts made as for its turn) map the tap's records as the
// parse goes instead, on the core the parse leaves idle: they validate and count every row, keep
// the chunk's rejects and ledger, and drop its rows (they would go nowhere). At the mapping's
// turn its chunks are forwarded in order (rejects to the sink, counts to the ledger), then the
// rest of the file (what was not taken) is mapped by the same workers from the spill. The
// ledger, rejects, counts, vocabulary usage and manifest are those of the mapping at its turn.
//
// Memory stays flat: the parse waits while each worker has three chunks waiting (the workers then
// have the cores), and the chunks held (fields until mapped, then rejects) take at most a share
// of the run's memory budget (`RunOptions.earlyMappingBytes`); past it, the tap's records go to
// its spill as before (the file is then split into a prefix mapped during the parse and a suffix
// mapped at the mapping's turn). The workers run at a lower priority: the parse, which every
// mapping of the file waits for, comes first.
//
// With a sink that keeps rows, the rows would have to wait for the mapping's turn (in memory, or
// encoded on disk): that was built and measured (bench/README.md, fourteenth part) and bought
// nothing on SQLite, whose writing thread bounds such runs; those records wait in the spill.

/// The records a tap collects, mapped by the later mapping's workers during the parse (the part
/// of the file that fits in its memory share), their rows dropped once counted. Used by the
/// parsing thread; its workers map.
final class EarlyXMLMapping: XMLTapMapping {
    let session: ParallelFilePass.Session
    private let reader: XMLCollectorQueueReader
    private let columns: [Int]
    private let chunkRecords: Int
    /// The memory the run's early mappings may hold together.
    private let share: EarlyMappingShare
    private var chunk: RecordChunk?
    /// `.record` events handed to chunks: the records mapped early (the spill's come after them).
    private(set) var records = 0
    /// Whether the tap's records still come here; false once the chunks held passed the memory
    /// share (or a chunk could not be filled): the rest of the file goes to the tap's spill.
    private(set) var accepting = true
    /// Whether taking records failed (the tap is then abandoned: the mapping parses the file itself).
    private(set) var failed = false

    /// Workers `session` map the records of `collector` (its bound paths in the order of
    /// `session.names`) in chunks of `chunkRecords`, while the chunks the run's early mappings
    /// hold fit in `share`.
    init(
        session: ParallelFilePass.Session, collector: XMLRecordCollector, displayName: String, recordPath: String, chunkRecords: Int,
        share: EarlyMappingShare
    ) {
        self.session = session
        reader = XMLCollectorQueueReader(collector: collector, displayName: displayName, recordPath: recordPath, fieldCount: session.names.count)
        columns = Array(0..<session.names.count)
        self.chunkRecords = max(1, chunkRecords)
        self.share = share
        share.add(self)
    }

    // A run that stops before the mapping's turn: the chunks not mapped yet are dropped.
    deinit { discard() }

    /// Moves the records and rejects the collector has finished into chunks for the workers
    /// (`bytesParsed`: the document's bytes parsed so far, the chunks' progress).
    func take(bytesParsed: Int64) {
        guard accepting else { return }
        reader.parsed = bytesParsed
        do {
            while true {
                let c =
                    chunk ?? RecordChunk(sequence: session.submitted, fieldCount: columns.count, recordsBefore: records, capacity: chunkRecords)
                chunk = c
                // True: the collector's queue is empty (the chunk waits for the next records).
                guard try !c.fill(from: reader, columns: columns, limit: chunkRecords, records: &records) else { break }
                session.submit(c)
                chunk = nil
                // The parse waits while the workers have three chunks each waiting (the workers
                // then have the cores): the chunks not mapped yet stay few, and what they hold
                // is counted in the share below, so memory stays flat. One each left a worker
                // idle whenever the parse was a moment late (bench/README.md, sixteenth part).
                session.waitWhilePending(atLeast: 3 * session.workers.count)
            }
        } catch {
            // The reader over the collector's queue does not throw; were it to, the records
            // taken are incomplete: the tap is abandoned and the mapping parses the file itself.
            failed = true
            accepting = false
            return
        }
        if share.heldBytes() + (chunk?.heldBytes ?? 0) > share.limit {
            finish()
            accepting = false
        }
    }

    /// Hands the last records taken to the workers.
    func finish() {
        if let c = chunk, c.count > 0 { session.submit(c) }
        chunk = nil
    }

    /// Drops the chunks not yet mapped and stops the workers (the tap is abandoned).
    func discard() {
        accepting = false
        chunk = nil
        session.cancel()
        session.close()
    }
}

@available(*, unavailable)
extension EarlyXMLMapping: Sendable {}

/// What a run's early mappings take together: the memory their chunks hold (a quarter of
/// `--memory-budget` by default), and how many may be live at once (each holds workers: a
/// folder of XML files whose later mappings wait would otherwise start threads for each).
/// Used from the run's thread (the one that parses).
final class EarlyMappingShare {
    /// The bytes the held chunks of all early mappings may take.
    let limit: Int
    /// The most early mappings live at once.
    let maxLive: Int
    private var mappings: [Weak] = []

    private struct Weak {
        weak var mapping: EarlyXMLMapping?
    }

    init(limit: Int, maxLive: Int = 8) {
        self.limit = limit
        self.maxLive = maxLive
    }

    /// Whether another early mapping may start.
    var hasRoom: Bool {
        mappings.removeAll { $0.mapping == nil }
        return mappings.count < maxLive
    }

    fileprivate func add(_ m: EarlyXMLMapping) { mappings.append(Weak(mapping: m)) }

    /// The bytes the live early mappings' chunks hold.
    func heldBytes() -> Int { mappings.reduce(0) { $0 + ($1.mapping?.session.heldBytes ?? 0) } }
}

@available(*, unavailable)
extension EarlyMappingShare: Sendable {}

/// The records a collector has finished, read in document order as its `XMLRecordReader` would
/// give them (the same record numbers, lines, rejects and field bytes), until its queue is empty
/// (`.end`: no more for now).
final class XMLCollectorQueueReader: RecordReader {
    let displayName: String
    private let collector: XMLRecordCollector
    private let recordPath: String
    private let fieldCount: Int
    /// The document's bytes parsed so far.
    var parsed: Int64 = 0
    /// Where the current record's values start in the collector's spans (-1: none).
    @exclusivity(unchecked) private var current = -1
    @exclusivity(unchecked) private var recordNumber = 0
    @exclusivity(unchecked) private var recordLine = 0

    init(collector: XMLRecordCollector, displayName: String, recordPath: String, fieldCount: Int) {
        self.collector = collector
        self.displayName = displayName
        self.recordPath = recordPath
        self.fieldCount = fieldCount
    }

    var location: SourceLocation { location(record: recordNumber, line: recordLine) }

    /// The location of record `record` whose element starts on `line` (0: unknown).
    private func location(record: Int, line: Int) -> SourceLocation {
        SourceLocation(file: displayName, line: line > 0 ? line : nil, record: record, path: recordPath)
    }

    var recordPosition: RecordPosition? { RecordPosition(line: recordLine > 0 ? recordLine : nil, record: recordNumber) }

    var bytesRead: Int64 { parsed }

    func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] { Array(0..<min(fields.count, fieldCount)) }

    func next() -> ReadEvent {
        current = -1
        guard let item = collector.dequeue() else { return .end }
        recordNumber = item.record
        recordLine = item.line
        if item.reject >= 0 {
            let r = collector.reject(of: item)
            return .rejected(Reject(reason: r.reason, location: location, message: r.message))
        }
        current = item.span
        return .record
    }

    func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(field(position))
    }

    @inline(__always)
    func field(_ position: Int) -> UnsafeBufferPointer<UInt8> {
        guard current >= 0, position >= 0, position < fieldCount else { return UnsafeBufferPointer(start: nil, count: 0) }
        return collector.value(span: current, position)
    }
}

extension XMLCollectorQueueReader: XMLQueuedRecords {
    var queueCollector: XMLRecordCollector { collector }

    /// The queue holds what the parse finished so far: no more until the parse goes on.
    func queueMore() -> Bool { false }

    func location(of item: XMLRecordCollector.Item) -> SourceLocation { location(record: item.record, line: item.line) }

    func took(_ last: XMLRecordCollector.Item) {
        recordNumber = last.record
        recordLine = last.line
        current = -1
    }
}

@available(*, unavailable)
extension XMLCollectorQueueReader: Sendable {}
