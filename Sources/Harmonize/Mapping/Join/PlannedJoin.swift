import Foundation

/// A join resolved by the planner: its key expressions and the joined fields the mapping reads
/// (each with its slot in the driving frame). Immutable: the index of the joined rows belongs to
/// a run (`JoinRuntime`).
final class PlannedJoin: Sendable {
    let spec: JoinSpec
    let mapping: String
    let schema: SourceSchema?
    let dialect: Dialect
    /// Key columns of the joined side, and their decoders.
    let keyColumns: [String]
    let keyDecoders: [FieldDecoder]
    /// Key expressions over the driving record, in `keyColumns` order.
    let on: [CompiledExpression]
    /// Joined fields the mapping reads, with their slots in the driving frame.
    let payload: [(name: String, slot: Int, decoder: FieldDecoder)]
    /// The `where` filter over joined rows, with the fields it reads and its own frame size.
    let whereClause: CompiledExpression?
    let whereFields: [(name: String, slot: Int, decoder: FieldDecoder)]
    let whereSlotCount: Int

    init(
        spec: JoinSpec, mapping: String, schema: SourceSchema?, dialect: Dialect, keyColumns: [String], keyDecoders: [FieldDecoder],
        on: [CompiledExpression], payload: [(name: String, slot: Int, decoder: FieldDecoder)], whereClause: CompiledExpression?,
        whereFields: [(name: String, slot: Int, decoder: FieldDecoder)], whereSlotCount: Int
    ) {
        self.spec = spec
        self.mapping = mapping
        self.schema = schema
        self.dialect = dialect
        self.keyColumns = keyColumns
        self.keyDecoders = keyDecoders
        self.on = on
        self.payload = payload
        self.whereClause = whereClause
        self.whereFields = whereFields
        self.whereSlotCount = whereSlotCount
    }

    var name: String { spec.name.text }

    /// The joined files as a delimited source (for the reader factory).
    var sourceSpec: SourceSpec {
        SourceSpec(
            format: LocatedText(text: "csv", line: spec.name.line, column: spec.name.column), files: spec.files, dialect: dialect, schema: .none,
            validateAllFields: false, position: spec.name)
    }

    /// One joined file to index: its reader and its run file index (for rejects).
    struct Input {
        var reader: any RecordReader
        var fileIndex: Int32
        var displayName: String
    }
}

/// One run's side of a join: the keyed index of the joined rows, and the join's counts.
final class JoinRuntime {
    let join: PlannedJoin
    private(set) var index: SpillingIndex?
    // Written by `match` for every record of the mapping, only on the run's thread: the dynamic
    // exclusivity checks of these class properties are off.
    @exclusivity(unchecked) private var keyParts: [Value]
    @exclusivity(unchecked) private var keyBuffer: [UInt8] = []
    /// The key expressions and the payload's frame slots, taken once from the plan (`match` reads
    /// them for every record without going through `join`).
    private let keyEvaluators: EvaluatorList
    private let payloadSlots: [Int]
    /// A worker's own buffers for reading the on-disk part of the index (`workerCopy`); nil
    /// for the run's runtime, which reads with the index's.
    private var diskBuffers: DiskHashTable.ReadBuffers?
    private(set) var statistics: JoinStatistics
    /// `harmonize-run split`: every indexed row also carries its file and line, `match` sets
    /// `partner` to those of the row found, and `onRecord` hears of every record read (file,
    /// line where it starts). Off for runs.
    var tracksPartners = false
    /// Told of every record of the joined files (file id, line where it starts) when `tracksPartners`.
    var onRecord: ((Int32, Int) -> Void)?
    /// The file id and line of the row the last `match` found (with `tracksPartners`).
    private(set) var partner: (file: Int32, line: Int)?
    /// Told of every indexed row (file id, line, hash of its key) when `tracksPartners`.
    var onKeyedRow: ((Int32, Int, Int64) -> Void)?
    /// Told of the key hash of a lookup that found several rows, when `tracksPartners`.
    var onAmbiguous: ((Int64) -> Void)?

    /// FNV-1a of an encoded key (`split`: rows of an ambiguous key are found again by it; a
    /// collision only sends more rows to shard 0).
    static func keyHash(_ bytes: [UInt8]) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return Int64(bitPattern: h)
    }

    init(_ join: PlannedJoin) {
        self.join = join
        keyParts = [Value](repeating: .null, count: join.on.count)
        keyEvaluators = EvaluatorList(join.on) { EvaluatorBox($0.evaluator) }
        payloadSlots = join.payload.map(\.slot)
        statistics = JoinStatistics(
            mapping: join.mapping, join: join.spec.name.text, files: [], read: 0, indexed: 0, rejected: 0, filtered: 0, nullKeys: 0,
            ambiguousKeys: 0, spilled: false, matched: 0, missing: 0)
    }

    var name: String { join.name }

    /// Reads the joined rows into a fresh index. Rows failing their schema go to `reject`.
    /// With `encoders` > 1 (a join without `where`, outside `split`), that many threads decode
    /// and encode the records while this one fills the index in the file's order
    /// (`JoinLoadPipeline`): the same index, counts and rejects as with one.
    func load(
        inputs: [PlannedJoin.Input], budget: Int, spillDirectory: String, callSites: BoundCallSites, reject: (Reject, Int32) -> Void,
        encoders: Int = 1
    ) throws(RunError) {
        index?.close()
        let index = SpillingIndex(budget: budget, spillDirectory: spillDirectory)
        self.index = index
        statistics.files = inputs.map(\.displayName)
        let encoder = JoinRowEncoder(join, callSites: callSites)
        let names = encoder.names
        let parallel = encoders > 1 && join.whereClause == nil && !tracksPartners
        func indexError(_ error: JoinIndexError) -> RunError { RunError(.io, "mapping \(statistics.mapping), join \(name): \(error)") }
        /// Indexes the records of `reader` (the fields at `positions`, in `names` order) up to its
        /// end, as `split` reads them: it hears of every record and of every row indexed.
        func takeTracking<R: RecordReader>(_ reader: R, _ positions: [Int], _ input: PlannedJoin.Input) throws(RunError) {
            rows: while true {
                let event: ReadEvent
                do {
                    event = try reader.next()
                } catch {
                    throw RunError(.io, "\(error)")
                }
                switch event {
                case .end: break rows
                case .rejected(var r):
                    statistics.read += 1
                    statistics.rejected += 1
                    r.mapping = statistics.mapping
                    r.rule = encoder.rule
                    reject(r, input.fileIndex)
                    continue rows
                case .record: break
                }
                statistics.read += 1
                let line = reader.location.line ?? 0
                onRecord?(input.fileIndex, line)
                switch try encoder.encode(reader, positions) {
                case .rejected(let r):
                    statistics.rejected += 1
                    reject(r, input.fileIndex)
                    continue rows
                case .filtered:
                    statistics.filtered += 1
                    continue rows
                case .nullKey:
                    statistics.nullKeys += 1
                    continue rows
                case .indexed: break
                }
                ValueCodec.append(.int(Int(input.fileIndex)), to: &encoder.payloadBytes)
                ValueCodec.append(.int(line), to: &encoder.payloadBytes)
                onKeyedRow?(input.fileIndex, line, Self.keyHash(encoder.keyBytes))
                do {
                    try index.insert(key: encoder.keyBytes, payload: encoder.payloadBytes)
                } catch {
                    throw indexError(error)
                }
            }
        }
        /// Indexes one encoded chunk (by this thread or an encoding thread), then throws what
        /// stopped its encoding, if anything did.
        func take(_ chunk: EncodedJoinChunk, _ input: PlannedJoin.Input) throws(RunError) {
            statistics.read += chunk.read
            statistics.rejected += chunk.rejects.count
            statistics.nullKeys += chunk.nullKeys
            statistics.filtered += chunk.filtered
            for r in chunk.rejects { reject(r, input.fileIndex) }
            var failure: JoinIndexError?
            chunk.keys.withUnsafeBytes { keys in
                chunk.payloads.withUnsafeBytes { payloads in
                    var key = 0
                    var payload = 0
                    for end in chunk.ends {
                        do throws(JoinIndexError) {
                            try index.insert(
                                key: UnsafeRawBufferPointer(rebasing: keys[key..<end.key]),
                                payload: UnsafeRawBufferPointer(rebasing: payloads[payload..<end.payload]))
                        } catch {
                            failure = error
                            return
                        }
                        key = end.key
                        payload = end.payload
                    }
                }
            }
            if let failure { throw indexError(failure) }
            if let f = chunk.failure { throw f }
        }
        for input in inputs {
            let positions: [Int]
            do {
                positions = try input.reader.bind(fields: names)
            } catch {
                throw RunError(.configuration, "mapping \(statistics.mapping), join \(name): \(error.description)")
            }
            if tracksPartners {
                // `split` hears of every record as it is read: one thread.
                try takeTracking(input.reader, positions, input)
                continue
            }
            // The file is read and split into fields on a thread of its own (`ChunkedRead`) while
            // this one (or the encoding threads) decodes the fields; the index is filled in the
            // file's order.
            // Encoding threads hold chunks of their own, and their arenas keep what they freed:
            // smaller chunks keep the run's peak memory where one thread's was.
            let read =
                parallel
                ? ChunkedRead(reader: input.reader, columns: positions, chunkRecords: 1_024, chunkBytes: 1 << 18)
                : ChunkedRead(reader: input.reader, columns: positions)
            defer { read.finish() }
            if parallel {
                let others = (1..<encoders).map { _ in JoinRowEncoder(join, callSites: nil) }
                try JoinLoadPipeline.run(read: read, encoders: [encoder] + others) { (chunk) throws(RunError) in try take(chunk, input) }
                continue
            }
            let chunkReader = ChunkReader(names: names)
            let columns = Array(0..<names.count)
            while true {
                let chunk: RecordChunk?
                do {
                    chunk = try read.next()
                } catch {
                    throw RunError(.io, "\(error)")
                }
                guard let chunk else { break }
                try take(encoder.encode(chunk, with: chunkReader, columns: columns), input)
            }
        }
        do {
            try index.finishLoading()
        } catch {
            throw RunError(.io, "mapping \(statistics.mapping), join \(name): \(error)")
        }
        statistics.indexed = index.count
        statistics.ambiguousKeys = index.ambiguousKeys
        statistics.spilled = index.isSpilled
    }

    /// Finds the partner of the record in `frame` and writes its fields into their slots.
    /// Returns the reject reason when there is none (or several), nil on success.
    /// An on-disk index that cannot be read stops the run (`EvaluationError.stopsRun`): it is
    /// not the record's fault, and every later record would be rejected the same way.
    @inline(__always)
    func match(_ frame: EvaluationFrame) throws(EvaluationError) -> RejectReason? {
        let payload = payloadSlots
        if tracksPartners { partner = nil }
        for k in 0..<keyEvaluators.count { keyParts[k] = try keyEvaluators.evaluate(k, frame) }
        let found: SpillingIndex.Found
        if ValueCodec.appendJoinKey(keyParts, to: &keyBuffer), let index {
            do {
                if tracksPartners {
                    var file: Int32 = 0
                    var line = 0
                    found = try index.lookup(keyBuffer) { bytes in
                        ValueCodec.decode(bytes, count: payload.count + 2) { k, v in
                            if k < payload.count {
                                frame.storage[payload[k]] = v
                            } else if case .int(let i) = v {
                                if k == payload.count { file = Int32(truncatingIfNeeded: i) } else { line = i }
                            }
                        }
                    }
                    if case .payload = found { partner = (file, line) } else { partner = nil }
                } else {
                    found = try index.lookup(keyBuffer, diskBuffers: diskBuffers) { bytes in
                        ValueCodec.decode(bytes, count: payload.count) { k, v in frame.storage[payload[k]] = v }
                    }
                }
            } catch {
                throw .runFailure("the on-disk index of join \(name) cannot be read: \(error.message)", function: "join")
            }
        } else {
            found = .miss
        }
        switch found {
        case .payload:
            statistics.matched += 1
            return nil
        case .ambiguous:
            if tracksPartners { onAmbiguous?(Self.keyHash(keyBuffer)) }
            return .joinAmbiguous
        case .miss:
            statistics.missing += 1
            if join.spec.missIsNull {
                for p in payload { frame.storage[p] = .null }
                return nil
            }
            return .joinMissing
        }
    }

    /// A runtime for a worker of a parallel pass (`ParallelFilePass`): the same index, read
    /// concurrently, with its own key buffers, counts, and read buffers for the on-disk part of
    /// the index if it has one; nil when the run tracks partners (`split`).
    func workerCopy() -> JoinRuntime? {
        guard let index, !tracksPartners else { return nil }
        let copy = JoinRuntime(join)
        copy.index = index
        copy.diskBuffers = index.isSpilled ? DiskHashTable.ReadBuffers() : nil
        copy.statistics.files = statistics.files
        return copy
    }

    /// Adds a worker's matches and misses (`workerCopy`) to this runtime's counts.
    func absorb(_ worker: JoinRuntime) {
        statistics.matched += worker.statistics.matched
        statistics.missing += worker.statistics.missing
    }

    /// Frees the index (and removes its on-disk file).
    func close() {
        index?.close()
        index = nil
    }
}

@available(*, unavailable)
extension JoinRuntime: Sendable {}
