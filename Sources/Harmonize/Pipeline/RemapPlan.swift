/// How `harmonize-run remap` recomputes the rows of one mapping from their lineage, decided once
/// from the mapping's expressions (nothing is read).
///
/// A value depends on the vocabulary when its expression calls a vocabulary function
/// (`standard_concept_id`, `source_concept_id`, `standard_domain`, `concept_domain`), directly or
/// through the named values it reads. Such an expression is rewritten: the code argument of each
/// vocabulary call that reads source fields is replaced by a *slot*, whose value for a row is the
/// code its lineage recorded for that vocabulary (`harmonize_lineage_entry.code`). The rewritten
/// expression must then compile without any source field: it depends only on the recorded codes
/// and the new vocabulary, and is evaluated with the new store. An expression that still needs a
/// source field (outside the code of a vocabulary call) cannot be recomputed without reading the
/// sources, and the mapping is refused (`remapUnsupported`), naming the column.
///
/// Within one target, each vocabulary must be looked up with one code expression (the recorded
/// entries name the vocabulary and the code, not the call), so that a recorded code binds one
/// slot.
final class RemapPlan {
    /// The mapping.
    let plan: MappingPlan
    /// Per slot: the vocabulary id its calls name (empty for `concept_domain`, whose code is a
    /// concept id).
    let slotSources: [String]
    /// Per slot: the code expression it stands for (text, for messages).
    let slotTexts: [String]
    /// Per named value of the plan: the rewritten expression, or nil when it reads source fields
    /// (then no rewritten expression may read it).
    let lets: [CompiledExpression?]
    /// Per named value: the named values it reads, transitively (for the lookups a column used).
    let letReads: [Set<Int>]
    /// Per named value: the code slots it reads, directly or through other named values.
    let letSlots: [Set<Int>]
    /// The targets, in the plan's order.
    let targets: [Target]
    /// The call sites of the rewritten expressions.
    let callSites: CallSites

    /// One target of the mapping.
    struct Target {
        /// The table.
        let table: TargetTable
        /// The rewritten filter when the target's filter depends on the vocabulary (the row may
        /// move); nil when it does not (whether the record writes a row here is unchanged).
        let filter: CompiledExpression?
        /// Per table column.
        let columns: [Column]
        /// The slot of each vocabulary the target's dependent values use.
        let slotBySource: [String: Int]
        /// The slots the dependent filter reads.
        let filterSlots: Set<Int>
        /// Named values the dependent filter reads, transitively.
        let filterLets: Set<Int>
        /// Whether any column or the filter depends on the vocabulary.
        var dependsOnVocabulary: Bool {
            filter != nil || columns.contains { if case .recomputed = $0 { return true } else { return false } }
        }
    }

    /// How one column of a target gets its value in a remap.
    enum Column {
        /// No rule: null.
        case none
        /// Independent of the vocabulary: the stored value stays. `rule` is the rule's text (a
        /// moved row takes the value of the old row's column with the same rule), `constant` its
        /// value when it reads nothing.
        case kept(rule: String, constant: Value?)
        /// Recomputed with the new vocabulary; `lets` are the named values it reads
        /// (transitively), `slots` the slots.
        case recomputed(CompiledExpression, lets: Set<Int>, slots: Set<Int>)
    }

    /// The frame slot of named value `i`.
    func letSlot(_ i: Int) -> Int { frameSlotBase + i }

    /// Whether any target depends on the vocabulary (else the mapping's rows never change).
    var dependsOnVocabulary: Bool { targets.contains(where: \.dependsOnVocabulary) }

    /// Why a mapping cannot be remapped.
    struct Unsupported: Error {
        let message: String
    }

    /// Plans the remap of `plan`, compiling with `functions` (bound to the new vocabulary).
    /// - Throws: `Unsupported` naming the column or rule that cannot be recomputed from the
    ///   lineage.
    init(_ plan: MappingPlan, functions: FunctionRegistry) throws(Unsupported) {
        self.plan = plan
        let vocabularyFunctions = FunctionRegistry.vocabularyFunctionNames
        func callsVocabulary(_ e: CompiledExpression) -> Bool { e.functionsUsed.contains { vocabularyFunctions.contains($0) } }
        let names = plan.lets.map(\.name)
        // Which named values depend on the vocabulary (in the original plan).
        var letDepends: [Bool] = []
        let reads = plan.transitiveLetReads
        for (i, l) in plan.lets.enumerated() {
            letDepends.append(callsVocabulary(l.expression) || reads[i].contains { letDepends[$0] })
        }
        letReads = reads
        func depends(_ e: CompiledExpression) -> Bool {
            if callsVocabulary(e) { return true }
            return e.referencedIdentifiers.contains { id in names.lastIndex(of: id).map { letDepends[$0] } ?? false }
        }
        func letsRead(_ e: CompiledExpression) -> Set<Int> {
            var out: Set<Int> = []
            for id in e.referencedIdentifiers {
                if let j = names.lastIndex(of: id) {
                    out.insert(j)
                    out.formUnion(reads[j])
                }
            }
            return out
        }
        let mappingName = "mapping \(plan.id) (\(plan.spec.file))"
        // What a remap cannot redo: records filtered, grouped or attributed by the vocabulary.
        if let f = plan.filter, depends(f) {
            throw Unsupported(
                message: "\(mappingName): its record filter depends on the vocabulary (records it dropped are not in the lineage); rerun it")
        }
        // A grouping is redone only when the groups themselves do not depend on the vocabulary
        // (its rows are then recomputed from their recorded codes like any other).
        if let g = plan.group,
            g.by.contains(where: depends) || g.aggregates.contains(where: { $0.argument.map(depends) ?? false })
                || g.having.map(depends) ?? false
        {
            throw Unsupported(message: "\(mappingName): its groups (group: by, aggregate, having) depend on the vocabulary; rerun it")
        }
        for t in plan.targets where t.conflict != ConflictPolicy.insert {
            if t.columns.contains(where: { $0.map(depends) ?? false }) || t.filter.map(depends) ?? false {
                throw Unsupported(
                    message:
                        "\(mappingName): table \(t.table.name) merges records (on_conflict: update) and a value depends on the vocabulary; rerun it")
            }
        }

        // The rewritten named values and expressions share one scope: code slots, then the named
        // values that read no source field once their vocabulary codes are slots.
        let table = CallSiteTable()
        var slotKeys: [String: Int] = [:]
        var sources: [String] = []
        var texts: [String] = []
        var visible: [String: ExpressionBinding] = [:]
        var rewrittenLets: [CompiledExpression?] = []
        var letSlotsUsed: [Set<Int>] = []
        func slot(source: String, text: String) -> Int {
            let key = source + "\u{0}" + text
            if let s = slotKeys[key] { return s }
            let s = sources.count
            slotKeys[key] = s
            sources.append(source)
            texts.append(text)
            return s
        }
        // The slot count is known only at the end; bindings of slots use their index, named
        // values are placed after a bound on the number of slots (below) and rebased then.
        let maxSlots = 64
        func compile(_ text: String, line: Int, expected: ValueType?) -> (CompiledExpression, Set<Int>)? {
            guard let rewritten = Rewriter.rewrite(text, visible: Set(visible.keys), slot: slot) else { return nil }
            var bindings = visible
            for s in rewritten.slots { bindings[RemapPlan.slotName(s)] = ExpressionBinding(slot: s, type: .any) }
            guard rewritten.slots.allSatisfy({ $0 < maxSlots }) else { return nil }
            let compiler = ExpressionCompiler(functions: functions, scope: RemapScope(bindings: bindings), lookups: nil, callSites: table)
            guard case .success(let e) = compiler.compile(rewritten.text, file: plan.spec.file, line: line, column: 1, expected: expected) else {
                return nil
            }
            return (e, rewritten.slots)
        }
        for (i, l) in plan.lets.enumerated() {
            if let compiled = compile(l.expression.source, line: 1, expected: nil) {
                let e = compiled.0
                rewrittenLets.append(e)
                var all = compiled.1
                for j in reads[i] { all.formUnion(letSlotsUsed[j]) }
                letSlotsUsed.append(all)
                visible[l.name] = ExpressionBinding(slot: maxSlots + i, type: e.type)
            } else {
                rewrittenLets.append(nil)
                letSlotsUsed.append([])
                visible.removeValue(forKey: l.name)  // the name now means this value, which needs the sources
            }
        }
        var targets: [Target] = []
        for (ti, t) in plan.targets.enumerated() {
            var columns: [Column] = []
            var usedSlots: Set<Int> = []
            for (ci, e) in t.columns.enumerated() {
                guard let e else {
                    columns.append(.none)
                    continue
                }
                guard depends(e) else {
                    columns.append(.kept(rule: e.source, constant: e.constantValue))
                    continue
                }
                guard let compiled = compile(e.source, line: t.ruleLines[ci] ?? 1, expected: t.table.columns[ci].type.valueType) else {
                    throw Unsupported(
                        message:
                            "\(mappingName): column \(t.table.name).\(t.table.columns[ci].name) depends on the vocabulary and on source values other than the codes its lineage records (rule: \(e.source)); rerun it"
                    )
                }
                let r = compiled.0
                let lets = letsRead(r)
                var all = compiled.1
                for j in lets { all.formUnion(letSlotsUsed[j]) }
                usedSlots.formUnion(all)
                columns.append(.recomputed(r, lets: lets, slots: all))
            }
            var filter: CompiledExpression?
            var filterSlots: Set<Int> = []
            var filterLets: Set<Int> = []
            if let f = t.filter, depends(f) {
                guard let compiled = compile(f.source, line: 1, expected: .boolean) else {
                    throw Unsupported(
                        message:
                            "\(mappingName): the filter of its target \(ti + 1) (\(t.table.name)) depends on the vocabulary and on source values other than the codes its lineage records (filter: \(f.source)); rerun it"
                    )
                }
                filter = compiled.0
                filterLets = letsRead(compiled.0)
                filterSlots = compiled.1
                for j in filterLets { filterSlots.formUnion(letSlotsUsed[j]) }
                usedSlots.formUnion(filterSlots)
            }
            var bySource: [String: Int] = [:]
            for s in usedSlots.sorted() {
                if let other = bySource[sources[s]], other != s {
                    throw Unsupported(
                        message:
                            "\(mappingName): table \(t.table.name) looks vocabulary '\(sources[s])' up with two code expressions (\(texts[other]), \(texts[s])); its lineage records codes per vocabulary, not per call; rerun it"
                    )
                }
                bySource[sources[s]] = s
            }
            targets.append(
                Target(table: t.table, filter: filter, columns: columns, slotBySource: bySource, filterSlots: filterSlots, filterLets: filterLets))
        }
        slotSources = sources
        slotTexts = texts
        self.targets = targets
        // Named values were bound after `maxSlots` code slots: the frame has that many.
        lets = rewrittenLets
        letSlots = letSlotsUsed
        callSites = table.snapshot
        frameSlotBase = maxSlots
    }

    /// Where named values start in the frame (a fixed bound on the code slots).
    let frameSlotBase: Int

    /// The frame size: `frameSlotBase` code slots, then the named values.
    var frameSize: Int { frameSlotBase + lets.count }

    /// The identifier of code slot `s` in rewritten expressions.
    static func slotName(_ s: Int) -> String { "__remap_code_\(s)" }
}

@available(*, unavailable)
extension RemapPlan: Sendable {}

/// The scope of rewritten expressions: code slots and the named values that need no source.
private struct RemapScope: ExpressionScope {
    let bindings: [String: ExpressionBinding]
    func binding(for identifier: String) -> ExpressionBinding? { bindings[identifier] }
    var knownIdentifiers: [String] { bindings.keys.sorted() }
}

/// Replaces the code argument of each vocabulary call that reads source values by a slot
/// identifier (text edits at the parsed argument's byte range).
private enum Rewriter {
    struct Result {
        let text: String
        let slots: Set<Int>
    }

    /// Nil when the text does not parse, or a code argument reading the sources itself calls a
    /// vocabulary function.
    static func rewrite(_ text: String, visible: Set<String>, slot: (String, String) -> Int) -> Result? {
        guard case .success(let root) = Parser.parse(text) else { return nil }
        let bytes = Array(text.utf8)
        var edits: [(start: Int, end: Int, slot: Int)] = []
        var failed = false
        func isVocabularyCall(_ n: ExpressionNode) -> Bool {
            if case .call(let name, _, _) = n { return FunctionRegistry.vocabularyFunctionNames.contains(name.lowercased()) }
            return false
        }
        // Source values read outside the code arguments of vocabulary calls (those become slots,
        // or are rewritten in turn).
        func readsSource(_ n: ExpressionNode) -> Bool {
            if case .identifier(let name, _) = n { return !visible.contains(name) }
            if isVocabularyCall(n) { return false }
            return children(n).contains(where: readsSource)
        }
        func callsVocabulary(_ n: ExpressionNode) -> Bool {
            if case .call(let name, _, _) = n, FunctionRegistry.vocabularyFunctionNames.contains(name.lowercased()) { return true }
            return children(n).contains(where: callsVocabulary)
        }
        func walk(_ n: ExpressionNode) {
            if case .call(let name, let args, _) = n, FunctionRegistry.vocabularyFunctionNames.contains(name.lowercased()), let code = args.last {
                var source = ""
                if args.count == 2 {
                    guard case .literal(.string(let v), _) = args[0] else {
                        failed = true
                        return
                    }
                    source = v
                }
                if readsSource(code) {
                    if callsVocabulary(code) {
                        failed = true
                        return
                    }
                    let start = code.startOffset
                    guard let end = argumentEnd(bytes, from: start) else {
                        failed = true
                        return
                    }
                    let argText = String(decoding: bytes[start..<end], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    edits.append((start, end, slot(source, argText)))
                    return
                }
            }
            for c in children(n) { walk(c) }
        }
        walk(root)
        if failed { return nil }
        var out = bytes
        for e in edits.sorted(by: { $0.start > $1.start }) {
            out.replaceSubrange(e.start..<e.end, with: Array(RemapPlan.slotName(e.slot).utf8))
        }
        return Result(text: String(decoding: out, as: UTF8.self), slots: Set(edits.map(\.slot)))
    }

    /// The end (exclusive) of a call argument starting at `start`: the `,` or `)` that closes it
    /// at depth 0, skipping quoted texts and back-quoted names.
    static func argumentEnd(_ b: [UInt8], from start: Int) -> Int? {
        var i = start
        var depth = 0
        while i < b.count {
            let c = b[i]
            switch c {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                i += 1
                while i < b.count, b[i] != c {
                    if b[i] == UInt8(ascii: "\\") { i += 1 }
                    i += 1
                }
            case UInt8(ascii: "`"):
                i += 1
                while i < b.count, b[i] != UInt8(ascii: "`") { i += 1 }
            case UInt8(ascii: "("): depth += 1
            case UInt8(ascii: ")"):
                if depth == 0 { return i }
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 0 { return i }
            default: break
            }
            i += 1
        }
        return nil
    }

    static func children(_ n: ExpressionNode) -> [ExpressionNode] {
        switch n {
        case .literal, .identifier: return []
        case .unary(_, let a, _): return [a]
        case .binary(_, let a, let b, _): return [a, b]
        case .call(_, let args, _): return args
        case .conditional(let c, let a, let b, _): return [c, a] + (b.map { [$0] } ?? [])
        case .caseWhen(let subject, let branches, let otherwise, _):
            return (subject.map { [$0] } ?? []) + branches.flatMap { [$0.0, $0.1] } + (otherwise.map { [$0] } ?? [])
        case .inList(let x, let items, _, _): return [x] + items
        case .isNull(let x, _, _): return [x]
        }
    }
}
