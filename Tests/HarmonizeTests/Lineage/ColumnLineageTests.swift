import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// Column-level lineage derived from the rules, and manifests that do not depend on when a run ran.
@Suite struct ColumnLineageTests {
    static func plan(_ yaml: String, file: String = "inline.yaml") throws -> MappingPlan {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        return try MappingPlanner.plan(MappingLoader.load(yaml: yaml, file: file), context: context)
    }

    @Test func eachColumnReadsItsFieldsWithTheKindOfTransformation() throws {
        let dir = TestSupport.temporaryDirectory("cl")
        TestSupport.write("code,concept_id\nA,1\n", to: dir + "/concepts.csv")
        let yaml = """
            harmonize: 1
            id: t.cl
            version: 1.0.0
            source: {files: x.csv}
            lookups:
              concepts: {file: concepts.csv, key: code, value: concept_id, type: integer}
            filter: "kind != 'COMMENT'"
            let:
              person: "to_int(substr(patient, 2))"
              same: person
              code: "upper(code)"
              concept: "lookup('concepts', code)"
            target: measurement
            fields:
              measurement_id: "to_int(id)"
              person_id: same
              measurement_concept_id: "concept ?? 0"
              measurement_date: "parse_date(day, 'yyyy-MM-dd')"
              measurement_type_concept_id: "32809"
              measurement_source_value: code
              value_source_value: "if flag == 'Y' then value else null"
              unit_source_value: unit
            """
        let lineage = ColumnLineage.derive(from: try Self.plan(yaml, file: dir + "/inline.yaml"))
        let t = try #require(lineage.first)
        #expect(t.table == "measurement")
        func inputs(_ c: String) -> [String] {
            (t.columns.first { $0.column == c }?.inputs ?? []).map { $0.field + ":" + $0.kind.rawValue + ($0.lookup.map { ":" + $0 } ?? "") }
        }
        #expect(inputs("measurement_id") == ["id:transformation"])
        #expect(inputs("unit_source_value") == ["unit:identity"])
        #expect(inputs("person_id") == ["patient:transformation"], "named values are followed transitively")
        // `code` the named value reads `code` the field (declared before it).
        #expect(inputs("measurement_concept_id") == ["code:lookup:concepts"])
        #expect(inputs("measurement_source_value") == ["code:transformation"])
        #expect(inputs("measurement_date") == ["day:transformation"])
        #expect(inputs("measurement_type_concept_id") == [], "a constant reads nothing")
        #expect(inputs("value_source_value") == ["flag:transformation", "value:transformation"])
        #expect(t.filters.map(\.field) == ["kind"])
        #expect(t.filters.allSatisfy { $0.kind == .filter })
        #expect(t.columns.first { $0.column == "measurement_id" }?.line == 15)
        #expect(t.columns.first { $0.column == "measurement_concept_id" }?.rule == "concept ?? 0")
    }

    @Test func joinedFieldsNameTheirJoinAndJoinKeysAreListedPerTable() throws {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plan = try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("fixtures/engine/joins/mappings/drugs.yaml")), context: context)
        let t = try #require(ColumnLineage.derive(from: plan).first)
        func inputs(_ c: String) -> [ColumnLineage.Input] { t.columns.first { $0.column == c }?.inputs ?? [] }
        #expect(inputs("person_id") == [.init(field: "ben", kind: .transformation, join: "prs")])
        #expect(inputs("drug_exposure_start_date") == [.init(field: "soin", kind: .identity, join: "prs")])
        #expect(inputs("drug_source_value") == [.init(field: "cip", kind: .identity)])
        #expect(t.filters == [.init(field: "k1", kind: .join, join: "prs"), .init(field: "k2", kind: .join, join: "prs")])
    }

    @Test func pseudonymsAreMarkedAsMasking() throws {
        let yaml = """
            harmonize: 1
            id: t.mask
            version: 1.0.0
            source: {files: x.csv}
            target: person
            fields:
              person_id: "pseudonym_int(nir, 'person')"
              gender_concept_id: "0"
              year_of_birth: "to_int(year)"
              race_concept_id: "0"
              ethnicity_concept_id: "0"
            """
        let context = PlanningContext(
            defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plan = try MappingPlanner.plan(MappingLoader.load(yaml: yaml, file: "inline.yaml"), context: context)
        let t = try #require(ColumnLineage.derive(from: plan).first)
        #expect(t.columns.first { $0.column == "person_id" }?.inputs == [.init(field: "nir", kind: .transformation, masked: true)])
        #expect(t.columns.first { $0.column == "year_of_birth" }?.inputs == [.init(field: "year", kind: .transformation)])
    }

    @Test func planPrintsColumnLineageAsTextAndJSON() throws {
        let text = try TestSupport.runCLI(["plan", "--mappings", TestSupport.path("mappings/research/measurements.yaml")])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(
            text.stdout.contains(
                "      measurement_concept_id (integer) = lookup('measures', code) ?? 0\n          line 46, reads code (lookup measures)"))
        #expect(text.stdout.contains("rows decided by: code (filter)"))
        let json = try TestSupport.runCLI(["plan", "--mappings", TestSupport.path("mappings/hospital/oru-measurement.yaml"), "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let tables = try #require(doc.first?["columnLineage"] as? [[String: Any]])
        let columns = try #require(tables.first?["columns"] as? [[String: Any]])
        let unit = try #require(columns.first { $0["column"] as? String == "unit_source_value" })
        #expect((unit["inputs"] as? [[String: Any]])?.first?["field"] as? String == "OBX-6.1")
        #expect((unit["inputs"] as? [[String: Any]])?.first?["kind"] as? String == "identity")
    }

    /// Two runs of the same inputs, mappings and parameters give manifests that differ only in
    /// their run ids and times, down to the stored JSON text (CSV with lookups; HL7 v2 and XML).
    @Test(arguments: [("mappings/research", "fixtures/research/input"), ("mappings/hospital", "fixtures/hospital")])
    func twoRunsOfTheSameInputsGiveEqualManifests(mappings: String, input: String) throws {
        let dir = TestSupport.temporaryDirectory("manifest")
        var stored: [String] = []
        var manifests: [RunManifest] = []
        for i in 0..<2 {
            let out = "\(dir)/o\(i).sqlite"
            let r = try TestSupport.runCLI(
                [
                    "run", "--mappings", TestSupport.path(mappings), "--input", TestSupport.path(input), "--output", out, "--no-quality", "--lineage",
                    "--max-reject-rate", "1", "--project", "p", "--key-env", "HZ_MANIFEST_KEY",
                ], environment: ["HZ_MANIFEST_KEY": String(repeating: "m", count: 40)])
            #expect(r.status == 0, "\(r.stderr)")
            let db = try SQLiteConnection(path: out, readOnly: true)
            let json = try #require(try db.scalar("SELECT manifest FROM harmonize_run").text)
            #expect(json.contains("\"columnLineage\""))
            let m = try JSONDecoder().decode(RunManifest.self, from: Data(json.utf8))
            manifests.append(m)
            // The stored text with the run id and times blanked.
            var masked = json
            for v in [m.runID, m.startedAt, m.finishedAt] { masked = masked.replacingOccurrences(of: "\"\(v)\"", with: "\"\"") }
            stored.append(masked)
        }
        try #require(manifests.count == 2)
        #expect(manifests[0].runID != manifests[1].runID)
        #expect(manifests[0].maskingRunIdentity == manifests[1].maskingRunIdentity)
        #expect(stored[0] == stored[1])
        #expect(manifests[0].mappings.allSatisfy { $0.columnLineage?.isEmpty == false })
        #expect(manifests[0].mappings.allSatisfy { $0.source != nil })
    }
}
