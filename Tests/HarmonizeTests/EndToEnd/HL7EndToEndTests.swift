import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// An ORU^R01 file (one record per OBX) mapped into OMOP `measurement` through `Pipeline` and `CSVSink`.
@Suite struct HL7EndToEndTests {
    static func plan() throws -> MappingPlan {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        return try MappingPlanner.plan(
            MappingLoader.load(path: TestSupport.path("mappings/hospital/oru-measurement.yaml")), context: context)
    }

    @Test func oruResultsBecomeMeasurements() throws {
        let out = TestSupport.temporaryDirectory("oru") + "/csv"
        let pipeline = Pipeline(plans: [try Self.plan()], options: RunOptions.keyed(TestSupport.path("fixtures/hospital")))
        let manifest = try pipeline.run(into: CSVSink(outputPath: out, canonicalSort: true))
        let text = try String(contentsOfFile: "\(out)/measurement.csv", encoding: .utf8)
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)
        try #require(lines.count == 5, "header + four OBX")
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        func column(_ name: String, _ row: Int) -> String? {
            guard let i = header.firstIndex(of: name) else { return nil }
            let cells = lines[row].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return i < cells.count ? cells[i] : nil
        }
        #expect((1...4).map { column("measurement_id", $0) } == ["100101", "100102", "100201", "100301"])
        // person_id: the keyed pseudonym of the HOSP identifier (public test key).
        #expect(
            (1...4).map { column("person_id", $0) } == ["8120991802095892616", "8120991802095892616", "6489549449617047373", "864718723924836560"])
        #expect((1...4).map { column("measurement_source_value", $0) } == ["2089-1", "2085-9", "2345-7", "2951-2"])
        #expect(column("value_source_value", 2) == "", "\"\" (present-null) maps to null")
        #expect(column("measurement_date", 3) == "2024-01-02")
        #expect(column("unit_source_value", 3) == "mmol/L")
        let ledger = try #require(manifest.ledger.first)
        #expect(ledger.balances)
        #expect(ledger.read == 7)
        #expect(ledger.written == 6, "four measurements and two observations")
        #expect(ledger.rejected == 1, "the message with a bad MSH-2")
    }

    @Test func anInlineSchemaTypesPaths() throws {
        let yaml = """
            harmonize: 1
            id: t.schema
            version: 1.0.0
            source:
              format: hl7v2
              files: "oru/*.hl7"
              record: OBX
              schema:
                fields:
                  - {name: "MSH-10", type: integer}
                  - {name: "OBX-1", type: integer}
                  - {name: "OBX-5", type: number}
                  - {name: "OBX-14", type: datetime, format: "%Y%m%d%H%M%S"}
            target: measurement
            fields:
              measurement_id: "`MSH-10` * 100 + `OBX-1`"
              person_id: "1"
              measurement_concept_id: "0"
              measurement_date: "to_date(`OBX-14`)"
              measurement_type_concept_id: "32817"
              value_as_number: "`OBX-5`"
            """
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plan = try MappingPlanner.plan(MappingLoader.load(yaml: yaml, file: "inline.yaml"), context: context)
        let out = TestSupport.temporaryDirectory("oru-schema") + "/csv"
        let manifest = try Pipeline(plans: [plan], options: RunOptions.keyed(TestSupport.path("fixtures/hospital")))
            .run(into: CSVSink(outputPath: out, canonicalSort: true))
        let ledger = try #require(manifest.ledger.first)
        #expect(ledger.written == 4)
        #expect(ledger.rejected == 3, "the bad MSH-2 and the two textual results, not numbers")
        let text = try String(contentsOfFile: "\(out)/measurement.csv", encoding: .utf8)
        #expect(text.contains("100101,1,0,2024-01-01,"))
    }

    @Test func theLoaderAcceptsHL7KeysAndRejectsWrongOnes() throws {
        let dir = TestSupport.temporaryDirectory("hl7-loader")
        TestSupport.write(
            "harmonize: 1\nid: t\nversion: 1.0.0\nsource:\n  format: hl7v2\n  files: x.hl7\n  record: OBXX\ntarget: measurement\nfields:\n  measurement_id: \"1\"\n",
            to: dir + "/bad.yaml")
        #expect(throws: (any Error).self) { try MappingLoader.load(path: dir + "/bad.yaml") }
        TestSupport.write(
            "harmonize: 1\nid: t\nversion: 1.0.0\nsource:\n  format: hl7v2\n  files: x.hl7\n  record: OBX\n  max-record-bytes: 1000\ntarget: measurement\nfields:\n  measurement_id: \"1\"\n",
            to: dir + "/good.yaml")
        let spec = try MappingLoader.load(path: dir + "/good.yaml")
        #expect(spec.source.record?.text == "OBX")
        #expect(spec.source.maxRecordBytes == 1000)
        #expect(spec.source.format.text == "hl7v2")
    }
}

/// A HIS XML export (one record per `<sejour>`, default namespace) into OMOP `visit_occurrence`,
/// and `harmonize-run inspect` on HL7 and XML files.
@Suite struct XMLEndToEndTests {
    @Test func staysBecomeVisits() throws {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plan = try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("mappings/hospital/his-visit.yaml")), context: context)
        let out = TestSupport.temporaryDirectory("his") + "/csv"
        let pipeline = Pipeline(plans: [plan], options: RunOptions.keyed(TestSupport.path("fixtures/hospital")))
        let manifest = try pipeline.run(into: CSVSink(outputPath: out, canonicalSort: true))
        let text = try String(contentsOfFile: "\(out)/visit_occurrence.csv", encoding: .utf8)
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        #expect(lines.count == 3, "header + two stays; the third has no end date")
        #expect(lines.dropFirst().first?.hasPrefix("1000001,7270899047192227461,9201,2024-01-01,") == true)
        let ledger = try #require(manifest.ledger.first)
        #expect(ledger.read == 3)
        #expect(ledger.written == 2)
        #expect(ledger.rejected == 1)
    }

    @Test func inspectShowsHL7PathsAndRejects() throws {
        let r = try TestSupport.runCLI(["inspect", TestSupport.path("fixtures/hospital/oru/lab.hl7")])
        #expect(r.status == 1, "one message is rejected")
        #expect(r.stdout.contains("PID-3[2].4.1 = \"INS-NIR\""))
        #expect(r.stdout.contains("OBX[2]-5 = null"))
        #expect(r.stdout.contains("structure-error"))
        let x = try TestSupport.runCLI(["inspect", TestSupport.path("fixtures/hospital/his/sejours.xml"), "--json"])
        #expect(x.status == 0, "\(x.stderr)")
        #expect(x.stdout.contains("/export/sejour/patient/@ipp"))
        let bad = try TestSupport.runCLI(["inspect", "--format", "nope", "x"])
        #expect(bad.status == 2)
    }
}

/// The bundled hospital mappings together (ADT → person and visits, ORU → measurements and
/// observations, HIS XML → visits) into SQLite.
@Suite struct HospitalMappingsTests {
    @Test func allHospitalMappingsRunTogether() throws {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plans = try ["adt-person-visit", "oru-measurement", "his-visit"].map { name in
            try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("mappings/hospital/\(name).yaml")), context: context)
        }
        let dir = TestSupport.temporaryDirectory("hospital")
        // The lab's patients have no ADT message in the fixtures: keep their results (not orphans here).
        var options = RunOptions.keyed(TestSupport.path("fixtures/hospital"))
        options.holdsBackOrphans = false
        let pipeline = Pipeline(plans: plans, options: options)
        let manifest = try pipeline.run(into: SQLiteSink(outputPath: dir + "/omop.sqlite"))
        let balanced = manifest.ledger.allSatisfy { $0.balances }
        #expect(balanced)
        let db = try SQLiteConnection(path: dir + "/omop.sqlite", readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM person") == .int(3), "one row per patient, however many messages")
        #expect(try db.scalar("SELECT count(*) FROM visit_occurrence") == .int(6), "four ADT visits (one updated twice), two HIS stays")
        #expect(try db.scalar("SELECT count(*) FROM measurement") == .int(4))
        #expect(try db.scalar("SELECT count(*) FROM observation") == .int(2))
        #expect(
            try db.query("SELECT gender_concept_id, year_of_birth FROM person ORDER BY year_of_birth")
                == [[.int(8507), .int(1950)], [.int(8532), .int(1975)], [.int(8532), .int(1980)]])
        // The HIS stay of patient 100001 and the ADT visits of the same patient share person_id.
        #expect(
            try db.scalar("SELECT count(DISTINCT person_id) FROM visit_occurrence WHERE visit_source_value IN ('V0001', 'V0003', 'UF001')") == .int(1)
        )
        #expect(try db.scalar("SELECT visit_concept_id FROM visit_occurrence WHERE visit_source_value = 'V0002'") == .int(9202))
    }
    /// The columns no mapping of a run writes (the SQLite sink creates their partial indexes with
    /// the table): a column of a table is left null only when no mapping writing that table has
    /// a rule for it; the run description's table has none.
    @Test func columnsLeftNullAreThoseNoMappingWrites() throws {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        func leftNull(_ names: [String]) throws -> [String: Set<String>] {
            let plans = try names.map { name in
                try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("mappings/hospital/\(name).yaml")), context: context)
            }
            var options = RunOptions(inputDirectory: TestSupport.path("fixtures/hospital"))
            options.runDescription = CDMSource.runDescription(model: plans[0].model)
            let pipeline = Pipeline(plans: plans, options: options)
            return pipeline.columnsLeftNull(in: try pipeline.outputTables())
        }
        let his = try leftNull(["his-visit", "oru-measurement"])
        #expect(try #require(his["visit_occurrence"]).isSuperset(of: ["provider_id", "care_site_id", "discharged_to_source_value"]))
        #expect(his["visit_occurrence"]?.contains("person_id") == false)
        #expect(try #require(his["measurement"]).isSuperset(of: ["visit_occurrence_id", "visit_detail_id", "provider_id"]))
        #expect(his["measurement"]?.intersection(["measurement_id", "person_id", "value_as_number", "unit_source_value"]).isEmpty == true)
        #expect(his["cdm_source"] == nil, "the run description's table is filled by the run, not by a mapping")
        // The ADT mapping writes the discharge of its visits: with it, that column is not left null.
        let both = try leftNull(["his-visit", "adt-person-visit"])
        #expect(both["visit_occurrence"]?.contains("discharged_to_source_value") == false)
        #expect(both["visit_occurrence"]?.contains("provider_id") == true)
    }
}
