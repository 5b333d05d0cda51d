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
    private let frame: EvaluationFrame
    private var batches: [RowBatch]
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
    /// The run's side of the plan's joins (indexes, counts), in the plan's order (set by the
    /// caller before running).
    var joins: [JoinRuntime] = []
    /// The plan's call sites bound to this run.
    let callSites: BoundCallSites
    /// The frame of the group stage: group values and named values.
    private lazy var groupFrame = EvaluationFrame(slotCount: plan.group?.frameSlotCount ?? 0, callSites: callSites)
    /// With lineage, when the plan calls a lookup or vocabulary function: the record's scratch
    /// list of lookups made (attached to the frames), and which of them each column used.
    private let lookupLineage: LookupLineagePlan?

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
        self.batches = zip(plan.targets, tableIndices).map { t, i in
            RowBatch(table: i, columnCount: t.table.columns.count, reservingRows: batchRows)
        }
        self.filterOutcomes = Array(repeating: (0, 0), count: plan.targets.count + 1)
        self.emit = emit
        self.emitRejects = emitRejects
        self.lookupLineage = recordsLineage ? LookupLineagePlan(plan) : nil
    }

    /// How one target column gets its value, decided once per plan.
    enum ColumnProgram {
        /// No expression: null.
        case null
        /// A constant already fitted to the column.
        case constant(Value)
        /// An expression evaluated per record, then fitted to the column.
        case evaluate(Evaluator)
        /// The same, for a column whose rule calls a lookup function (directly, or through the
        /// named values listed, by index) when the run records vocabulary lineage: the lookups
        /// made are taken for the row.
        case evaluateTraced(Evaluator, lets: [Int])
    }

    /// Per-target data flattened for the hot loop.
    struct TargetProgram {
        let filter: Evaluator?
        let columns: [ColumnProgram]
        let types: [ColumnType]
        let required: [Bool]
        let tableName: String
        let columnNames: [String]
    }

    /// `traced`: per column, the named values whose lookups it uses, or nil when it uses none
    /// (`LookupLineagePlan`); nil when the run records no vocabulary lineage.
    static func program(for t: PlannedTarget, traced: [[Int]?]? = nil) -> TargetProgram {
        var columns: [ColumnProgram] = []
        for (i, c) in t.table.columns.enumerated() {
            guard let e = t.columns[i] else {
                columns.append(.null)
                continue
            }
            if let k = e.constantValue, let fitted = k.isNull ? Value.null : Conformance.conform(k, to: c.type) {
                columns.append(fitted.isNull ? .null : .constant(fitted))
            } else if let traced, i < traced.count, let lets = traced[i] {
                columns.append(.evaluateTraced(e.evaluator, lets: lets))
            } else {
                columns.append(.evaluate(e.evaluator))
            }
        }
        return TargetProgram(
            filter: t.filter?.evaluator, columns: columns, types: t.table.columns.map(\.type), required: t.table.columns.map(\.isRequired),
            tableName: t.table.name, columnNames: t.table.columns.map(\.name))
    }

    /// Maps every record of `reader`; returns the ledger of this file.
    ///
    /// For a mapping with `group:`, records of source files are folded into `groupStore` (after
    /// their joins and the record filter); the groups are then mapped by a second call with a
    /// `GroupRecordReader`, whose ledger counts groups.
    func run<Reader: RecordReader>(
        reader: Reader, fileIndex: Int32, filePath: String, progress: (Int64) -> Void
    ) throws(RunError) -> RunManifest.LedgerEntry {
        var fileIndex = fileIndex
        let groupReader = reader as? GroupRecordReader
        let groupStage = groupReader != nil
        let folding = plan.group != nil && !groupStage
        var ledger = RunManifest.LedgerEntry(mapping: plan.id, file: filePath, read: 0, written: 0, rejected: 0, filtered: 0, excluded: 0)
        if groupStage { ledger.groupStage = true }
        // Resolve the fields the plan reads against this file (header names, or paths).
        let fieldColumns: [Int]
        let validateColumns: [Int]
        do {
            fieldColumns = try reader.bind(fields: plan.fields.map(\.name))
            validateColumns = try reader.bind(fields: plan.validatedOnly.map(\.name))
        } catch {
            throw RunError(.configuration, "mapping \(plan.id) cannot read its fields: \(error.description)")
        }
        // Held by a final class so the hot loop borrows them: subscripting an array of structs copies them.
        let decoders = DecoderTable(plan.fields.map(\.decoder))
        let decoderCount = groupStage ? 0 : plan.fields.count
        let slots = plan.fields.map(\.slot)
        let fieldNames = plan.fields.map(\.name)
        let validators = groupStage ? [] : plan.validatedOnly.map(\.decoder)
        let lets: [(slot: Int, eval: Evaluator, name: String)] = folding ? [] : plan.lets.map { ($0.slot, $0.expression.evaluator, $0.name) }
        let filter = groupStage ? plan.group?.having?.evaluator : plan.filter?.evaluator
        let joins = groupStage ? [] : self.joins
        let groupValues = groupStage ? (plan.group?.usedValues ?? []) : []
        let groupBy = folding ? (plan.group?.by.map(\.evaluator) ?? []) : []
        let groupArguments: [Evaluator?] = folding ? (plan.group?.aggregates.map { $0.argument?.evaluator } ?? []) : []
        let groupNames = plan.group?.names ?? []
        var byValues = [Value](repeating: .null, count: groupBy.count)
        var argumentValues = [Value](repeating: .null, count: groupArguments.count)
        if folding && groupStore == nil { throw RunError(.configuration, "mapping \(plan.id) groups its records but has no group store") }
        // Vocabulary lineage: only with --lineage and lookups in the plan (nil otherwise).
        let lookupPlan = folding ? nil : lookupLineage
        let targetList = plan.targets.enumerated().map { ti, t in Self.program(for: t, traced: lookupPlan?.columns[ti]) }
        let targets = UnsafeMutablePointer<TargetProgram>.allocate(capacity: max(1, targetList.count))
        targets.initialize(from: targetList, count: targetList.count)
        let targetCount = targetList.count
        defer {
            targets.deinitialize(count: targetCount)
            targets.deallocate()
        }
        let frame = groupStage ? self.groupFrame : self.frame
        let trace: LookupTrace? = lookupPlan == nil ? nil : LookupTrace()
        frame.lookupTrace = trace
        defer { frame.lookupTrace = nil }
        var letRanges = [Range<Int>](repeating: 0..<0, count: trace == nil ? 0 : lets.count)
        let mappingID = plan.id
        frame.mappingID = mappingID  // row_id (RowIDFunction.swift)
        frame.recordLocation = { reader.location }
        defer { frame.recordLocation = nil }
        var batches = self.batches
        defer { self.batches = batches }
        var written = [Int](repeating: 0, count: targetCount)
        defer { for (ti, n) in written.enumerated() { rowsWritten[tableIndices[ti], default: 0] += n } }
        var marks = [Int](repeating: 0, count: batches.count)
        var filterCounts = filterOutcomes
        defer { filterOutcomes = filterCounts }
        var record = 0
        /// Where the current failure happened: -1 lets/filter, else target index; column or -1 for the filter.
        var failingTarget = -1
        var failingColumn = -1
        var failingLet = ""
        // Objections: only when the run has an exclusion list (nothing is added to the loop otherwise).
        let exclusion = plan.subject == nil || groupStage ? nil : self.exclusion
        let subject = plan.subject?.evaluator
        // Shards (`run --shard i/N`, N > 1): a record whose subject hashes to another shard is
        // left to it; a record without a known subject (no `subject:`, or rejected before its
        // subject is known) belongs to shard 0. The group stage maps the groups of kept records.
        let sharding = groupStage ? nil : self.sharding
        let routing = sharding == nil ? nil : self.routing
        let keepsUnowned = routing == nil && (sharding?.ownsRecordsWithoutSubject ?? true)
        // Splitting reads a mapping without subject up to its joins (their rows go to shard 0).
        let skipsEveryRecord = sharding != nil && subject == nil && !keepsUnowned && routing == nil
        var otherShard = 0
        /// Splitting: joins of the current record that found their row (in order).
        var joinsMatched = 0
        /// A record this shard leaves to shard 0 (or, splitting, routes there with the rows its
        /// joins found so far).
        func leaveToShardZero(line: Int?) {
            otherShard += 1
            guard let routing else { return }
            routing(fileIndex, line ?? 0, 0)
            for j in joins.prefix(joinsMatched) { if let p = j.partner { routing(p.file, p.line, 0) } }
        }
        let personIDColumns = exclusion == nil || folding ? [] : targetList.map { $0.columnNames.firstIndex(of: "person_id") ?? -1 }

        func rollback() {
            for ti in 0..<batches.count where batches[ti].values.count > marks[ti] {
                batches[ti].values.removeLast(batches[ti].values.count - marks[ti])
            }
            if recordsLineage {
                for ti in 0..<batches.count where batches[ti].lineage.count > batches[ti].rowCount {
                    batches[ti].lineage.removeLast(batches[ti].lineage.count - batches[ti].rowCount)
                }
                for ti in 0..<batches.count {
                    let rows = Int32(batches[ti].rowCount)
                    while let last = batches[ti].lookups.last, last.row >= rows { batches[ti].lookups.removeLast() }
                }
            }
        }

        let usage = vocabularyUsage
        usage?.begin(mapping: plan.id, index: mappingIndex)
        defer { usage?.end() }
        records: while true {
            // The previous record is done (whatever its outcome): its vocabulary lookups are counted.
            usage?.endRecord()
            if rejects.count >= 1024 { try flushRejects() }
            let event: ReadEvent
            do {
                event = try reader.next()
            } catch {
                throw RunError(.io, "\(error)", code: (error as? SourceIOError)?.code ?? .runIO, location: .init(file: filePath), cause: error)
            }
            switch event {
            case .end:
                break records
            case .rejected(var r):
                ledger.read += 1
                guard keepsUnowned else {
                    leaveToShardZero(line: r.location.line)
                    continue records
                }
                ledger.rejected += 1
                r.mapping = mappingID
                reject(r, fileIndex: fileIndex)
                continue records
            case .record:
                break
            }
            trace?.uses.removeAll(keepingCapacity: true)
            ledger.read += 1
            record += 1
            if record & 0x3FFF == 0 { progress(reader.bytesRead) }
            joinsMatched = 0
            if skipsEveryRecord {
                leaveToShardZero(line: reader.location.line)
                continue records
            }

            // Decode the fields the mapping reads.
            for k in 0..<decoderCount {
                switch decoders.decode(k, reader.field(fieldColumns[k])) {
                case .value(let v): frame.storage[slots[k]] = v
                case .failure(let reason, let rule):
                    guard keepsUnowned else {
                        leaveToShardZero(line: reader.location.line)
                        continue records
                    }
                    ledger.rejected += 1
                    reject(
                        Reject(
                            reason: reason, location: reader.location, field: fieldNames[k], mapping: mappingID, rule: rule,
                            message: "field \(fieldNames[k]) fails its schema rule '\(rule)'"), fileIndex: fileIndex)
                    continue records
                }
            }
            for k in 0..<validators.count {
                if case .failure(let reason, let rule) = validators[k].decode(reader.field(validateColumns[k])) {
                    let name = plan.validatedOnly[k].name
                    guard keepsUnowned else {
                        leaveToShardZero(line: reader.location.line)
                        continue records
                    }
                    ledger.rejected += 1
                    reject(
                        Reject(
                            reason: reason, location: reader.location, field: name, mapping: mappingID, rule: rule,
                            message: "field \(name) fails its schema rule '\(rule)'"), fileIndex: fileIndex)
                    continue records
                }
            }
            // Joined records: each join finds the partner of this record and fills its fields.
            for j in joins {
                do throws(EvaluationError) {
                    if let reason = try j.match(frame) {
                        guard keepsUnowned else {
                            leaveToShardZero(line: reader.location.line)
                            continue records
                        }
                        ledger.rejected += 1
                        let message =
                            reason == .joinAmbiguous
                            ? "join \(j.name): several records of \(j.join.spec.files.text) have this record's key"
                            : "join \(j.name): no record of \(j.join.spec.files.text) has this record's key"
                        reject(
                            Reject(
                                reason: reason, location: reader.location, field: nil, mapping: mappingID, rule: "join.\(j.name)", message: message),
                            fileIndex: fileIndex)
                        continue records
                    }
                    joinsMatched += 1
                } catch {
                    if error.stopsRun { throw Self.runFailure(error, mapping: mappingID, rule: "join.\(j.name)") }
                    guard keepsUnowned else {
                        leaveToShardZero(line: reader.location.line)
                        continue records
                    }
                    ledger.rejected += 1
                    reject(
                        Reject(
                            reason: error.reason, location: reader.location, field: nil, mapping: mappingID, rule: "join.\(j.name)",
                            message: "rule join.\(j.name): \(error.message)"), fileIndex: fileIndex)
                    continue records
                }
            }
            if routing != nil && subject == nil {
                leaveToShardZero(line: reader.location.line)
                continue records
            }
            if exclusion != nil || sharding != nil, let subject {
                let s: Value
                do throws(EvaluationError) {
                    s = try subject(frame)
                } catch {
                    if error.stopsRun { throw Self.runFailure(error, mapping: mappingID, rule: "source.subject") }
                    guard keepsUnowned else {
                        leaveToShardZero(line: reader.location.line)
                        continue records
                    }
                    ledger.rejected += 1
                    reject(
                        Reject(
                            reason: error.reason, location: reader.location, field: nil, mapping: mappingID, rule: "source.subject",
                            message: "rule source.subject: \(error.message)"), fileIndex: fileIndex)
                    continue records
                }
                if let sharding {
                    if let routing {
                        let k = sharding.shardIndex(of: s)
                        routing(fileIndex, reader.location.line ?? 0, k)
                        for j in joins { if let p = j.partner { routing(p.file, p.line, k) } }
                        otherShard += 1
                        continue records
                    }
                    if !sharding.owns(s) {
                        otherShard += 1
                        continue records
                    }
                }
                if let exclusion, exclusion.contains(s) {
                    ledger.excluded += 1
                    notePersonIDs(frame: frame, lets: lets, targets: targets, count: targetCount, personIDColumns: personIDColumns)
                    continue records
                }
            }
            if folding, let store = groupStore {
                // Record filter, then fold into the record's group.
                var rule = "filter"
                do throws(EvaluationError) {
                    if let filter {
                        guard try filter(frame) == .bool(true) else {
                            filterCounts[0].failed += 1
                            ledger.filtered += 1
                            continue records
                        }
                        filterCounts[0].passed += 1
                    }
                    for k in 0..<groupBy.count {
                        rule = "group.\(groupNames[k])"
                        byValues[k] = try groupBy[k](frame)
                    }
                    for k in 0..<groupArguments.count {
                        rule = "group.\(groupNames[groupBy.count + k])"
                        // count() has no argument: every record counts.
                        argumentValues[k] = try groupArguments[k].map { e throws(EvaluationError) in try e(frame) } ?? .bool(true)
                    }
                } catch {
                    if error.stopsRun { throw Self.runFailure(error, mapping: mappingID, rule: rule) }
                    ledger.rejected += 1
                    reject(
                        Reject(
                            reason: error.reason, location: reader.location, field: nil, mapping: mappingID, rule: rule,
                            message: "rule \(rule): \(error.message)"), fileIndex: fileIndex)
                    continue records
                }
                let loc = reader.location
                // Keys compare by canonical text; a null component is its own value here.
                var key: [UInt8] = []
                for v in byValues { ValueCodec.append(v, to: &key) }
                try store.add(key: key, by: byValues, arguments: argumentValues, file: fileIndex, line: loc.line ?? 0, record: loc.record ?? record)
                ledger.grouped += 1
                continue records
            }
            if let g = groupReader {
                fileIndex = g.currentFileIndex
                for (index, slot) in groupValues { frame.storage[slot] = g.value(index) }
            }
            // Named values, filter, targets.
            for ti in 0..<batches.count { marks[ti] = batches[ti].values.count }
            failingTarget = -1
            failingColumn = -1
            do throws(EvaluationError) {
                if let trace {
                    for (k, l) in lets.enumerated() {
                        failingLet = l.name
                        let start = trace.uses.count
                        frame.storage[l.slot] = try l.eval(frame)
                        letRanges[k] = start..<trace.uses.count
                    }
                } else {
                    for l in lets {
                        failingLet = l.name
                        frame.storage[l.slot] = try l.eval(frame)
                    }
                }
                failingLet = ""
                if let filter {
                    guard try filter(frame) == .bool(true) else {
                        filterCounts[0].failed += 1
                        ledger.filtered += 1
                        continue records
                    }
                    filterCounts[0].passed += 1
                }
                var wrote = false
                for ti in 0..<targetCount {
                    failingTarget = ti
                    if let tf = targets[ti].filter {
                        failingColumn = -1
                        guard try tf(frame) == .bool(true) else {
                            filterCounts[ti + 1].failed += 1
                            continue
                        }
                        filterCounts[ti + 1].passed += 1
                    }
                    let columnCount = targets[ti].columns.count
                    for c in 0..<columnCount {
                        let v: Value
                        switch targets[ti].columns[c] {
                        case .null: v = .null
                        case .constant(let k):
                            batches[ti].values.append(k)
                            continue
                        case .evaluate(let e):
                            failingColumn = c
                            v = try e(frame)
                        case .evaluateTraced(let e, let viaLets):
                            failingColumn = c
                            let start = trace?.uses.count ?? 0
                            v = try e(frame)
                            if let trace {
                                LookupLineagePlan.collect(
                                    column: c, own: start..<trace.uses.count, viaLets: viaLets, lets: letRanges, trace: trace,
                                    row: Int32(batches[ti].values.count / columnCount), into: &batches[ti].lookups)
                            }
                        }
                        if v.isNull {
                            if targets[ti].required[c] {
                                let t = targets[ti]
                                rollback()
                                ledger.rejected += 1
                                reject(
                                    Reject(
                                        reason: .targetRequiredNull, location: reader.location, field: t.columnNames[c], mapping: mappingID,
                                        rule: "\(t.tableName).\(t.columnNames[c])",
                                        message: "required column \(t.tableName).\(t.columnNames[c]) is null"),
                                    fileIndex: fileIndex)
                                continue records
                            }
                            batches[ti].values.append(.null)
                            continue
                        }
                        guard let fitted = Conformance.conform(v, to: targets[ti].types[c]) else {
                            let t = targets[ti]
                            rollback()
                            ledger.rejected += 1
                            reject(
                                Reject(
                                    reason: .targetTypeError, location: reader.location, field: t.columnNames[c], mapping: mappingID,
                                    rule: "\(t.tableName).\(t.columnNames[c])",
                                    message: "a \(v.type.rawValue) value does not fit column \(t.tableName).\(t.columnNames[c]) (\(t.types[c]))"),
                                fileIndex: fileIndex)
                            continue records
                        }
                        batches[ti].values.append(fitted)
                    }
                    if recordsLineage {
                        let loc = reader.location
                        batches[ti].lineage.append(
                            RowLineage(
                                mapping: mappingIndex, file: fileIndex, line: loc.line ?? 0, record: loc.record ?? record, target: Int32(ti)))
                    }
                    written[ti] += 1
                    wrote = true
                }
                if wrote { ledger.written += 1 } else { ledger.filtered += 1 }
            } catch {
                rollback()
                let rule: String
                if !failingLet.isEmpty {
                    rule = "let.\(failingLet)"
                } else if failingTarget < 0 {
                    rule = "filter"
                } else if failingColumn < 0 {
                    rule = "\(targets[failingTarget].tableName).filter"
                } else {
                    rule = "\(targets[failingTarget].tableName).\(targets[failingTarget].columnNames[failingColumn])"
                }
                if failingTarget >= 0, !failingLet.isEmpty { failingLet = "" }
                if error.stopsRun { throw Self.runFailure(error, mapping: mappingID, rule: rule) }
                ledger.rejected += 1
                reject(
                    Reject(
                        reason: error.reason, location: reader.location, field: nil, mapping: mappingID, rule: rule,
                        message: "rule \(rule): \(error.message)"), fileIndex: fileIndex)
            }
            for ti in 0..<batches.count where batches[ti].values.count >= batchRows * batches[ti].columnCount {
                let b = batches[ti]
                batches[ti] = RowBatch(table: b.table, columnCount: b.columnCount, reservingRows: batchRows)
                do {
                    try emit(b)
                } catch {
                    throw RunError(.io, error.message)
                }
            }
        }
        progress(reader.bytesRead)
        if sharding != nil { ledger.otherShard = otherShard }
        return ledger
    }

    /// The run error for a failure of the run's resources met while mapping a record.
    static func runFailure(_ error: EvaluationError, mapping: String, rule: String) -> RunError {
        RunError(.io, "mapping \(mapping), rule \(rule): \(error.message); nothing was published", code: .runResourceFailed)
    }

    /// Records the person ids an excluded record would have been given (its lets and `person_id`
    /// expressions evaluated; failures ignored: a record that cannot be mapped writes nothing).
    private func notePersonIDs(
        frame: EvaluationFrame, lets: [(slot: Int, eval: Evaluator, name: String)], targets: UnsafeMutablePointer<TargetProgram>, count: Int,
        personIDColumns: [Int]
    ) {
        // Grouped mappings (records folded before their rows exist) note nothing here.
        guard personIDColumns.count == count else { return }
        for l in lets {
            guard let v = try? l.eval(frame) else { return }
            frame.storage[l.slot] = v
        }
        for ti in 0..<count where personIDColumns[ti] >= 0 {
            let c = personIDColumns[ti]
            let v: Value?
            switch targets[ti].columns[c] {
            case .null: v = nil
            case .constant(let k): v = k
            case .evaluate(let e), .evaluateTraced(let e, _): v = try? e(frame)
            }
            if let v, case .int(let id)? = Conformance.conform(v, to: targets[ti].types[c]) { excludedPersonIDs.insert(id) }
        }
    }

    private func flush(_ ti: Int) throws(RunError) {
        let b = batches[ti]
        batches[ti] = RowBatch(table: b.table, columnCount: b.columnCount, reservingRows: batchRows)
        do {
            try emit(b)
        } catch {
            throw RunError(.io, error.message)
        }
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

    /// Sends what is left in the batches and the reject buffer.
    func flushAll() throws(RunError) {
        for ti in 0..<batches.count where batches[ti].rowCount > 0 { try flush(ti) }
        try flushRejects()
    }
}

@available(*, unavailable)
extension MappingExecutor: Sendable {}

/// Field decoders called by the executor's hot loop through closures that capture them, so each
/// call borrows the decoder in its context instead of copying the struct.
final class DecoderTable {
    private let functions: [(UnsafeBufferPointer<UInt8>) -> FieldDecodeResult]

    init(_ list: [FieldDecoder]) {
        functions = list.map { d in { d.decode($0) } }
    }

    @inline(__always)
    func decode(_ k: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> FieldDecodeResult {
        functions[k](bytes)
    }
}

/// Fits a value to a target column type, or says it cannot.
enum Conformance {
    @inline(__always)
    static func conform(_ v: Value, to type: ColumnType) -> Value? {
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
            let s: String
            switch v {
            case .string(let t): s = t
            case .null: return v
            default: s = v.description
            }
            if let max, s.utf8.count > max, s.count > max { return nil }
            return .string(s)
        }
    }
}
