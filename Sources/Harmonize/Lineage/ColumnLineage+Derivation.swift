extension ColumnLineage {
    /// Functions whose result hides their argument (the OpenLineage `masking` flag).
    static let maskingFunctions: Set<String> = ["pseudonym", "pseudonym_int", "date_shift"]

    /// The column lineage of every target of `plan`, in target order.
    public static func derive(from plan: MappingPlan) -> [ColumnLineage] {
        var analyzer = Analyzer(lets: plan.lets.map { ($0.name, $0.expression.source) }, joins: Set(plan.joins.map(\.name)))
        var recordFilter: [Input] = []
        // Join keys are compiled before the named values: they read source fields (and earlier joins).
        for j in plan.joins {
            for key in j.on {
                recordFilter += analyzer.inputs(of: key.source, visibleLets: 0).map {
                    $0.join == nil ? ColumnLineage.Input(field: $0.field, kind: .join, join: j.name) : $0
                }
            }
        }
        if let f = plan.filter { recordFilter = analyzer.inputs(of: f.source, visibleLets: plan.lets.count).map(\.asFilter) }
        return plan.targets.map { t in
            var columns: [Column] = []
            for (i, c) in t.table.columns.enumerated() {
                guard let e = t.columns[i] else { continue }
                let line = i < t.ruleLines.count ? t.ruleLines[i] : nil
                columns.append(
                    Column(column: c.name, line: line, rule: e.source, inputs: analyzer.inputs(of: e.source, visibleLets: plan.lets.count)))
            }
            var filters = recordFilter
            if let f = t.filter { filters += analyzer.inputs(of: f.source, visibleLets: plan.lets.count).map(\.asFilter) }
            return ColumnLineage(table: t.table.name, columns: columns, filters: unique(filters))
        }
    }

    static func unique(_ inputs: [Input]) -> [Input] {
        var seen: Set<Input> = []
        return inputs.filter { seen.insert($0).inserted }
    }

    /// `outer ∘ inner`: a lookup anywhere makes a lookup; identity only when both are identity.
    static func compose(_ outer: Kind, _ inner: Kind) -> Kind {
        if outer == .lookup || inner == .lookup { return .lookup }
        if outer == .identity && inner == .identity { return .identity }
        if outer == .join || inner == .join { return .join }
        return .transformation
    }

    /// Walks expression trees; memoizes the inputs of each named value.
    struct Analyzer {
        let lets: [(name: String, source: String)]
        let joins: Set<String>
        var memo: [Int: [Input]] = [:]

        init(lets: [(String, String)], joins: Set<String> = []) {
            self.lets = lets.map { (name: $0.0, source: $0.1) }
            self.joins = joins
        }

        /// Inputs of an expression that sees the first `visibleLets` named values.
        mutating func inputs(of source: String, visibleLets: Int) -> [Input] {
            guard case .success(let node) = Parser.parse(source) else { return [] }
            var out: [Input] = []
            walk(node, top: true, lookup: nil, masked: false, visibleLets: visibleLets, into: &out, depth: 0)
            return ColumnLineage.unique(out)
        }

        mutating func letInputs(_ index: Int, depth: Int) -> [Input] {
            if let m = memo[index] { return m }
            guard depth < 64, case .success(let node) = Parser.parse(lets[index].source) else { return [] }
            var out: [Input] = []
            // A named value sees only the ones declared before it.
            walk(node, top: true, lookup: nil, masked: false, visibleLets: index, into: &out, depth: depth + 1)
            let r = ColumnLineage.unique(out)
            memo[index] = r
            return r
        }

        mutating func walk(_ node: ExpressionNode, top: Bool, lookup: String?, masked: Bool, visibleLets: Int, into out: inout [Input], depth: Int) {
            switch node {
            case .literal:
                return
            case .identifier(let name, _):
                let kind: Kind = lookup != nil ? .lookup : (top ? .identity : .transformation)
                if let li = lets[0..<min(visibleLets, lets.count)].lastIndex(where: { $0.name == name }) {
                    for inner in letInputs(li, depth: depth) {
                        let k = ColumnLineage.compose(kind, inner.kind)
                        let m = masked || inner.masked == true
                        out.append(
                            Input(
                                field: inner.field, kind: k, lookup: k == .lookup ? (lookup ?? inner.lookup) : nil, masked: m ? true : nil,
                                join: inner.join))
                    }
                } else if let dot = name.firstIndex(of: "."), joins.contains(String(name[..<dot])) {
                    // `join.FIELD`: a column of the joined file.
                    out.append(
                        Input(
                            field: String(name[name.index(after: dot)...]), kind: kind, lookup: lookup, masked: masked ? true : nil,
                            join: String(name[..<dot])))
                } else {
                    out.append(Input(field: name, kind: kind, lookup: lookup, masked: masked ? true : nil))
                }
            case .call(let name, let args, _):
                let lower = name.lowercased()
                if lower == "lookup", case .literal(.string(let table), _)? = args.first {
                    for a in args.dropFirst() {
                        walk(a, top: false, lookup: table, masked: masked, visibleLets: visibleLets, into: &out, depth: depth)
                    }
                } else {
                    let m = masked || ColumnLineage.maskingFunctions.contains(lower)
                    for a in args { walk(a, top: false, lookup: lookup, masked: m, visibleLets: visibleLets, into: &out, depth: depth) }
                }
            case .unary(_, let x, _), .isNull(let x, _, _):
                walk(x, top: false, lookup: lookup, masked: masked, visibleLets: visibleLets, into: &out, depth: depth)
            case .binary(_, let l, let r, _):
                walk(l, top: false, lookup: lookup, masked: masked, visibleLets: visibleLets, into: &out, depth: depth)
                walk(r, top: false, lookup: lookup, masked: masked, visibleLets: visibleLets, into: &out, depth: depth)
            case .conditional(let c, let a, let b, _):
                for n in [c, a] + (b.map { [$0] } ?? []) {
                    walk(n, top: false, lookup: lookup, masked: masked, visibleLets: visibleLets, into: &out, depth: depth)
                }
            case .caseWhen(let subject, let branches, let otherwise, _):
                var nodes: [ExpressionNode] = subject.map { [$0] } ?? []
                for b in branches { nodes += [b.0, b.1] }
                if let otherwise { nodes.append(otherwise) }
                for n in nodes { walk(n, top: false, lookup: lookup, masked: masked, visibleLets: visibleLets, into: &out, depth: depth) }
            case .inList(let x, let items, _, _):
                for n in [x] + items { walk(n, top: false, lookup: lookup, masked: masked, visibleLets: visibleLets, into: &out, depth: depth) }
            }
        }
    }
}

extension ColumnLineage.Input {
    var asFilter: ColumnLineage.Input { .init(field: field, kind: .filter, lookup: nil, masked: nil, join: join) }
}
