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

    init(
        plan: MappingPlan, mappingIndex: Int32, tableIndices: [Int], batchRows: Int, recordsLineage: Bool,
        emit: @escaping (RowBatch) throws(SinkError) -> Void, emitRejects: @escaping ([RunReject]) throws(SinkError) -> Void
    ) {
        self.plan = plan
        self.mappingIndex = mappingIndex
        self.tableIndices = tableIndices
        self.batchRows = batchRows
        self.recordsLineage = recordsLineage
        self.frame = EvaluationFrame(slotCount: plan.slotCount)
        self.batches = zip(plan.targets, tableIndices).map { t, i in
            RowBatch(table: i, columnCount: t.table.columns.count, reservingRows: batchRows)
        }
        self.filterOutcomes = Array(repeating: (0, 0), count: plan.targets.count + 1)
        self.emit = emit
        self.emitRejects = emitRejects
    }

    /// Maps every record of `reader`; returns the ledger of this file.
    func run<Reader: RecordReader>(
        reader: Reader, fileIndex: Int32, filePath: String, progress: (Int64) -> Void
    ) throws(RunError) -> RunManifest.LedgerEntry {
        var ledger = RunManifest.LedgerEntry(mapping: plan.id, file: filePath, read: 0, written: 0, rejected: 0, filtered: 0, excluded: 0)
        // Resolve the fields the plan reads against this file (header names, or paths).
        let fieldColumns: [Int]
        let validateColumns: [Int]
        do {
            fieldColumns = try reader.bind(fields: plan.fields.map(\.name))
            validateColumns = try reader.bind(fields: plan.validatedOnly.map(\.name))
        } catch {
            throw RunError(.configuration, "mapping \(plan.id) cannot read its fields: \(error.description)")
        }

        let fields = plan.fields
        let lets = plan.lets
        let targets = plan.targets
        var record = 0
        var marks = [Int](repeating: 0, count: batches.count)
        records: while true {
            if rejects.count >= 1024 { try flushRejects() }
            let event: ReadEvent
            do {
                event = try reader.next()
            } catch {
                throw RunError(.io, "\(error)")
            }
            switch event {
            case .end:
                break records
            case .rejected(var r):
                ledger.read += 1
                ledger.rejected += 1
                r.mapping = plan.id
                reject(r, fileIndex: fileIndex)
                continue records
            case .record:
                break
            }
            ledger.read += 1
            record += 1
            if record & 0x3FFF == 0 { progress(reader.bytesRead) }

            // Decode the fields the mapping reads.
            for k in 0..<fields.count {
                let f = fields[k]
                let result = reader.withField(fieldColumns[k]) { f.decoder.decode($0) }
                switch result {
                case .value(let v): frame.slots[f.slot] = v
                case .failure(let reason, let rule):
                    ledger.rejected += 1
                    reject(
                        Reject(reason: reason, location: reader.location, field: f.name, mapping: plan.id, rule: rule,
                               message: "field \(f.name) fails its schema rule '\(rule)'"), fileIndex: fileIndex)
                    continue records
                }
            }
            for k in 0..<validateColumns.count {
                let f = plan.validatedOnly[k]
                if case .failure(let reason, let rule) = reader.withField(validateColumns[k], { f.decoder.decode($0) }) {
                    ledger.rejected += 1
                    reject(
                        Reject(reason: reason, location: reader.location, field: f.name, mapping: plan.id, rule: rule,
                               message: "field \(f.name) fails its schema rule '\(rule)'"), fileIndex: fileIndex)
                    continue records
                }
            }
            // Named values, filter, targets.
            var ruleName = ""
            for ti in 0..<batches.count { marks[ti] = batches[ti].values.count }
            do throws(EvaluationError) {
                for l in lets {
                    ruleName = "let.\(l.name)"
                    frame.slots[l.slot] = try l.expression.evaluate(frame)
                }
                if let filter = plan.filter {
                    ruleName = "filter"
                    guard try filter.evaluate(frame) == .bool(true) else {
                        filterOutcomes[0].failed += 1
                        ledger.filtered += 1
                        continue records
                    }
                    filterOutcomes[0].passed += 1
                }
                var wrote = false
                for ti in 0..<targets.count {
                    let t = targets[ti]
                    if let tf = t.filter {
                        ruleName = "\(t.table.name).filter"
                        guard try tf.evaluate(frame) == .bool(true) else {
                            filterOutcomes[ti + 1].failed += 1
                            continue
                        }
                        filterOutcomes[ti + 1].passed += 1
                    }
                    let columns = t.table.columns
                    for c in 0..<columns.count {
                        var v = Value.null
                        if let e = t.columns[c] {
                            ruleName = "\(t.table.name).\(columns[c].name)"
                            v = try e.evaluate(frame)
                        }
                        let col = columns[c]
                        if v.isNull {
                            if col.isRequired {
                                rollback(&marks)
                                ledger.rejected += 1
                                reject(
                                    Reject(reason: .targetRequiredNull, location: reader.location, field: col.name, mapping: plan.id,
                                           rule: "\(t.table.name).\(col.name)", message: "required column \(t.table.name).\(col.name) is null"),
                                    fileIndex: fileIndex)
                                continue records
                            }
                            batches[ti].values.append(.null)
                            continue
                        }
                        guard let conformed = Conformance.conform(v, to: col.type) else {
                            rollback(&marks)
                            ledger.rejected += 1
                            reject(
                                Reject(reason: .targetTypeError, location: reader.location, field: col.name, mapping: plan.id,
                                       rule: "\(t.table.name).\(col.name)",
                                       message: "a \(v.type.rawValue) value does not fit column \(t.table.name).\(col.name) (\(col.type))"),
                                fileIndex: fileIndex)
                            continue records
                        }
                        batches[ti].values.append(conformed)
                    }
                    if recordsLineage {
                        let loc = reader.location
                        batches[ti].lineage.append(RowLineage(mapping: mappingIndex, file: fileIndex, line: loc.line ?? 0, record: loc.record ?? record))
                    }
                    wrote = true
                }
                if wrote {
                    ledger.written += 1
                    for ti in 0..<batches.count where batches[ti].values.count != marks[ti] {
                        rowsWritten[tableIndices[ti], default: 0] += 1
                    }
                } else {
                    ledger.filtered += 1
                }
            } catch {
                rollback(&marks)
                ledger.rejected += 1
                reject(
                    Reject(reason: error.reason, location: reader.location, field: nil, mapping: plan.id, rule: ruleName,
                           message: "rule \(ruleName): \(error.message)"), fileIndex: fileIndex)
            }
            for ti in 0..<batches.count where batches[ti].rowCount >= batchRows { try flush(ti) }
            if rejects.count >= 1024 { try flushRejects() }
        }
        progress(reader.bytesRead)
        return ledger
    }

    /// Drops the cells appended for the current record.
    private func rollback(_ marks: inout [Int]) {
        for ti in 0..<batches.count where batches[ti].values.count > marks[ti] {
            batches[ti].values.removeLast(batches[ti].values.count - marks[ti])
        }
        if recordsLineage {
            for ti in 0..<batches.count where batches[ti].lineage.count > batches[ti].rowCount {
                batches[ti].lineage.removeLast(batches[ti].lineage.count - batches[ti].rowCount)
            }
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
