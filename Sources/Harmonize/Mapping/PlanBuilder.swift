/// The phases of `MappingPlanner.plan`, one method each, sharing the mapping, the context and
/// the diagnostics found so far. Used once per mapping, from one thread.
final class PlanBuilder {
    let spec: MappingSpec
    let context: PlanningContext
    let file: String
    let mappingDir: String
    /// Every problem found so far, errors and warnings, in the order found.
    private(set) var diagnostics: [Diagnostic] = []

    init(spec: MappingSpec, context: PlanningContext) {
        self.spec = spec
        self.context = context
        self.file = spec.file
        self.mappingDir = MappingPlanner.directory(of: spec.file)
    }

    /// The expression compilers of a mapping: one for the records' fields (joins, subject,
    /// grouping keys), one for the body (named values, filter, targets), which reads the groups
    /// of a mapping with `group:`. Both share one call-site table (a run binds it once).
    final class Compilers {
        let callSites = CallSiteTable()
        let resolver: PlanLookupResolver
        let source: ExpressionCompiler
        var body: ExpressionCompiler

        init(context: PlanningContext, scope: PlanScope, lookups: [CSVLookupTable]) {
            resolver = PlanLookupResolver(tables: lookups)
            source = ExpressionCompiler(
                functions: context.functions, scope: scope, lookups: resolver, coverage: context.coverage, callSites: callSites)
            body = source
        }
    }

    func report(_ code: String, _ message: String, _ at: LocatedText?, notes: [String] = []) {
        diagnostics.append(Diagnostic(code: code, message: message, file: file, line: at?.line, column: at?.column, notes: notes))
    }

    private func warn(_ code: String, _ message: String, _ at: LocatedText) {
        diagnostics.append(Diagnostic(code: code, severity: .warning, message: message, file: file, line: at.line, column: at.column))
    }

    /// Diagnostics without a place are placed at the mapping's `source:`.
    private func addAtSource(_ list: [Diagnostic]) {
        for var d in list {
            if d.file == nil {
                d.file = file
                d.line = spec.source.position.line
                d.column = spec.source.position.column
            }
            diagnostics.append(d)
        }
    }

    func compile(_ t: LocatedText, expected: ValueType?, with compiler: ExpressionCompiler) -> CompiledExpression? {
        switch compiler.compile(t.text, file: file, line: t.line, column: t.column, expected: expected) {
        case .success(let e): return e
        case .failure(let f):
            diagnostics.append(contentsOf: f.diagnostics)
            return nil
        }
    }

    // MARK: model and source

    /// The mapping's target model (its `model:` file, or the context's default).
    func model() -> TargetModel {
        guard let m = spec.model else { return context.defaultModel }
        do {
            return try TargetModel.load(path: MappingPlanner.resolve(m.text, against: mappingDir))
        } catch {
            diagnostics.append(contentsOf: error.diagnostics)
            return context.defaultModel
        }
    }

    /// The source schema and dialect, with the run profile applied, and the schema's own problems.
    func source() -> (SourceSchema?, Dialect) {
        var dialect = spec.source.dialect
        var schema = loadSchema(spec.source.schema, of: "")
        if let profile = context.profile {
            dialect = profile.apply(to: dialect)
            if let s = schema { schema = profile.apply(to: s, table: spec.source.schema.tableName) }
        }
        if let s = schema { addAtSource(s.validate()) }
        return (schema, dialect)
    }

    /// The schema a source or a join names (inline, or a file beside the mapping); a file that
    /// cannot be read is reported (`of` says whose schema it is, for a join).
    private func loadSchema(_ reference: SchemaReference, of owner: String) -> SourceSchema? {
        switch reference {
        case .none: return nil
        case .inline(let s): return s
        case .file(let p):
            do {
                return try SourceSchema.load(jsonFile: MappingPlanner.resolve(p.text, against: mappingDir))
            } catch {
                report("HZ1025", "cannot read schema \(p.text)\(owner): \(error)", p)
                return nil
            }
        }
    }

    /// The names expressions may read: the schema's fields, or the declared columns; any name
    /// when the source declares neither.
    func sourceScope(schema: SourceSchema?, dialect: Dialect) -> PlanScope {
        var fieldInfos: [PlanScope.FieldInfo] = []
        if let s = schema {
            fieldInfos = s.fields.map { PlanScope.FieldInfo(name: $0.name, type: $0.type.valueType) }
        } else if let cols = dialect.columns {
            fieldInfos = cols.map { PlanScope.FieldInfo(name: $0, type: .string) }
        }
        return PlanScope(fields: fieldInfos, acceptsUnknownFields: schema == nil && dialect.columns == nil)
    }

    // MARK: lookups

    /// The declared lookup tables, each with its compiled `where:`.
    func lookups() -> [CSVLookupTable] {
        var lookups: [CSVLookupTable] = []
        for l in spec.lookups {
            if lookups.contains(where: { $0.spec.name.text == l.name.text }) {
                report("HZ1046", "lookup '\(l.name.text)' is declared twice", l.name)
                continue
            }
            let table = CSVLookupTable(spec: l)
            if let w = l.whereClause {
                let lscope = PlanScope(fields: [], acceptsUnknownFields: true)
                let compiler = ExpressionCompiler(functions: context.functions, scope: lscope, lookups: nil)
                switch compiler.compile(w.text, file: file, line: w.line, column: w.column, expected: .boolean) {
                case .success(let e): table.setWhere(e, slots: lscope.usedFields.map { ($0.name, $0.slot) }, slotCount: lscope.slotCount)
                case .failure(let f): diagnostics.append(contentsOf: f.diagnostics)
                }
            }
            lookups.append(table)
        }
        return lookups
    }

    // MARK: joins

    /// A join as planned before the expressions are compiled: the joined fields the mapping
    /// reads are known only at the end (`plannedJoins`).
    struct JoinPart {
        var spec: JoinSpec
        var schema: SourceSchema?
        var dialect: Dialect
        var keys: [FieldDecoder]
        var on: [CompiledExpression]
        var fields: PlanScope.JoinFields
        var whereClause: CompiledExpression?
        var whereFields: [(name: String, slot: Int, decoder: FieldDecoder)]
        var whereSlots: Int
    }

    /// The joins, in order: each key reads the driving record and the joins before it; each
    /// join's fields join the scope.
    func joins(scope: PlanScope, compilers: Compilers) -> [JoinPart] {
        var parts: [JoinPart] = []
        for j in spec.joins {
            if scope.isField(j.name.text) { warn("HZ1064", "join '\(j.name.text)' has the name of a source field", j.name) }
            var jschema = loadSchema(j.schema, of: " of join '\(j.name.text)'")
            var jdialect = j.dialect
            if let profile = context.profile {
                jdialect = profile.apply(to: jdialect)
                if let s = jschema { jschema = profile.apply(to: s, table: j.schema.tableName) }
            }
            let jfields: [PlanScope.FieldInfo] =
                jschema.map { $0.fields.map { PlanScope.FieldInfo(name: $0.name, type: $0.type.valueType) } }
                ?? (jdialect.columns ?? []).map { PlanScope.FieldInfo(name: $0, type: .string) }
            let acceptsAny = jschema == nil && jdialect.columns == nil
            var keyDecoders: [FieldDecoder] = []
            var on: [CompiledExpression] = []
            for (col, expr) in j.on {
                if let d = joinDecoder(col.text, at: col, join: j, schema: jschema, dialect: jdialect) { keyDecoders.append(d) }
                if let e = compile(expr, expected: nil, with: compilers.source) { on.append(e) }
            }
            var whereClause: CompiledExpression?
            var whereFields: [(name: String, slot: Int, decoder: FieldDecoder)] = []
            var whereSlots = 0
            if let w = j.whereClause {
                let wscope = PlanScope(fields: jfields, acceptsUnknownFields: acceptsAny)
                let wcompiler = ExpressionCompiler(
                    functions: context.functions, scope: wscope, lookups: compilers.resolver, callSites: compilers.callSites)
                switch wcompiler.compile(w.text, file: file, line: w.line, column: w.column, expected: .boolean) {
                case .success(let e):
                    whereClause = e
                    for u in wscope.usedFields {
                        if let d = joinDecoder(u.name, at: w, join: j, schema: jschema, dialect: jdialect) { whereFields.append((u.name, u.slot, d)) }
                    }
                    whereSlots = wscope.slotCount
                case .failure(let f): diagnostics.append(contentsOf: f.diagnostics)
                }
            }
            let fields = PlanScope.JoinFields(name: j.name.text, fields: jfields, acceptsUnknownFields: acceptsAny)
            scope.addJoin(fields)
            parts.append(
                JoinPart(
                    spec: j, schema: jschema, dialect: jdialect, keys: keyDecoders, on: on, fields: fields, whereClause: whereClause,
                    whereFields: whereFields, whereSlots: whereSlots))
        }
        return parts
    }

    private func joinDecoder(_ name: String, at: LocatedText, join j: JoinSpec, schema: SourceSchema?, dialect: Dialect) -> FieldDecoder? {
        do {
            if let s = schema {
                guard let sf = s.fields.first(where: { $0.name == name }) else {
                    let sug = Suggestion.closest(to: name, in: s.fields.map(\.name))
                    report(
                        "HZ1063", "join '\(j.name.text)': its schema has no field '\(name)'", at, notes: sug.map { ["did you mean '\($0)'?"] } ?? [])
                    return nil
                }
                return try FieldDecoder(field: sf, in: s)
            }
            if let cols = dialect.columns, !cols.contains(name) {
                report("HZ1063", "join '\(j.name.text)': no column '\(name)' among its declared columns", at)
                return nil
            }
            return try FieldDecoder(type: .string, name: name)
        } catch {
            diagnostics.append(
                contentsOf: error.diagnostics.map {
                    var d = $0
                    d.file = d.file ?? file
                    d.line = d.line ?? at.line
                    return d
                })
            return nil
        }
    }

    /// The joins with the joined fields the mapping reads, now that every expression is compiled.
    func plannedJoins(_ parts: [JoinPart]) -> [PlannedJoin] {
        var joins: [PlannedJoin] = []
        for part in parts {
            var payload: [(name: String, slot: Int, decoder: FieldDecoder)] = []
            for u in part.fields.used {
                let at = part.spec.name
                do {
                    if let s = part.schema, let sf = s.fields.first(where: { $0.name == u.name }) {
                        payload.append((u.name, u.slot, try FieldDecoder(field: sf, in: s)))
                    } else {
                        payload.append((u.name, u.slot, try FieldDecoder(type: .string, name: u.name)))
                    }
                } catch {
                    report("HZ1063", "join '\(at.text)': field '\(u.name)' cannot be decoded", at)
                }
            }
            joins.append(
                PlannedJoin(
                    spec: part.spec, mapping: spec.id, schema: part.schema, dialect: part.dialect, keyColumns: part.spec.on.map(\.column.text),
                    keyDecoders: part.keys, on: part.on, payload: payload, whereClause: part.whereClause, whereFields: part.whereFields,
                    whereSlotCount: part.whereSlots))
        }
        return joins
    }

    // MARK: group

    /// Grouping: keys, aggregate arguments and the record filter read the records; named values,
    /// the group filter and the targets read the groups (the body compiler switches to them).
    /// Returns the group, the scope of the body, and the record filter of a grouped mapping.
    func group(scope: PlanScope, compilers: Compilers) -> (PlannedGroup?, PlanScope, CompiledExpression?) {
        guard let g = spec.group else { return (nil, scope, nil) }
        let preFilter = spec.filter.flatMap { compile($0, expected: .boolean, with: compilers.source) }
        var by: [CompiledExpression] = []
        var infos: [PlanScope.FieldInfo] = []
        for (name, expr) in g.by {
            if infos.contains(where: { $0.name == name.text }) { report("HZ1067", "group name '\(name.text)' is used twice", name) }
            if let e = compile(expr, expected: nil, with: compilers.source) {
                by.append(e)
                infos.append(PlanScope.FieldInfo(name: name.text, type: e.type))
            }
        }
        var aggregates: [(function: AggregateFunction, argument: CompiledExpression?)] = []
        for a in g.aggregates {
            if infos.contains(where: { $0.name == a.name.text }) { report("HZ1067", "group name '\(a.name.text)' is used twice", a.name) }
            let fn = AggregateFunction(rawValue: a.function) ?? .count
            let arg = a.argument.flatMap { compile($0, expected: nil, with: compilers.source) }
            if a.argument != nil, arg == nil { continue }
            if fn == .sum, let t = arg?.type, t != .integer, t != .number, t != .any {
                report("HZ1068", "sum(…) of '\(a.name.text)' needs a number, not \(t.rawValue)", a.argument)
            }
            aggregates.append((fn, arg))
            infos.append(PlanScope.FieldInfo(name: a.name.text, type: fn.resultType(arg?.type)))
        }
        let post = PlanScope(fields: infos, acceptsUnknownFields: false)
        compilers.body = ExpressionCompiler(
            functions: context.functions, scope: post, lookups: compilers.resolver, coverage: context.coverage, callSites: compilers.callSites)
        let group = PlannedGroup(
            names: infos.map(\.name), by: by, aggregates: aggregates,
            having: g.having.flatMap { compile($0, expected: .boolean, with: compilers.body) }, scope: post)
        return (group, post, preFilter)
    }

    // MARK: named values

    /// Named values, in order; each may read the ones before it.
    func lets(scope: PlanScope, compilers: Compilers) -> [PlannedLet] {
        var lets: [PlannedLet] = []
        for (name, expr) in spec.lets {
            if scope.isField(name.text) { warn("HZ1050", "named value '\(name.text)' hides the source field of the same name", name) }
            guard let e = compile(expr, expected: nil, with: compilers.body) else { continue }
            guard let slot = scope.declareLet(name.text, type: e.type) else {
                report("HZ1051", "named value '\(name.text)' is declared twice", name)
                continue
            }
            lets.append(PlannedLet(name: name.text, slot: slot, expression: e))
        }
        return lets
    }

    // MARK: targets

    /// The target tables, each column's expression compiled against the column's type, with the
    /// target's conflict policy.
    func targets(model: TargetModel, compilers: Compilers) -> [PlannedTarget] {
        var targets: [PlannedTarget] = []
        var seenTables: Set<String> = []
        for t in spec.targets {
            guard let table = model.table(named: t.table.text) else {
                let s = Suggestion.closest(to: t.table.text, in: model.tables.map(\.name))
                report(
                    "HZ1201", "unknown target table '\(t.table.text)' in model \(model.name) \(model.version)", t.table,
                    notes: s.map { ["did you mean '\($0)'?"] } ?? [])
                continue
            }
            // A second target of a table with its own filter is a deliberate second row (SNDS DP/DR).
            if !seenTables.insert(table.name).inserted && t.filter == nil {
                warn("HZ1205", "table '\(table.name)' is targeted twice by this mapping without a filter on the repeated target", t.table)
            }
            var columns = [CompiledExpression?](repeating: nil, count: table.columns.count)
            var lines = [Int?](repeating: nil, count: table.columns.count)
            for (column, expr) in t.fields {
                guard let ci = table.columnIndex(named: column.text) else {
                    let s = Suggestion.closest(to: column.text, in: table.columns.map(\.name))
                    report("HZ1202", "table '\(table.name)' has no column '\(column.text)'", column, notes: s.map { ["did you mean '\($0)'?"] } ?? [])
                    _ = compile(expr, expected: nil, with: compilers.body)
                    continue
                }
                columns[ci] = compile(expr, expected: table.columns[ci].type.valueType, with: compilers.body)
                lines[ci] = expr.line
            }
            for c in table.columns where c.isRequired && !t.fields.contains(where: { $0.column.text.lowercased() == c.name.lowercased() }) {
                report("HZ1203", "required column '\(c.name)' of table '\(table.name)' has no expression", t.table)
            }
            var planned = PlannedTarget(
                table: table, filter: t.filter.flatMap { compile($0, expected: .boolean, with: compilers.body) }, columns: columns, ruleLines: lines)
            let (policy, conflictProblems) = ConflictPlanning.policy(t, table: table, mapped: columns.map { $0 != nil })
            for p in conflictProblems { report(p.code, p.message, p.at, notes: p.notes) }
            if targets.contains(where: { $0.table.name == table.name && $0.conflict != policy }) {
                report("HZ1210", "table '\(table.name)' is targeted twice with different on_conflict/update", t.onConflict ?? t.table)
            }
            planned.conflict = policy
            targets.append(planned)
        }
        return targets
    }

    // MARK: fields

    /// The source fields to decode (those the expressions read), and with `validate: all` the
    /// other fields of the schema, decoded only to be checked.
    func fields(scope: PlanScope, schema: SourceSchema?) -> (read: [PlannedField], validatedOnly: [PlannedField]) {
        var fields: [PlannedField] = []
        var validatedOnly: [PlannedField] = []
        let overrideMissing = schema?.missingValues ?? [""]
        func decoder(for name: String) -> FieldDecoder? {
            do {
                if let s = schema, let sf = s.fields.first(where: { $0.name == name }) {
                    return try FieldDecoder(field: sf, in: s)
                }
                return try FieldDecoder(type: .string, missingValues: overrideMissing, name: name)
            } catch {
                addAtSource(error.diagnostics)
                return nil
            }
        }
        for u in scope.usedFields {
            guard let decoder = decoder(for: u.name) else { continue }
            fields.append(PlannedField(name: u.name, slot: u.slot, type: u.type, decoder: decoder))
        }
        if spec.source.validateAllFields, let s = schema {
            for sf in s.fields where !fields.contains(where: { $0.name == sf.name }) {
                guard let decoder = decoder(for: sf.name) else { continue }
                validatedOnly.append(PlannedField(name: sf.name, slot: -1, type: sf.type.valueType, decoder: decoder))
            }
        }
        return (fields, validatedOnly)
    }
}

@available(*, unavailable)
extension PlanBuilder: Sendable {}
