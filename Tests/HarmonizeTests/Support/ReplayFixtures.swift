/// The mappings of the replay tests' events fixture (SQLite replays in `ReplayCLITests`,
/// PostgreSQL replays in `PostgreSQLReplayTests`): people, their events (conditions) and the
/// observation periods derived from them, in two variants: `m1` reads `yyyy-MM-dd` dates only
/// (so it rejects the events written `yyyy/MM/dd`), `m2` reads both (the fix a replay applies).
enum ReplayFixtures {
    static let people = """
        harmonize: 1
        id: t.people
        version: 1.0.0
        source: {files: people.csv, dialect: {delimiter: ";"}}
        target: person
        fields:
          person_id: "to_int(id)"
          gender_concept_id: "0"
          year_of_birth: "to_int(year)"
          race_concept_id: "0"
          ethnicity_concept_id: "0"
        """

    /// The events mapping with `date` as the start date's rule.
    static func events(_ date: String) -> String {
        """
        harmonize: 1
        id: t.events
        version: 1.0.0
        source: {files: events.csv, dialect: {delimiter: ";"}}
        target: condition_occurrence
        fields:
          condition_occurrence_id: "to_int(eid)"
          person_id: "to_int(pid)"
          condition_concept_id: "0"
          condition_start_date: "\(date)"
          condition_type_concept_id: "32817"
        """
    }

    static let period = """
        harmonize: 1
        id: t.period
        version: 1.0.0
        derive: observation_period
        with: {period_type_concept_id: 44814724, from: [condition_occurrence]}
        """

    /// The date rule of `m1` (rejects `yyyy/MM/dd`) and of `m2` (reads both).
    static let strictDate = "parse_date(d, 'yyyy-MM-dd')"
    static let fixedDate = "parse_date(d, 'yyyy-MM-dd', 'yyyy/MM/dd')"

    /// Writes `dir/m1` and `dir/m2`, each with the three mappings.
    static func writeMappings(_ dir: String) {
        for (folder, date) in [("m1", strictDate), ("m2", fixedDate)] {
            TestSupport.write(people, to: dir + "/\(folder)/people.yaml")
            TestSupport.write(events(date), to: dir + "/\(folder)/events.yaml")
            TestSupport.write(period, to: dir + "/\(folder)/period.yaml")
        }
    }
}
