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
    package var coverage: CoverageRecorder?

    /// Creates a context.
    public init(defaultModel: TargetModel, functions: FunctionRegistry, profile: RunProfile? = nil) {
        self.init(defaultModel: defaultModel, functions: functions, profile: profile, coverage: nil)
    }

    /// Creates a context whose plans count branch hits (mapping tests).
    package init(defaultModel: TargetModel, functions: FunctionRegistry, profile: RunProfile? = nil, coverage: CoverageRecorder?) {
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
    ///
    /// The phases follow the data: model, source (schema and dialect), lookups, joins, subject,
    /// grouping, named values and filter, targets, then the fields to decode and the joined
    /// fields the expressions read. Each phase adds its diagnostics and goes on, so one `check`
    /// shows every problem.
    public static func plan(_ spec: MappingSpec, context: PlanningContext) throws(DiagnosticsError) -> MappingPlan {
        let b = PlanBuilder(spec: spec, context: context)
        let model = b.model()
        if let d = spec.derive {
            if !b.diagnostics.isEmpty { throw DiagnosticsError(b.diagnostics) }
            let (derivation, table) = try Derivation.plan(spec, d, model: model)
            return MappingPlan(
                spec: spec, model: model, schema: nil, dialect: Dialect(), fields: [], validatedOnly: [], slotCount: 0, filter: nil, lets: [],
                targets: [
                    PlannedTarget(table: table, filter: nil, columns: table.columns.map { _ in nil }, ruleLines: table.columns.map { _ in nil })
                ],
                lookups: [], warnings: [], derivation: derivation)
        }
        let (schema, dialect) = b.source()
        let scope = b.sourceScope(schema: schema, dialect: dialect)
        let lookups = b.lookups()
        let compilers = PlanBuilder.Compilers(context: context, scope: scope, lookups: lookups)
        let joinParts = b.joins(scope: scope, compilers: compilers)
        // The person of a record (`subject:`): evaluated by runs with an exclusion list after the
        // joins and before the named values, so it reads source and joined fields.
        let subject = spec.source.subject.flatMap { b.compile($0, expected: nil, with: compilers.source) }
        let (group, bodyScope, preFilter) = b.group(scope: scope, compilers: compilers)
        let lets = b.lets(scope: bodyScope, compilers: compilers)
        let filter = spec.group == nil ? spec.filter.flatMap { b.compile($0, expected: .boolean, with: compilers.body) } : preFilter
        let targets = b.targets(model: model, compilers: compilers)
        let (fields, validatedOnly) = b.fields(scope: scope, schema: schema)
        let joins = b.plannedJoins(joinParts)
        if b.diagnostics.contains(where: { $0.severity == .error }) {
            throw DiagnosticsError(b.diagnostics)
        }
        return MappingPlan(
            spec: spec, model: model, schema: schema, dialect: dialect, fields: fields, validatedOnly: validatedOnly,
            slotCount: scope.slotCount, filter: filter, lets: lets, targets: targets, lookups: lookups, warnings: b.diagnostics,
            subject: subject, joins: joins, group: group, callSites: compilers.callSites.snapshot)
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
