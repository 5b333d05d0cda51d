/// What the planner needs besides the mapping: the default target model, the function library and
/// a way to read model and schema files that mappings name.
public struct PlanningContext {
    /// The model used by mappings that do not name one.
    public var defaultModel: TargetModel
    /// Functions available to expressions.
    public var functions: FunctionRegistry
    /// Dialect and schema overrides from a run profile, applied to every mapping's source.
    public var profile: RunProfile?
    /// When set, the `if`/`case` branches of the mapping's expressions are instrumented to count
    /// hits (mapping tests); plans built with a recorder must be run from one thread.
    public var coverage: CoverageRecorder?

    /// Creates a context.
    public init(defaultModel: TargetModel, functions: FunctionRegistry, profile: RunProfile? = nil, coverage: CoverageRecorder? = nil) {
        self.defaultModel = defaultModel
        self.functions = functions
        self.profile = profile
        self.coverage = coverage
    }
}

/// Turns `MappingSpec`s into `MappingPlan`s: resolves the target model, the source schema and the
/// lookups, compiles every expression, and reports every problem at once before any data is read.
public enum MappingPlanner {
    /// Plans one mapping; throws every diagnostic found.
    public static func plan(_ spec: MappingSpec, context: PlanningContext) throws(DiagnosticsError) -> MappingPlan {
        var diagnostics: [Diagnostic] = []
        let file = spec.file
        func report(_ code: String, _ message: String, _ at: LocatedText?, notes: [String] = []) {
            diagnostics.append(Diagnostic(code: code, message: message, file: file, line: at?.line, column: at?.column, notes: notes))
        }
        let mappingDir = directory(of: file)

        // Target model.
        var model = context.defaultModel
        if let m = spec.model {
            do {
                model = try TargetModel.load(path: resolve(m.text, against: mappingDir))
            } catch {
                diagnostics.append(contentsOf: error.diagnostics)
            }
        }

        if let d = spec.derive {
            if !diagnostics.isEmpty { throw DiagnosticsError(diagnostics) }
            let (derivation, table) = try Derivation.plan(spec, d, model: model)
            return MappingPlan(
                spec: spec, model: model, schema: nil, dialect: Dialect(), fields: [], validatedOnly: [], slotCount: 0, filter: nil, lets: [],
                targets: [
                    PlannedTarget(table: table, filter: nil, columns: table.columns.map { _ in nil }, ruleLines: table.columns.map { _ in nil })
                ],
                lookups: [], warnings: [], derivation: derivation)
        }

        // Source schema.
        var dialect = spec.source.dialect
        var schema: SourceSchema?
        switch spec.source.schema {
        case .none: schema = nil
        case .inline(let s): schema = s
        case .file(let p):
            do {
                schema = try SourceSchema.load(jsonFile: resolve(p.text, against: mappingDir))
            } catch {
                report("HZ1025", "cannot read schema \(p.text): \(error)", p)
            }
        }
        if let profile = context.profile {
            dialect = profile.apply(to: dialect)
            if let s = schema { schema = profile.apply(to: s, table: spec.source.schema.tableName) }
        }
        if let s = schema {
            for var d in s.validate() {
                if d.file == nil {
                    d.file = file
                    d.line = spec.source.position.line
                    d.column = spec.source.position.column
                }
                diagnostics.append(d)
            }
        }
        var fieldInfos: [PlanScope.FieldInfo] = []
        if let s = schema {
            fieldInfos = s.fields.map { PlanScope.FieldInfo(name: $0.name, type: $0.type.valueType) }
        } else if let cols = dialect.columns {
            fieldInfos = cols.map { PlanScope.FieldInfo(name: $0, type: .string) }
        }
        let scope = PlanScope(fields: fieldInfos, acceptsUnknownFields: schema == nil && dialect.columns == nil)

        // Lookups.
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
        let resolver = PlanLookupResolver(tables: lookups)
        // One call-site table for every expression of the mapping's records (a run binds it once).
        let callSites = CallSiteTable()
        let sourceCompiler = ExpressionCompiler(
            functions: context.functions, scope: scope, lookups: resolver, coverage: context.coverage, callSites: callSites)
        var compiler = sourceCompiler
        func compile(_ t: LocatedText, expected: ValueType?) -> CompiledExpression? {
            switch compiler.compile(t.text, file: file, line: t.line, column: t.column, expected: expected) {
            case .success(let e): return e
            case .failure(let f):
                diagnostics.append(contentsOf: f.diagnostics)
                return nil
            }
        }

        // Joins, in order: each key reads the driving record and the joins before it.
        var joinParts:
            [(
                spec: JoinSpec, schema: SourceSchema?, dialect: Dialect, keys: [FieldDecoder], on: [CompiledExpression], fields: PlanScope.JoinFields,
                whereClause: CompiledExpression?, whereFields: [(name: String, slot: Int, decoder: FieldDecoder)], whereSlots: Int
            )] = []
        for j in spec.joins {
            if scope.isField(j.name.text) {
                diagnostics.append(
                    Diagnostic(
                        code: "HZ1064", severity: .warning, message: "join '\(j.name.text)' has the name of a source field", file: file,
                        line: j.name.line, column: j.name.column))
            }
            var jschema: SourceSchema?
            switch j.schema {
            case .none: jschema = nil
            case .inline(let s): jschema = s
            case .file(let p):
                do {
                    jschema = try SourceSchema.load(jsonFile: resolve(p.text, against: mappingDir))
                } catch {
                    report("HZ1025", "cannot read schema \(p.text) of join '\(j.name.text)': \(error)", p)
                }
            }
            var jdialect = j.dialect
            if let profile = context.profile {
                jdialect = profile.apply(to: jdialect)
                if let s = jschema { jschema = profile.apply(to: s, table: j.schema.tableName) }
            }
            let jfields: [PlanScope.FieldInfo] =
                jschema.map { $0.fields.map { PlanScope.FieldInfo(name: $0.name, type: $0.type.valueType) } }
                ?? (jdialect.columns ?? []).map { PlanScope.FieldInfo(name: $0, type: .string) }
            let acceptsAny = jschema == nil && jdialect.columns == nil
            func joinDecoder(_ name: String, at: LocatedText) -> FieldDecoder? {
                do {
                    if let s = jschema {
                        guard let sf = s.fields.first(where: { $0.name == name }) else {
                            let sug = Suggestion.closest(to: name, in: s.fields.map(\.name))
                            report(
                                "HZ1063", "join '\(j.name.text)': its schema has no field '\(name)'", at,
                                notes: sug.map { ["did you mean '\($0)'?"] } ?? [])
                            return nil
                        }
                        return try FieldDecoder(field: sf, in: s)
                    }
                    if let cols = jdialect.columns, !cols.contains(name) {
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
            var keyDecoders: [FieldDecoder] = []
            var on: [CompiledExpression] = []
            for (col, expr) in j.on {
                if let d = joinDecoder(col.text, at: col) { keyDecoders.append(d) }
                if let e = compile(expr, expected: nil) { on.append(e) }
            }
            var whereClause: CompiledExpression?
            var whereFields: [(name: String, slot: Int, decoder: FieldDecoder)] = []
            var whereSlots = 0
            if let w = j.whereClause {
                let wscope = PlanScope(fields: jfields, acceptsUnknownFields: acceptsAny)
                let wcompiler = ExpressionCompiler(functions: context.functions, scope: wscope, lookups: resolver, callSites: callSites)
                switch wcompiler.compile(w.text, file: file, line: w.line, column: w.column, expected: .boolean) {
                case .success(let e):
                    whereClause = e
                    for u in wscope.usedFields { if let d = joinDecoder(u.name, at: w) { whereFields.append((u.name, u.slot, d)) } }
                    whereSlots = wscope.slotCount
                case .failure(let f): diagnostics.append(contentsOf: f.diagnostics)
                }
            }
            let fields = PlanScope.JoinFields(name: j.name.text, fields: jfields, acceptsUnknownFields: acceptsAny)
            scope.addJoin(fields)
            joinParts.append((j, jschema, jdialect, keyDecoders, on, fields, whereClause, whereFields, whereSlots))
        }

        // The person of a record (`subject:`): evaluated by runs with an exclusion list after the
        // joins and before the named values, so it reads source and joined fields.
        let subject = spec.source.subject.flatMap { compile($0, expected: nil) }

        // Grouping: keys and aggregate arguments read the records; named values, the group filter
        // and the targets read the groups.
        var plannedGroup: PlannedGroup?
        var preFilter: CompiledExpression?
        var bodyScope = scope
        if let g = spec.group {
            preFilter = spec.filter.flatMap { compile($0, expected: .boolean) }
            var by: [CompiledExpression] = []
            var infos: [PlanScope.FieldInfo] = []
            for (name, expr) in g.by {
                if infos.contains(where: { $0.name == name.text }) { report("HZ1067", "group name '\(name.text)' is used twice", name) }
                if let e = compile(expr, expected: nil) {
                    by.append(e)
                    infos.append(PlanScope.FieldInfo(name: name.text, type: e.type))
                }
            }
            var aggregates: [(function: AggregateFunction, argument: CompiledExpression?)] = []
            for a in g.aggregates {
                if infos.contains(where: { $0.name == a.name.text }) { report("HZ1067", "group name '\(a.name.text)' is used twice", a.name) }
                let fn = AggregateFunction(rawValue: a.function) ?? .count
                let arg = a.argument.flatMap { compile($0, expected: nil) }
                if a.argument != nil, arg == nil { continue }
                if fn == .sum, let t = arg?.type, t != .integer, t != .number, t != .any {
                    report("HZ1068", "sum(…) of '\(a.name.text)' needs a number, not \(t.rawValue)", a.argument)
                }
                aggregates.append((fn, arg))
                infos.append(PlanScope.FieldInfo(name: a.name.text, type: fn.resultType(arg?.type)))
            }
            let post = PlanScope(fields: infos, acceptsUnknownFields: false)
            bodyScope = post
            compiler = ExpressionCompiler(
                functions: context.functions, scope: post, lookups: resolver, coverage: context.coverage, callSites: callSites)
            plannedGroup = PlannedGroup(
                names: infos.map(\.name), by: by, aggregates: aggregates, having: g.having.flatMap { compile($0, expected: .boolean) }, scope: post)
        }

        // Named values, in order; each may read the ones before it.
        var lets: [PlannedLet] = []
        for (name, expr) in spec.lets {
            if bodyScope.isField(name.text) {
                diagnostics.append(
                    Diagnostic(
                        code: "HZ1050", severity: .warning, message: "named value '\(name.text)' hides the source field of the same name", file: file,
                        line: name.line, column: name.column))
            }
            guard let e = compile(expr, expected: nil) else { continue }
            guard let slot = bodyScope.declareLet(name.text, type: e.type) else {
                report("HZ1051", "named value '\(name.text)' is declared twice", name)
                continue
            }
            lets.append(PlannedLet(name: name.text, slot: slot, expression: e))
        }
        let filter = spec.group == nil ? spec.filter.flatMap { compile($0, expected: .boolean) } : preFilter

        // Targets.
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
                diagnostics.append(
                    Diagnostic(
                        code: "HZ1205", severity: .warning,
                        message: "table '\(table.name)' is targeted twice by this mapping without a filter on the repeated target", file: file,
                        line: t.table.line, column: t.table.column))
            }
            var columns = [CompiledExpression?](repeating: nil, count: table.columns.count)
            var lines = [Int?](repeating: nil, count: table.columns.count)
            for (column, expr) in t.fields {
                guard let ci = table.columnIndex(named: column.text) else {
                    let s = Suggestion.closest(to: column.text, in: table.columns.map(\.name))
                    report("HZ1202", "table '\(table.name)' has no column '\(column.text)'", column, notes: s.map { ["did you mean '\($0)'?"] } ?? [])
                    _ = compile(expr, expected: nil)
                    continue
                }
                columns[ci] = compile(expr, expected: table.columns[ci].type.valueType)
                lines[ci] = expr.line
            }
            for (ci, c) in table.columns.enumerated()
            where c.isRequired && !t.fields.contains(where: { $0.column.text.lowercased() == c.name.lowercased() }) {
                report("HZ1203", "required column '\(c.name)' of table '\(table.name)' has no expression", t.table)
                _ = ci
            }
            var planned = PlannedTarget(
                table: table, filter: t.filter.flatMap { compile($0, expected: .boolean) }, columns: columns, ruleLines: lines)
            let (policy, conflictProblems) = ConflictPlanning.policy(t, table: table, mapped: columns.map { $0 != nil })
            for p in conflictProblems { report(p.code, p.message, p.at, notes: p.notes) }
            if targets.contains(where: { $0.table.name == table.name && $0.conflict != policy }) {
                report("HZ1210", "table '\(table.name)' is targeted twice with different on_conflict/update", t.onConflict ?? t.table)
            }
            planned.conflict = policy
            targets.append(planned)
        }

        // Fields to decode.
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
                for var d in error.diagnostics {
                    if d.file == nil {
                        d.file = file
                        d.line = spec.source.position.line
                        d.column = spec.source.position.column
                    }
                    diagnostics.append(d)
                }
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
        // Joined fields the mapping reads, now that every expression is compiled.
        var joins: [PlannedJoin] = []
        for part in joinParts {
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
        if diagnostics.contains(where: { $0.severity == .error }) {
            throw DiagnosticsError(diagnostics)
        }
        return MappingPlan(
            spec: spec, model: model, schema: schema, dialect: dialect, fields: fields, validatedOnly: validatedOnly,
            slotCount: scope.slotCount, filter: filter, lets: lets, targets: targets, lookups: lookups, warnings: diagnostics,
            subject: subject, joins: joins, group: plannedGroup, callSites: callSites.snapshot)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func resolve(_ path: String, against dir: String) -> String {
        path.hasPrefix("/") ? path : dir + "/" + path
    }
}

/// Resolves `lookup('name', …)` against a mapping's declared lookups.
struct PlanLookupResolver: LookupResolver {
    let tables: [CSVLookupTable]
    func lookupTable(named name: String) -> (any LookupTableShape)? { tables.first { $0.spec.name.text == name } }
    var lookupNames: [String] { tables.map(\.spec.name.text) }
}
