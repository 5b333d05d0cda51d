import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// The bundled hospital mappings (ADT → persons and visits updated by later messages, ORU → lab
/// measurements and textual observations, HIS XML export → visits, unit stays, diagnoses and acts)
/// run into SQLite on their fixtures, compared table by table with the golden outputs in
/// `fixtures/hospital/expected/` (re-record with `RECORD_GOLDEN=1`, which still fails the test).
@Suite struct HospitalExampleTests {
    static let mappings = ["adt-person-visit", "oru-measurement", "his-visit", "his-visit-detail", "his-condition", "his-procedure"]
    static let tables = [
        "person", "visit_occurrence", "visit_detail", "condition_occurrence", "procedure_occurrence", "measurement", "observation",
    ]

    static func plans() throws -> [MappingPlan] {
        // The public test key: person ids are fixed numbers in the goldens.
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        return try mappings.map { name in
            try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("mappings/hospital/\(name).yaml")), context: context)
        }
    }

    /// A table of the output as CSV text in the CSV sink's format (header, rows sorted).
    static func csv(_ db: SQLiteConnection, _ sql: String) throws -> String {
        let st = try db.prepare(sql)
        var header: [String] = []
        var rows: [String] = []
        while try st.step() {
            if header.isEmpty { header = (0..<st.columnCount).map(st.columnName) }
            rows.append((0..<st.columnCount).map { CSVSink.field(st.column($0)) }.joined(separator: ","))
        }
        if header.isEmpty { header = (0..<st.columnCount).map(st.columnName) }
        return header.joined(separator: ",") + "\n" + rows.map { $0 + "\n" }.joined()
    }

    static func run(into output: String) throws -> RunManifest {
        // The lab's patients have no ADT message in the fixtures: keep their results (not orphans here).
        var options = RunOptions.keyed(TestSupport.path("fixtures/hospital"))
        options.holdsBackOrphans = false
        let pipeline = Pipeline(plans: try plans(), options: options)
        return try pipeline.run(into: SQLiteSink(outputPath: output))
    }

    @Test func matchesTheGoldenOutputRowByRow() throws {
        let out = TestSupport.temporaryDirectory("hospital-golden") + "/omop.sqlite"
        let manifest = try Self.run(into: out)
        let db = try SQLiteConnection(path: out, readOnly: true)
        for table in Self.tables {
            let text = try Self.csv(db, "SELECT * FROM \(table)")
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let sorted = ([lines[0]] + lines.dropFirst().filter { !$0.isEmpty }.sorted()).joined(separator: "\n") + "\n"
            Golden.assertMatches(sorted, golden: "fixtures/hospital/expected/\(table).csv")
        }
        let rejects = try Self.csv(db, "SELECT mapping, file, line, record, field, reason, rule, message FROM harmonize_reject ORDER BY rowid")
        Golden.assertMatches(rejects, golden: "fixtures/hospital/expected/_rejects.csv")

        // Accounting: every record is written, rejected or filtered.
        for l in manifest.ledger { #expect(l.balances, "\(l.mapping) \(l.file)") }
        let byMapping = Dictionary(grouping: manifest.ledger, by: \.mapping)
        #expect(byMapping["hospital.adt_person_visit"]?.map(\.written) == [2, 4], "a01.hl7, movements.hl7")
        #expect(byMapping["hospital.adt_person_visit"]?.map(\.filtered) == [0, 1], "the A02 transfer")
        #expect(byMapping["hospital.oru_measurement"]?.map(\.written) == [6])
        #expect(byMapping["hospital.oru_measurement"]?.map(\.rejected) == [1], "the message with a bad MSH-2")
        #expect(byMapping["hospital.his_visit"]?.map(\.rejected) == [1], "the stay without a discharge")
        #expect(byMapping["hospital.his_visit_detail"]?.map(\.written) == [3])
        #expect(byMapping["hospital.his_condition"]?.map(\.written) == [6])
        #expect(byMapping["hospital.his_procedure"]?.map(\.written) == [3])
        // Six ADT messages reach the tables (two per file updating a visit, one the person of
        // a01.hl7 again): rows are per key, and the manifest says how many rows were updates.
        let counts = Dictionary(uniqueKeysWithValues: manifest.tables.map { ($0.table, $0) })
        #expect(counts["person"]?.rows == 3)
        #expect(counts["person"]?.updated == 3, "patient 100001 in three later messages")
        #expect(counts["visit_occurrence"]?.rows == 6, "four ADT visits and two HIS stays")
        #expect(counts["visit_occurrence"]?.updated == 2, "the A08 and A03 of visit V0003")
        #expect(counts["measurement"]?.updated == nil)
        #expect(try Self.csv(db, "SELECT count(*) FROM visit_occurrence WHERE visit_occurrence_id = 3") == "count(*)\n1\n")
    }

    @Test func aSecondRunGivesTheSameRows() throws {
        let dir = TestSupport.temporaryDirectory("hospital-rerun")
        _ = try Self.run(into: dir + "/a.sqlite")
        _ = try Self.run(into: dir + "/b.sqlite")
        _ = try Self.run(into: dir + "/b.sqlite")  // over its own previous output
        let a = try SQLiteConnection(path: dir + "/a.sqlite", readOnly: true)
        let b = try SQLiteConnection(path: dir + "/b.sqlite", readOnly: true)
        for table in Self.tables {
            #expect(try Self.csv(a, "SELECT * FROM \(table) ORDER BY 1") == Self.csv(b, "SELECT * FROM \(table) ORDER BY 1"), "\(table)")
        }
    }

    @Test func theCSVSinkRefusesMappingsThatUpdateRows() throws {
        let out = TestSupport.temporaryDirectory("hospital-csv") + "/csv"
        let pipeline = Pipeline(plans: try Self.plans(), options: RunOptions.keyed(TestSupport.path("fixtures/hospital")))
        do {
            _ = try pipeline.run(into: CSVSink(outputPath: out))
            Issue.record("the CSV sink accepted updates")
        } catch {
            #expect(error.kind == .configuration)
            #expect(error.code == .preflightFailed)
            #expect(error.diagnostics.contains { $0.code == ErrorCode.sinkCannotUpdate.rawValue && $0.message.contains("on_conflict: update") })
            #expect(error.description.contains("hospital.adt_person_visit"))
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
