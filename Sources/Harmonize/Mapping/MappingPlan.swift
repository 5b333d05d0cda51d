/// A mapping resolved against its source schema and target model, with every expression compiled
/// to closures over slot indices. Built by `MappingPlanner` before any data is read; executed by
/// `MappingExecutor`.
///
/// Immutable once planned, and free of run state: what a run loads or counts (lookup rows, join
/// indexes, group stores, pseudonym HMAC states and caches, vocabulary usage, statistics) lives in
/// that run's `RunContext`, so one plan can be run several times, concurrently, with different
/// keys. (Its declarations are classes for identity, hence `@unchecked`; every stored property is
/// a `let` of an immutable value.) Safe to share (`@unchecked`): nothing in it changes after planning.
public final class MappingPlan: @unchecked Sendable {
    /// The mapping as written.
    public let spec: MappingSpec
    /// The target model the mapping writes to.
    public let model: TargetModel
    /// The source schema, if any (with the run profile's overrides applied).
    package let schema: SourceSchema?
    /// The source dialect, with the run profile's overrides applied.
    package let dialect: Dialect
    /// Source fields read by the mapping, each decoded into its slot.
    package let fields: [PlannedField]
    /// Fields validated but not read (when the source asks `validate: all`).
    package let validatedOnly: [PlannedField]
    /// The source fields a reader of this mapping is bound to, in position order: the mapped
    /// fields, then the validated-only ones (a worker's chunks, a shared parse's tap and spill).
    var readFieldNames: [String] { fields.map(\.name) + validatedOnly.map(\.name) }
    /// Total slots in an evaluation frame (fields, then named values).
    public let slotCount: Int
    /// The record filter.
    package let filter: CompiledExpression?
    /// Named values, in evaluation order.
    package let lets: [PlannedLet]
    /// Target tables.
    package let targets: [PlannedTarget]
    /// Lookup tables (loaded when the run starts).
    package let lookups: [CSVLookupTable]
    /// Warnings found while planning.
    public let warnings: [Diagnostic]
    /// The expression identifying the person of a record (`source: subject:`), if declared.
    package let subject: CompiledExpression?
    /// Joined sources, in evaluation order.
    let joins: [PlannedJoin]
    /// The grouping stage, when the mapping folds its records (`group:`).
    let group: PlannedGroup?
    /// The derivation, for a `derive:` mapping (no source, no targets of its own).
    package let derivation: Derivation?
    /// The calls of the mapping's expressions that keep per-run state (keyed functions,
    /// vocabulary functions, lookups read from files): each run binds them (`RunContext`).
    package let callSites: CallSites

    init(
        spec: MappingSpec, model: TargetModel, schema: SourceSchema?, dialect: Dialect, fields: [PlannedField], validatedOnly: [PlannedField],
        slotCount: Int, filter: CompiledExpression?, lets: [PlannedLet], targets: [PlannedTarget], lookups: [CSVLookupTable],
        warnings: [Diagnostic], subject: CompiledExpression? = nil, joins: [PlannedJoin] = [], group: PlannedGroup? = nil,
        derivation: Derivation? = nil, callSites: CallSites = .none
    ) {
        self.joins = joins
        self.group = group
        self.derivation = derivation
        self.callSites = callSites
        self.subject = subject
        self.spec = spec
        self.model = model
        self.schema = schema
        self.dialect = dialect
        self.fields = fields
        self.validatedOnly = validatedOnly
        self.slotCount = slotCount
        self.filter = filter
        self.lets = lets
        self.targets = targets
        self.lookups = lookups
        self.warnings = warnings
    }

    /// The mapping id.
    public var id: String { spec.id }

    /// One line per join: name, files, key, fields read (for `plan` and documentation).
    public var joinDescriptions: [String] {
        joins.map { j in
            let key = zip(j.keyColumns, j.on).map { "\($0) = \($1.source)" }.joined(separator: ", ")
            let fields = j.payload.map { "\(j.name).\($0.name)" }.joined(separator: ", ")
            return "\(j.name): '\(j.spec.files.text)' on \(key)" + (j.whereClause.map { " where \($0.source)" } ?? "")
                + (j.spec.missIsNull ? " (a miss gives nulls)" : "") + (fields.isEmpty ? "" : "; reads \(fields)")
        }
    }

    /// The grouping in one line, when the mapping folds its records.
    public var groupDescription: String? {
        guard let g = group else { return nil }
        let by = zip(g.names, g.by).map { "\($0) = \($1.source)" }.joined(separator: ", ")
        let aggs = zip(g.names.dropFirst(g.by.count), g.aggregates).map { "\($0) = \($1.function.rawValue)(\($1.argument?.source ?? ""))" }.joined(
            separator: ", ")
        return "by \(by)" + (aggs.isEmpty ? "" : "; \(aggs)") + (g.having.map { "; having \($0.source)" } ?? "")
    }
}

/// The grouping stage of a plan: key and aggregate expressions over the records (in the record
/// frame), and the scope the named values, group filter and targets were compiled in (the
/// group frame: one slot per group name the mapping reads).
/// Safe to share (`@unchecked`): immutable once planned; its scope is only read after planning.
final class PlannedGroup: @unchecked Sendable {
    /// Group names: `by` names, then aggregate names.
    let names: [String]
    let by: [CompiledExpression]
    let aggregates: [(function: AggregateFunction, argument: CompiledExpression?)]
    let having: CompiledExpression?

    init(
        names: [String], by: [CompiledExpression], aggregates: [(function: AggregateFunction, argument: CompiledExpression?)],
        having: CompiledExpression?, scope: PlanScope
    ) {
        self.names = names
        self.by = by
        self.aggregates = aggregates
        self.having = having
        self.scope = scope
    }

    /// The scope, read after the whole mapping is compiled (its slots are final then; it is not
    /// changed after planning, hence `@unchecked Sendable` above).
    private let scope: PlanScope
    /// Group values the mapping reads: (index in `names`, slot in the group frame).
    var usedValues: [(index: Int, slot: Int)] { scope.usedFields.compactMap { u in names.firstIndex(of: u.name).map { ($0, u.slot) } } }
    /// Slots of the group frame (group values read, then named values).
    var frameSlotCount: Int { scope.slotCount }
}

/// A source field the plan reads.
package struct PlannedField {
    /// The field name as in the source (header or schema).
    public let name: String
    /// The slot it is decoded into (-1: validated only).
    public let slot: Int
    /// The static type of the decoded value.
    public let type: ValueType
    /// Decodes and validates the field's bytes.
    public let decoder: FieldDecoder
}

/// A named intermediate value.
package struct PlannedLet {
    /// Its name.
    public let name: String
    /// Its slot.
    public let slot: Int
    /// Its expression.
    public let expression: CompiledExpression
}

/// One target table of a plan.
package struct PlannedTarget {
    /// The target table.
    public let table: TargetTable
    /// An optional row filter.
    public let filter: CompiledExpression?
    /// One entry per table column: the column's expression, or nil (null).
    public let columns: [CompiledExpression?]
    /// For each column with an expression, the mapping-file line of its rule.
    public let ruleLines: [Int?]
    /// What the sink does with a row whose primary key is already stored (`on_conflict:`; set
    /// by the planner before the plan is handed out).
    public internal(set) var conflict: ConflictPolicy = .insert
}

extension MappingPlan {
    /// Whether the plan calls one of `names` (lower-case function names) anywhere: named values,
    /// filters, columns, the subject, join keys and conditions, grouping keys, aggregates and
    /// `having`.
    public func calls(anyOf names: Set<String>) -> Bool {
        expressions.contains { !names.isDisjoint(with: $0.functionsUsed) }
    }

    /// Per field of `fields`, whether the plan reads it only as the bare text argument of calls
    /// taking bytes (`FunctionDefinition.readsTextArgument`: `pseudonym(BEN_NIR_PSA, 'person')`),
    /// in every expression it has, and at least once: a text field that the row loop may then
    /// leave as the record's bytes (`EvaluationFrame.spans`), with no `String` made. False for
    /// every field of a grouped plan (its body reads the groups' frames).
    var textArgumentFields: [Bool] {
        guard group == nil else { return fields.map { _ in false } }
        var valueRead = Set<Int>()
        var textRead = Set<Int>()
        for e in expressions {
            valueRead.formUnion(e.valueReadSlots)
            textRead.formUnion(e.textArgumentSlots)
        }
        return fields.map { f in f.decoder.kind == .string && textRead.contains(f.slot) && !valueRead.contains(f.slot) }
    }

    /// Every expression of the plan: named values, filters, columns, the subject, join keys and
    /// conditions, grouping keys, aggregates and `having`.
    var expressions: [CompiledExpression] {
        var expressions: [CompiledExpression] = lets.map(\.expression)
        if let f = filter { expressions.append(f) }
        if let s = subject { expressions.append(s) }
        for j in joins {
            expressions.append(contentsOf: j.on)
            if let w = j.whereClause { expressions.append(w) }
        }
        if let g = group {
            expressions.append(contentsOf: g.by)
            expressions.append(contentsOf: g.aggregates.compactMap(\.argument))
            if let h = g.having { expressions.append(h) }
        }
        for t in targets {
            expressions.append(contentsOf: t.columns.compactMap { $0 })
            if let f = t.filter { expressions.append(f) }
        }
        return expressions
    }
}
