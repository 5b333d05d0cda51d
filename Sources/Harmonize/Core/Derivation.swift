/// A table computed from the rows a run wrote (`derive:` mappings), once every other mapping has
/// run and before the output is published.
package struct Derivation: Sendable, Hashable {
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

}
