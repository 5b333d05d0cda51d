import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// The bundled SNDS mappings (`mappings/snds/`) together on the SNDS-like extract
/// (`fixtures/snds/input/`, written by `fixtures/snds/generate.py`), into SQLite (the
/// observation periods are derived from the written rows), compared table by table with the
/// goldens in `fixtures/snds/expected/` (re-record with `RECORD_GOLDEN=1`, which still fails).
///
/// The run uses the public test key (`PseudonymKey.mappingTests`), so the person ids in the
/// goldens can be recomputed independently with `fixtures/snds/test_ids.py --show NIR RANK`, and
/// the vocabulary fixture (`fixtures/vocabulary/`: fixture-only CIM10, CCAM, CIP13 and NABM
/// concepts, a few CIM-10 codes mapped to real standard concepts).
@Suite(.serialized) struct SNDSExampleTests {
    static let mappings = [
        "ir-ben-r", "ir-imb-r", "dcir-visit", "dcir-drug", "dcir-procedure", "dcir-measurement",
        "pmsi-mco-stay", "pmsi-mco-diagnoses", "pmsi-mco-acts", "observation-period",
    ]
    static let tables = [
        "person", "location", "death", "visit_occurrence", "condition_occurrence", "drug_exposure", "procedure_occurrence",
        "measurement", "observation_period",
    ]

    static func plans() throws -> [MappingPlan] {
        let vocabulary = try VocabularyStore(path: TestSupport.path("fixtures/vocabulary"))
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry(vocabulary: vocabulary))
        return try mappings.map { name in
            try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("mappings/snds/\(name).yaml")), context: context)
        }
    }

    /// Runs the pack once into a fresh SQLite database.
    static func run(_ label: String) throws -> (RunManifest, SQLiteConnection) {
        let dir = TestSupport.temporaryDirectory(label)
        let pipeline = Pipeline(
            plans: try plans(),
            options: RunOptions.keyed(
                TestSupport.path("fixtures/snds/input"), vocabulary: try VocabularyStore(path: TestSupport.path("fixtures/vocabulary"))))
        let manifest = try pipeline.run(into: PipelinedSink(SQLiteSink(outputPath: dir + "/omop.sqlite")))
        return (manifest, try SQLiteConnection(path: dir + "/omop.sqlite", readOnly: true))
    }

    /// A table as CSV text: the header, then the rows sorted by their text (null is empty).
    static func dump(_ db: SQLiteConnection, _ table: String) throws -> String {
        let columns = try db.query("SELECT name FROM pragma_table_info('\(table)') ORDER BY cid").map { $0[0].description }
        let rows = try db.query("SELECT * FROM \(table)").map { $0.map(\.description).joined(separator: ",") }.sorted()
        return ([columns.joined(separator: ",")] + rows).joined(separator: "\n") + "\n"
    }

    /// The person id every SNDS mapping computes for a beneficiary (under the test key).
    static func personID(_ nir: String, _ rank: Int) throws -> Int {
        Pseudonymizer(key: .mappingTests, purpose: "person").integer(try #require(FrenchCodes.sndsPersonKey(nir: nir, rank: String(rank))))
    }

    /// The fixture's made-up pseudonymised NIR on line `row` (1-based, after the header) of
    /// IR_BEN_R.csv: row 1 is person 1, rows 7 and 8 the twins (`generate.py`).
    static func nir(row: Int) throws -> String {
        let text = try String(contentsOfFile: TestSupport.path("fixtures/snds/input/IR_BEN_R.csv"), encoding: .isoLatin1)
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        return String(try #require(lines[row].split(separator: ";").first))
    }

    @Test func matchesTheGoldenOutputTableByTable() throws {
        let (_, db) = try Self.run("snds-golden")
        for table in Self.tables {
            Golden.assertMatches(try Self.dump(db, table), golden: "fixtures/snds/expected/\(table).csv")
        }
        let rejects = try db.query("SELECT mapping, reason, field FROM harmonize_reject").map { $0.map(\.description).joined(separator: ",") }
            .sorted()
        Golden.assertMatches((["mapping,reason,field"] + rejects).joined(separator: "\n") + "\n", golden: "fixtures/snds/expected/_rejects.csv")
    }

    @Test func everyRecordIsAccountedForAndTheCountsAreTheExpectedOnes() throws {
        let (manifest, db) = try Self.run("snds-counts")
        for l in manifest.ledger { #expect(l.balances, "\(l.mapping) \(l.file)") }
        func ledger(_ mapping: String, groupStage: Bool = false) -> RunManifest.LedgerEntry? {
            manifest.ledger.first { $0.mapping == mapping && ($0.groupStage ?? false) == groupStage }
        }
        // IR_BEN_R: 30 rows, none rejected (sex code 9 is kept with gender_concept_id 0).
        #expect(ledger("snds.ir_ben_r").map { [$0.read, $0.written, $0.rejected] } == [30, 30, 0])
        // IR_IMB_R: 6 rows, one without a CIM-10 code.
        #expect(ledger("snds.ir_imb_r").map { [$0.read, $0.written, $0.filtered] } == [6, 5, 1])
        // PMSI stays: 8; filtered: the linkage error and the AP-HP geographic FINESS; rejected:
        // the twins' stay (ambiguous) and the patient absent from IR_BEN_R.
        #expect(ledger("snds.pmsi_mco_stay").map { [$0.read, $0.written, $0.rejected, $0.filtered] } == [8, 4, 2, 2])
        let reasons = try db.query(
            "SELECT reason, count(*) FROM harmonize_reject WHERE mapping = 'snds.pmsi_mco_stay' GROUP BY reason ORDER BY reason")
        #expect(reasons == [[.string("join-ambiguous"), .int(1)], [.string("join-missing"), .int(1)]])
        // DCIR: 28 lines; 1 for information and 1 public-hospital line filtered before grouping.
        #expect(ledger("snds.dcir_visit").map { [$0.read, $0.filtered, $0.grouped] } == [28, 2, 26])
        // 24 groups: the consultation cancelled by a regularisation nets to zero (filtered).
        #expect(ledger("snds.dcir_visit", groupStage: true).map { [$0.read, $0.written, $0.filtered] } == [24, 23, 1])
        // The partly cancelled delivery (3 − 1 boxes) is one drug row of 2 boxes.
        #expect(ledger("snds.dcir_drug", groupStage: true).map { [$0.read, $0.written] } == [3, 3])
        #expect(try db.scalar("SELECT count(*) FROM drug_exposure WHERE quantity = 2 AND drug_source_value = '3400930000038'") == .int(1))
        #expect(try db.scalar("SELECT count(*) FROM person") == .int(30))
        #expect(try db.scalar("SELECT count(*) FROM person WHERE gender_concept_id = 0 AND gender_source_value = '9'") == .int(1))
        #expect(try db.scalar("SELECT count(*) FROM death") == .int(2))
        #expect(try db.scalar("SELECT count(*) FROM visit_occurrence WHERE visit_concept_id IN (9201, 262)") == .int(4))
        #expect(try db.scalar("SELECT count(*) FROM visit_occurrence WHERE visit_concept_id = 262") == .int(1), "the stay through the emergency unit")
        #expect(try db.scalar("SELECT count(*) FROM visit_occurrence WHERE visit_concept_id = 5083") == .int(1), "the teleconsultation")
        // One observation period per person with an encounter or a death (ALD periods are not encounters).
        #expect(try db.scalar("SELECT count(*) FROM observation_period") == .int(18))
        #expect(
            try db.scalar(
                "SELECT count(*) FROM observation_period WHERE person_id NOT IN (SELECT person_id FROM visit_occurrence UNION SELECT person_id FROM death)"
            ) == .int(0))
    }

    @Test func theSameBeneficiaryHasTheSamePersonIdInDCIRAndPMSI() throws {
        let (_, db) = try Self.run("snds-identity")
        let p1 = Value.int(try Self.personID(try Self.nir(row: 1), 1))
        // Person 1 has a DCIR consultation, a PMSI stay, PMSI acts and diagnoses, and an ALD.
        #expect(try db.scalar("SELECT count(*) FROM person WHERE person_id = ?", [p1]) == .int(1))
        #expect(try db.scalar("SELECT count(*) FROM visit_occurrence WHERE person_id = ? AND visit_concept_id = 9201", [p1]) == .int(1), "PMSI")
        #expect(try db.scalar("SELECT count(*) FROM visit_occurrence WHERE person_id = ? AND visit_concept_id = 9202", [p1]) == .int(3), "DCIR")
        #expect(try db.scalar("SELECT count(*) FROM drug_exposure WHERE person_id = ?", [p1]) == .int(2))
        #expect(try db.scalar("SELECT count(*) FROM procedure_occurrence WHERE person_id = ?", [p1]) == .int(5), "2 DCIR + 3 PMSI acts")
        #expect(try db.scalar("SELECT count(*) FROM condition_occurrence WHERE person_id = ?", [p1]) == .int(4), "DP, 2 DAS, ALD")
        // Twins: two persons from one NIR; their DCIR visits are theirs, their PMSI stay nobody's.
        let t1 = Value.int(try Self.personID(try Self.nir(row: 7), 1))
        let t2 = Value.int(try Self.personID(try Self.nir(row: 8), 2))
        #expect(t1 != t2)
        #expect(try db.scalar("SELECT count(*) FROM visit_occurrence WHERE person_id = ?", [t1]) == .int(1))
        #expect(try db.scalar("SELECT count(*) FROM visit_occurrence WHERE person_id = ?", [t2]) == .int(1))
        // Every event belongs to a person of the referential.
        for table in ["visit_occurrence", "condition_occurrence", "drug_exposure", "procedure_occurrence", "measurement", "death"] {
            #expect(try db.scalar("SELECT count(*) FROM \(table) WHERE person_id NOT IN (SELECT person_id FROM person)") == .int(0), "\(table)")
        }
        // No raw pseudonymised NIR in the output.
        let nirs = try (1...30).map { try Self.nir(row: $0) }
        for v in try db.query("SELECT person_source_value FROM person") { #expect(!nirs.contains(v[0].description)) }
    }

    /// A beneficiary who objected disappears from DCIR and PMSI alike: the PMSI and satellite
    /// mappings name the person through their joins (`subject:` is read after the joins).
    @Test func anObjectionRemovesThePersonFromEveryTableOfThePack() throws {
        let dir = TestSupport.temporaryDirectory("snds-exclude")
        let nir = try Self.nir(row: 1)
        TestSupport.write("\(nir)#1\n", to: dir + "/objections.txt")
        var options = RunOptions.keyed(
            TestSupport.path("fixtures/snds/input"), vocabulary: try VocabularyStore(path: TestSupport.path("fixtures/vocabulary")))
        options.exclusion = try ExclusionList.load(path: dir + "/objections.txt", key: .mappingTests)
        let manifest = try Pipeline(plans: try Self.plans(), options: options).run(into: PipelinedSink(SQLiteSink(outputPath: dir + "/omop.sqlite")))
        let db = try SQLiteConnection(path: dir + "/omop.sqlite", readOnly: true)
        let p1 = Value.int(try Self.personID(nir, 1))
        for table in ["person", "visit_occurrence", "condition_occurrence", "drug_exposure", "procedure_occurrence", "observation_period"] {
            #expect(try db.scalar("SELECT count(*) FROM \(table) WHERE person_id = ?", [p1]) == .int(0), "\(table)")
        }
        let excluded = Dictionary(grouping: manifest.ledger, by: \.mapping).mapValues { $0.reduce(0) { $0 + $1.excluded } }
        // The person's records in each pack file (DCIR lines, the PMSI stay, its acts and diagnoses, the ALD).
        for m in [
            "snds.ir_ben_r", "snds.ir_imb_r", "snds.dcir_visit", "snds.dcir_drug", "snds.dcir_procedure", "snds.pmsi_mco_stay", "snds.pmsi_mco_acts",
            "snds.pmsi_mco_diagnoses",
        ] {
            #expect((excluded[m] ?? 0) > 0, "\(m)")
        }
        #expect(manifest.ledger.allSatisfy { $0.balances })
        #expect(manifest.parameters["exclude_check"]?.hasPrefix("passed") == true)
    }

    /// The PRS_NAT_REF visit table: the HDH's 300 natures (outpatient, pharmacy, laboratory) and the
    /// 7 telehealth natures → 5083, each code once.
    @Test func thePrestationNatureTableHoldsTheHDHRowsAndTheTelehealthNatures() throws {
        let text = try String(contentsOfFile: TestSupport.path("mappings/snds/prs_nat_ref_visit.csv"), encoding: .utf8)
        var byCode: [String: (concept: String, origin: String)] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(byCode[cells[0]] == nil, "code \(cells[0]) twice")
            byCode[cells[0]] = (cells[1], cells.last ?? "")
        }
        let hdh = byCode.values.filter { $0.origin == "HDH" }
        #expect(hdh.count == 300)
        #expect(Set(hdh.map(\.concept)) == ["9202", "581458", "32036"])
        for code in ["1191", "1192", "1193", "3103", "3104", "3105", "1096"] {
            #expect(byCode[code]?.concept == "5083", "\(code)")
            #expect(byCode[code]?.origin == "telehealth", "\(code)")
        }
        #expect(byCode.count == 307)
    }
}
