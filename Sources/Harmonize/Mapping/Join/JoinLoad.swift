import Foundation

/// Turns the records of a join's files into index rows (`JoinRuntime.load`): decodes the fields
/// a join reads, applies its `where` filter, and encodes the key (`ValueCodec.appendJoinKey`) and
/// the payload. One per thread: it keeps its buffers from record to record.
final class JoinRowEncoder {
    /// What became of one record.
    enum Outcome {
        /// `keyBytes` and `payloadBytes` hold its index row.
        case indexed
        /// A key component is null: the record joins nothing.
        case nullKey
        /// The `where` filter left it out.
        case filtered
        /// A field fails its schema, or the filter fails on it.
        case rejected(Reject)
    }

    /// The fields read, in the order of the columns given to `encode`: the key, then the
    /// payload, then the filter's own fields.
    let names: [String]
    private let decoders: DecoderTable
    private let keyAt: [Int]
    private let payloadAt: [Int]
    private let whereAt: [Int]
    private let whereClause: CompiledExpression?
    private let whereSlots: [Int]
    private let whereFrame: EvaluationFrame?
    private let mapping: String
    private let joinName: String
    /// `join.<name>`: the rule of the rejects.
    let rule: String
    // Used by one thread, for every record: the dynamic exclusivity checks are off.
    @exclusivity(unchecked) private var values: [Value]
    @exclusivity(unchecked) private var keyValues: [Value]
    /// The key of the last record indexed.
    @exclusivity(unchecked) var keyBytes: [UInt8] = []
    /// The payload of the last record indexed (`JoinRuntime` appends a row's file and line to
    /// it for `split`).
    @exclusivity(unchecked) var payloadBytes: [UInt8] = []

    /// An encoder of `join`'s rows; `callSites` are those the filter's calls use (nil for an
    /// encoder of a join without filter).
    init(_ join: PlannedJoin, callSites: BoundCallSites?) {
        var names: [String] = []
        var decoders: [FieldDecoder] = []
        func column(_ n: String, _ d: FieldDecoder) -> Int {
            if let i = names.firstIndex(of: n) { return i }
            names.append(n)
            decoders.append(d)
            return names.count - 1
        }
        keyAt = zip(join.keyColumns, join.keyDecoders).map { column($0, $1) }
        payloadAt = join.payload.map { column($0.name, $0.decoder) }
        whereAt = join.whereFields.map { column($0.name, $0.decoder) }
        whereSlots = join.whereFields.map(\.slot)
        whereClause = join.whereClause
        whereFrame = join.whereClause.map { _ in
            callSites.map { EvaluationFrame(slotCount: join.whereSlotCount, callSites: $0) } ?? EvaluationFrame(slotCount: join.whereSlotCount)
        }
        self.names = names
        // Called for every field of every joined row: a class the loop borrows (an array of
        // decoder structs is copied, with its references retained, on each subscript).
        self.decoders = DecoderTable(decoders)
        values = [Value](repeating: .null, count: names.count)
        keyValues = [Value](repeating: .null, count: keyAt.count)
        mapping = join.mapping
        joinName = join.name
        rule = "join.\(join.name)"
    }

    /// Encodes the record `reader` stands on (its fields at `positions`, in `names` order).
    /// Throws only what stops the run (a filter's call that cannot go on).
    @inline(__always)
    func encode<R: RecordReader>(_ reader: R, _ positions: [Int]) throws(RunError) -> Outcome {
        for k in 0..<names.count {
            switch decoders.decode(k, reader.field(positions[k])) {
            case .value(let v): values[k] = v
            case .failure(let reason, let fieldRule):
                return .rejected(
                    Reject(
                        reason: reason, location: reader.location, field: names[k], mapping: mapping, rule: rule,
                        message: "joined field \(joinName).\(names[k]) fails its schema rule '\(fieldRule)'"))
            }
        }
        if let w = whereClause, let whereFrame {
            for i in whereSlots.indices { whereFrame.storage[whereSlots[i]] = values[whereAt[i]] }
            let keep: Bool
            do throws(EvaluationError) {
                keep = try w.evaluator(whereFrame) == .bool(true)
            } catch {
                if error.stopsRun { throw RunError(.io, "mapping \(mapping), join \(joinName): \(error.message)") }
                return .rejected(
                    Reject(
                        reason: error.reason, location: reader.location, field: nil, mapping: mapping, rule: rule + ".where",
                        message: "rule \(rule).where: \(error.message)"))
            }
            guard keep else { return .filtered }
        }
        for k in keyAt.indices { keyValues[k] = values[keyAt[k]] }
        guard ValueCodec.appendJoinKey(keyValues, to: &keyBytes) else { return .nullKey }
        payloadBytes.removeAll(keepingCapacity: true)
        for i in payloadAt { ValueCodec.append(values[i], to: &payloadBytes) }
        return .indexed
    }

    /// The index rows, counts and rejects of one chunk of records, in the chunk's order (the
    /// run's thread and `JoinLoadPipeline`'s encoding threads alike).
    func encode(_ chunk: RecordChunk, with reader: ChunkReader, columns: [Int]) -> EncodedJoinChunk {
        let out = EncodedJoinChunk(sequence: chunk.sequence)
        reader.reset(chunk)
        while true {
            let event: ReadEvent
            do {
                event = try reader.next()
            } catch {
                // A chunk's reader does not fail; were it to, the error stops the run in order.
                out.failure = RunError(.io, "\(error)")
                return out
            }
            switch event {
            case .end: return out
            case .rejected(var r):
                out.read += 1
                r.mapping = mapping
                r.rule = rule
                out.rejects.append(r)
                continue
            case .record: out.read += 1
            }
            do {
                switch try encode(reader, columns) {
                case .indexed:
                    out.keys.append(contentsOf: keyBytes)
                    out.payloads.append(contentsOf: payloadBytes)
                    out.ends.append((out.keys.count, out.payloads.count))
                case .nullKey: out.nullKeys += 1
                case .filtered: out.filtered += 1
                case .rejected(let r): out.rejects.append(r)
                }
            } catch {
                out.failure = error
                return out
            }
        }
    }
}

@available(*, unavailable)
extension JoinRowEncoder: Sendable {}

/// One chunk of a join's records encoded by an encoding thread: its index rows (keys and
/// payloads one after the other), what it counted and its rejects, all in the file's order.
final class EncodedJoinChunk {
    let sequence: Int
    var read = 0
    var nullKeys = 0
    var filtered = 0
    var rejects: [Reject] = []
    var keys: [UInt8] = []
    var payloads: [UInt8] = []
    /// Where each row's key and payload end in `keys` and `payloads`.
    var ends: [(key: Int, payload: Int)] = []
    /// What stopped the encoding after the rows above (the run stops once they are taken).
    var failure: RunError?

    init(sequence: Int) { self.sequence = sequence }
}

/// The chunks of one joined file encoded by several threads while the calling thread fills the
/// index with them in the file's order: the index, counts and rejects are those of one thread.
///
/// The reading thread (`ChunkedRead`) splits the file into chunks; each encoding thread takes
/// the next chunk, decodes and encodes its records (`JoinRowEncoder`), and leaves the result
/// for the calling thread, which takes them by sequence. At most as many encoded chunks as
/// encoders wait, so memory stays bounded whatever the file's size. Measured on the join
/// benchmark (bench/README.md): the index's loading went from one saturated thread to both
/// cores, 0.86× / 0.91× the run's wall time at 1M / 5M claims.
enum JoinLoadPipeline {
    /// The encoded chunks waiting for the calling thread, and the threads' state.
    // Safe to share: every mutable member is used with `condition` locked.
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var done: [Int: EncodedJoinChunk] = [:]
        var running: Int
        var cancelled = false
        var readFailure: (any Error)?
        let limit: Int
        init(encoders: Int) {
            running = encoders
            limit = encoders
        }
    }

    /// One encoding thread's encoder, chunk reader and columns, and the file's reading thread.
    // Safe to share: the encoder and reader are its thread's alone until `run` waits; `read` locks.
    private final class Box: @unchecked Sendable {
        let encoder: JoinRowEncoder
        let reader: ChunkReader
        let read: ChunkedRead
        let columns: [Int]
        init(encoder: JoinRowEncoder, read: ChunkedRead) {
            self.encoder = encoder
            reader = ChunkReader(names: encoder.names)
            self.read = read
            columns = Array(0..<encoder.names.count)
        }
    }

    /// Encodes the chunks of `read` with one thread per encoder and hands them to `take` in
    /// sequence (`take` throws what stopped a chunk's encoding); a read error is thrown after the
    /// chunks read before it are taken. Every encoding thread has ended when this returns or throws.
    static func run(read: ChunkedRead, encoders: [JoinRowEncoder], take: (EncodedJoinChunk) throws(RunError) -> Void) throws(RunError) {
        let shared = Shared(encoders: encoders.count)
        let ended = DispatchSemaphore(value: 0)
        for (i, e) in encoders.enumerated() {
            let box = Box(encoder: e, read: read)
            // "harmonize-idx-N": fifteen bytes, the system's longest name, for N < 10.
            NamedThread.start("harmonize-idx-\(i)", stackSize: 1 << 23) {
                encode(box, shared)
                ended.signal()
            }
        }
        defer {
            shared.condition.lock()
            shared.cancelled = true
            shared.condition.broadcast()
            shared.condition.unlock()
            for _ in encoders { ended.wait() }
        }
        var sequence = 0
        while true {
            shared.condition.lock()
            while shared.done[sequence] == nil && shared.running > 0 { shared.condition.wait() }
            let chunk = shared.done.removeValue(forKey: sequence)
            let failure = shared.readFailure
            shared.condition.broadcast()
            shared.condition.unlock()
            guard let chunk else {
                if let failure { throw RunError(.io, "\(failure)") }
                return
            }
            try take(chunk)
            sequence += 1
        }
    }

    /// An encoding thread: takes chunks until the file's end, a read error or a cancellation.
    private static func encode(_ box: Box, _ shared: Shared) {
        defer {
            shared.condition.lock()
            shared.running -= 1
            shared.condition.broadcast()
            shared.condition.unlock()
        }
        while true {
            shared.condition.lock()
            while shared.done.count >= shared.limit && !shared.cancelled { shared.condition.wait() }
            let stop = shared.cancelled
            shared.condition.unlock()
            if stop { return }
            let chunk: RecordChunk?
            do {
                chunk = try box.read.next()
            } catch {
                shared.condition.lock()
                shared.readFailure = error
                shared.condition.unlock()
                return
            }
            guard let chunk else { return }
            let encoded = box.encoder.encode(chunk, with: box.reader, columns: box.columns)
            shared.condition.lock()
            shared.done[encoded.sequence] = encoded
            shared.condition.broadcast()
            shared.condition.unlock()
        }
    }
}
