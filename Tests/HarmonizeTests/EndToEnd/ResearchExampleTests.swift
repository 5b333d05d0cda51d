import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// The bundled research example (the README's main command) end to end: Latin-1 and UTF-8 with a
/// BOM, semicolons, decimal commas, dd/mm/yyyy dates, quoted delimiters, lookups and filters.
@Suite struct ResearchExampleTests {
    static func plans() throws -> [MappingPlan] {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        return try ["patients", "measurements", "questionnaire"].map { name in
            try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("mappings/research/\(name).yaml")), context: context)
        }
    }

    @Test func matchesTheGoldenOutputRowByRow() throws {
        let out = TestSupport.temporaryDirectory("research") + "/csv"
        let pipeline = Pipeline(plans: try Self.plans(), options: RunOptions(inputDirectory: TestSupport.path("fixtures/research/input")))
        let manifest = try pipeline.run(into: CSVSink(outputPath: out, canonicalSort: true))
        for table in ["person", "observation_period", "measurement", "observation"] {
            let text = try String(contentsOfFile: "\(out)/\(table).csv", encoding: .utf8)
            Golden.assertMatches(text, golden: "fixtures/research/expected/\(table).csv")
        }
        // Accounting: every record is written, rejected or filtered.
        for l in manifest.ledger { #expect(l.balances, "\(l.mapping) \(l.file)") }
        let byMapping = Dictionary(uniqueKeysWithValues: manifest.ledger.map { ($0.mapping, $0) })
        #expect(byMapping["research.patients"]?.read == 12)
        #expect(byMapping["research.patients"]?.written == 12)
        #expect(byMapping["research.measurements"]?.filtered == 2, "the two COMMENT rows")
        #expect(byMapping["research.measurements"]?.written == 28)
        #expect(manifest.rejectedCount == 0)
        #expect(manifest.inputs.count == 3)
        #expect(manifest.inputs.allSatisfy { $0.sha256.count == 64 })
    }

    @Test func theSQLiteOutputHoldsTheSameRows() throws {
        let dir = TestSupport.temporaryDirectory("research-sqlite")
        let pipeline = Pipeline(plans: try Self.plans(), options: RunOptions(inputDirectory: TestSupport.path("fixtures/research/input")))
        _ = try pipeline.run(into: PipelinedSink(SQLiteSink(outputPath: dir + "/omop.sqlite")))
        let db = try SQLiteConnection(path: dir + "/omop.sqlite", readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM person") == .int(12))
        #expect(try db.scalar("SELECT count(*) FROM measurement") == .int(28))
        // Decimal comma, lookups and a Latin-1 accent survive the trip.
        #expect(
            try db.query("SELECT value_as_number, unit_concept_id, measurement_concept_id FROM measurement WHERE measurement_id = 3") == [
                [.double(7.2), .int(8554), .int(3_004_410)]
            ])
        #expect(
            try db.scalar("SELECT value_as_string FROM observation WHERE observation_id = 7") == .string("se déplace en fauteuil; très coopérative"))
        #expect(try db.scalar("SELECT birth_datetime FROM person WHERE person_id = 5") == .string("1980-02-29T00:00:00"))
        #expect(try db.scalar("SELECT observation_period_end_date FROM observation_period WHERE person_id = 2") == .string("2024-12-31"))
    }

    @Test func rerunningGivesTheSameRows() throws {
        let dir = TestSupport.temporaryDirectory("rerun")
        for _ in 0..<2 {
            let pipeline = Pipeline(plans: try Self.plans(), options: RunOptions(inputDirectory: TestSupport.path("fixtures/research/input")))
            _ = try pipeline.run(into: SQLiteSink(outputPath: dir + "/omop.sqlite"))
        }
        let db = try SQLiteConnection(path: dir + "/omop.sqlite", readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM person") == .int(12), "no duplicates after a second run")
        #expect(try db.scalar("SELECT count(*) FROM harmonize_run") == .int(1))
    }
}
