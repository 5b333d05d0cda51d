/// The remap of one mapping's rows: record by record (the lineage rows of one source record),
/// binds the codes its lineage recorded, evaluates the rewritten named values, filters and
/// columns with the new vocabulary, and updates, deletes or writes rows (see `VocabularyRemap`).
struct RemapMappingPass {
    let plan: RemapPlan
    /// The mapping's index in the remap's manifest (its lineage rows' `mapping_id`).
    let mappingIndex: Int
    let entrySets: [Int: [VocabularyRemap.Entry]]
    let writer: RemapWriter

    private struct RecordID: Hashable {
        var file: String
        var line: Int?
        var record: Int?
    }

    private var mappingName: String { "mapping \(plan.plan.id)" }

    func run(_ rows: [VocabularyRemap.LineageRow], count: inout RemapCount) throws(RunError) {
        var order: [RecordID] = []
        var groups: [RecordID: [VocabularyRemap.LineageRow]] = [:]
        for r in rows {
            let id = RecordID(file: r.file, line: r.line, record: r.record)
            if groups[id] == nil { order.append(id) }
            groups[id, default: []].append(r)
        }
        let bound: BoundCallSites
        do throws(EvaluationError) {
            bound = try plan.callSites.bind(RunEnvironment())
        } catch {
            throw RunError(.configuration, "\(mappingName) cannot be remapped: \(error.message)", code: .remapUnsupported)
        }
        let frame = EvaluationFrame(slotCount: plan.frameSize, callSites: bound)
        let trace = LookupTrace()
        frame.lookupTrace = trace
        for id in order {
            guard let group = groups[id] else { continue }
            do {
                try remapRecord(group, frame: frame, trace: trace, count: &count)
            } catch let e as RunError {
                throw e
            } catch {
                throw RunError(.io, "cannot write the remapped rows of \(mappingName): \(error)", code: .sinkFailed)
            }
        }
    }

    private func place(_ r: VocabularyRemap.LineageRow) -> String {
        var s = r.file
        if let l = r.line { s += " line \(l)" }
        if let n = r.record { s += " (record \(n))" }
        return s
    }

    private func unsupported(_ message: String) -> RunError {
        RunError(.configuration, "\(mappingName): \(message); rerun it (nothing was written)", code: .remapUnsupported)
    }

    /// The entries of `uses` as lineage entries of `column`, each once.
    private func entries(_ uses: ArraySlice<LookupUse>, column: String, into out: inout [VocabularyRemap.Entry]) {
        for u in uses {
            let e = VocabularyRemap.Entry(
                column: column, function: u.function, vocabulary: u.source, code: u.key, conceptID: u.conceptID, value: u.resultText)
            if !out.contains(e) { out.append(e) }
        }
    }

    private func remapRecord(
        _ rows: [VocabularyRemap.LineageRow], frame: EvaluationFrame, trace: LookupTrace, count: inout RemapCount
    ) throws {
        let first = rows[0]
        count.rows += rows.count
        var byTarget: [Int: VocabularyRemap.LineageRow] = [:]
        for r in rows {
            guard r.target >= 0, r.target < plan.targets.count else {
                throw unsupported("lineage of \(place(r)) does not say which target wrote the row (an older version)")
            }
            guard byTarget[r.target] == nil else {
                throw unsupported("\(place(r)) has two rows of one target in the lineage")
            }
            byTarget[r.target] = r
        }
        // The recorded codes, per slot of the targets that wrote the rows.
        for i in 0..<plan.frameSize { frame[i] = .null }
        var boundSlots: Set<Int> = []
        var oldEntries: [Int: [VocabularyRemap.Entry]] = [:]
        for r in rows {
            let list = r.lookupSet.flatMap { entrySets[$0] } ?? []
            oldEntries[r.target] = list
            for (source, s) in plan.targets[r.target].slotBySource {
                boundSlots.insert(s)
                if let e = list.first(where: { FunctionRegistry.vocabularyFunctionNames.contains($0.function) && $0.vocabulary == source }) {
                    frame[s] = source.isEmpty ? (Int(e.code).map(Value.int) ?? .string(e.code)) : .string(e.code)
                }
            }
        }
        // Named values with the new vocabulary (those whose codes this record has).
        trace.uses.removeAll(keepingCapacity: true)
        var letRanges = [Range<Int>](repeating: 0..<0, count: plan.lets.count)
        for (i, e) in plan.lets.enumerated() {
            guard let e, plan.letSlots[i].isSubset(of: boundSlots) else { continue }
            let start = trace.uses.count
            do throws(EvaluationError) {
                frame[plan.letSlot(i)] = try e.evaluate(frame)
            } catch {
                throw unsupported("named value \(plan.plan.lets[i].name) of \(place(first)) fails with the new vocabulary (\(error.reason.rawValue))")
            }
            letRanges[i] = start..<trace.uses.count
        }
        func evaluate(_ e: CompiledExpression, lets: Set<Int>, column: String, what: String, into out: inout [VocabularyRemap.Entry]) throws
            -> Value
        {
            for l in lets.sorted() { entries(trace.uses[letRanges[l]], column: column, into: &out) }
            let start = trace.uses.count
            let v: Value
            do throws(EvaluationError) {
                v = try e.evaluate(frame)
            } catch {
                throw unsupported("\(what) of \(place(first)) fails with the new vocabulary (\(error.reason.rawValue))")
            }
            entries(trace.uses[start..<trace.uses.count], column: column, into: &out)
            return v
        }

        var removedRows: [(target: Int, row: VocabularyRemap.LineageRow, values: [Value])] = []
        var keptRows: [(target: Int, row: VocabularyRemap.LineageRow, values: [Value])] = []
        var create: [Int] = []
        for (ti, t) in plan.targets.enumerated() {
            let old = byTarget[ti]
            var present = old != nil
            if let f = t.filter {
                guard t.filterSlots.isSubset(of: boundSlots) else {
                    throw unsupported(
                        "whether \(place(first)) now writes \(t.table.name) depends on codes its lineage does not hold (the record wrote no row that looks them up)"
                    )
                }
                do throws(EvaluationError) {
                    present = try f.evaluateCondition(frame)
                } catch {
                    throw unsupported("the filter of \(t.table.name) for \(place(first)) fails with the new vocabulary (\(error.reason.rawValue))")
                }
            }
            guard let old else {
                if present { create.append(ti) }
                continue
            }
            guard let key = t.table.lineageKeyColumn else {
                throw unsupported("table \(t.table.name) has no key to find its rows by")
            }
            guard let values = try writer.row(t.table, key: key, value: old.rowKey) else {
                throw unsupported("the lineage of \(place(old)) names a row \(t.table.name) does not hold")
            }
            if !present {
                try writer.delete(t.table, key: key, value: old.rowKey)
                try writer.deleteLineage(rowid: old.rowid)
                removedRows.append((ti, old, values))
                continue
            }
            keptRows.append((ti, old, values))
            guard t.columns.contains(where: { if case .recomputed = $0 { return true } else { return false } }) else {
                count.unchanged += 1
                continue
            }
            var changes: [(Int, Value)] = []
            var newEntries: [VocabularyRemap.Entry] = []
            let previous = oldEntries[ti] ?? []
            for (ci, c) in t.columns.enumerated() {
                let name = t.table.columns[ci].name
                switch c {
                case .none: continue
                case .kept:
                    for e in previous where e.column == name && !newEntries.contains(e) { newEntries.append(e) }
                case .recomputed(let e, let lets, let slots):
                    guard slots.isSubset(of: boundSlots) else { continue }
                    let v = try evaluate(e, lets: lets, column: name, what: "column \(t.table.name).\(name)", into: &newEntries)
                    if !Self.same(v, values[ci]) { changes.append((ci, v)) }
                }
            }
            let entriesChanged = Set(newEntries) != Set(previous)
            if !changes.isEmpty { try writer.update(t.table, key: key, value: old.rowKey, columns: changes) }
            if !changes.isEmpty || entriesChanged {
                try writer.deleteLineage(rowid: old.rowid)
                try writer.insertLineage(
                    try writer.lineage(
                        table: t.table.name, rowKey: old.rowKey, mapping: mappingIndex, input: old.input, line: old.line, record: old.record,
                        target: ti, entries: newEntries))
            }
            if changes.isEmpty { count.unchanged += 1 } else { count.changed += 1 }
        }
        // Rows the record now writes in another target (domain routing): from the row it left
        // (or another row of the record), with the same rules' values.
        for ti in create {
            let t = plan.targets[ti]
            guard let source = removedRows.first ?? keptRows.first else { continue }
            let from = plan.targets[source.target]
            let fromEntries = oldEntries[source.target] ?? []
            var values: [Value] = []
            var newEntries: [VocabularyRemap.Entry] = []
            for (ci, c) in t.columns.enumerated() {
                let name = t.table.columns[ci].name
                switch c {
                case .none:
                    values.append(.null)
                case .kept(let rule, let constant):
                    if let fi = from.columns.firstIndex(where: { if case .kept(let r, _) = $0 { return r == rule } else { return false } }) {
                        values.append(source.values[fi])
                        let oldName = from.table.columns[fi].name
                        for e in fromEntries where e.column == oldName {
                            var renamed = e
                            renamed.column = name
                            if !newEntries.contains(renamed) { newEntries.append(renamed) }
                        }
                    } else if let constant {
                        values.append(constant)
                    } else {
                        throw unsupported(
                            "\(place(source.row)) moves from \(from.table.name) to \(t.table.name), whose column \(name) (rule: \(rule)) reads source values that \(from.table.name) holds under no column with the same rule"
                        )
                    }
                case .recomputed(let e, let lets, let slots):
                    guard slots.isSubset(of: boundSlots) else {
                        throw unsupported(
                            "\(place(source.row)) moves to \(t.table.name), whose column \(name) looks up codes the record's lineage does not hold"
                        )
                    }
                    values.append(try evaluate(e, lets: lets, column: name, what: "column \(t.table.name).\(name)", into: &newEntries))
                }
            }
            guard let key = t.table.lineageKeyColumn else {
                throw unsupported("table \(t.table.name) has no key to find its rows by")
            }
            let lineage = try writer.lineage(
                table: t.table.name, rowKey: values[key], mapping: mappingIndex, input: source.row.input, line: source.row.line,
                record: source.row.record, target: ti, entries: newEntries)
            writer.queueInsert(t.table, values: values, lineage: lineage)
        }
        let moved = min(removedRows.count, create.count)
        count.moved += moved
        count.removed += removedRows.count - moved
        count.added += create.count - moved
    }

    /// Whether a computed value equals a stored one (as SQLite stores it).
    static func same(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.null, _), (_, .null): return false
        case (.int(let x), .int(let y)): return x == y
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        case (.double(let x), .double(let y)): return x == y
        case (.bool(let x), .int(let y)), (.int(let y), .bool(let x)): return (x ? 1 : 0) == y
        case (.string(let x), .string(let y)): return x == y
        default: return a.description == b.description
        }
    }
}
