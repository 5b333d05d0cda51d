import Foundation
import Mappings
import Testing

@testable import Harmonize

/// The built-in checks on a small database with known violations: each row of the table names a
/// check id and the counts and status it must give.
@Suite struct QualityEngineTests {
    /// A database with persons, periods, visits, measurements and deaths holding known problems.
    static func makeDatabase(withConcepts: Bool = false) throws -> String {
        let path = TestSupport.temporaryDirectory("quality") + "/omop.sqlite"
        let model = try Mappings.omopModel()
        let db = try SQLiteConnection(path: path)
        for name in ["person", "observation_period", "visit_occurrence", "measurement", "death"] {
            guard let t = model.table(named: name) else { continue }
            // Without NOT NULL, so that the test can store the nulls the checks must find.
            try db.execute(SQLiteDDL.createTable(t).replacingOccurrences(of: " NOT NULL", with: ""))
        }
        try db.execute(SQLiteDDL.bookkeeping)
        try db.execute(
            """
            INSERT INTO harmonize_run(run_id, engine_version, started_at, finished_at, status, model, parameters, manifest) VALUES ('run-a', 'test', '2026-01-01T00:00:00Z', '', 'succeeded', 'omop-cdm 5.4', '{}', '{}');
            INSERT INTO person (person_id, gender_concept_id, year_of_birth, month_of_birth, day_of_birth, race_concept_id, ethnicity_concept_id)
              VALUES (1, 8507, 1980, 5, 1, 0, 0), (2, NULL, 1990, NULL, NULL, 0, 0), (2, 8532, 1800, 1, 1, 0, 0), (4, 8532, 2000, 1, 1, 0, 0);
            INSERT INTO observation_period VALUES (1, 1, '2020-01-01', '2020-12-31', 32817), (2, 1, '2020-06-01', '2021-06-01', 32817),
              (3, 2, '2020-01-01', '2019-01-01', 32817);
            INSERT INTO visit_occurrence (visit_occurrence_id, person_id, visit_concept_id, visit_start_date, visit_end_date, visit_type_concept_id)
              VALUES (10, 1, 9202, '2020-03-01', '2020-03-02', 32817);
            INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, measurement_date, measurement_type_concept_id,
              value_as_number, unit_concept_id, visit_occurrence_id, measurement_source_value, unit_source_value)
              VALUES (100, 1, 3004249, '2020-03-01', 32817, 120, 8876, 10, 'SBP', NULL),
                     (101, 1, 3004249, '2020-06-01', 32817, 130, 8876, 10, 'SBP', NULL),
                     (102, 1, 0, '1979-01-01', 32817, NULL, 8587, NULL, 'XX', NULL),
                     (103, 9, 3004249, '2020-03-01', 32817, 110, NULL, NULL, 'SBP', 'mmHg');
            INSERT INTO death (person_id, death_date, death_type_concept_id) VALUES (1, '2020-03-15', 32817);
            """)
        if withConcepts {
            try db.execute(
                """
                CREATE TABLE concept (concept_id INTEGER, concept_name TEXT, domain_id TEXT, vocabulary_id TEXT, concept_class_id TEXT,
                  standard_concept TEXT, concept_code TEXT, valid_start_date DATE, valid_end_date DATE, invalid_reason TEXT);
                INSERT INTO concept VALUES (0, 'No matching concept', 'Metadata', 'None', 'Undefined', NULL, '0', '1970-01-01', '2099-12-31', NULL),
                  (3004249, 'Systolic blood pressure', 'Measurement', 'LOINC', 'Clinical Observation', 'S', '8480-6', '1970-01-01', '2099-12-31', NULL),
                  (8507, 'MALE', 'Gender', 'Gender', 'Gender', 'S', 'M', '1970-01-01', '2099-12-31', NULL),
                  (8532, 'FEMALE', 'Gender', 'Gender', 'Gender', 'S', 'F', '1970-01-01', '2099-12-31', NULL),
                  (9202, 'Outpatient Visit', 'Condition', 'Visit', 'Visit', 'S', 'OP', '1970-01-01', '2099-12-31', 'D');
                """)
        }
        return path
    }

    static func report(withConcepts: Bool = false) throws -> QualityReport {
        let path = try makeDatabase(withConcepts: withConcepts)
        let model = try Mappings.omopModel()
        let engine = QualityEngine(checks: try Mappings.omopQualityChecks(model: model), model: model, conventions: Mappings.omopQualityConventions)
        return try engine.run(databasePath: path, today: CivilDate(year: 2026, month: 1, day: 1))
    }

    /// One report per database kind, shared by the table-driven cases.
    static let plain = Result { try report() }
    static let withVocabulary = Result { try report(withConcepts: true) }

    struct Expectation: Sendable, CustomStringConvertible {
        var id: String
        var status: QualityResult.Status
        var violating: Int = 0
        var checked: Int = 0
        var description: String { id }
    }

    static let expectations: [Expectation] = [
        .init(id: "cdmTable.person", status: .passed, violating: 0, checked: 1),
        .init(id: "cdmTable.specimen", status: .notApplicable),
        .init(id: "cdmTable.concept", status: .notApplicable),
        .init(id: "cdmField.person.gender_concept_id", status: .passed, violating: 0, checked: 1),
        .init(id: "isRequired.person.gender_concept_id", status: .failed, violating: 1, checked: 4),
        .init(id: "isRequired.person.year_of_birth", status: .passed, violating: 0, checked: 4),
        .init(id: "isPrimaryKey.person.person_id", status: .failed, violating: 2, checked: 4),
        .init(id: "isForeignKey.measurement.person_id", status: .failed, violating: 1, checked: 4),
        .init(id: "isForeignKey.measurement.visit_occurrence_id", status: .passed, violating: 0, checked: 4),
        .init(id: "isForeignKey.measurement.measurement_concept_id", status: .notApplicable),
        .init(id: "isForeignKey.measurement.provider_id", status: .notApplicable),
        .init(id: "cdmDatatype.measurement.measurement_id", status: .passed, violating: 0, checked: 4),
        .init(id: "fkDomain.measurement.measurement_concept_id", status: .notApplicable),
        .init(id: "isStandardValidConcept.measurement.measurement_concept_id", status: .notApplicable),
        .init(id: "standardConceptRecordCompleteness.measurement.measurement_concept_id", status: .failed, violating: 1, checked: 4),
        // 102: unit 8587 is fine; the null unit of 103 with a unit source value violates (see setup).
        .init(id: "standardConceptRecordCompleteness.measurement.unit_concept_id", status: .failed, violating: 1, checked: 4),
        .init(id: "sourceValueCompleteness.measurement.measurement_source_value", status: .failed, violating: 1, checked: 2),
        .init(id: "measureValueCompleteness.measurement.value_as_number", status: .passed, violating: 1, checked: 4),
        .init(id: "plausibleValueLow.person.year_of_birth", status: .failed, violating: 1, checked: 4),
        .init(id: "plausibleValueHigh.person.year_of_birth", status: .passed, violating: 0, checked: 4),
        .init(id: "plausibleStartBeforeEnd.observation_period.observation_period_start_date", status: .failed, violating: 1, checked: 3),
        .init(id: "plausibleAfterBirth.measurement.measurement_date", status: .failed, violating: 1, checked: 4),
        .init(id: "plausibleBeforeDeath.measurement.measurement_date", status: .failed, violating: 1, checked: 4),
        .init(id: "withinVisitDates.measurement.measurement_date", status: .failed, violating: 1, checked: 2),
        .init(id: "measurePersonCompleteness.observation_period", status: .failed, violating: 1, checked: 4),
        .init(id: "measureObservationPeriodOverlap.observation_period", status: .failed, violating: 1, checked: 2),
        .init(id: "plausibleUnitConceptIds.measurement.measurement_concept_id.3004249", status: .passed, violating: 0, checked: 3),
        .init(id: "standardConceptRecordCompleteness.person.gender_concept_id", status: .passed, violating: 0, checked: 4),
        // Body weight does not occur in the database.
        .init(id: "plausibleUnitConceptIds.measurement.measurement_concept_id.3025315", status: .notApplicable),
        .init(id: "plausibleGenderUseDescendants.condition_occurrence.condition_concept_id.4090861,4025213", status: .notApplicable),
    ]

    @Test(arguments: expectations) func builtInCheck(_ e: Expectation) throws {
        let report = try Self.report()
        let r = try #require(report.results.first { $0.check.id == e.id }, "no check \(e.id)")
        #expect(r.status == e.status, "\(e.id): \(r.reason ?? "")")
        if e.status != .notApplicable {
            #expect(r.rowsViolating == e.violating)
            #expect(r.rowsChecked == e.checked)
        } else {
            #expect(r.reason != nil)
        }
    }

    struct VocabularyExpectation: Sendable, CustomStringConvertible {
        var id: String
        var status: QualityResult.Status
        var violating: Int
        var description: String { id }
    }

    /// With a CONCEPT table, the vocabulary checks apply.
    @Test(arguments: [
        VocabularyExpectation(id: "fkDomain.measurement.measurement_concept_id", status: .passed, violating: 0),
        VocabularyExpectation(id: "fkDomain.visit_occurrence.visit_concept_id", status: .failed, violating: 1),
        VocabularyExpectation(id: "isStandardValidConcept.visit_occurrence.visit_concept_id", status: .failed, violating: 1),
        VocabularyExpectation(id: "isStandardValidConcept.person.gender_concept_id", status: .passed, violating: 0),
        VocabularyExpectation(id: "isForeignKey.measurement.measurement_concept_id", status: .passed, violating: 0),
    ])
    func vocabularyCheck(_ e: VocabularyExpectation) throws {
        let report = try Self.withVocabulary.get()
        let r = try #require(report.results.first { $0.check.id == e.id })
        #expect(r.status == e.status, "\(r.reason ?? "")")
        #expect(r.rowsViolating == e.violating)
    }

    @Test func idsAreUniqueAndStableAcrossDatabases() throws {
        let a = try Self.plain.get().results.map(\.check.id)
        let b = try Self.withVocabulary.get().results.map(\.check.id)
        #expect(a == b)
        #expect(Set(a).count == a.count)
    }

    @Test func storingReplacesTheResultsOfTheSameRun() throws {
        let path = try Self.makeDatabase()
        let model = try Mappings.omopModel()
        let engine = QualityEngine(checks: try Mappings.omopQualityChecks(model: model), model: model, conventions: Mappings.omopQualityConventions)
        let report = try engine.run(databasePath: path)
        try QualityEngine.store(report, databasePath: path)
        try QualityEngine.store(report, databasePath: path)
        let db = try SQLiteConnection(path: path, readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM harmonize_quality") == .int(report.results.count))
        #expect(try db.scalar("SELECT count(DISTINCT run_id) FROM harmonize_quality") == .int(1))
        #expect(try db.scalar("SELECT rows_violating FROM harmonize_quality WHERE check_id = 'isPrimaryKey.person.person_id'") == .int(2))
    }

    @Test func thresholdsComeFromTheDQDControlFiles() throws {
        let checks = try Mappings.omopQualityChecks()
        func threshold(_ id: String) -> Double? { checks.first { $0.id == id }?.threshold }
        #expect(threshold("isRequired.person.gender_concept_id") == 0)
        #expect(threshold("measureValueCompleteness.care_site.care_site_name") == 100)
        #expect(threshold("measurePersonCompleteness.observation_period") == 0)
        #expect(threshold("plausibleValueLow.person.year_of_birth") == 1)
    }

    struct BoundCase: Sendable {
        var raw: String
        var isDate: Bool
        var expected: Value?
    }

    @Test(arguments: [
        BoundCase(raw: "'19500101'", isDate: true, expected: .string("1950-01-01")),
        BoundCase(raw: "YEAR(GETDATE())+1", isDate: false, expected: .int(2027)),
        BoundCase(raw: "DATEADD(dd,1,GETDATE())", isDate: true, expected: .string("2026-01-02")),
        BoundCase(raw: "0.0000001", isDate: false, expected: .double(0.0000001)),
        BoundCase(raw: "1850", isDate: false, expected: .int(1850)),
        BoundCase(raw: "GETDATE()", isDate: true, expected: nil),
    ])
    func plausibleBounds(_ c: BoundCase) {
        #expect(QualitySQL.plausibleBound(c.raw, isDate: c.isDate, today: CivilDate(year: 2026, month: 1, day: 1)) == c.expected)
    }
}

/// Units outside the plausible list are found; rows with unit 0 are left to the completeness checks.
@Suite struct PlausibleUnitTests {
    @Test func implausibleUnitsAreCounted() throws {
        let path = try QualityEngineTests.makeDatabase()
        let db = try SQLiteConnection(path: path)
        // 3025315 body weight: plausible units 8739, 9346, 9373, 9529.
        try db.execute(
            """
            INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, measurement_date, measurement_type_concept_id, unit_concept_id)
            VALUES (200, 1, 3025315, '2020-03-01', 32817, 9529), (201, 1, 3025315, '2020-03-01', 32817, 8876),
                   (202, 1, 3025315, '2020-03-01', 32817, 0), (203, 1, 3025315, '2020-03-01', 32817, NULL)
            """)
        let model = try Mappings.omopModel()
        let checks = try Mappings.omopQualityChecks(model: model).filter {
            $0.id == "plausibleUnitConceptIds.measurement.measurement_concept_id.3025315"
        }
        #expect(checks.count == 1)
        let r = try #require(
            try QualityEngine(checks: checks, model: model, conventions: Mappings.omopQualityConventions).run(databasePath: path).results.first)
        #expect(r.status == .failed)
        #expect(r.rowsViolating == 1)
        #expect(r.rowsChecked == 4)
        #expect(r.check.threshold == 5)
    }
}
