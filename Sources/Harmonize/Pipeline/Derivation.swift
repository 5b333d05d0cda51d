/// A table computed from the rows a run wrote (`derive:` mappings), once every other mapping has
/// run and before the output is published.
public struct Derivation: Sendable, Hashable {
    /// One event table read by the derivation and its date columns.
    public struct Source: Sendable, Hashable {
        /// The table.
        public var table: String
        /// Its start date column.
        public var start: String
        /// Its end date column, if it has one (the start date stands in when it is null).
        public var end: String?
    }

    /// The mapping that declares it.
    public var mapping: String
    /// `observation_period`.
    public var kind: String
    /// The table written.
    public var table: String
    /// The event tables read.
    public var sources: [Source]
    /// `period_type_concept_id` of the periods.
    public var periodTypeConceptID: Int
    /// A replay: the rows already in the output are derived again over every event table the
    /// output holds (a person's period is replaced, never added twice), instead of only over the
    /// tables the run wrote. Set by the pipeline.
    public var replacesExisting = false

    /// The SQL statement (SQLite) that fills the table: one observation period per person, from
    /// the earliest start to the latest end (or start) among the person's events in `sources`,
    /// restricted to persons of the `person` table when the run writes one.
    /// `observation_period_id` is the `person_id`, so reruns give the same ids.
    public func sql(personTable: Bool) -> String {
        let unions = sources.map { s in
            let end = s.end.map { "coalesce(\($0), \(s.start))" } ?? s.start
            return "SELECT person_id AS p, \(s.start) AS s, \(end) AS e FROM \(s.table)"
        }.joined(separator: " UNION ALL ")
        let personFilter = personTable ? " AND p IN (SELECT person_id FROM person)" : ""
        return """
            INSERT INTO \(table) (observation_period_id, person_id, observation_period_start_date, observation_period_end_date, period_type_concept_id)
            SELECT p, p, min(s), max(e), \(periodTypeConceptID) FROM (\(unions))
            WHERE p IS NOT NULL AND s IS NOT NULL\(personFilter) GROUP BY p ORDER BY p
            """
    }

    /// The statements that derive the table again over an output that already holds it (a
    /// replay): the periods are computed into a temporary table, the output's periods of those
    /// persons are deleted and the new ones inserted. `changedCount` counts the stored periods the
    /// new ones differ from (run before the delete).
    func replacingSQL(personTable: Bool) -> (compute: String, changedCount: String, replace: String) {
        let unions = sources.map { s in
            let end = s.end.map { "coalesce(\($0), \(s.start))" } ?? s.start
            return "SELECT person_id AS p, \(s.start) AS s, \(end) AS e FROM \(s.table)"
        }.joined(separator: " UNION ALL ")
        let personFilter = personTable ? " AND p IN (SELECT person_id FROM person)" : ""
        let compute = """
            DROP TABLE IF EXISTS temp.harmonize_derived;
            CREATE TEMP TABLE harmonize_derived AS SELECT p, min(s) AS s, max(e) AS e FROM (\(unions))
            WHERE p IS NOT NULL AND s IS NOT NULL\(personFilter) GROUP BY p
            """
        let changed = """
            SELECT count(*) FROM \(table) o JOIN temp.harmonize_derived d ON o.observation_period_id = d.p
            WHERE o.observation_period_start_date IS NOT d.s OR o.observation_period_end_date IS NOT d.e OR o.person_id IS NOT d.p
            OR o.period_type_concept_id IS NOT \(periodTypeConceptID)
            """
        let replace = """
            DELETE FROM \(table) WHERE observation_period_id IN (SELECT p FROM temp.harmonize_derived);
            INSERT INTO \(table) (observation_period_id, person_id, observation_period_start_date, observation_period_end_date, period_type_concept_id)
            SELECT p, p, s, e, \(periodTypeConceptID) FROM temp.harmonize_derived ORDER BY p;
            DROP TABLE temp.harmonize_derived;
            """
        return (compute, changed, replace)
    }

    /// Plans a `derive:` mapping against the target model; throws every problem at once.
    static func plan(_ spec: MappingSpec, _ d: DeriveSpec, model: TargetModel) throws(DiagnosticsError) -> (Derivation, TargetTable) {
        var diagnostics: [Diagnostic] = []
        func report(_ code: String, _ message: String, _ at: LocatedText?) {
            diagnostics.append(Diagnostic(code: code, message: message, file: spec.file, line: at?.line, column: at?.column))
        }
        let tableName = "observation_period"
        guard let table = model.table(named: tableName) else {
            throw DiagnosticsError([Diagnostic(code: "HZ1073", message: "the target model has no table \(tableName)", file: spec.file, line: d.kind.line, column: d.kind.column)])
        }
        var typeConcept = 44_814_724  // Period covering healthcare encounters
        for (k, v) in d.parameters {
            switch k {
            case "period_type_concept_id":
                if let n = Int(v.text) { typeConcept = n } else { report("HZ1072", "'period_type_concept_id' must be an integer", v) }
            default:
                report("HZ1072", "unknown parameter '\(k)' of derivation \(d.kind.text) (known: from, period_type_concept_id)", v)
            }
        }
        if d.from.isEmpty { report("HZ1072", "derivation \(d.kind.text) needs 'with: from:' (the event tables to read)", d.kind) }
        var sources: [Source] = []
        for t in d.from {
            guard let et = model.table(named: t.text) else {
                let s = Suggestion.closest(to: t.text, in: model.tables.map(\.name))
                report("HZ1201", "unknown table '\(t.text)'" + (s.map { " (did you mean '\($0)'?)" } ?? ""), t)
                continue
            }
            let names = et.columns.map(\.name)
            guard names.contains("person_id") else {
                report("HZ1072", "table '\(et.name)' has no person_id", t)
                continue
            }
            let start = names.first { $0.hasSuffix("_start_date") } ?? names.first { $0.hasSuffix("_date") && !$0.hasSuffix("_end_date") && $0 != "birth_date" }
            guard let start else {
                report("HZ1072", "table '\(et.name)' has no date column to derive periods from", t)
                continue
            }
            let end = names.first { $0.hasSuffix("_end_date") && !$0.hasPrefix("verbatim") }
            sources.append(Source(table: et.name, start: start, end: end))
        }
        if !diagnostics.isEmpty { throw DiagnosticsError(diagnostics) }
        return (Derivation(mapping: spec.id, kind: d.kind.text, table: table.name, sources: sources, periodTypeConceptID: typeConcept), table)
    }
}
