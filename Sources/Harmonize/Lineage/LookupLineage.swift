/// One lookup made while computing an output row: a vocabulary function call or a `lookup` of a
/// mapping's table, with the key looked up and what was found. Recorded with `run --lineage` in
/// `harmonize_lineage_entry` / `harmonize_lineage_entry_set` (see docs/lineage.md).
public struct LookupUse: Sendable, Hashable {
    /// A call site: the function and its source, shared by every use the compiled call makes (so
    /// that noting a use copies no text).
    public final class Site: Sendable {
        /// The function: `standard_concept_id`, `source_concept_id`, `standard_domain`,
        /// `concept_domain` or `lookup`.
        public let function: String
        /// The vocabulary id (vocabulary functions) or the lookup table's name (`lookup`); empty
        /// for `concept_domain`.
        public let source: String

        /// Creates a site.
        public init(function: String, source: String) {
            self.function = function
            self.source = source
        }
    }

    /// The call site.
    public let site: Site
    /// The code or key looked up, as given to the function (several keys: their texts joined
    /// with `, `).
    public var keyValue: Value
    /// What was found; null for a miss.
    public var result: Value

    /// The function (see `Site.function`).
    public var function: String { site.function }
    /// The vocabulary id or the lookup table's name (see `Site.source`).
    public var source: String { site.source }
    /// The code or key looked up, as text.
    public var key: String {
        if case .string(let s) = keyValue { return s }
        return keyValue.description
    }

    /// Creates a use.
    public init(function: String, source: String, key: String, result: Value) {
        self.init(site: Site(function: function, source: source), key: .string(key), result: result)
    }

    /// Creates a use made at `site`.
    public init(site: Site, key: Value, result: Value) {
        self.site = site
        self.keyValue = key
        self.result = result
    }

    /// Same function, source, key and result (sites compared by identity first).
    public static func == (a: LookupUse, b: LookupUse) -> Bool {
        (a.site === b.site || (a.site.function == b.site.function && a.site.source == b.site.source)) && a.keyValue == b.keyValue
            && a.result == b.result
    }

    /// Hashes the key only (cheap; uses with one key rarely differ otherwise).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(keyValue)
    }

    /// The concept id the use gives: the result of a `*concept_id` function (0 when it found
    /// none), the concept looked up by `concept_domain`, an integer result of a `lookup`; nil
    /// otherwise.
    public var conceptID: Int? {
        if function.hasSuffix("concept_id") {
            if case .int(let i) = result { return i }
            return 0
        }
        if function == "concept_domain" { return Int(key) }
        if case .int(let i) = result { return i }
        return nil
    }

    /// The result as text (nil for a miss).
    public var resultText: String? {
        switch result {
        case .null: return nil
        case .string(let s): return s
        default: return result.description
        }
    }
}

/// One output row's lookup, as carried by a `RowBatch`: the row (index in the batch), the column
/// (index in the table) and the use.
public struct RowLookup: Sendable, Hashable {
    /// Row index in the batch.
    public var row: Int32
    /// Column index in the table.
    public var column: Int32
    /// The lookup.
    public var use: LookupUse

    /// Creates a row lookup.
    public init(row: Int32, column: Int32, use: LookupUse) {
        self.row = row
        self.column = column
        self.use = use
    }
}

/// The scratch list of the lookups made while evaluating one record, owned by the executor and
/// attached to its frame only when the run records lineage. Not thread-safe (one frame, one
/// thread).
final class LookupTrace {
    var uses: [LookupUse] = []

    @inline(__always)
    func note(_ site: LookupUse.Site, _ key: Value, _ result: Value) {
        uses.append(LookupUse(site: site, key: key, result: result))
    }

    func note(_ site: LookupUse.Site, keys: [Value], _ result: Value) {
        let text = keys.map { k -> String in
            if case .string(let s) = k { return s }
            return k.description
        }.joined(separator: ", ")
        uses.append(LookupUse(site: site, key: .string(text), result: result))
    }
}

@available(*, unavailable)
extension LookupTrace: Sendable {}

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
        // Named values read by each named value, transitively (a named value sees the earlier ones).
        var reads: [Set<Int>] = []
        for (i, l) in lets.enumerated() {
            var set: Set<Int> = []
            for id in l.expression.referencedIdentifiers {
                if let j = names[0..<i].lastIndex(of: id) { set.insert(j); set.formUnion(reads[j]) }
            }
            reads.append(set)
        }
        let letCalls = lets.map { calls($0.expression) }
        var any = false
        columns = plan.targets.map { t in
            t.columns.map { e -> [Int]? in
                guard let e else { return nil }
                var used: Set<Int> = []
                for id in e.referencedIdentifiers {
                    if let j = names.lastIndex(of: id) { used.insert(j); used.formUnion(reads[j]) }
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
