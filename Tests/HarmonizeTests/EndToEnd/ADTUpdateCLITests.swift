import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// `on_conflict: update` through the command line: an A01 → A08 → A03 sequence of one stay gives
/// one visit row with the final values, a second run gives the same rows, the summary says how
/// many rows were updates, and a CSV output is refused before anything is read.
@Suite struct ADTUpdateCLITests {
    static let key = "adt-update-cli-test-key-0123456789-abcdefghij"

    static func input() -> String {
        let dir = TestSupport.temporaryDirectory("adt-cli-input")
        try? FileManager.default.createDirectory(atPath: dir + "/adt", withIntermediateDirectories: true)
        let messages = [
            "MSH|^~\\&|ADT|HOSP|EHR|HOSP|20240401080000||ADT^A01^ADT_A01|1|P|2.5\rPID|1||4711^^^HOSP^PI||PETIT^LEA||19850117|F\r"
                + "PV1|1|I|CARDIO^1^1^HOSP||||||||||||||||V9001|||||||||||||||||||||||||20240401080000\rZBE|M1^HOSP|20240401080000||INSERT|N\r",
            "MSH|^~\\&|ADT|HOSP|EHR|HOSP|20240402080000||ADT^A08^ADT_A01|2|P|2.5\rPID|1||4711^^^HOSP^PI||PETIT^LEA||19850118|F\r"
                + "PV1|1|O|CARDIO^1^1^HOSP||||||||||||||||V9001|||||||||||||||||||||||||20240401080000\r",
            "MSH|^~\\&|ADT|HOSP|EHR|HOSP|20240403080000||ADT^A03^ADT_A03|3|P|2.5\rPID|1||4711^^^HOSP^PI||PETIT^LEA||19850118|F\r"
                + "PV1|1|O|CARDIO^1^1^HOSP||||||||||||||||V9001|||||||||||||||||||||||||20240401080000|20240403073000\r",
        ]
        TestSupport.write(messages.joined(separator: "\n"), to: dir + "/adt/stay.hl7")
        return dir
    }

    static func run(_ input: String, output: String, extra: [String] = []) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("mappings/hospital/adt-person-visit.yaml"), "--input", input, "--output", output,
                "--key-env", "ADT_TEST_KEY", "--no-progress", "--no-quality",
            ] + extra,
            environment: ["ADT_TEST_KEY": key])
    }

    @Test func aStayUpdatedTwiceIsOneVisitWithItsFinalValues() throws {
        let input = Self.input()
        let out = TestSupport.temporaryDirectory("adt-cli-out") + "/omop.sqlite"
        let r = try Self.run(input, output: out)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stderr.contains("visit_occurrence 1 (+2 updates)"), "\(r.stderr)")
        #expect(r.stderr.contains("person 1 (+2 updates)"), "\(r.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        let visit = try db.query(
            "SELECT visit_occurrence_id, visit_concept_id, visit_start_datetime, visit_end_datetime, visit_type_concept_id FROM visit_occurrence")
        #expect(visit == [[.int(9001), .int(9202), .string("2024-04-01T08:00:00"), .string("2024-04-03T07:30:00"), .int(32817)]])
        #expect(try db.query("SELECT day_of_birth FROM person") == [[.int(18)]])
        #expect(try db.scalar("SELECT written FROM harmonize_ledger") == .int(3))

        // Idempotent: the same input again gives the same rows.
        let first = try db.query("SELECT * FROM visit_occurrence")
        let again = try Self.run(input, output: out)
        #expect(again.status == 0)
        let db2 = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db2.query("SELECT * FROM visit_occurrence") == first)
        #expect(try db2.scalar("SELECT count(*) FROM person") == .int(1))
    }

    @Test func aCSVOutputIsRefusedBeforeReading() throws {
        let out = TestSupport.temporaryDirectory("adt-cli-csv") + "/out"
        let r = try Self.run(Self.input(), output: out, extra: ["--sink", "csv"])
        #expect(r.status == 2, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stderr.contains("on_conflict: update"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func onConflictMistakesAreReportedWhenPlanning() throws {
        let yaml = """
            harmonize: 1
            id: t.conflict
            version: 1.0.0
            source: {format: csv, files: x.csv}
            targets:
              - table: person
                on_conflict: upsert
                fields: {person_id: "1", gender_concept_id: "0", year_of_birth: "1", race_concept_id: "0", ethnicity_concept_id: "0"}
              - table: visit_occurrence
                on_conflict: update
                update: [visit_end_dat, visit_occurrence_id, provider_id]
                fields: {visit_occurrence_id: "1", person_id: "1", visit_concept_id: "0", visit_start_date: "date('2020-01-01')",
                         visit_end_date: "date('2020-01-01')", visit_type_concept_id: "0"}
              - table: visit_occurrence
                fields: {visit_occurrence_id: "1", person_id: "1", visit_concept_id: "0", visit_start_date: "date('2020-01-01')",
                         visit_end_date: "date('2020-01-01')", visit_type_concept_id: "0"}
              - table: measurement
                update: [value_as_number]
                fields: {measurement_id: "1", person_id: "1", measurement_concept_id: "0", measurement_date: "date('2020-01-01')",
                         measurement_type_concept_id: "0"}
            """
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        do {
            _ = try MappingPlanner.plan(MappingLoader.load(yaml: yaml, file: "conflict.yaml"), context: context)
            Issue.record("planned")
        } catch {
            let codes = error.diagnostics.map(\.code)
            #expect(codes.contains("HZ1207"), "on_conflict: upsert")
            #expect(error.diagnostics.contains { $0.code == "HZ1209" && $0.notes.contains("did you mean 'visit_end_date'?") })
            #expect(error.diagnostics.contains { $0.code == "HZ1209" && $0.message.contains("primary key") })
            #expect(error.diagnostics.contains { $0.code == "HZ1209" && $0.message.contains("no expression") }, "provider_id")
            #expect(codes.contains("HZ1210"), "visit_occurrence twice with different policies")
            #expect(error.diagnostics.contains { $0.code == "HZ1209" && $0.message.contains("needs 'on_conflict: update'") })
        }
    }

    @Test func aTableWithoutPrimaryKeyCannotBeUpdated() throws {
        let yaml = """
            harmonize: 1
            id: t.nokey
            version: 1.0.0
            source: {format: csv, files: x.csv}
            targets:
              - table: cdm_source
                on_conflict: update
                fields: {cdm_source_name: "'x'", cdm_source_abbreviation: "'x'", cdm_holder: "'x'", source_release_date: "date('2020-01-01')",
                         cdm_release_date: "date('2020-01-01')", cdm_version_concept_id: "0", vocabulary_version: "'x'"}
            """
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        #expect(throws: (any Error).self) { try MappingPlanner.plan(MappingLoader.load(yaml: yaml, file: "nokey.yaml"), context: context) }
        do {
            _ = try MappingPlanner.plan(MappingLoader.load(yaml: yaml, file: "nokey.yaml"), context: context)
        } catch {
            #expect(error.diagnostics.contains { $0.code == "HZ1208" })
        }
    }
}
