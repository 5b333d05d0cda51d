/// Which lookups each column of a plan's targets uses, decided once per plan: a column uses the
/// lookups its own expression makes and those of the named values (`let:`) it reads, directly
/// or through other named values. Columns and named values that call no lookup function are
/// skipped at run time.
final class LookupLineagePlan {
    /// Per target and column: the named values (indices) whose lookups the column uses, or nil
    /// when the column uses none (neither itself nor through named values).
    let columns: [[[Int]?]]

    /// Functions whose calls are recorded (`lookup` and the vocabulary functions).
    static let functions: Set<String> = FunctionRegistry.vocabularyFunctionNames.union(["lookup"])

    /// Nil when the plan calls no lookup function anywhere in its named values and columns.
    init?(_ plan: MappingPlan) {
        let lets = plan.lets
        let names = lets.map(\.name)
        func calls(_ e: CompiledExpression) -> Bool { e.functionsUsed.contains { Self.functions.contains($0) } }
        let reads = plan.transitiveLetReads
        let letCalls = lets.map { calls($0.expression) }
        var any = false
        columns = plan.targets.map { t in
            t.columns.map { e -> [Int]? in
                guard let e else { return nil }
                var used: Set<Int> = []
                for id in e.referencedIdentifiers {
                    if let j = names.lastIndex(of: id) {
                        used.insert(j)
                        used.formUnion(reads[j])
                    }
                }
                let viaLets = used.filter { letCalls[$0] }.sorted()
                guard calls(e) || !viaLets.isEmpty else { return nil }
                any = true
                return viaLets
            }
        }
        if !any { return nil }
    }

    /// Appends the lookups a column used for row `row`: those of the named values `viaLets`
    /// (their ranges in `trace` are `lets`), then its own (`own`); each distinct use once.
    @inline(__always)
    static func collect(
        column: Int, own: Range<Int>, viaLets: [Int], lets: [Range<Int>], trace: LookupTrace, row: Int32, into out: inout [RowLookup]
    ) {
        let first = out.count
        func add(_ u: LookupUse) {
            for k in first..<out.count where out[k].use == u { return }
            out.append(RowLookup(row: row, column: Int32(column), use: u))
        }
        for l in viaLets where l < lets.count {
            for k in lets[l] { add(trace.uses[k]) }
        }
        for k in own { add(trace.uses[k]) }
    }
}

extension MappingPlan {
    /// The named values each named value reads, transitively, by index in `lets` (a named value
    /// sees the earlier ones only).
    var transitiveLetReads: [Set<Int>] {
        let names = lets.map(\.name)
        var reads: [Set<Int>] = []
        for (i, l) in lets.enumerated() {
            var set: Set<Int> = []
            for id in l.expression.referencedIdentifiers {
                if let j = names[0..<i].lastIndex(of: id) {
                    set.insert(j)
                    set.formUnion(reads[j])
                }
            }
            reads.append(set)
        }
        return reads
    }
}
