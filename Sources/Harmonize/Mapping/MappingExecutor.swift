/// Applies one `MappingPlan` to the records of one reader, appending output rows to batches and
/// rejects to a buffer. A record is atomic: either every row it produces is written, or it is
/// rejected as a whole with the first reason met.
final class MappingExecutor {
    let plan: MappingPlan
    let mappingIndex: Int32
    /// Run-level table index of each target.
    let tableIndices: [Int]
    let batchRows: Int
    let recordsLineage: Bool
    /// Whether the rows mapped are kept in batches for the sink; false when they would go
    /// nowhere (`--sink none` without an exclusion list: `RunExecution`): each row is still
    /// evaluated, conformed to its columns and counted, then dropped.
    var keepsRows = true
    let frame: EvaluationFrame
    var batches: [RowBatch]
    private var rejects: [RunReject] = []
    private let emit: (RowBatch) throws(SinkError) -> Void
    private let emitRejects: ([RunReject]) throws(SinkError) -> Void
    /// Rows written per target (run-level table index → count).
    private(set) var rowsWritten: [Int: Int] = [:]
    /// Outcomes of the filters (mapping-test coverage): index 0 is the record filter, 1 + i the
    /// filter of target i; `passed` counts true, `failed` everything else.
    private(set) var filterOutcomes: [(passed: Int, failed: Int)]
    /// Persons who objected (`run --exclude`): records whose subject is on it are excluded.
    let exclusion: ExclusionList?
    /// The shard this run keeps (`run --shard i/N`, N > 1): records of other shards are counted
    /// (`otherShard`) and skipped. Nil when the run is not split.
    let sharding: ShardAssignment?
    /// `harmonize-run split` (with `sharding`): nothing is mapped; each record is routed instead
    /// (file id, line where it starts, shard), with the joined rows it found; records without a
    /// known subject go to shard 0.
    var routing: ((Int32, Int, Int) -> Void)?
    /// The person ids the mapping computes for excluded records (for the after-run check).
    private(set) var excludedPersonIDs: Set<Int> = []
    /// Vocabulary lookups of the run (unmapped codes): told when each record ends.
    let vocabularyUsage: VocabularyUsage?
    /// Where records are folded, for a mapping with `group:` (set by the caller before running).
    var groupStore: GroupStore?
    /// The messages kept and the duplicates met, for a mapping with `source: deduplicate:` (set
    /// by the caller before running; nil when splitting).
    var duplicates: DuplicateFilter?
    /// The run's side of the plan's joins (indexes, counts), in the plan's order (set by the
    /// caller before running).
    var joins: [JoinRuntime] = []
    /// The plan's call sites bound to this run.
    let callSites: BoundCallSites
    /// The frame of the group stage: group values and named values.
    lazy var groupFrame = EvaluationFrame(slotCount: plan.group?.frameSlotCount ?? 0, callSites: callSites)
    /// With lineage, when the plan calls a lookup or vocabulary function: the record's scratch
    /// list of lookups made (attached to the frames), and which of them each column used.
    let lookupLineage: LookupLineagePlan?
    /// The previous record's values of the named values and columns (over `frame`).
    let memos: RuleMemos
    /// The plan's `textArgumentFields` (fields the row loop may leave as the record's bytes).
    let textArgumentFields: [Bool]

    init(
        plan: MappingPlan, mappingIndex: Int32, tableIndices: [Int], batchRows: Int, recordsLineage: Bool,
        emit: @escaping (RowBatch) throws(SinkError) -> Void, emitRejects: @escaping ([RunReject]) throws(SinkError) -> Void,
        exclusion: ExclusionList? = nil, vocabularyUsage: VocabularyUsage? = nil, callSites: BoundCallSites, sharding: ShardAssignment? = nil
    ) {
        self.callSites = callSites
        self.exclusion = exclusion
        self.sharding = sharding
        self.vocabularyUsage = vocabularyUsage
        self.plan = plan
        self.mappingIndex = mappingIndex
        self.tableIndices = tableIndices
        self.batchRows = batchRows
        self.recordsLineage = recordsLineage
        self.frame = EvaluationFrame(slotCount: plan.slotCount, callSites: callSites)
        // No room reserved: a file's rows are made in `RecordStages`'s cells (`RowCells`).
        self.batches = zip(plan.targets, tableIndices).map { t, i in RowBatch(table: i, columnCount: t.table.columns.count) }
        self.filterOutcomes = Array(repeating: (0, 0), count: plan.targets.count + 1)
        self.emit = emit
        self.emitRejects = emitRejects
        self.lookupLineage = recordsLineage ? LookupLineagePlan(plan) : nil
        self.memos = RuleMemos(plan: plan, slotCount: plan.slotCount)
        textArgumentFields = plan.textArgumentFields
    }

    /// How one target column gets its value, decided once per plan.
    enum ColumnProgram {
        /// No expression: null.
        case null
        /// A constant already fitted to the column.
        case constant(Value)
        /// A bare field or named value: the frame slot read as is, then fitted to the column.
        case slot(Int)
        /// An expression evaluated per record, then fitted to the column (its box is in the
        /// target program's `boxes`).
        case evaluate(UnretainedEvaluator)
        /// The same, for a column whose rule calls a lookup function (directly, or through the
        /// named values listed, by index) when the run records vocabulary lineage: the lookups
        /// made are taken for the row.
        case evaluateTraced(UnretainedEvaluator, lets: [Int])
    }

    /// Per-target data flattened for the hot loop.
    struct TargetProgram {
        /// Keeps alive the boxes of the columns' and the filter's evaluators.
        let boxes: [EvaluatorBox]
        let filter: UnretainedEvaluator?
        let columns: [ColumnProgram]
        let types: [ColumnType]
        let required: [Bool]
        let tableName: String
        let columnNames: [String]
    }

    /// The named values (`let:`) as the row loop evaluates them, in order: each into its slot,
    /// under its name for rejects.
    struct NamedValuePrograms {
        let slots: [Int]
        let evaluators: EvaluatorList
        let names: [String]

        init(_ lets: [PlannedLet]) {
            slots = lets.map(\.slot)
            evaluators = EvaluatorList(lets) { EvaluatorBox($0.expression.evaluator) }
            names = lets.map(\.name)
        }

        var count: Int { slots.count }
    }

    /// `traced`: per column, the named values whose lookups it uses, or nil when it uses none
    /// (`LookupLineagePlan`); nil when the run records no vocabulary lineage. `slotCount`: the
    /// slots of the frame the program runs on (a bare identifier within it is read directly).
    static func program(for t: PlannedTarget, traced: [[Int]?]? = nil, slotCount: Int = 0) -> TargetProgram {
        var columns: [ColumnProgram] = []
        var boxes: [EvaluatorBox] = []
        func held(_ e: @escaping Evaluator) -> UnretainedEvaluator {
            let b = EvaluatorBox(e)
            boxes.append(b)
            return UnretainedEvaluator(b)
        }
        for (i, c) in t.table.columns.enumerated() {
            guard let e = t.columns[i] else {
                columns.append(.null)
                continue
            }
            if let k = e.constantValue, let fitted = k.isNull ? Value.null : Conformance.conform(k, to: c.type) {
                columns.append(fitted.isNull ? .null : .constant(fitted))
            } else if let traced, i < traced.count, let lets = traced[i] {
                columns.append(.evaluateTraced(held(e.evaluator), lets: lets))
            } else if let slot = e.slotRead, slot < slotCount {
                columns.append(.slot(slot))
            } else {
                columns.append(.evaluate(held(e.evaluator)))
            }
        }
        let filter = t.filter.map { held($0.evaluator) }
        return TargetProgram(
            boxes: boxes, filter: filter, columns: columns, types: t.table.columns.map(\.type), required: t.table.columns.map(\.isRequired),
            tableName: t.table.name, columnNames: t.table.columns.map(\.name))
    }

    /// Maps every record of `reader`; returns the ledger of this file, the sum of its records'
    /// outcomes (`RecordStages`).
    ///
    /// For a mapping with `group:`, records of source files are folded into `groupStore` (after
    /// their joins and the record filter); the groups are then mapped by a second call with a
    /// `GroupRecordReader`, whose ledger counts groups.
    ///
    /// `recordsBefore`: the records of the file read before this reader's first one (a chunk of a
    /// parallel pass, `ParallelFilePass`), so that records are numbered as in one pass.
    func run<Reader: RecordReader>(
        reader: Reader, fileIndex: Int32, filePath: String, recordsBefore: Int = 0, progress: (Int64) -> Void
    ) throws(RunError) -> RunManifest.LedgerEntry {
        var ledger = RunManifest.LedgerEntry(mapping: plan.id, file: filePath, read: 0, written: 0, rejected: 0, filtered: 0, excluded: 0)
        if reader is GroupRecordReader { ledger.groupStage = true }
        var stages = try RecordStages(executor: self, reader: reader, fileIndex: fileIndex, filePath: filePath)
        stages.record = recordsBefore
        var reported = recordsBefore
        defer {
            stages.settleBatches()
            batches = stages.batches
            filterOutcomes = stages.filterCounts
            for (ti, n) in stages.written.enumerated() { rowsWritten[tableIndices[ti], default: 0] += n }
            stages.close()
        }
        let usage = vocabularyUsage
        usage?.begin(mapping: plan.id, index: mappingIndex)
        defer { usage?.end() }
        while true {
            // The previous record is done (whatever its outcome): its vocabulary lookups are counted.
            usage?.endRecord()
            if rejects.count >= 1024 { try flushRejects() }
            guard let outcome = try stages.next() else { break }
            ledger.count(outcome)
            if case .rejected(let r) = outcome { reject(r, fileIndex: stages.fileIndex) }
            if stages.record & 0x3FFF == 0, stages.record != reported {
                reported = stages.record
                progress(reader.bytesRead)
            }
            try stages.emitFullBatches()
        }
        progress(reader.bytesRead)
        if sharding != nil { ledger.otherShard = ledger.otherShard ?? 0 }
        if duplicates != nil && !(reader is GroupRecordReader) { ledger.duplicate = ledger.duplicate ?? 0 }
        if stages.recordsLineage { ledger.unrouted = stages.unrouted }
        return ledger
    }

    /// The run error for a failure of the run's resources met while mapping a record.
    static func runFailure(_ error: EvaluationError, mapping: String, rule: String) -> RunError {
        RunError(.io, "mapping \(mapping), rule \(rule): \(error.message); nothing was published", code: .runResourceFailed)
    }

    /// Records the person ids an excluded record would have been given (its lets and `person_id`
    /// expressions evaluated; failures ignored: a record that cannot be mapped writes nothing).
    func notePersonIDs(
        frame: EvaluationFrame, lets: NamedValuePrograms, targets: UnsafeMutablePointer<TargetProgram>, count: Int,
        personIDColumns: [Int]
    ) {
        // Grouped mappings (records folded before their rows exist) note nothing here.
        guard personIDColumns.count == count else { return }
        for k in 0..<lets.count {
            // A named value that fails: the record is excluded and writes nothing, so there is no id to note.
            guard let v = try? lets.evaluators.evaluate(k, frame) else { return }
            frame.storage[lets.slots[k]] = v
        }
        for ti in 0..<count where personIDColumns[ti] >= 0 {
            let c = personIDColumns[ti]
            let v: Value?
            switch targets[ti].columns[c] {
            case .null: v = nil
            case .constant(let k): v = k
            case .slot(let slot): v = frame.storage[slot]
            // Likewise a `person_id` that fails (this excluded record writes nothing either way).
            case .evaluate(let e), .evaluateTraced(let e, _): v = try? e.evaluate(frame)
            }
            if let v, case .int(let id)? = Conformance.conform(v, to: targets[ti].types[c]) { excludedPersonIDs.insert(id) }
        }
    }

    private func flush(_ ti: Int) throws(RunError) {
        let b = batches[ti]
        batches[ti] = RowBatch(table: b.table, columnCount: b.columnCount)
        try emitBatch(b)
    }

    /// Hands a batch to the sink.
    func emitBatch(_ b: RowBatch) throws(RunError) {
        do {
            try emit(b)
        } catch {
            throw RunError(.io, error.message)
        }
    }

    /// The reject of a record that fails a schema rule: every rule of every field it fails, in
    /// column order, from the mapping field `first` (and the validated-only field
    /// `firstValidator`) on — the fields decoded before passed. The reason, field and rule are
    /// those of the leftmost failure; the message lists all.
    func schemaReject<R: RecordReader>(
        from first: Int, validatorsFrom firstValidator: Int = 0, reader: R, fields: [PlannedField], fieldColumns: [Int],
        validators: [FieldDecoder], validateColumns: [Int]
    ) -> Reject {
        var found: [(column: Int, field: String, reason: RejectReason, rule: String)] = []
        for k in first..<fields.count {
            for f in fields[k].decoder.failedRules(reader.field(fieldColumns[k])) {
                found.append((fieldColumns[k], fields[k].name, f.reason, f.rule))
            }
        }
        for k in firstValidator..<validators.count {
            let name = plan.validatedOnly[k].name
            for f in validators[k].failedRules(reader.field(validateColumns[k])) { found.append((validateColumns[k], name, f.reason, f.rule)) }
        }
        // Stable: the rules of one field stay in checking order.
        let failures = found.enumerated().sorted { ($0.element.column, $0.offset) < ($1.element.column, $1.offset) }.map {
            (field: $0.element.field, reason: $0.element.reason, rule: $0.element.rule)
        }
        let head = failures.first ?? (fields.indices.contains(first) ? fields[first].name : "?", .constraintError, "?")
        let message: String
        if failures.count <= 1 {
            message = "field \(head.field) fails its schema rule '\(head.rule)'"
        } else {
            message =
                "\(failures.count) schema rules fail: "
                + failures.map { "field \($0.field) fails '\($0.rule)'" }.joined(separator: "; ")
        }
        return Reject(reason: head.reason, location: reader.location, field: head.field, mapping: plan.id, rule: head.rule, message: message)
    }

    /// Buffers a reject; the buffer is flushed between records.
    private func reject(_ r: Reject, fileIndex: Int32) {
        rejects.append(RunReject(reject: r, mapping: mappingIndex, file: fileIndex))
    }

    private func flushRejects() throws(RunError) {
        guard !rejects.isEmpty else { return }
        let r = rejects
        rejects = []
        do {
            try emitRejects(r)
        } catch {
            throw RunError(.io, error.message)
        }
    }

    /// Hands rejects to the sink (a parallel pass forwards its workers' rejects in file order).
    func emitRejectList(_ r: [RunReject]) throws(RunError) {
        do {
            try emitRejects(r)
        } catch {
            throw RunError(.io, error.message)
        }
    }

    /// Adds what a parallel pass's worker counted (rows written per table, filter outcomes, the
    /// person ids of excluded records) to this executor's counts.
    func absorb(_ worker: MappingExecutor) {
        for (t, n) in worker.rowsWritten { rowsWritten[t, default: 0] += n }
        for i in filterOutcomes.indices where i < worker.filterOutcomes.count {
            filterOutcomes[i].passed += worker.filterOutcomes[i].passed
            filterOutcomes[i].failed += worker.filterOutcomes[i].failed
        }
        excludedPersonIDs.formUnion(worker.excludedPersonIDs)
        for (j, w) in zip(joins, worker.joins) { j.absorb(w) }
    }

    /// Sends what is left in the batches and the reject buffer.
    func flushAll() throws(RunError) {
        for ti in 0..<batches.count where batches[ti].rowCount > 0 { try flush(ti) }
        try flushRejects()
    }
}

@available(*, unavailable)
extension MappingExecutor: Sendable {}

/// Field decoders called by the executor's hot loop, reached through unmanaged references: a
/// call uses the decoder where it lies, with no retain of it (nor of a closure context: a closure
/// per decoder cost a retain and a release per field, 4 % of a claims run's mapping thread, `perf`).
final class DecoderTable {
    /// Keeps the decoders alive for `refs`.
    private let decoders: [FieldDecoder]
    private let refs: UnsafeMutablePointer<Unmanaged<FieldDecoder>>

    init(_ list: [FieldDecoder]) {
        decoders = list
        refs = .allocate(capacity: max(1, list.count))
        refs.initialize(from: list.map { Unmanaged.passUnretained($0) }, count: list.count)
    }

    deinit {
        refs.deinitialize(count: decoders.count)
        refs.deallocate()
    }

    @inline(__always)
    func decode(_ k: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> FieldDecodeResult {
        refs[k]._withUnsafeGuaranteedRef { $0.decode(bytes) }
    }

    /// `FieldDecoder.decodeText` of decoder `k`.
    @inline(__always)
    func decodeText(_ k: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> FieldDecodeResult? {
        refs[k]._withUnsafeGuaranteedRef { $0.decodeText(bytes) }
    }
}

/// Fits a value to a target column type, or says it cannot.
enum Conformance {
    @inline(__always)
    static func conform(_ v: consuming Value, to type: ColumnType) -> Value? {
        switch type {
        case .integer, .bigint:
            switch v {
            case .int: return v
            case .double(let d): return d.rounded() == d && abs(d) < 9.2e18 ? .int(Int(d)) : nil
            case .bool(let b): return .int(b ? 1 : 0)
            case .string(let s): return Int(s.trimmingSpaces()).map(Value.int)
            default: return nil
            }
        case .float:
            switch v {
            case .double: return v
            case .int(let i): return .double(Double(i))
            case .string(let s): return Double(s.trimmingSpaces()).map(Value.double)
            default: return nil
            }
        case .date:
            switch v {
            case .date: return v
            case .dateTime(let s): return .date(s >= 0 ? s / 86_400 : (s - 86_399) / 86_400)
            default: return nil
            }
        case .datetime:
            switch v {
            case .dateTime: return v
            case .date(let d): return .dateTime(d * 86_400)
            default: return nil
            }
        case .varchar(let max):
            switch v {
            case .string(let t):
                // The value itself when it fits (no new value around the same text).
                if let max, t.utf8.count > max, t.count > max { return nil }
                return v
            case .null:
                return v
            default:
                let s = v.description
                if let max, s.utf8.count > max, s.count > max { return nil }
                return .string(s)
            }
        }
    }
}
