/// What an HL7 v2 reader yields as one record.
package enum HL7RecordUnit: Sendable, Hashable {
    /// One record per message (`record: message`).
    case message
    /// One record per occurrence of a segment (`record: OBX`); the message's other segments stay in
    /// reach (a path to another segment reads the nearest preceding one: its parent OBR, PID, PV1).
    case segment(String)
}

/// Options of an HL7 v2 reader.
package struct HL7ReaderOptions: Sendable, Hashable {
    /// The record unit.
    public var record: HL7RecordUnit
    /// Largest message in bytes (default 16 MiB): a longer one is rejected as `.limitExceeded`
    /// and skipped, so memory stays bounded by one message.
    public var maxMessageBytes: Int
    /// `on_bad_segment: skip-segment`: a line of a message that is not a segment is skipped and
    /// rejected on its own, the message read without it (default false: the whole message is
    /// rejected, as chapter 2 requires).
    public var skipBadSegments: Bool

    /// Creates options.
    public init(record: HL7RecordUnit = .message, maxMessageBytes: Int = 16 << 20, skipBadSegments: Bool = false) {
        self.record = record
        self.maxMessageBytes = max(16, maxMessageBytes)
        self.skipBadSegments = skipBadSegments
    }
}

/// A streaming reader of HL7 v2 messages in ER7 ("pipe and hat") encoding.
///
/// Reads files with one or many messages: CR, LF, CRLF or mixed segment terminators, blank lines,
/// batch envelopes (FHS/BHS/BTS/FTS, trailers optional), MLLP framing (0x0B … 0x1C 0x0D), a UTF-8
/// byte-order mark, and the charset of MSH-18 (ASCII, UTF-8, ISO 8859-1/15, transcoded to UTF-8).
/// Delimiters are read from each message's MSH-1/MSH-2. Fields are addressed by `HL7Path`s
/// (`PID-5.1`, `PID-3[4.1=INS-NIR].1`, `OBX-5`…) bound once with `bind(fields:)`.
///
/// A message that cannot be read (no MSH, bad MSH-2, a line that is not a segment, bytes not
/// valid in its charset, too long) is returned as `.rejected` with the file, the message number
/// (`record`), its line and the segment concerned (`path`); reading goes on with the next message.
///
/// `withField` gives the decoded UTF-8 of a path; a value sent as `""` (present but null, R5) gives
/// empty bytes, like an absent one, so both map to null; `isNull(_:)` tells them apart.
package final class HL7Reader {
    let source: any ByteSource
    /// The file name used in locations and rejects.
    public let displayName: String
    /// The options.
    public let options: HL7ReaderOptions
    let unitID: UInt32?

    // Input buffer and line splitting. The properties read or written for every line, record
    // or bound path skip the dynamic exclusivity checks (one reader, used by one thread, never
    // hands out an access that outlives a call): they cost 10 % of an ORU run.
    let raw: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) var rawPos = 0
    @exclusivity(unchecked) var rawCount = 0
    var eof = false
    /// The lines of the message being read, one after another (terminators removed), then the
    /// line read ahead that starts the next one; kept from message to message (no allocation per
    /// line or message once grown). Bounded by `maxMessageBytes` plus one line.
    @exclusivity(unchecked) var lineBytes: [UInt8] = []
    /// Where the line being read starts in `lineBytes`.
    @exclusivity(unchecked) var lineStart = 0
    /// The current message's lines (ranges of `lineBytes`).
    @exclusivity(unchecked) var messageLines: [HL7Message.Line] = []
    var curOverflow = false
    @exclusivity(unchecked) var swallowLF = false
    @exclusivity(unchecked) var nextLine = 1
    var pendingLine: Line? = nil
    /// Set by an MLLP end-of-block byte (0x1C): the next line starts a new message.
    var frameEnded = false
    /// Bytes consumed from the source so far.
    public private(set) var bytesRead: Int64 = 0

    // Current message and record.
    /// The current message (`loaded` when there is one): the reader's one message, reloaded for each.
    let loaded = HL7Message()
    @exclusivity(unchecked) var message: HL7Message? = nil
    var messageNumber = 0
    @exclusivity(unchecked) var occurrences: [Int] = []
    @exclusivity(unchecked) var occurrenceIndex = 0
    @exclusivity(unchecked) var currentSegment: Int? = nil
    @exclusivity(unchecked) var recordLine = 0
    var recordPath: String? = nil
    /// For a segment record: its segment id and occurrence, turned into `recordPath` text only
    /// when a location is asked for (rejects), not for every record.
    var recordOccurrence: (id: UInt32, n: Int)? = nil
    /// The texts of the record unit's occurrences so far (`occurrencePath`).
    private var occurrencePaths: [String] = []
    /// Lines skipped from the current message (`skipBadSegments`), not yet returned as rejects.
    var skippedLines: [(line: Int, position: Int)] = []
    /// Whether the current message (record unit `message`) is still to be returned after them.
    var messageRecordPending = false

    // Bound fields.
    @exclusivity(unchecked) var paths: [HL7Path] = []
    /// The bound paths as plain numbers (read for every record; `paths` only for a repetition
    /// picked by a condition).
    @exclusivity(unchecked) var compiledPaths: [HL7Path.Compiled] = []
    /// Per bound path, its value when escape sequences were decoded (`states` says which).
    @exclusivity(unchecked) var values: [[UInt8]] = []
    /// Where a value with escape sequences is decoded before it is swapped into `values`.
    @exclusivity(unchecked) var decoding: [UInt8] = []
    /// What the reader knows of a bound path's value in the current record.
    struct PathState {
        /// ≥ 0: the value is bytes `start..<start + count` of the current message (most values:
        /// nothing copied); `decoded`: it is in `values`; `empty`: absent or `""`.
        var start: Int
        var count: Int
        /// Sent as `""` (present but null).
        var isNull: Bool
        /// The message (`messageGeneration`) and segment it was extracted from: the value only
        /// depends on them, so the records of one message (one per OBX) extract the paths of its
        /// other segments (MSH, PID, the parent OBR) once.
        var generation: Int
        var segment: Int

        static let decoded = -1
        static let empty = -2
        static let unread = PathState(start: empty, count: 0, isNull: false, generation: -1, segment: -1)
    }
    /// One state per bound path, in one array written through one buffer per record (five
    /// arrays before: a uniqueness check per path and array, 4 % of the reading thread).
    @exclusivity(unchecked) var states: [PathState] = []
    @exclusivity(unchecked) var messageGeneration = 0

    /// Creates a reader over `source`.
    public convenience init(source: any ByteSource, displayName: String, options: HL7ReaderOptions = HL7ReaderOptions()) {
        self.init(source: source, displayName: displayName, options: options, chunkSize: 1 << 16)
    }

    /// The designated initializer, with the read chunk size (tests drip-feed with small chunks).
    init(source: any ByteSource, displayName: String, options: HL7ReaderOptions, chunkSize: Int) {
        self.source = source
        self.displayName = displayName
        self.options = options
        self.raw = .allocate(byteCount: max(1, chunkSize), alignment: 16)
        if case .segment(let id) = options.record {
            let b = Array(id.utf8)
            unitID = b.count == 3 ? HL7Message.id(b[0], b[1], b[2]) : HL7Message.id(0, 0, 0)
        } else {
            unitID = nil
        }
    }

    deinit { raw.deallocate() }

    /// Where the current record comes from: file, line of its segment (or of its MSH), message
    /// number as `record`, and the segment occurrence (`OBX[2]`) as `path` for segment records.
    public var location: SourceLocation {
        let path = recordOccurrence.map { occurrencePath(id: $0.id, $0.n) } ?? recordPath
        return SourceLocation(file: displayName, line: recordLine, record: messageNumber, path: path)
    }

    /// `OBX[2]`: the text of a segment occurrence, made once per occurrence number for the record
    /// unit's segment (a parallel pass takes the location of every record: the text made each
    /// time was 3 % of its reading thread).
    private func occurrencePath(id: UInt32, _ n: Int) -> String {
        guard id == unitID, n >= 1, n <= 4096 else { return "\(String(decoding: HL7Message.idBytes(id), as: UTF8.self))[\(n)]" }
        while occurrencePaths.count < n {
            occurrencePaths.append("\(String(decoding: HL7Message.idBytes(id), as: UTF8.self))[\(occurrencePaths.count + 1)]")
        }
        return occurrencePaths[n - 1]
    }

    /// Total size of the source in bytes, when known.
    public var totalBytes: Int64? { source.totalBytes }

    // MARK: Records

    /// Reads the next record.
    /// - Throws: `SourceIOError` only.
    public func next() throws(SourceIOError) -> ReadEvent {
        while true {
            if !skippedLines.isEmpty { return skippedLineReject(skippedLines.removeFirst()) }
            if messageRecordPending, let msg = message {
                messageRecordPending = false
                recordLine = msg.segLine.first ?? recordLine
                recordPath = nil
                recordOccurrence = nil
                extractAll()
                return .record
            }
            if let msg = message, occurrenceIndex < occurrences.count {
                let s = occurrences[occurrenceIndex]
                occurrenceIndex += 1
                currentSegment = s
                recordLine = msg.segLine[s]
                recordPath = nil
                recordOccurrence = (msg.segID[s], occurrenceIndex)
                extractAll()
                return .record
            }
            message = nil
            occurrences.removeAll(keepingCapacity: true)
            occurrenceIndex = 0
            currentSegment = nil
            dropMessageLines()
            guard let first = try takeLine() else { return .end }
            if isEnvelope(first) { continue }
            messageNumber += 1
            recordLine = first.line
            recordPath = nil
            recordOccurrence = nil
            messageLines.append(first.range)
            var size = first.range.count
            var overflow = first.overflow
            while let l = try takeLine() {
                if isMSH(l) || isEnvelope(l) || l.startsFrame {
                    pendingLine = l
                    break
                }
                size += l.range.count + 1
                overflow = overflow || l.overflow
                if size > options.maxMessageBytes {
                    // Not kept: the message is rejected once read to its end.
                    overflow = true
                    dropLastLine(l)
                } else {
                    messageLines.append(l.range)
                }
            }
            if overflow {
                return reject(.limitExceeded, path: "MSH", line: first.line, "message longer than \(options.maxMessageBytes) bytes")
            }
            let skipped = removeBadSegments()
            let msg = loaded
            do throws(HL7Message.Failure) {
                try msg.load(from: lineBytes, lines: messageLines)
            } catch {
                return reject(error.reason, path: error.path, line: error.line, error.message)
            }
            message = msg
            messageGeneration += 1
            skippedLines = skipped
            if let unitID {
                for k in 0..<msg.segmentCount where msg.segID[k] == unitID { occurrences.append(k) }
                continue
            }
            currentSegment = nil
            if !skipped.isEmpty {
                messageRecordPending = true
                continue
            }
            extractAll()
            return .record
        }
    }

    func reject(_ reason: RejectReason, path: String, line: Int, _ text: String) -> ReadEvent {
        message = nil
        messageGeneration += 1
        recordLine = line
        recordPath = path
        recordOccurrence = nil
        for i in 0..<states.count {
            states[i].start = PathState.empty
            states[i].isNull = false
        }
        return .rejected(Reject(reason: reason, location: location, message: text))
    }

    func extractAll() {
        guard let msg = message else { return }
        let generation = messageGeneration
        let current = currentSegment
        // The paths as plain numbers: reading `paths[i]` copied the struct (its segment array,
        // repetition and description retained and released: 10 % of the reading thread of an
        // ORU run, `perf`), and borrowing it still copied it in the callee.
        compiledPaths.withUnsafeBufferPointer { compiled in
            states.withUnsafeMutableBufferPointer { states in
                for i in 0..<compiled.count {
                    let s = msg.segmentIndex(for: compiled[i], current: current)
                    let segment = s ?? -1
                    if states[i].generation == generation && states[i].segment == segment { continue }
                    let located =
                        compiled[i].repetition > 0
                        ? msg.locate(compiled[i], segment: s, decodingInto: &decoding)
                        : msg.locate(paths[i], segment: s, decodingInto: &decoding)
                    var state = PathState(start: PathState.empty, count: 0, isNull: false, generation: generation, segment: segment)
                    switch located {
                    case .absent: break
                    case .null: state.isNull = true
                    case .bytes(let r):
                        state.start = r.lowerBound
                        state.count = r.count
                    case .decoded:
                        state.start = PathState.decoded
                        swap(&values[i], &decoding)
                    }
                    states[i] = state
                }
            }
        }
    }

    /// The decoded UTF-8 of bound field `position` for the current record (empty when absent or `""`).
    public func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(field(position))
    }

    /// The decoded UTF-8 of bound field `position` for the current record, valid until `next()`:
    /// bytes of the message itself when the value has no escape sequence.
    public func field(_ position: Int) -> UnsafeBufferPointer<UInt8> {
        guard position >= 0, position < states.count else { return UnsafeBufferPointer(start: nil, count: 0) }
        let state = states[position]
        if state.start >= 0, let msg = message { return msg.buffer(state.start..<(state.start + state.count)) }
        if state.start == PathState.decoded { return values[position].withUnsafeBufferPointer { $0 } }
        return UnsafeBufferPointer(start: nil, count: 0)
    }

    /// Whether bound field `position` was sent as `""` (present but null) in the current record.
    public func isNull(_ position: Int) -> Bool {
        position >= 0 && position < states.count && states[position].isNull
    }

    /// Evaluates a path on the current record (convenience; compiles the path each call): nil when
    /// the path is invalid or the value was sent as `""`, empty text when not present.
    public func value(_ path: String) -> String?? {
        guard let p = HL7Path(path) else { return nil }
        guard let msg = message else { return .some("") }
        var out: [UInt8] = []
        if msg.extract(p, current: currentSegment, into: &out) { return .some(nil) }
        return .some(String(decoding: out, as: UTF8.self))
    }

    /// The segment ids of the current message, in order.
    public var segmentIDs: [String] {
        guard let msg = message else { return [] }
        return msg.segID.map { String(decoding: HL7Message.idBytes($0), as: UTF8.self) }
    }

    // MARK: Lines

    /// One segment line as read: `lineBytes[range]` (its terminator, and a leading BOM, removed).
    struct Line {
        var range: HL7Message.Line
        /// Where its bytes start in `lineBytes`, a byte-order mark included.
        var begin: Int
        var line: Int { range.number }
        var overflow: Bool
        /// Whether an MLLP end-of-block came just before: a message boundary.
        var startsFrame: Bool
    }

    /// The first three bytes of a line as a segment id, nil for a shorter line.
    func lineID(_ l: Line) -> UInt32? {
        let s = l.range.start
        guard l.range.count >= 3 else { return nil }
        return HL7Message.id(lineBytes[s], lineBytes[s + 1], lineBytes[s + 2])
    }

    func isMSH(_ l: Line) -> Bool { lineID(l) == HL7Message.mshID }

    func isEnvelope(_ l: Line) -> Bool {
        guard let id = lineID(l), l.range.count == 3 || !HL7Message.isIDByte(lineBytes[l.range.start + 3]) else { return false }
        return id == HL7Message.id(70, 72, 83) || id == HL7Message.id(66, 72, 83) || id == HL7Message.id(66, 84, 83)
            || id == HL7Message.id(70, 84, 83)
    }

    /// Forgets the lines of the message just read, keeping the line read ahead (moved to the start).
    func dropMessageLines() {
        messageLines.removeAll(keepingCapacity: true)
        guard var p = pendingLine else {
            lineBytes.removeAll(keepingCapacity: true)
            lineStart = 0
            return
        }
        let n = lineBytes.count - p.begin
        if p.begin > 0 {
            lineBytes.withUnsafeMutableBufferPointer { b in
                guard let base = b.baseAddress else { return }
                base.update(from: base + p.begin, count: n)
            }
            lineBytes.removeLast(lineBytes.count - n)
            p.range.start -= p.begin
            p.range.end -= p.begin
            p.begin = 0
            pendingLine = p
        }
        lineStart = n
    }

    /// Forgets a line just taken (the last one in `lineBytes`).
    func dropLastLine(_ l: Line) {
        lineBytes.removeLast(lineBytes.count - l.begin)
        lineStart = l.begin
    }

    /// The next non-blank line (terminators, MLLP frame bytes and a leading BOM removed), its
    /// bytes appended to `lineBytes`.
    func takeLine() throws(SourceIOError) -> Line? {
        if let p = pendingLine {
            pendingLine = nil
            return p
        }
        let limit = options.maxMessageBytes
        while true {
            if rawPos == rawCount {
                if eof { break }
                let n = try source.read(into: raw)
                bytesRead += Int64(n)
                rawPos = 0
                rawCount = n
                if n == 0 {
                    eof = true
                    break
                }
            }
            let c = raw[rawPos]
            if c != 0x0B && c != 0x0D && c != 0x0A && c != 0x1C {
                // The run of ordinary bytes up to the next terminator, appended at once (a byte at a
                // time costs an exclusivity check and a bounds check per byte).
                var end = rawPos + 1
                let count = rawCount
                while end < count {
                    let d = raw[end]
                    if d == 0x0B || d == 0x0D || d == 0x0A || d == 0x1C { break }
                    end += 1
                }
                swallowLF = false
                let take = min(max(0, limit - (lineBytes.count - lineStart)), end - rawPos)
                if take > 0 { lineBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[rawPos..<(rawPos + take)])) }
                if take < end - rawPos { curOverflow = true }
                rawPos = end
                continue
            }
            rawPos += 1
            var terminate = false
            switch c {
            case 0x0B:
                swallowLF = false
            case 0x0D:
                terminate = true
                nextLine += 1
                swallowLF = true
            case 0x0A:
                if swallowLF {
                    swallowLF = false
                } else {
                    terminate = true
                    nextLine += 1
                }
            case 0x1C:
                swallowLF = false
                terminate = true
                if let l = finishLine(lineNumber: nextLine) {
                    frameEnded = true
                    return l
                }
                frameEnded = true
                continue
            default:
                swallowLF = false
            }
            if terminate, let l = finishLine(lineNumber: c == 0x1C ? nextLine : nextLine - 1) { return l }
        }
        return finishLine(lineNumber: nextLine)
    }

    /// Ends the line being read: nil (and its bytes forgotten) when it is blank.
    func finishLine(lineNumber: Int) -> Line? {
        let begin = lineStart
        let end = lineBytes.count
        let overflow = curOverflow
        curOverflow = false
        var start = begin
        if end - start >= 3, lineBytes[start] == 0xEF, lineBytes[start + 1] == 0xBB, lineBytes[start + 2] == 0xBF { start += 3 }
        var blank = true
        var i = start
        while i < end {
            if lineBytes[i] != 32 && lineBytes[i] != 9 {
                blank = false
                break
            }
            i += 1
        }
        guard !blank || overflow else {
            lineBytes.removeLast(end - begin)
            return nil
        }
        lineStart = end
        let startsFrame = frameEnded
        frameEnded = false
        return Line(range: .init(start: start, end: end, number: lineNumber), begin: begin, overflow: overflow, startsFrame: startsFrame)
    }
}

extension HL7Reader: RecordReader {
    /// Compiles each field name as an `HL7Path`; names that are not paths are reported missing.
    public func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] {
        var out: [Int] = []
        var missing: [(field: String, suggestion: String?)] = []
        for f in fields {
            if let p = HL7Path(f) {
                out.append(paths.count)
                paths.append(p)
                compiledPaths.append(p.compiled)
                values.append([])
                states.append(.unread)
            } else {
                missing.append((f, nil))
            }
        }
        if !missing.isEmpty { throw RecordReaderBindError(missing: missing, file: displayName) }
        extractAll()
        return out
    }
}

@available(*, unavailable)
extension HL7Reader: Sendable {}
