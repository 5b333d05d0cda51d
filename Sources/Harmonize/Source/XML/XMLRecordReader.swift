/// Options of an XML reader.
package struct XMLReaderOptions: Sendable, Hashable {
    /// The absolute path of the record element, such as `/export/sejour`.
    public var record: String
    /// Namespace prefixes used in the record and field paths.
    public var namespaces: [String: String]
    /// Deepest element nesting inside a record (default 64).
    public var maxDepth: Int
    /// Most text and attribute bytes in one record (default 16 MiB).
    public var maxRecordTextBytes: Int

    /// Creates options.
    public init(record: String, namespaces: [String: String] = [:], maxDepth: Int = 64, maxRecordTextBytes: Int = 16 << 20) {
        self.record = record
        self.namespaces = namespaces
        self.maxDepth = max(1, maxDepth)
        self.maxRecordTextBytes = max(1, maxRecordTextBytes)
    }
}

/// A failure that stops an XML reader before any record: the record path cannot be compiled or
/// libxml2 cannot start. Never carries document content.
package struct XMLReaderError: Error, Sendable, CustomStringConvertible {
    /// The file concerned.
    public var file: String
    /// What went wrong.
    public var message: String

    /// `FILE: message`.
    public var description: String { "\(file): \(message)" }
}

/// A streaming reader of records from an XML document, with libxml2's SAX2 push parser.
///
/// The reader feeds the document to libxml2 chunk by chunk; the parser's callbacks follow the
/// element path, capture only the values of the bound field paths for the current record, and
/// queue each record when its end tag is parsed. Nothing else of the document is kept, and no
/// tree is built. Because events arrive in document order as parsing goes, every record that ends
/// before a well-formedness error is delivered before that error's reject.
///
/// Parsing is safe for untrusted input: no entity substitution, no DTD loading, no network, a
/// deny-all external entity loader, and a document whose DOCTYPE declares entities is rejected.
/// Limits bound depth and text per record.
///
/// A record too deep or too large is rejected (`.limitExceeded`) and reading goes on; a document
/// that is not well-formed is rejected (`.structureError`, with its line) at the point of the error
/// and reading stops there (XML cannot be resumed), keeping the records read before.
package final class XMLRecordReader {
    /// The file name used in locations and rejects.
    public let displayName: String
    /// The options.
    public let options: XMLReaderOptions
    let recordPath: XMLPath
    private let collector: XMLRecordCollector
    /// Later mappings' collectors fed by this parse (`XMLSharedParse.swift`), and what forwards
    /// the events to them (held here: the parser holds its events unowned).
    private let taps: [XMLRecordTap]
    private let fanOut: XMLEventFanOut?
    private var parser: XMLPushParser?
    private var parserFinished = false
    private var recordNumber = 0
    private var recordLine = 0
    /// Where the current record's values start in the collector's spans; nil after a reject.
    /// Read for every field of every record: no dynamic exclusivity check (one thread uses a
    /// reader, and no access outlives a call).
    @exclusivity(unchecked) private var currentSpan: Int?
    @exclusivity(unchecked) private var boundCount = 0

    /// Opens a reader over `source`.
    /// - Throws: `XMLReaderError` for a bad record path or when libxml2 cannot start.
    public convenience init(source: any ByteSource, displayName: String, options: XMLReaderOptions) throws(XMLReaderError) {
        try self.init(source: source, displayName: displayName, options: options, taps: [])
    }

    /// Opens a reader over `source`; `taps` are later mappings' collectors that this parse feeds
    /// too (one parse of the file for all the mappings that read it).
    /// - Throws: `XMLReaderError` for a bad record path or when libxml2 cannot start.
    init(source: any ByteSource, displayName: String, options: XMLReaderOptions, taps: [XMLRecordTap]) throws(XMLReaderError) {
        self.displayName = displayName
        self.options = options
        do throws(XMLPath.Problem) {
            recordPath = try XMLPath(options.record, absolute: true, namespaces: options.namespaces)
        } catch {
            throw XMLReaderError(file: displayName, message: "invalid record path '\(options.record)' (\(error))")
        }
        guard !recordPath.steps.isEmpty else {
            throw XMLReaderError(file: displayName, message: "invalid record path '\(options.record)' (no element)")
        }
        collector = XMLRecordCollector(record: recordPath, maxDepth: options.maxDepth, maxTextBytes: options.maxRecordTextBytes)
        self.taps = taps
        fanOut = taps.isEmpty ? nil : XMLEventFanOut([collector] + taps.map(\.collector))
        let events: XMLSAXEvents = fanOut.map { $0 } ?? collector
        guard let p = XMLPushParser(source: source, url: displayName, events: events) else {
            throw XMLReaderError(file: displayName, message: "cannot start the XML parser")
        }
        parser = p
        collector.parser = p
    }

    // The parser's target does not count its reference to the events (`XMLPushTarget`): free
    // the parser before the collectors.
    deinit { parser = nil }

    /// Where the current record comes from: file, line of its element, record number, record path.
    public var location: SourceLocation { location(record: recordNumber, line: recordLine) }

    /// The location of record `record` whose element starts on `line` (0: unknown).
    private func location(record: Int, line: Int) -> SourceLocation {
        SourceLocation(file: displayName, line: line > 0 ? line : nil, record: record, path: options.record)
    }

    /// Bytes consumed from the source so far.
    public var bytesRead: Int64 { parser?.bytesRead ?? 0 }

    /// The current record's line and number: the rest of its location is the same for all.
    public var recordPosition: RecordPosition? { RecordPosition(line: recordLine > 0 ? recordLine : nil, record: recordNumber) }

    /// Reads the next record.
    /// - Throws: `SourceIOError` when the source cannot be read.
    public func next() throws(SourceIOError) -> ReadEvent {
        // The previous record's values may be dropped from here on.
        currentSpan = nil
        while true {
            if let item = collector.dequeue() {
                recordNumber = item.record
                recordLine = item.line
                currentSpan = item.reject < 0 ? item.span : nil
                if item.reject >= 0 {
                    let r = collector.reject(of: item)
                    return .rejected(Reject(reason: r.reason, location: location, message: r.message))
                }
                return .record
            }
            guard try queueMore() else { return .end }
        }
    }

    /// Feeds the parser once more: the records and rejects it finishes wait in the collector's
    /// queue (and the taps' collectors', drained). False once the document is done.
    /// - Throws: `SourceIOError` when the source cannot be read.
    func queueMore() throws(SourceIOError) -> Bool {
        guard !parserFinished, let parser else {
            for t in taps { t.finish(bytesParsed: bytesRead) }
            return false
        }
        let wellFormed: Bool
        do {
            wellFormed = try parser.feed()
        } catch {
            parserFinished = true
            for t in taps { t.abandon() }
            throw error
        }
        if !wellFormed {
            parserFinished = true
            if !parser.stopped {
                let problem = parser.firstProblem
                let line = problem?.line ?? 0
                let message = "document is not well-formed XML (libxml2 error \(problem?.code ?? -1)); reading stops here"
                collector.documentFailed(line: line, message: message)
                for t in taps { t.documentFailed(line: line, message: message) }
            } else {
                // Stopped by this reader's collector: a tap that had not stopped would have read on.
                for t in taps where !t.collector.hasStopped { t.abandon() }
            }
        } else if parser.done {
            parserFinished = true
        }
        if !taps.isEmpty {
            let parsed = parser.bytesRead
            for t in taps { t.drain(bytesParsed: parsed) }
        }
        return true
    }

    /// The UTF-8 text of bound field `position` for the current record (empty when absent).
    public func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(field(position))
    }

    /// The UTF-8 text of bound field `position` for the current record (empty when absent),
    /// valid until `next()`.
    @inline(__always)
    public func field(_ position: Int) -> UnsafeBufferPointer<UInt8> {
        guard position >= 0, position < boundCount, let span = currentSpan else { return UnsafeBufferPointer(start: nil, count: 0) }
        return collector.value(span: span, position)
    }

    /// Whether bound field `position` is present in the current record (an empty element is present).
    public func isPresent(_ position: Int) -> Bool {
        guard position >= 0, position < boundCount, let span = currentSpan else { return false }
        return collector.isPresent(span: span, position)
    }
}

/// Follows the SAX events of one document: matches the record path, evaluates the bound field
/// paths incrementally (first match at every step, as documented in `XMLPath`), enforces the
/// limits, and queues finished records and rejects in document order.
final class XMLRecordCollector: XMLSAXEvents {
    /// A name to match, as NUL-terminated UTF-8 bytes owned by the collector (freed in its
    /// `deinit`): comparing reads no array header and retains nothing.
    ///
    /// libxml2 hands SAX2 names and namespace URIs out of its parser's dictionary, whose strings
    /// stay where they are, unchanged, until the parser is freed (and a collector serves one
    /// parse): the pointer last found to hold this name (or URI) is the same name when it comes
    /// again, without reading its bytes; any other pointer is compared byte by byte. (Comparing
    /// every URI in full was most of a start tag's cost: 15 bytes per path and element.)
    struct Name {
        let local: UnsafePointer<UInt8>
        let localCount: Int
        let uri: UnsafePointer<UInt8>?
        let uriCount: Int
        /// The pointers last found equal to `local` ([0]) and `uri` ([1]).
        let seen: UnsafeMutablePointer<UnsafePointer<UInt8>?>

        /// The bytes of `step`, allocated; `free()` gives them back.
        init(_ step: XMLPath.Step) {
            (local, localCount) = Self.copy(step.localName)
            if let u = step.namespaceURI {
                let (p, n) = Self.copy(u)
                (uri, uriCount) = (p, n)
            } else {
                (uri, uriCount) = (nil, 0)
            }
            seen = .allocate(capacity: 2)
            seen.initialize(repeating: nil, count: 2)
        }

        private static func copy(_ s: String) -> (UnsafePointer<UInt8>, Int) {
            let bytes = Array(s.utf8)
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count + 1)
            p.initialize(from: bytes, count: bytes.count)
            p[bytes.count] = 0
            return (UnsafePointer(p), bytes.count)
        }

        func free() {
            UnsafeMutablePointer(mutating: local).deallocate()
            uri.map { UnsafeMutablePointer(mutating: $0).deallocate() }
            seen.deallocate()
        }

        @inline(__always)
        static func equal(_ bytes: UnsafePointer<UInt8>, _ n: Int, _ c: UnsafePointer<UInt8>) -> Bool {
            // Both end with a NUL: the first difference, or the end of `bytes`, stops the loop.
            var i = 0
            while i < n {
                if c[i] != bytes[i] { return false }
                i += 1
            }
            return c[n] == 0
        }

        @inline(__always)
        func matches(_ localName: UnsafePointer<UInt8>, _ namespaceURI: UnsafePointer<UInt8>?) -> Bool {
            if localName != seen[0] {
                guard Self.equal(local, localCount, localName) else { return false }
                seen[0] = localName
            }
            guard let uri else { return true }
            guard let namespaceURI else { return false }
            if namespaceURI != seen[1] {
                guard Self.equal(uri, uriCount, namespaceURI) else { return false }
                seen[1] = namespaceURI
            }
            return true
        }
    }

    /// The incremental state of one bound path.
    struct PathState: ~Copyable {
        /// The path's element steps (`stepCount` names owned by the collector).
        let steps: UnsafePointer<Name>
        let stepCount: Int
        let attribute: Name?
        /// Depth (root element 0) of the element the path starts from: the record or an ancestor.
        let anchor: Int
        let isAncestor: Bool
        var matched = 0
        var finished = false
        var capturing = false
        var present = false
        var value = GrowableBuffer<UInt8>(capacity: 32)

        init(steps: UnsafePointer<Name>, stepCount: Int, attribute: Name?, anchor: Int, isAncestor: Bool) {
            self.steps = steps
            self.stepCount = stepCount
            self.attribute = attribute
            self.anchor = anchor
            self.isAncestor = isAncestor
        }

        mutating func reset() {
            matched = 0
            finished = false
            capturing = false
            present = false
            value.removeAll()
        }
    }

    /// A finished record, or a reject (`reject` ≥ 0: its index in `rejects`), in document order.
    struct Item {
        var record: Int
        var line: Int
        /// Where the record's value spans start (two words per bound path: start, length).
        var span: Int
        var reject: Int
    }

    let recordSteps: [Name]
    let recordDepth: Int
    let maxDepth: Int
    let maxTextBytes: Int
    weak var parser: XMLPushParser?
    // The path states, and the positions of the record's paths and of the ancestor paths, in
    // buffers owned by the collector: every SAX event updates them in place, without the array
    // uniqueness and exclusivity checks (or the retain of a copied index list) per event.
    // The members used for every record or field skip the dynamic exclusivity checks (they cost
    // 2.5 % of an XML run): one thread uses a collector, and no access outlives a call.
    @exclusivity(unchecked) private var paths: UnsafeMutablePointer<PathState>
    @exclusivity(unchecked) private var pathCount = 0
    private var pathCapacity = 0
    private var recordPaths: UnsafeMutablePointer<Int>
    private var recordPathCount = 0
    private var ancestorPaths: UnsafeMutablePointer<Int>
    private var ancestorPathCount = 0
    /// The deepest element an ancestor path can step on (its anchor's depth plus its steps):
    /// deeper elements (the records' own children) leave every ancestor path as it is.
    private var ancestorReach = -1
    /// The same for the record's own paths (the record's depth plus their steps).
    private var recordReach = -1
    private var depth = 0
    private var matchDepth = 0
    private var inRecord = false
    private var recordRejected = false
    private var textBytes = 0
    private var capturing = 0
    private var recordNumber = 0
    private var recordLine = 0
    private var stopped = false
    /// Depth of a too-deep element outside any record whose subtree is being skipped (-1: none).
    private var skipFrom = -1
    /// Line of an undeclared entity reference met outside a record, until the next event says
    /// where it was: the record element's attributes, an ancestor's, or text outside records.
    private var pendingEntityLine = 0
    // Finished records and rejects, in document order, until `next()` takes them: the items,
    // the rejects' reasons and messages, and the records' values (their bytes in `arena`, a start
    // and a length in `spans` for each bound path, -1 for an absent value).
    @exclusivity(unchecked) private var queue = GrowableBuffer<Item>(capacity: 64)
    @exclusivity(unchecked) private var head = 0
    @exclusivity(unchecked) private var rejects: [(reason: RejectReason, message: String)] = []
    @exclusivity(unchecked) private var arena = GrowableBuffer<UInt8>(capacity: 4096)
    @exclusivity(unchecked) private var spans = GrowableBuffer<Int>(capacity: 256)
    /// Every name this collector allocated (freed in `deinit`), and the step arrays of its paths.
    private var names: [Name] = []
    private var stepArrays: [UnsafeMutablePointer<Name>] = []

    init(record: XMLPath, maxDepth: Int, maxTextBytes: Int) {
        recordSteps = record.steps.map(Name.init)
        names = recordSteps
        recordDepth = record.steps.count - 1
        self.maxDepth = maxDepth
        self.maxTextBytes = maxTextBytes
        paths = .allocate(capacity: 1)
        recordPaths = .allocate(capacity: 1)
        ancestorPaths = .allocate(capacity: 1)
        pathCapacity = 1
        super.init()
    }

    deinit {
        paths.deinitialize(count: pathCount)
        paths.deallocate()
        recordPaths.deallocate()
        ancestorPaths.deallocate()
        for n in names { n.free() }
        for a in stepArrays { a.deallocate() }
    }

    /// Whether the collector stopped reading the document (a refused DOCTYPE or entity).
    var hasStopped: Bool { stopped }

    /// Number of bound paths (the values of each record).
    var boundPaths: Int { pathCount }

    /// Adds a bound path; returns its position.
    func add(_ path: XMLPath) -> Int {
        let isAncestor = path.ups > 0
        if pathCount == pathCapacity {
            let capacity = pathCapacity * 2
            let grown = UnsafeMutablePointer<PathState>.allocate(capacity: capacity)
            grown.moveInitialize(from: paths, count: pathCount)
            paths.deallocate()
            paths = grown
            let records = UnsafeMutablePointer<Int>.allocate(capacity: capacity)
            records.initialize(from: recordPaths, count: recordPathCount)
            recordPaths.deallocate()
            recordPaths = records
            let ancestors = UnsafeMutablePointer<Int>.allocate(capacity: capacity)
            ancestors.initialize(from: ancestorPaths, count: ancestorPathCount)
            ancestorPaths.deallocate()
            ancestorPaths = ancestors
            pathCapacity = capacity
        }
        let steps = UnsafeMutablePointer<Name>.allocate(capacity: max(1, path.steps.count))
        for (i, step) in path.steps.enumerated() { (steps + i).initialize(to: Name(step)) }
        stepArrays.append(steps)
        names.append(contentsOf: UnsafeBufferPointer(start: steps, count: path.steps.count))
        let attribute = path.attribute.map(Name.init)
        if let attribute { names.append(attribute) }
        (paths + pathCount).initialize(
            to: PathState(
                steps: UnsafePointer(steps), stepCount: path.steps.count, attribute: attribute, anchor: recordDepth - path.ups,
                isAncestor: isAncestor))
        let position = pathCount
        pathCount += 1
        if isAncestor {
            ancestorPaths[ancestorPathCount] = position
            ancestorPathCount += 1
            ancestorReach = max(ancestorReach, recordDepth - path.ups + path.steps.count)
        } else {
            recordPaths[recordPathCount] = position
            recordPathCount += 1
            recordReach = max(recordReach, recordDepth + path.steps.count)
        }
        return position
    }

    /// Takes the oldest queued item. A record's values stay in the arena (read with `withValue`)
    /// until the next call that finds the queue empty, which only happens after the caller is done
    /// with the record.
    func dequeue() -> Item? {
        guard head < queue.count else {
            if queue.count > 0 { clearQueue() }
            return nil
        }
        let item = queue[head]
        head += 1
        return item
    }

    private func clearQueue() {
        queue.removeAll()
        rejects.removeAll(keepingCapacity: true)
        arena.removeAll()
        spans.removeAll()
        head = 0
    }

    /// The reason and message of a queued reject (`item.reject` ≥ 0).
    func reject(of item: Item) -> (reason: RejectReason, message: String) { rejects[item.reject] }

    /// Hands the queued items not taken yet, in document order, with the spans and arena that
    /// hold their values (a record's present values follow each other in the arena, in path
    /// order, and the records' values follow each other in queue order); `body` returns how many
    /// items it took (the first ones). The queue is emptied once every item is taken: what
    /// `body` read is then gone. Returns the last item taken, if any.
    func takeQueued(
        _ body: (UnsafeBufferPointer<Item>, UnsafeBufferPointer<Int>, UnsafeBufferPointer<UInt8>) throws(SourceIOError) -> Int
    ) throws(SourceIOError) -> Item? {
        guard head < queue.count else {
            if queue.count > 0 { clearQueue() }
            return nil
        }
        let taken = try body(UnsafeBufferPointer(rebasing: queue.buffer[head...]), spans.buffer, arena.buffer)
        guard taken > 0 else { return nil }
        head += taken
        let last = queue[head - 1]
        if head == queue.count { clearQueue() }
        return last
    }

    /// Hands every queued item with the rejects, spans and arena that hold their reasons and
    /// values (a tap's block, `XMLRecordSpill`), then empties the queue.
    func takeAll(
        _ body: (UnsafeBufferPointer<Item>, [(reason: RejectReason, message: String)], UnsafeBufferPointer<Int>, UnsafeBufferPointer<UInt8>) -> Void
    ) {
        guard head < queue.count else { return }
        body(UnsafeBufferPointer(rebasing: queue.buffer[head...]), rejects, spans.buffer, arena.buffer)
        clearQueue()
    }

    /// The bytes of value `position` of the queued record whose spans start at `span` (valid
    /// until the queue is emptied).
    @inline(__always)
    func value(span: Int, _ position: Int) -> UnsafeBufferPointer<UInt8> {
        let start = spans[span + 2 * position]
        let length = spans[span + 2 * position + 1]
        guard length > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: arena.base + start, count: length)
    }

    /// Whether value `position` of the queued record whose spans start at `span` is present.
    @inline(__always)
    func isPresent(span: Int, _ position: Int) -> Bool { spans[span + 2 * position + 1] >= 0 }

    /// Queues the reject of a document that is not well-formed (after every record before it).
    func documentFailed(line: Int, message: String) {
        let record = inRecord ? recordNumber : recordNumber + 1
        recordNumber = record
        rejects.append((.structureError, message))
        queue.append(Item(record: record, line: line, span: 0, reject: rejects.count - 1))
    }

    private func queueReject(_ reason: RejectReason, line: Int, _ message: String) {
        rejects.append((reason, message))
        queue.append(Item(record: recordNumber, line: line, span: 0, reject: rejects.count - 1))
    }

    private func queueRecord() {
        let span = spans.count
        let buf = paths
        let n = pathCount
        // Room for the record's spans and values first, then plain stores: no bounds test and
        // count update per value.
        var total = 0
        for i in 0..<n where buf[i].present { total &+= buf[i].value.count }
        let s = spans.appendUninitialized(2 &* n)
        var at = arena.count
        let values = arena.appendUninitialized(total) - at
        for i in 0..<n {
            if buf[i].present {
                let length = buf[i].value.count
                s[2 &* i] = at
                s[2 &* i &+ 1] = length
                if length > 0 { ByteRun.copy(buf[i].value.base, to: values + at, length) }
                at &+= length
            } else {
                s[2 &* i] = 0
                s[2 &* i &+ 1] = -1
            }
        }
        queue.append(Item(record: recordNumber, line: recordLine, span: span, reject: -1))
    }

    private func stop() {
        stopped = true
        parser?.stop()
    }

    /// Copies an attribute value, turning the `&#38;` libxml2 leaves for `&` back into `&`.
    fileprivate static func assign(_ value: UnsafeBufferPointer<UInt8>, to out: inout GrowableBuffer<UInt8>) {
        out.removeAll()
        guard let start = value.baseAddress, ByteRun.contains(38, start, value.count) else {
            out.appendBytes(value)
            return
        }
        var i = 0
        let n = value.count
        while i < n {
            if value[i] == 38, i + 4 < n, value[i + 1] == 35, value[i + 2] == 51, value[i + 3] == 56, value[i + 4] == 59 {
                out.append(38)
                i += 5
            } else {
                out.append(value[i])
                i += 1
            }
        }
    }

    /// The path reaches its last step on this element: read the attribute, or start capturing
    /// text; returns 1 when it starts capturing.
    @inline(__always)
    private static func hit(_ p: inout PathState, attributes: XMLAttributeSpans) -> Int {
        if let a = p.attribute {
            for j in 0..<attributes.count {
                guard let name = attributes.localName(j), a.matches(name, attributes.namespaceURI(j)) else { continue }
                assign(attributes.value(j), to: &p.value)
                p.present = true
                break
            }
            p.finished = true
            return 0
        }
        p.present = true
        p.capturing = true
        return 1
    }

    /// Whether an element at depth `d` is where the path's next step would be: most elements
    /// are not, and are passed over without a call.
    @inline(__always)
    private static func waits(_ p: UnsafeMutablePointer<PathState>, at d: Int) -> Bool {
        !p.pointee.finished && p.pointee.matched < p.pointee.stepCount && d == p.pointee.anchor &+ p.pointee.matched &+ 1
    }

    /// An element at depth `d` starts where the path's next step would be (`waits`): the path
    /// takes the step if the element matches it (first match only).
    private static func advance(
        _ p: inout PathState, localName: UnsafePointer<UInt8>, namespaceURI: UnsafePointer<UInt8>?, attributes: XMLAttributeSpans
    ) -> Int {
        let m = p.matched
        guard p.steps[m].matches(localName, namespaceURI) else { return 0 }
        p.matched = m + 1
        return m + 1 == p.stepCount ? hit(&p, attributes: attributes) : 0
    }

    /// The element at depth `d` ends: a capture ends, or the path's chosen element closes without
    /// a full match (absent). Returns -1 when a capture ended.
    @inline(__always)
    private static func close(_ p: inout PathState, at d: Int) -> Int {
        guard !p.finished, d == p.anchor + p.matched else { return 0 }
        if p.capturing {
            p.capturing = false
            p.finished = true
            return -1
        }
        if p.matched > 0 { p.finished = true }
        return 0
    }

    override func startElement(localName: UnsafePointer<UInt8>, namespaceURI: UnsafePointer<UInt8>?, attributes: XMLAttributeSpans, line: Int) {
        let d = depth
        depth += 1
        if stopped || skipFrom >= 0 { return }
        if !inRecord && d > maxDepth + recordSteps.count {
            // One reject for the too-deep subtree, which is skipped; the records after it are read.
            recordNumber += 1
            queueReject(.limitExceeded, line: line, "elements nested deeper than \(maxDepth) levels (skipped)")
            skipFrom = d
            return
        }
        // Whether this element, outside a record, continues the record path: only such elements
        // can be a record's ancestors.
        let onPath = !inRecord && d == matchDepth && d <= recordDepth && recordSteps[d].matches(localName, namespaceURI)
        if pendingEntityLine > 0 {
            let startsRecord = onPath && d == recordDepth
            if !startsRecord {
                // In the attributes of an element outside the records (an ancestor's, which records may read).
                recordNumber += 1
                queueReject(.structureError, line: pendingEntityLine, "a reference to an undeclared entity outside a record; reading stops here")
                stop()
                return
            }
        }
        // Ancestor paths follow the elements under their anchor: the values they hold when a
        // record starts are its values. An anchor that is not on the record path has no record
        // under it: its paths wait, untouched, for the next anchor on the path, which resets them.
        let buf = paths
        let ancestors = ancestorPaths
        for j in 0..<(d <= ancestorReach ? ancestorPathCount : 0) {
            let k = ancestors[j]
            let anchor = buf[k].anchor
            if d == anchor {
                guard onPath else { continue }
                buf[k].reset()
                if buf[k].stepCount == 0 { _ = Self.hit(&buf[k], attributes: attributes) }
            } else if d > anchor && matchDepth > anchor && Self.waits(buf + k, at: d) {
                _ = Self.advance(&buf[k], localName: localName, namespaceURI: namespaceURI, attributes: attributes)
            }
        }
        let records = recordPaths
        let recordCount = recordPathCount
        if !inRecord {
            guard onPath else { return }
            matchDepth = d + 1
            guard d == recordDepth else { return }
            // A record element starts.
            recordNumber += 1
            recordLine = line
            inRecord = true
            recordRejected = false
            textBytes = 0
            capturing = 0
            for j in 0..<recordCount { buf[records[j]].reset() }
            if pendingEntityLine > 0 {
                // In the record element's own attributes.
                pendingEntityLine = 0
                recordRejected = true
                queueReject(.structureError, line: line, "a reference to an undeclared entity (the record's text would lose it)")
                return
            }
        } else if recordRejected {
            return
        } else if d - recordDepth > maxDepth {
            recordRejected = true
            queueReject(.limitExceeded, line: recordLine, "record larger than the limits (\(maxDepth) levels, \(maxTextBytes) text bytes)")
            return
        }
        let bytes = textBytes + attributes.valueBytes
        textBytes = bytes
        if bytes > maxTextBytes {
            recordRejected = true
            queueReject(.limitExceeded, line: recordLine, "record larger than the limits (\(maxDepth) levels, \(maxTextBytes) text bytes)")
            return
        }
        let atRecord = d == recordDepth
        var started = 0
        for j in 0..<(d <= recordReach ? recordCount : 0) {
            let k = records[j]
            if atRecord {
                if buf[k].stepCount == 0 { started += Self.hit(&buf[k], attributes: attributes) }
            } else if Self.waits(buf + k, at: d) {
                started += Self.advance(&buf[k], localName: localName, namespaceURI: namespaceURI, attributes: attributes)
            }
        }
        capturing += started
    }

    override func endElement() {
        depth -= 1
        let d = depth
        if stopped { return }
        if skipFrom >= 0 {
            if d == skipFrom { skipFrom = -1 }
            return
        }
        if !inRecord { pendingEntityLine = 0 }
        if inRecord {
            if !recordRejected {
                let buf = paths
                let records = recordPaths
                var ended = 0
                for j in 0..<(d <= recordReach ? recordPathCount : 0) { ended += Self.close(&buf[records[j]], at: d) }
                capturing += ended
            }
            if d == recordDepth {
                inRecord = false
                if !recordRejected { queueRecord() }
            }
        }
        if d < matchDepth { matchDepth = d }
        let buf = paths
        let ancestors = ancestorPaths
        for j in 0..<(d <= ancestorReach ? ancestorPathCount : 0) {
            let k = ancestors[j]
            if d > buf[k].anchor && matchDepth > buf[k].anchor { _ = Self.close(&buf[k], at: d) }
        }
    }

    override func characters(_ text: UnsafeBufferPointer<UInt8>) {
        if !inRecord { pendingEntityLine = 0 }
        guard inRecord, !recordRejected, !stopped, skipFrom < 0 else { return }
        textBytes += text.count
        if textBytes > maxTextBytes {
            recordRejected = true
            queueReject(.limitExceeded, line: recordLine, "record larger than the limits (\(maxDepth) levels, \(maxTextBytes) text bytes)")
            return
        }
        guard capturing > 0 else { return }
        let buf = paths
        let records = recordPaths
        for j in 0..<recordPathCount {
            let k = records[j]
            if buf[k].capturing { buf[k].value.appendBytes(text) }
        }
    }

    override func undeclaredEntity(line: Int, inStartTag: Bool) {
        guard !stopped else { return }
        if inRecord {
            // Its text would silently lose the reference: the record is rejected.
            guard !recordRejected else { return }
            recordRejected = true
            queueReject(.structureError, line: recordLine, "a reference to an undeclared entity (the record's text would lose it)")
            return
        }
        // Outside a record, text is never read: harmless. In a start tag, the element tells: a
        // record element's attributes reject that record, another element's (an ancestor's,
        // which records may read) refuse the document from there, every record before it kept.
        if inStartTag { pendingEntityLine = line }
    }

    override func entityDeclared(line: Int) {
        guard !stopped else { return }
        recordNumber += 1
        queueReject(.structureError, line: line, "the DOCTYPE declares entities; such documents are refused")
        stopped = true
    }
}

extension XMLRecordReader: RecordReader {
    /// Compiles each field name as a path relative to the record element.
    public func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] {
        var out: [Int] = []
        var missing: [(field: String, suggestion: String?)] = []
        for f in fields {
            do throws(XMLPath.Problem) {
                let p = try XMLPath(f, absolute: false, namespaces: options.namespaces)
                if p.ups > recordPath.steps.count - 1 {
                    missing.append(
                        (f, "a path with \(recordPath.steps.count - 1) '..' at most: the record has \(recordPath.steps.count - 1) ancestors"))
                    continue
                }
                out.append(collector.add(p))
                boundCount += 1
            } catch {
                if case .undeclaredPrefix(let prefix) = error {
                    missing.append((f, "declare the prefix '\(prefix)' under source.namespaces"))
                } else if case .ancestorText = error {
                    missing.append((f, "an attribute such as '../@id': the text of an ancestor element is not available while streaming"))
                } else {
                    missing.append((f, nil))
                }
            }
        }
        if !missing.isEmpty { throw RecordReaderBindError(missing: missing, file: displayName) }
        return out
    }
}

@available(*, unavailable)
extension XMLRecordReader: Sendable {}

/// A reader whose records wait in an XML collector's queue: a caller copying many records
/// (`RecordChunk.fill`) takes all the queued ones at a time, their values in one copy, rather
/// than one record and one field at a time through `next()` and `field(_:)`.
protocol XMLQueuedRecords: RecordReader {
    /// The collector whose queue holds the records; its bound paths are the reader's fields, in
    /// position order.
    var queueCollector: XMLRecordCollector { get }
    /// Queues more records (the parser fed once more); false once there are no more.
    /// - Throws: `SourceIOError` when the source cannot be read.
    func queueMore() throws(SourceIOError) -> Bool
    /// Where queued `item` comes from (as `location` would say once `next()` returned it).
    func location(of item: XMLRecordCollector.Item) -> SourceLocation
    /// Items were taken from the queue (`takeQueued`), `last` the last one: the reader is past
    /// it, with no current record.
    func took(_ last: XMLRecordCollector.Item)
}

extension XMLRecordReader: XMLQueuedRecords {
    var queueCollector: XMLRecordCollector { collector }

    func location(of item: XMLRecordCollector.Item) -> SourceLocation { location(record: item.record, line: item.line) }

    func took(_ last: XMLRecordCollector.Item) {
        recordNumber = last.record
        recordLine = last.line
        currentSpan = nil
    }
}
