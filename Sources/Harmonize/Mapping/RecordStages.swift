extension RunError {
    /// A reader that could not go on (an I/O failure of `file`, not a bad record).
    static func readFailure(_ error: any Error, file: String) -> RunError {
        RunError(.io, "\(error)", code: (error as? SourceIOError)?.code ?? .runIO, location: .init(file: file), cause: error)
    }
}

/// What became of one record read by a mapping: the file's ledger is the sum of these.
enum RecordOutcome {
    /// At least one row was written.
    case written
    /// The record was rejected as a whole, for this reason (no row of it is written). Boxed:
    /// an outcome is a word, where the reject inline made every record's outcome 152 bytes
    /// copied with `memcpy` at each hand-over (6 % of a claims run's mapping thread, `perf`).
    indirect case rejected(Reject)
    /// A filter (the record's, or every target's) left it out.
    case filtered
    /// Its subject objected (`run --exclude`).
    case excluded
    /// It was folded into its group (`group:`); the group's rows are counted by the group stage.
    case grouped
    /// It belongs to another shard of the run (`run --shard i/N`), or was routed by `split`.
    case otherShard
    /// Its message is a duplicate of a message kept elsewhere (`source: deduplicate:`).
    case duplicate
}

/// A value fitted to its column, or the reject of the record.
enum Conformed {
    case value(Value)
    indirect case rejected(Reject)
}

extension RunManifest.LedgerEntry {
    /// Counts one record and its outcome.
    @inline(__always)
    mutating func count(_ outcome: RecordOutcome) {
        read += 1
        switch outcome {
        case .written: written += 1
        case .rejected: rejected += 1
        case .filtered: filtered += 1
        case .excluded: excluded += 1
        case .grouped: grouped += 1
        case .otherShard: otherShard = (otherShard ?? 0) + 1
        case .duplicate: duplicate = (duplicate ?? 0) + 1
        }
    }
}

/// One file's pass of a mapping, as stages: **deduplicate** HL7 v2 messages (mappings with
/// `source: deduplicate:`), **decode** the fields the mapping reads, **join**
/// each joined record, **exclude** objecting subjects, **fold** into groups (mappings with
/// `group:`), make the **rows** (named values, filters, target columns), **conform** each row to
/// its table, and **emit** full batches. Each stage either ends the record with a
/// `RecordOutcome` or hands it on (nil).
///
/// Built once per file by `MappingExecutor.run`, which owns the loop; everything here is the
/// file's state: decoders bound to the file's columns, the target programs, the batches.
struct RecordStages<Reader: RecordReader> {
    let reader: Reader
    unowned let executor: MappingExecutor
    /// The file's index in the run (a group's first file in the group stage).
    var fileIndex: Int32
    let mappingID: String
    /// The file's path as the run names it (errors of the reader).
    private let filePath: String
    // decode
    private let decoders: DecoderTable
    private let decoderCount: Int
    private let fieldColumns: [Int]
    private let validators: [FieldDecoder]
    private let validateColumns: [Int]
    /// Per decoded field, in decoding order: its column in the reader, its slot and how many
    /// calls want its value as soon as it is known (`BoundCallSites.prefetches`, the next ones
    /// of `prefetchCalls`). One table read through a pointer, where the arrays of columns,
    /// slots and prefetched fields cost three bounds checks a field. Freed by `close()`.
    private let steps: UnsafeMutablePointer<DecodeStep>
    /// A decoded field's step (`steps`).
    private struct DecodeStep {
        let column: Int
        let slot: Int
        let earlyCalls: Int
        /// Whether the field is left as the record's bytes when it can be
        /// (`MappingPlan.textArgumentFields`, `EvaluationFrame.spans`).
        var text = false
    }
    /// The calls that want a field's value early, in decoding order; and what to call.
    private let prefetches: [BoundCallSites.Prefetch]
    /// The same, not counted (`prefetches` holds them): called per record.
    private let prefetchCalls: [Unmanaged<BoundCallSites.Prefetch>]
    // deduplicate
    private let duplicates: DuplicateFilter?
    private let messages: HL7Reader?
    // join, exclude, fold
    private let joins: [JoinRuntime]
    private let exclusion: ExclusionList?
    private let subject: Evaluator?
    private let personIDColumns: [Int]
    // shards
    private let sharding: ShardAssignment?
    private let routing: ((Int32, Int, Int) -> Void)?
    /// Whether this shard keeps records without a known subject (shard 0, not splitting).
    private let keepsUnowned: Bool
    /// Splitting reads a mapping without subject up to its joins (their rows go to shard 0).
    private let skipsEveryRecord: Bool
    /// Splitting: joins of the current record that found their row (in order).
    private var joinsMatched = 0
    private let folding: Bool
    private let groupStore: GroupStore?
    private let groupBy: EvaluatorList
    /// The aggregates' arguments (`count()`, without one, counts every record: `true`).
    private let groupArguments: EvaluatorList
    private let groupNames: [String]
    private var byValues: [Value]
    private var argumentValues: [Value]
    private let groupReader: GroupRecordReader?
    private let groupValues: [(Int, Int)]
    // rows, conform
    let frame: EvaluationFrame
    private let lets: MappingExecutor.NamedValuePrograms
    private let filter: UnretainedEvaluator?
    /// Keeps `filter`'s box alive.
    private let filterBox: EvaluatorBox?
    let targets: UnsafeMutablePointer<MappingExecutor.TargetProgram>
    let targetCount: Int
    private let trace: LookupTrace?
    private var letRanges: [Range<Int>]
    /// What the records before left in the frame that may be kept (`RuleMemos`): nil where
    /// something else writes the frame's slots too (see `init`).
    private var memos: RuleMemos.Handle?
    /// The first memo of each target's columns.
    private let memoBases: [Int]
    /// Whether the memos are on for the current record (`RuleMemos.active`).
    private var memosOn = false
    let recordsLineage: Bool
    /// Whether rows are appended to the batches (`MappingExecutor.keepsRows`; always with
    /// lineage, lookup lineage, objections or groups, which read or carry them).
    private let keepsRows: Bool
    /// Where the current rows stage failed: the named value (its index, -1: none), or the
    /// target and column (-1: filter).
    private var failingLet = -1
    private var failingTarget = -1
    private var failingColumn = -1
    /// Cell counts before the record's rows, to take them back when the record is rejected.
    private var marks: [Int]
    // emit
    /// Each target's batch: its lineage and lookups; its values are in `cells` while the file is
    /// mapped (`settleBatches()` puts them back).
    private(set) var batches: [RowBatch]
    /// Each target's cells (`RowCells`), `batches.count` of them, freed by `close()`.
    private let cells: UnsafeMutablePointer<RowCells>
    private let batchRows: Int
    /// Rows written per target, and filter outcomes (index 0: record filter, 1 + i: target i).
    var written: [Int]
    var filterCounts: [(passed: Int, failed: Int)]
    /// Records that passed the record filter but no target's filter (counted as filtered):
    /// recorded in the ledger with `--lineage` (`LedgerEntry.unrouted`).
    var unrouted = 0
    /// Records seen (the record number when the format has none); a chunk of a parallel pass
    /// starts at the records read before it (`ParallelFilePass`).
    var record = 0

    init(executor: MappingExecutor, reader: Reader, fileIndex: Int32, filePath: String) throws(RunError) {
        let plan = executor.plan
        self.filePath = filePath
        self.reader = reader
        self.executor = executor
        self.fileIndex = fileIndex
        self.mappingID = plan.id
        let groupReader = reader as? GroupRecordReader
        let groupStage = groupReader != nil
        let folding = plan.group != nil && !groupStage
        self.groupReader = groupReader
        self.folding = folding
        // Resolve the fields the plan reads against this file (header names, or paths).
        do {
            fieldColumns = try reader.bind(fields: plan.fields.map(\.name))
            validateColumns = try reader.bind(fields: plan.validatedOnly.map(\.name))
        } catch {
            throw RunError(.configuration, "mapping \(plan.id) cannot read its fields: \(error.description)")
        }
        // Held by a final class so the hot loop borrows them: subscripting an array of structs copies them.
        decoders = DecoderTable(plan.fields.map(\.decoder))
        decoderCount = groupStage ? 0 : plan.fields.count
        let slots = plan.fields.map(\.slot)
        var early: [(field: Int, call: BoundCallSites.Prefetch)] = []
        if !groupStage {
            for p in executor.callSites.prefetches {
                if let k = plan.fields.firstIndex(where: { $0.slot == p.slot }) { early.append((k, p)) }
            }
            early.sort { $0.field < $1.field }
        }
        let fieldCount = plan.fields.count
        steps = .allocate(capacity: max(1, fieldCount))
        for k in 0..<fieldCount {
            (steps + k).initialize(
                to: DecodeStep(column: fieldColumns[k], slot: slots[k], earlyCalls: early.lazy.filter { $0.field == k }.count))
        }
        prefetches = early.map(\.call)
        prefetchCalls = prefetches.map { Unmanaged.passUnretained($0) }
        validators = groupStage ? [] : plan.validatedOnly.map(\.decoder)
        lets = MappingExecutor.NamedValuePrograms(folding ? [] : plan.lets)
        let filterBox = (groupStage ? plan.group?.having : plan.filter).map { EvaluatorBox($0.evaluator) }
        self.filterBox = filterBox
        filter = filterBox.map(UnretainedEvaluator.init)
        joins = groupStage ? [] : executor.joins
        groupValues = groupStage ? (plan.group?.usedValues ?? []) : []
        groupBy = EvaluatorList(folding ? (plan.group?.by ?? []) : []) { EvaluatorBox($0.evaluator) }
        let everyRecord: Evaluator = { _ throws(EvaluationError) in .bool(true) }
        groupArguments = EvaluatorList(folding ? (plan.group?.aggregates ?? []) : []) { a in
            if let argument = a.argument { return EvaluatorBox(argument.evaluator) }
            return EvaluatorBox(everyRecord)
        }
        groupNames = plan.group?.names ?? []
        byValues = [Value](repeating: .null, count: groupBy.count)
        argumentValues = [Value](repeating: .null, count: groupArguments.count)
        groupStore = executor.groupStore
        if folding && groupStore == nil { throw RunError(.configuration, "mapping \(plan.id) groups its records but has no group store") }
        // Vocabulary lineage: only with --lineage and lookups in the plan (nil otherwise).
        let lookupPlan = folding ? nil : executor.lookupLineage
        let frame = groupStage ? executor.groupFrame : executor.frame
        let targetList = plan.targets.enumerated().map { ti, t in
            MappingExecutor.program(for: t, traced: lookupPlan?.columns[ti], slotCount: frame.count)
        }
        targets = UnsafeMutablePointer<MappingExecutor.TargetProgram>.allocate(capacity: max(1, targetList.count))
        targets.initialize(from: targetList, count: targetList.count)
        targetCount = targetList.count
        self.frame = frame
        trace = lookupPlan == nil ? nil : LookupTrace()
        memoBases = executor.memos.columnBase
        letRanges = [Range<Int>](repeating: 0..<0, count: trace == nil ? 0 : lets.count)
        recordsLineage = executor.recordsLineage
        // Objections: only when the run has an exclusion list (nothing is added to the loop otherwise).
        exclusion = plan.subject == nil || groupStage ? nil : executor.exclusion
        subject = plan.subject?.evaluator
        personIDColumns = exclusion == nil || folding ? [] : targetList.map { $0.columnNames.firstIndex(of: "person_id") ?? -1 }
        // Shards (`run --shard i/N`, N > 1): a record whose subject hashes to another shard is
        // left to it; a record without a known subject (no `subject:`, or rejected before its
        // subject is known) belongs to shard 0. The group stage maps the groups of kept records.
        sharding = groupStage ? nil : executor.sharding
        routing = sharding == nil ? nil : executor.routing
        keepsUnowned = routing == nil && (sharding?.ownsRecordsWithoutSubject ?? true)
        skipsEveryRecord = sharding != nil && subject == nil && !keepsUnowned && routing == nil
        // Only decoding and named values write the frame's slots (`RuleMemos`'s invariants):
        // not with joins, groups, objections, lineage of lookups or splitting.
        let writesSlotsElsewhere =
            groupStage || folding || !joins.isEmpty || exclusion != nil || trace != nil || routing != nil
        memos = writesSlotsElsewhere ? nil : RuleMemos.Handle(executor.memos)
        // Text fields read only as the bytes of calls taking them: left as the record's bytes,
        // under the same conditions as the memos (only decoding writes the fields' slots).
        frame.clearSpans()
        if !writesSlotsElsewhere, executor.textArgumentFields.contains(true) {
            for (k, text) in executor.textArgumentFields.enumerated() where text && k < decoderCount { steps[k].text = true }
            // The bytes of a field the memos would keep are gone with the last file's or
            // chunk's records: each field is decoded again at its first record here.
            memos?.forgetFieldBytes()
        }
        keepsRows = executor.keepsRows || recordsLineage || trace != nil || exclusion != nil || groupStage || folding
        // Duplicates (`source: deduplicate:`): decided on the message's MSH before anything else;
        // splitting routes every record by its subject (each shard deduplicates its own files),
        // and a replay's selected records were not duplicates (they were rejected).
        let hl7 = reader as? HL7Reader
        duplicates = groupStage || routing != nil || hl7 == nil ? nil : executor.duplicates
        messages = duplicates == nil ? nil : hl7
        duplicates?.startFile()
        var batches = executor.batches
        batchRows = executor.batchRows
        // The rows a batch already holds (earlier files') move into its cells.
        cells = UnsafeMutablePointer<RowCells>.allocate(capacity: max(1, batches.count))
        for ti in batches.indices {
            (cells + ti).initialize(to: RowCells(capacity: (batchRows + 1) * batches[ti].columnCount, holding: batches[ti].values))
            batches[ti].values = []
        }
        self.batches = batches
        marks = [Int](repeating: 0, count: batches.count)
        written = [Int](repeating: 0, count: targetCount)
        filterCounts = executor.filterOutcomes
        frame.lookupTrace = trace
        frame.mappingID = plan.id  // row_id (RowIDFunction.swift)
        frame.recordLocation = { reader.location }
    }

    /// Puts the cells back into the batches' values (before the executor takes the batches).
    mutating func settleBatches() {
        for ti in batches.indices where cells[ti].count > 0 { batches[ti].values = cells[ti].take() }
    }

    /// Releases the target programs and the cells, and detaches the frame from this file.
    func close() {
        // No bytes of this reader's records are read after it.
        frame.clearSpans()
        frame.lookupTrace = nil
        frame.recordLocation = nil
        targets.deinitialize(count: targetCount)
        targets.deallocate()
        steps.deinitialize(count: fieldColumns.count)
        steps.deallocate()
        for ti in batches.indices { cells[ti].settle() }
        cells.deinitialize(count: batches.count)
        cells.deallocate()
    }

    /// Rows of target `ti`'s batch (the current record's complete rows included).
    @inline(__always)
    private func rowCount(_ ti: Int) -> Int { batches[ti].columnCount == 0 ? 0 : cells[ti].count / batches[ti].columnCount }

    /// Maps the next record through every stage; nil at the end of the file.
    @inline(__always)
    mutating func next() throws(RunError) -> RecordOutcome? {
        let event: ReadEvent
        do {
            event = try reader.next()
        } catch {
            throw RunError.readFailure(error, file: filePath)
        }
        switch event {
        case .end:
            return nil
        case .rejected(var r):
            guard keepsUnowned else { return leaveToShardZero(line: r.location.line) }
            r.mapping = mappingID
            return .rejected(r)
        case .record:
            break
        }
        trace?.uses.removeAll(keepingCapacity: true)
        record += 1
        joinsMatched = 0
        if skipsEveryRecord { return leaveToShardZero(line: reader.location.line) }
        if let duplicates, let messages, try duplicateStage(duplicates, messages) {
            // A duplicate, like a record without a known subject, is shard 0's.
            return keepsUnowned ? .duplicate : leaveToShardZero(line: reader.location.line)
        }
        if let outcome = memos == nil ? decodeEvery() : decode() { return unowned(outcome) }
        if let outcome = try join() { return unowned(outcome) }
        if routing != nil && subject == nil { return leaveToShardZero(line: reader.location.line) }
        if let outcome = try subjectStage() { return outcome }
        if folding { return try fold() }
        return try rows()
    }

    // MARK: deduplicate

    /// Whether the record's message is a duplicate of the occurrence kept (`DuplicateFilter`).
    private func duplicateStage(_ duplicates: DuplicateFilter, _ messages: HL7Reader) throws(RunError) -> Bool {
        try duplicates.isDuplicate(messages, file: fileIndex)
    }

    // MARK: decode

    /// Decodes the fields the mapping reads into the frame, keeping those whose bytes repeat
    /// (`RuleMemos`), and checks the fields it only validates. A record failing a schema rule is
    /// rejected once, with every rule it fails (all fields, all constraints) in the reject's
    /// message.
    private mutating func decode() -> RecordOutcome? {
        var early = 0
        guard let memos, memos.nextRecord() else {
            // Nothing left to keep (`RuleMemos.active`): every later record decodes as without.
            self.memos = nil
            memosOn = false
            return decodeEvery()
        }
        memosOn = true
        for k in 0..<decoderCount {
            let step = steps[k]
            let bytes = reader.field(step.column)
            let mode = memos.mode(field: k)
            if mode == 2, memos.keeps(field: k, bytes) {
                // The slot holds this field's value already (and its early calls had it); bytes
                // given for it are this record's from now on.
                early += step.earlyCalls
                if step.text, frame.spans[step.slot].base != nil { frame.spans[step.slot] = TextSpan(bytes) }
                continue
            }
            let result: FieldDecodeResult
            if step.text {
                guard let r = storeText(k, bytes, step, early: &early) else {
                    if mode != 0 { memos.decoded(field: k, slot: step.slot, bytes) }
                    continue
                }
                result = r
            } else {
                result = decoders.decode(k, bytes)
            }
            switch result {
            case .value(let v):
                store(v, step, early: &early)
                if mode != 0 { memos.decoded(field: k, slot: step.slot, bytes) }
            case .failure:
                return decodeReject(k)
            }
        }
        return validate()
    }

    /// Leaves text field `k` (`step.text`) as the record's `bytes` when its value is the text
    /// they spell (`FieldDecoder.decodeText`), after the calls that want them early; nil then.
    /// Otherwise its bytes are forgotten, and the field's decoding is returned, for the caller
    /// to store or reject.
    @inline(__always)
    private func storeText(
        _ k: Int, _ bytes: UnsafeBufferPointer<UInt8>, _ step: DecodeStep, early: inout Int
    ) -> FieldDecodeResult? {
        if let decoded = decoders.decodeText(k, bytes) {
            frame.spans[step.slot] = TextSpan()
            return decoded
        }
        for _ in 0..<step.earlyCalls {
            // Only to bring data in early: a call without a text form is not told.
            prefetchCalls[early]._withUnsafeGuaranteedRef { $0.text?(bytes) }
            early += 1
        }
        frame.spans[step.slot] = TextSpan(bytes)
        return nil
    }

    /// Decodes every field (no memos, or none left on).
    @inline(__always)
    private func decodeEvery() -> RecordOutcome? {
        var early = 0
        for k in 0..<decoderCount {
            let step = steps[k]
            let bytes = reader.field(step.column)
            // Not `step.text ? storeText(…) : decode(…)`: an optional made of the decoder's
            // result copies its value in and out (5.9 % more instructions, `instructions.py`).
            let result: FieldDecodeResult
            if step.text {
                guard let r = storeText(k, bytes, step, early: &early) else { continue }
                result = r
            } else {
                result = decoders.decode(k, bytes)
            }
            switch result {
            case .value(let v): store(v, step, early: &early)
            case .failure: return decodeReject(k)
            }
        }
        return validate()
    }

    /// A field's value into its slot (`step`), after the calls that want it early (`early`: the
    /// next of `prefetchCalls`).
    @inline(__always)
    private func store(_ v: Value, _ step: DecodeStep, early: inout Int) {
        for _ in 0..<step.earlyCalls {
            prefetchCalls[early]._withUnsafeGuaranteedRef { $0.prefetch(v) }
            early += 1
        }
        frame.storage[step.slot] = v
    }

    /// The record's reject when field `k` does not decode (with every rule it fails).
    private func decodeReject(_ k: Int) -> RecordOutcome {
        .rejected(
            executor.schemaReject(
                from: k, reader: reader, fields: executor.plan.fields, fieldColumns: fieldColumns, validators: validators,
                validateColumns: validateColumns))
    }

    /// Checks the fields the mapping only validates.
    @inline(__always)
    private func validate() -> RecordOutcome? {
        for k in 0..<validators.count {
            if case .failure = validators[k].decode(reader.field(validateColumns[k])) {
                return .rejected(
                    executor.schemaReject(
                        from: decoderCount, validatorsFrom: k, reader: reader, fields: executor.plan.fields, fieldColumns: fieldColumns,
                        validators: validators, validateColumns: validateColumns))
            }
        }
        return nil
    }

    // MARK: join

    /// Finds each join's partner of the record and fills its fields; a missing or ambiguous
    /// partner rejects the record.
    @inline(__always)
    private mutating func join() throws(RunError) -> RecordOutcome? {
        for j in joins {
            do throws(EvaluationError) {
                if let reason = try j.match(frame) {
                    let message =
                        reason == .joinAmbiguous
                        ? "join \(j.name): several records of \(j.join.spec.files.text) have this record's key"
                        : "join \(j.name): no record of \(j.join.spec.files.text) has this record's key"
                    return .rejected(
                        Reject(reason: reason, location: reader.location, field: nil, mapping: mappingID, rule: "join.\(j.name)", message: message))
                }
                joinsMatched += 1
            } catch {
                return try evaluationReject(error, rule: "join.\(j.name)")
            }
        }
        return nil
    }

    // MARK: subject: shards and objections

    /// With shards or an objection list: the record's subject decides whether this shard keeps
    /// it (or, splitting, where it goes) and whether it is excluded, noting the person ids an
    /// excluded record would have been given for the after-run check.
    @inline(__always)
    private mutating func subjectStage() throws(RunError) -> RecordOutcome? {
        guard exclusion != nil || sharding != nil, let subject else { return nil }
        let s: Value
        do throws(EvaluationError) {
            s = try subject(frame)
        } catch {
            return unowned(try evaluationReject(error, rule: "source.subject"))
        }
        if let sharding {
            if let routing {
                let k = sharding.shardIndex(of: s)
                routing(fileIndex, reader.location.line ?? 0, k)
                for j in joins { if let p = j.partner { routing(p.file, p.line, k) } }
                return .otherShard
            }
            if !sharding.owns(s) { return .otherShard }
        }
        guard let exclusion, exclusion.contains(s) else { return nil }
        executor.notePersonIDs(frame: frame, lets: lets, targets: targets, count: targetCount, personIDColumns: personIDColumns)
        return .excluded
    }

    /// A record rejected before its subject is known belongs to shard 0: another shard leaves it.
    @inline(__always)
    private mutating func unowned(_ outcome: RecordOutcome) -> RecordOutcome {
        guard !keepsUnowned, case .rejected(let r) = outcome else { return outcome }
        return leaveToShardZero(line: r.location.line)
    }

    /// A record this shard leaves to shard 0 (or, splitting, routes there with the rows its joins
    /// found so far).
    private func leaveToShardZero(line: Int?) -> RecordOutcome {
        if let routing {
            routing(fileIndex, line ?? 0, 0)
            for j in joins.prefix(joinsMatched) { if let p = j.partner { routing(p.file, p.line, 0) } }
        }
        return .otherShard
    }

    // MARK: fold

    /// For a mapping with `group:`: the record filter, then the record is folded into its group.
    private mutating func fold() throws(RunError) -> RecordOutcome {
        var rule = "filter"
        do throws(EvaluationError) {
            if let filter {
                guard try filter.evaluate(frame) == .bool(true) else {
                    filterCounts[0].failed += 1
                    return .filtered
                }
                filterCounts[0].passed += 1
            }
            for k in 0..<groupBy.count {
                rule = "group.\(groupNames[k])"
                byValues[k] = try groupBy.evaluate(k, frame)
            }
            for k in 0..<groupArguments.count {
                rule = "group.\(groupNames[groupBy.count + k])"
                argumentValues[k] = try groupArguments.evaluate(k, frame)
            }
        } catch {
            return try evaluationReject(error, rule: rule)
        }
        guard let groupStore else { return .grouped }
        let loc = reader.location
        // Keys compare by canonical text; a null component is its own value here.
        var key: [UInt8] = []
        for v in byValues { ValueCodec.append(v, to: &key) }
        try groupStore.add(key: key, by: byValues, arguments: argumentValues, file: fileIndex, line: loc.line ?? 0, record: loc.record ?? record)
        return .grouped
    }

    // MARK: rows

    /// Evaluates the named values and the record filter, then each target's filter and columns,
    /// appending the rows to the batches; each row is then conformed. A failure takes back every
    /// row of the record.
    @inline(__always)
    private mutating func rows() throws(RunError) -> RecordOutcome {
        if let g = groupReader {
            fileIndex = g.currentFileIndex
            for (index, slot) in groupValues { frame.storage[slot] = g.value(index) }
        }
        for ti in 0..<batches.count { marks[ti] = cells[ti].count }
        failingTarget = -1
        failingColumn = -1
        do throws(EvaluationError) {
            if let trace {
                for k in 0..<lets.count {
                    failingLet = k
                    let start = trace.uses.count
                    frame.storage[lets.slots[k]] = try lets.evaluators.evaluate(k, frame)
                    letRanges[k] = start..<trace.uses.count
                }
            } else if memosOn, let memos {
                for k in 0..<lets.count {
                    failingLet = k
                    if let v = memos.recall(k) {
                        // The slot holds it already (`RuleMemos`): assigned again all the same.
                        frame.storage[lets.slots[k]] = v
                    } else {
                        let v = try lets.evaluators.evaluate(k, frame)
                        memos.remember(k, v)
                        memos.assigned(slot: lets.slots[k])
                        frame.storage[lets.slots[k]] = v
                    }
                }
            } else {
                for k in 0..<lets.count {
                    failingLet = k
                    frame.storage[lets.slots[k]] = try lets.evaluators.evaluate(k, frame)
                }
            }
            failingLet = -1
            if let filter {
                guard try filter.evaluate(frame) == .bool(true) else {
                    filterCounts[0].failed += 1
                    return .filtered
                }
                filterCounts[0].passed += 1
            }
            var wrote = false
            for ti in 0..<targetCount {
                failingTarget = ti
                if let tf = targets[ti].filter {
                    failingColumn = -1
                    guard try tf.evaluate(frame) == .bool(true) else {
                        filterCounts[ti + 1].failed += 1
                        continue
                    }
                    filterCounts[ti + 1].passed += 1
                }
                if let rejected = try evaluateRow(ti) {
                    rollback()
                    return rejected
                }
                if recordsLineage {
                    let loc = reader.location
                    batches[ti].lineage.append(
                        RowLineage(
                            mapping: executor.mappingIndex, file: fileIndex, line: loc.line ?? 0, record: loc.record ?? record, target: Int32(ti)))
                }
                written[ti] += 1
                wrote = true
            }
            if !wrote { unrouted += 1 }
            return wrote ? .written : .filtered
        } catch {
            rollback()
            let rule: String
            if failingLet >= 0 {
                rule = "let.\(lets.names[failingLet])"
            } else if failingTarget < 0 {
                rule = "filter"
            } else if failingColumn < 0 {
                rule = "\(targets[failingTarget].tableName).filter"
            } else {
                rule = "\(targets[failingTarget].tableName).\(targets[failingTarget].columnNames[failingColumn])"
            }
            failingLet = -1
            return try evaluationReject(error, rule: rule)
        }
    }

    /// Appends target `ti`'s row: each column is evaluated (constants are already fitted), then
    /// conformed to its column; the first column that does not conform rejects the record, before
    /// the next columns are evaluated. Nil when the row is appended, else the record's reject.
    @inline(__always)
    private mutating func evaluateRow(_ ti: Int) throws(EvaluationError) -> RecordOutcome? {
        let columnCount = targets[ti].columns.count
        for c in 0..<columnCount {
            let v: Value
            switch targets[ti].columns[c] {
            case .null:
                v = .null
            case .constant(let k):
                if keepsRows { cells[ti].append(k) }
                continue
            case .slot(let slot):
                v = frame.storage[slot]
            case .evaluate(let e):
                failingColumn = c
                if memosOn, let memos {
                    let m = memoBases[ti] + c
                    if let r = memos.recall(m) {
                        v = r
                    } else {
                        v = try e.evaluate(frame)
                        memos.remember(m, v)
                    }
                } else {
                    v = try e.evaluate(frame)
                }
            case .evaluateTraced(let e, let viaLets):
                failingColumn = c
                let start = trace?.uses.count ?? 0
                v = try e.evaluate(frame)
                if let trace {
                    LookupLineagePlan.collect(
                        column: c, own: start..<trace.uses.count, viaLets: viaLets, lets: letRanges, trace: trace,
                        row: Int32(cells[ti].count / columnCount), into: &batches[ti].lookups)
                }
            }
            switch conform(v, ti, c) {
            case .value(let fitted): if keepsRows { cells[ti].append(fitted) }
            case .rejected(let reject): return .rejected(reject)
            }
        }
        return nil
    }

    // MARK: conform

    /// Fits a value of target `ti`'s column `c` to the column: a null in a required column, or a
    /// value that does not fit the column's type, rejects the record.
    @inline(__always)
    private func conform(_ v: consuming Value, _ ti: Int, _ c: Int) -> Conformed {
        if v.isNull {
            guard targets[ti].required[c] else { return .value(.null) }
            let t = targets[ti]
            return .rejected(
                Reject(
                    reason: .targetRequiredNull, location: reader.location, field: t.columnNames[c], mapping: mappingID,
                    rule: "\(t.tableName).\(t.columnNames[c])", message: "required column \(t.tableName).\(t.columnNames[c]) is null"))
        }
        // The value goes into `Conformance.conform` (which gives a text that fits back as it is):
        // its type is taken first, for the message of a value that does not fit.
        let type = v.type
        guard let fitted = Conformance.conform(v, to: targets[ti].types[c]) else {
            let t = targets[ti]
            return .rejected(
                Reject(
                    reason: .targetTypeError, location: reader.location, field: t.columnNames[c], mapping: mappingID,
                    rule: "\(t.tableName).\(t.columnNames[c])",
                    message: "a \(type.rawValue) value does not fit column \(t.tableName).\(t.columnNames[c]) (\(t.types[c]))"))
        }
        return .value(fitted)
    }

    /// Takes back the rows (and their lineage and lookups) the current record appended.
    private mutating func rollback() {
        for ti in 0..<batches.count { cells[ti].truncate(to: marks[ti]) }
        if recordsLineage {
            for ti in 0..<batches.count where batches[ti].lineage.count > rowCount(ti) {
                batches[ti].lineage.removeLast(batches[ti].lineage.count - rowCount(ti))
            }
            for ti in 0..<batches.count {
                let rows = Int32(rowCount(ti))
                while let last = batches[ti].lookups.last, last.row >= rows { batches[ti].lookups.removeLast() }
            }
        }
    }

    // MARK: emit

    /// Hands every full batch to the sink.
    @inline(__always)
    mutating func emitFullBatches() throws(RunError) {
        for ti in 0..<batches.count where cells[ti].count >= batchRows * batches[ti].columnCount {
            var b = batches[ti]
            b.values = cells[ti].take()
            batches[ti] = RowBatch(table: b.table, columnCount: b.columnCount)
            if recordsLineage { batches[ti].lineage.reserveCapacity(batchRows) }
            try executor.emitBatch(b)
        }
    }

    /// An evaluation failure: a reject of the record, or the end of the run when the failure is
    /// the run's (a store or spill file that cannot be read).
    private func evaluationReject(_ error: EvaluationError, rule: String) throws(RunError) -> RecordOutcome {
        if error.stopsRun { throw MappingExecutor.runFailure(error, mapping: mappingID, rule: rule) }
        return .rejected(
            Reject(
                reason: error.reason, location: reader.location, field: nil, mapping: mappingID, rule: rule, message: "rule \(rule): \(error.message)"
            ))
    }
}
