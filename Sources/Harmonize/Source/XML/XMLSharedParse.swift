import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// One parse of an XML file for every mapping that reads it.
//
// When several mappings read the same XML file (a stay → a visit, each of its diagnoses → a
// condition), the first mapping's reader parses the file and hands the SAX events to the
// collectors of the later mappings too (`XMLEventFanOut`). Each such collector (a *tap*) extracts
// its mapping's records and writes them, in document order, to a spill file (`XMLRecordSpill`);
// the later mapping then reads its records from that file (`SpilledXMLRecordReader`) instead of
// parsing the document again. Mappings still run one after the other, in run order, so the rows,
// rejects, lineage and ledgers are those of separate parses; only the libxml2 parse (and the
// reading of the file) is done once. Memory stays flat: a tap's records go to the spill as each
// chunk of the document is parsed.
//
// A tap's records are used only when they are exactly what a parse of its own would give: the
// document was read to its end, the parse was not stopped by another mapping's collector (a
// refused entity outside that mapping's records, which could lie inside the tap's), and the
// spill was written whole within the run's disk budget (`XMLSpillBudget`). Otherwise the later
// mapping parses the file itself, as before.

/// Forwards the events of one parse to several collectors (the reader's own first).
final class XMLEventFanOut: XMLSAXEvents {
    private let targets: [XMLRecordCollector]
    /// The same, not counted when an event is forwarded (`targets` holds them), in a buffer the
    /// fan-out owns: taking each collector out of the array counted a reference to it per
    /// collector and SAX event, and iterating the array one to the array.
    private let forward: UnsafeMutableBufferPointer<Unmanaged<XMLRecordCollector>>

    init(_ targets: [XMLRecordCollector]) {
        self.targets = targets
        forward = .allocate(capacity: targets.count)
        _ = forward.initialize(from: targets.map { Unmanaged.passUnretained($0) })
        super.init()
    }

    deinit { forward.deallocate() }

    override func startElement(localName: UnsafePointer<UInt8>, namespaceURI: UnsafePointer<UInt8>?, attributes: XMLAttributeSpans, line: Int) {
        for i in 0..<forward.count {
            forward[i]._withUnsafeGuaranteedRef {
                $0.startElement(localName: localName, namespaceURI: namespaceURI, attributes: attributes, line: line)
            }
        }
    }

    override func endElement() {
        for i in 0..<forward.count { forward[i]._withUnsafeGuaranteedRef { $0.endElement() } }
    }

    override func characters(_ text: UnsafeBufferPointer<UInt8>) {
        for i in 0..<forward.count { forward[i]._withUnsafeGuaranteedRef { $0.characters(text) } }
    }

    override func entityDeclared(line: Int) {
        for t in targets { t.entityDeclared(line: line) }
    }

    override func undeclaredEntity(line: Int, inStartTag: Bool) {
        for t in targets { t.undeclaredEntity(line: line, inStartTag: inStartTag) }
    }
}

/// The disk the spills of one run may take together (4 GiB by default): a tap whose block takes
/// the total past it is abandoned (its file emptied, its mapping parses the file itself), so a
/// folder of large files read by several mappings never fills the disk the output is written to.
/// A spill gives its bytes back when it is released. Used by one run, from its thread.
final class XMLSpillBudget {
    /// The default: 4 GiB.
    static let defaultBytes = 4 << 30
    let limit: Int
    /// Bytes in the spill files now.
    private(set) var used = 0

    init(limit: Int = XMLSpillBudget.defaultBytes) { self.limit = limit }

    fileprivate func add(_ n: Int) { used += n }
}

@available(*, unavailable)
extension XMLSpillBudget: Sendable {}

/// The records of a later mapping, extracted during another mapping's parse, in an unlinked
/// temporary file (it disappears when the spill is released, or when the process ends in any way).
///
/// The file is a sequence of blocks, one per chunk of the document parsed, written straight from
/// the tap collector's buffers (no encoding per record): a header of five 64-bit words (items,
/// span words, value bytes, message bytes, and the bytes parsed when the block was taken), then
/// the items (`Item`: record, line, first span word, reason index or -1, message length), the
/// spans (32-bit start and length of each value in the value bytes, -1 for an absent value), the
/// value bytes, and the messages of rejects. A block whose values pass 2 GiB (ancestor values
/// repeated for many records of one chunk) is not written: the spill is then not used.
final class XMLRecordSpill {
    /// One record or reject of a block.
    struct Item {
        var record: Int
        var line: Int
        var span: Int
        /// Index in `RejectReason.allCases`, or -1 for a record.
        var reason: Int
        var messageBytes: Int
    }

    static let headerWords = 5
    fileprivate let fd: Int32
    @exclusivity(unchecked) private var items = GrowableBuffer<Item>(capacity: 1024)
    @exclusivity(unchecked) private var messages: [UInt8] = []
    @exclusivity(unchecked) private var spans32 = GrowableBuffer<Int32>(capacity: 4096)
    /// Bytes written to the file.
    @exclusivity(unchecked) private(set) var fileBytes = 0
    /// Whether every block was written (false once a write failed).
    private(set) var intact = true
    private let budget: XMLSpillBudget
    /// Writes the blocks on a thread of its own (the parse does not wait for the file system).
    private let writer: BackgroundFileWriter

    /// Creates the (already unlinked) file in `directory`, its bytes counted in `budget`; nil
    /// when it cannot be created.
    init?(directory: String, budget: XMLSpillBudget) {
        guard let fd = FileOps.unlinkedTemporaryFile(in: directory, prefix: "harmonize-xml", suffix: "spill") else { return nil }
        self.fd = fd
        self.budget = budget
        writer = BackgroundFileWriter(fd: fd)
    }

    deinit {
        _ = writer.finish()
        budget.add(-fileBytes)
        close(fd)
    }

    /// Waits until every block is in the file; a write that failed makes the spill not intact.
    fileprivate func finishWriting() {
        if !writer.finish() { intact = false }
    }

    /// Whether the run's spills take more than their budget.
    fileprivate var overBudget: Bool { budget.used > budget.limit }

    /// Appends a block: the items the collector queued, with its spans and value bytes.
    fileprivate func appendBlock(
        _ queued: UnsafeBufferPointer<XMLRecordCollector.Item>, rejects: [(reason: RejectReason, message: String)], spans: UnsafeBufferPointer<Int>,
        arena: UnsafeBufferPointer<UInt8>, bytesParsed: Int64
    ) {
        guard intact, !queued.isEmpty else { return }
        guard arena.count <= Int(Int32.max) else {
            intact = false
            return
        }
        spans32.removeAll()
        for x in spans { spans32.append(Int32(truncatingIfNeeded: x)) }
        items.removeAll()
        messages.removeAll(keepingCapacity: true)
        for q in queued {
            var reason = -1
            var messageBytes = 0
            if q.reject >= 0 {
                let r = rejects[q.reject]
                reason = RejectReason.allCases.firstIndex(of: r.reason) ?? 0
                let m = Array(r.message.utf8)
                messageBytes = m.count
                messages.append(contentsOf: m)
            }
            items.append(Item(record: q.record, line: q.line, span: q.span, reason: reason, messageBytes: messageBytes))
        }
        let header = [items.count, spans32.count, arena.count, messages.count, Int(bytesParsed)]
        let ok =
            header.withUnsafeBytes { write($0) } && write(UnsafeRawBufferPointer(items.buffer)) && write(UnsafeRawBufferPointer(spans32.buffer))
            && write(UnsafeRawBufferPointer(arena)) && messages.withUnsafeBytes { write($0) }
        if !ok { intact = false }
    }

    /// Empties the file (its space goes back to the file system) and writes no more.
    fileprivate func discard() {
        intact = false
        _ = writer.finish()
        _ = ftruncate(fd, 0)
        budget.add(-fileBytes)
        fileBytes = 0
    }

    /// Appends `bytes` to the file (through the writing thread: a failure shows in `finishWriting`).
    private func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        writer.submit(bytes)
        fileBytes += bytes.count
        budget.add(bytes.count)
        return true
    }
}

@available(*, unavailable)
extension XMLRecordSpill: Sendable {}

/// What takes a tap's records as the parse goes instead of its spill (the later mapping's
/// workers: `EarlyXMLMapping`), while it accepts them; the records after go to the spill.
protocol XMLTapMapping: AnyObject {
    /// Whether the tap's records still go here.
    var accepting: Bool { get }
    /// Whether taking records failed (the tap is then abandoned).
    var failed: Bool { get }
    /// Takes the records and rejects the tap's collector has finished (`bytesParsed`: the
    /// document's bytes parsed so far).
    func take(bytesParsed: Int64)
    /// The parse ended: hands on the last records taken.
    func finish()
    /// The tap is abandoned: what was taken is dropped.
    func discard()
}

/// A later mapping's collector fed by another mapping's parse, and the spill its records go to.
final class XMLRecordTap {
    /// The state of the tap's records once the parse is over.
    enum State {
        /// The parse is going on (or its reader was dropped before the end: not usable).
        case reading
        /// Every record and reject of the document is in the spill: usable.
        case complete
        /// The parse ended in a way a parse of the tap's own would not have: not usable.
        case abandoned
    }

    let collector: XMLRecordCollector
    let spill: XMLRecordSpill
    /// The field names bound, in position order.
    let names: [String]
    /// The reader options of the later mapping (its record path names its records' locations).
    let options: XMLReaderOptions
    private(set) var state = State.reading
    /// Bytes of the document parsed when the parse ended.
    private(set) var totalBytes: Int64 = 0
    /// The later mapping's workers, mapping the tap's records during the parse while they fit in
    /// their memory share (`EarlyXMLMapping`); the records after go to the spill. Nil: all do.
    var early: (any XMLTapMapping)?

    /// A tap extracting the records of `options` with the fields `names`, its spill counted in
    /// `budget` (the spill takes about 1.3 times the document's size for the diagnoses of the HIS
    /// export); nil when a field cannot be bound or the spill cannot be created (the later mapping
    /// then parses the file itself and reports what it reports).
    init?(options: XMLReaderOptions, names: [String], spillDirectory: String, budget: XMLSpillBudget = XMLSpillBudget()) {
        let collector: XMLRecordCollector
        do throws(XMLPath.Problem) {
            let record = try XMLPath(options.record, absolute: true, namespaces: options.namespaces)
            guard !record.steps.isEmpty else { return nil }
            collector = XMLRecordCollector(record: record, maxDepth: options.maxDepth, maxTextBytes: options.maxRecordTextBytes)
            for name in names {
                let p = try XMLPath(name, absolute: false, namespaces: options.namespaces)
                guard p.ups <= record.steps.count - 1 else { return nil }
                _ = collector.add(p)
            }
        } catch {
            return nil
        }
        guard let spill = XMLRecordSpill(directory: spillDirectory, budget: budget) else { return nil }
        self.collector = collector
        self.spill = spill
        self.names = names
        self.options = options
    }

    /// Moves the records and rejects the collector has finished to the spill (one block).
    func drain(bytesParsed: Int64) {
        guard state == .reading else { return }
        if let early, early.accepting {
            early.take(bytesParsed: bytesParsed)
            if early.failed { abandon() }
            return
        }
        let spill = self.spill
        collector.takeAll { items, rejects, spans, arena in
            spill.appendBlock(items, rejects: rejects, spans: spans, arena: arena, bytesParsed: bytesParsed)
        }
        if spill.overBudget { abandon() }
    }

    /// The document is not well-formed from `line` on: the reject a parse of its own would give,
    /// unless the tap had stopped reading before (as its own parse would have).
    func documentFailed(line: Int, message: String) {
        guard state == .reading, !collector.hasStopped else { return }
        collector.documentFailed(line: line, message: message)
    }

    /// The parse went to the end of the document: the spill is usable if it was written whole.
    func finish(bytesParsed: Int64) {
        guard state == .reading else { return }
        drain(bytesParsed: bytesParsed)
        guard state == .reading else { return }
        early?.finish()
        totalBytes = bytesParsed
        spill.finishWriting()
        if spill.intact {
            state = .complete
        } else {
            abandon()
        }
    }

    /// The tap's records cannot be used (the parse ended where a parse of the tap's own would
    /// not have, or the spill grew too large): its file is emptied.
    func abandon() {
        state = .abandoned
        spill.discard()
        early?.discard()
        early = nil
    }
}

@available(*, unavailable)
extension XMLRecordTap: Sendable {}

/// Reads a later mapping's records from the spill of another mapping's parse, as its own
/// `XMLRecordReader` would have read them: the same records, rejects, record numbers, lines and
/// field bytes. Holds one block (the records of one chunk of the document) at a time.
final class SpilledXMLRecordReader: RecordReader {
    let displayName: String
    private let spill: XMLRecordSpill
    private let names: [String]
    private let recordPath: String
    private let totalBytes: Int64
    /// The current block: items, span words, value bytes, message bytes (8-byte aligned).
    @exclusivity(unchecked) private var block: UnsafeMutableRawPointer
    private var blockCapacity: Int
    @exclusivity(unchecked) private var items: UnsafePointer<XMLRecordSpill.Item>
    @exclusivity(unchecked) private var spans: UnsafePointer<Int32>
    @exclusivity(unchecked) private var values: UnsafePointer<UInt8>
    @exclusivity(unchecked) private var messages: UnsafePointer<UInt8>
    @exclusivity(unchecked) private var itemCount = 0
    @exclusivity(unchecked) private var spanWords = 0
    @exclusivity(unchecked) private var valueBytes = 0
    @exclusivity(unchecked) private var nextItem = 0
    @exclusivity(unchecked) private var messageOffset = 0
    /// Where the next block starts in the file.
    private var fileOffset = 0
    /// The first span word of the current record (-1: none).
    @exclusivity(unchecked) private var current = -1
    @exclusivity(unchecked) private var recordNumber = 0
    @exclusivity(unchecked) private var recordLine = 0
    private var parsed: Int64 = 0
    private var finished = false
    private let fieldCount: Int
    /// The records before the spill's, mapped during the parse by the mapping's workers (whose
    /// chunks wait in their session, `EarlyXMLMapping`): nil when every record is in the spill.
    let early: (any XMLTapMapping)?

    /// A reader over a complete tap's spill.
    init(tap: XMLRecordTap, displayName: String) {
        early = tap.early
        self.displayName = displayName
        spill = tap.spill
        names = tap.names
        fieldCount = tap.names.count
        recordPath = tap.options.record
        totalBytes = tap.totalBytes
        blockCapacity = 256 << 10
        block = .allocate(byteCount: blockCapacity, alignment: 8)
        items = UnsafePointer(block.assumingMemoryBound(to: XMLRecordSpill.Item.self))
        spans = UnsafePointer(block.assumingMemoryBound(to: Int32.self))
        values = UnsafePointer(block.assumingMemoryBound(to: UInt8.self))
        messages = values
    }

    deinit { block.deallocate() }

    /// The current record's line and number: the rest of its location is the same for all.
    var recordPosition: RecordPosition? { RecordPosition(line: recordLine > 0 ? recordLine : nil, record: recordNumber) }

    var location: SourceLocation {
        SourceLocation(file: displayName, line: recordLine > 0 ? recordLine : nil, record: recordNumber, path: recordPath)
    }

    var bytesRead: Int64 { finished ? totalBytes : parsed }

    func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] {
        try RecordReaderBindError.positions(of: fields, in: names, file: displayName)
    }

    func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(field(position))
    }

    @inline(__always)
    func field(_ position: Int) -> UnsafeBufferPointer<UInt8> {
        guard current >= 0, position >= 0, position < fieldCount else { return UnsafeBufferPointer(start: nil, count: 0) }
        let start = Int(spans[current + 2 * position])
        let length = Int(spans[current + 2 * position + 1])
        guard length > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: values + start, count: length)
    }

    private func damaged(_ what: String) -> SourceIOError {
        SourceIOError(
            path: displayName, operation: "read", errno: 0,
            reason: "the records extracted for this mapping during another mapping's parse cannot be read back (\(what))")
    }

    /// Reads `count` bytes at `offset` of the spill into `into`.
    private func read(_ into: UnsafeMutableRawPointer, _ count: Int, at offset: Int) throws(SourceIOError) {
        var done = 0
        while done < count {
            let r = pread(spill.fd, into + done, count - done, off_t(offset + done))
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else {
                if r < 0 { throw SourceIOError(path: displayName, operation: "read", errno: errno) }
                throw damaged("a block ends early")
            }
            done += r
        }
    }

    /// Loads the next block; false at the end of the spill.
    private func loadBlock() throws(SourceIOError) -> Bool {
        guard fileOffset < spill.fileBytes else { return false }
        let words = XMLRecordSpill.headerWords
        // The header is read into the block's buffer (at least 256 KiB), then the block over it.
        try read(block, words * 8, at: fileOffset)
        let header = UnsafeBufferPointer(start: block.assumingMemoryBound(to: Int.self), count: words)
        let (n, w, v, m, p) = (header[0], header[1], header[2], header[3], header[4])
        let itemBytes = n * MemoryLayout<XMLRecordSpill.Item>.stride
        guard n > 0, w >= 0, v >= 0, m >= 0, MemoryLayout<XMLRecordSpill.Item>.stride % 8 == 0 else { throw damaged("a block header") }
        // Values start 8-byte aligned after the 32-bit span words.
        let spanBytes = (w * 4 + 7) & ~7
        let total = itemBytes + spanBytes + v + m
        guard fileOffset + words * 8 + itemBytes + w * 4 + v + m <= spill.fileBytes else { throw damaged("a block header") }
        if total > blockCapacity {
            block.deallocate()
            while blockCapacity < total { blockCapacity *= 2 }
            block = .allocate(byteCount: blockCapacity, alignment: 8)
        }
        // The span words are followed in the file by the values directly: they are read apart
        // so that the values start at an 8-byte boundary of the buffer.
        try read(block, itemBytes + w * 4, at: fileOffset + words * 8)
        try read(block + itemBytes + spanBytes, v + m, at: fileOffset + words * 8 + itemBytes + w * 4)
        fileOffset += words * 8 + itemBytes + w * 4 + v + m
        items = UnsafePointer(block.assumingMemoryBound(to: XMLRecordSpill.Item.self))
        spans = UnsafePointer((block + itemBytes).assumingMemoryBound(to: Int32.self))
        values = UnsafePointer((block + itemBytes + spanBytes).assumingMemoryBound(to: UInt8.self))
        messages = values + v
        itemCount = n
        spanWords = w
        valueBytes = v
        nextItem = 0
        messageOffset = 0
        parsed = Int64(p)
        return true
    }

    func next() throws -> ReadEvent {
        try nextEvent()
    }

    private func nextEvent() throws(SourceIOError) -> ReadEvent {
        current = -1
        if nextItem == itemCount {
            guard try loadBlock() else {
                finished = true
                return .end
            }
        }
        let item = items[nextItem]
        nextItem += 1
        recordNumber = item.record
        recordLine = item.line
        if item.reason >= 0 {
            let reasons = RejectReason.allCases
            guard item.reason < reasons.count, item.messageBytes >= 0 else { throw damaged("a reject") }
            let message = String(decoding: UnsafeBufferPointer(start: messages + messageOffset, count: item.messageBytes), as: UTF8.self)
            messageOffset += item.messageBytes
            return .rejected(Reject(reason: reasons[reasons.index(reasons.startIndex, offsetBy: item.reason)], location: location, message: message))
        }
        guard item.span >= 0, item.span + 2 * fieldCount <= spanWords else { throw damaged("a record") }
        for p in 0..<fieldCount {
            let start = Int(spans[item.span + 2 * p])
            let length = Int(spans[item.span + 2 * p + 1])
            guard length <= 0 || (start >= 0 && start + length <= valueBytes) else { throw damaged("a record") }
        }
        current = item.span
        return .record
    }
}

@available(*, unavailable)
extension SpilledXMLRecordReader: Sendable {}
