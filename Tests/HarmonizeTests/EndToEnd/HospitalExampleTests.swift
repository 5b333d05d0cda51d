import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// The bundled hospital mappings (ADT^A01 → person and visits, ORU^R01 → measurements, HIS XML
/// export → visits) on their fixtures, compared row by row with the golden outputs in
/// `fixtures/hospital/expected/` (re-record with `RECORD_GOLDEN=1`, which still fails the test).
@Suite struct HospitalExampleTests {
    static let mappings = ["adt-person-visit", "oru-measurement", "his-visit"]

    static func plans() throws -> [MappingPlan] {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry(key: nil))
        return try mappings.map { name in
            try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("mappings/hospital/\(name).yaml")), context: context)
        }
    }

    @Test func matchesTheGoldenOutputRowByRow() throws {
        let out = TestSupport.temporaryDirectory("hospital-golden") + "/csv"
        let pipeline = Pipeline(plans: try Self.plans(), options: RunOptions(inputDirectory: TestSupport.path("fixtures/hospital")))
        let manifest = try pipeline.run(into: CSVSink(outputPath: out, canonicalSort: true))
        for table in ["person", "visit_occurrence", "measurement", "_rejects"] {
            let text = try String(contentsOfFile: "\(out)/\(table).csv", encoding: .utf8)
            Golden.assertMatches(text, golden: "fixtures/hospital/expected/\(table).csv")
        }
        // Accounting: every record is written or rejected.
        for l in manifest.ledger { #expect(l.balances, "\(l.mapping) \(l.file)") }
        let byMapping = Dictionary(grouping: manifest.ledger, by: \.mapping)
        #expect(byMapping["hospital.adt_person_visit"]?.map(\.written) == [2])
        #expect(byMapping["hospital.adt_person_visit"]?.map(\.rejected) == [0])
        #expect(byMapping["hospital.oru_measurement"]?.map(\.written) == [4])
        #expect(byMapping["hospital.oru_measurement"]?.map(\.rejected) == [1], "the message with a bad MSH-2")
        #expect(byMapping["hospital.his_visit"]?.map(\.written) == [2])
        #expect(byMapping["hospital.his_visit"]?.map(\.rejected) == [1], "the stay without a discharge")
        #expect(manifest.rejectedCount == 2)
        let rows: Int = manifest.tables.reduce(0) { $0 + $1.rows }
        #expect(rows == 10, "2 persons, 4 visits, 4 measurements")
    }
}
