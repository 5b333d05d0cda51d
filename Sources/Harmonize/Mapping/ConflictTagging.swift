/// Gives each batch a mapping sends the conflict policy of the target that made it.
enum ConflictTagging {
    /// Wraps `write` so a batch for a table the plan updates (`on_conflict: update`) carries that
    /// policy; returns `write` itself when the plan only inserts.
    static func emit(
        plan: MappingPlan, tableIndices: [Int], write: @escaping (RowBatch) throws(SinkError) -> Void
    ) -> (RowBatch) throws(SinkError) -> Void {
        var byTable: [Int: ConflictPolicy] = [:]
        for (ti, t) in plan.targets.enumerated() where ti < tableIndices.count && t.conflict.updates { byTable[tableIndices[ti]] = t.conflict }
        guard !byTable.isEmpty else { return write }
        let policies = byTable
        return { b throws(SinkError) in
            var b = b
            if let p = policies[b.table] { b.conflict = p }
            try write(b)
        }
    }
}
