import Foundation
import Testing

@testable import Harmonize

/// The Athena loader and the store's code resolution.
@Suite struct VocabularyStoreTests {
    /// The bundled fixture (tab-delimited, upper-case headers, yyyyMMdd), loaded once.
    static let fixtureStore: String = {
        let out = TestSupport.temporaryDirectory("vocab-fixture") + "/vocabulary.sqlite"
        _ = try? VocabularyLoader.load(directory: TestSupport.path("fixtures/vocabulary"), output: out)
        return out
    }()

    static func commaStore() throws -> (VocabularyStore, VocabularyLoadReport) {
        let out = TestSupport.temporaryDirectory("vocab-comma") + "/vocabulary.sqlite"
        let report = try VocabularyLoader.load(directory: TestSupport.path("Tests/HarmonizeTests/Fixtures/vocabulary-comma"), output: out)
        return (try VocabularyStore(path: out), report)
    }

    @Test func theTabDelimitedAthenaFixtureLoadsEveryRow() throws {
        let store = try VocabularyStore(path: Self.fixtureStore)
        let counts = Dictionary(uniqueKeysWithValues: store.counts().map { ($0.table, $0.rows) })
        #expect(counts["concept"] == 100)
        #expect(counts["concept_relationship"] == 133)
        #expect(counts["vocabulary"] == 13)
        #expect(counts["concept_ancestor"] == 0)
        // yyyyMMdd dates are stored as ISO dates.
        let db = try SQLiteConnection(path: Self.fixtureStore, readOnly: true)
        #expect(try db.scalar("SELECT valid_end_date FROM concept WHERE concept_id = 2000000024") == .string("2019-12-31"))
        #expect(try db.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'concept_vocabulary_code'") == .int(1))
    }

    /// A folder is loaded into a temporary store whose file is unlinked once open: a process that
    /// exits without deinitializing the store (the CLI) leaves no file in the temporary folder.
    @Test func aFolderStoreLeavesNoTemporaryFileBehind() throws {
        let store = try VocabularyStore(path: TestSupport.path("fixtures/vocabulary"))
        let temporary = try #require(store.temporaryStorePath)
        #expect(!FileManager.default.fileExists(atPath: temporary))
        // Still readable through the open connection.
        #expect(try store.resolve(vocabulary: "CIM10", code: "I10").standardConceptID == 320128)
        #expect(try VocabularyStore(path: Self.fixtureStore).temporaryStorePath == nil)
    }

    @Test func aCodeFollowsMapsToItsStandardConcept() throws {
        let store = try VocabularyStore(path: Self.fixtureStore)
        let i10 = try store.resolve(vocabulary: "CIM10", code: "I10")
        #expect(i10.sourceConceptID == 2_000_000_001)
        #expect(i10.standardConceptID == 320128)
        #expect(i10.standard?.domain == "Condition")
        #expect(try store.resolve(vocabulary: "CIM10", code: "Z72.0").standard?.domain == "Observation")
        #expect(try store.resolve(vocabulary: "CIM10", code: "Z13.3").standard?.domain == "Measurement")
        #expect(try store.resolve(vocabulary: "CIM10", code: "K92.2").standardConceptID == 192671)
        // A standard code maps to itself.
        #expect(try store.resolve(vocabulary: "SNOMED", code: "59621000").standardConceptID == 320128)
        #expect(try store.resolve(vocabulary: "Gender", code: "F").standardConceptID == 8532)
        // Unmapped, unknown, and deprecated (whose Maps to is invalid too).
        let e780 = try store.resolve(vocabulary: "CIM10", code: "E78.0")
        #expect(e780.sourceConceptID == 2_000_000_003 && e780.standardConceptID == nil)
        #expect(try store.resolve(vocabulary: "CIM10", code: "E119") == CodeResolution())
        let e149 = try store.resolve(vocabulary: "CIM10", code: "E14.9")
        #expect(e149.sourceConceptID == 2_000_000_024 && e149.standardConceptID == nil)
        // Procedures, drugs and biology acts have source concepts but no standard target.
        #expect(try store.resolve(vocabulary: "CCAM", code: "DEQP003").sourceConceptID == 2_000_000_102)
        #expect(try store.resolve(vocabulary: "CIP13", code: "3400930000014").standardConceptID == nil)
        #expect(try store.resolve(vocabulary: "NABM", code: "0552").sourceConceptID == 2_000_000_302)
        #expect(try store.concept(id: 4_064_377)?.domain == "Measurement")
        #expect(try store.concept(id: 1) == nil)
    }

    @Test func theRunRecordsTheVersionsOfTheVocabulariesItNamed() throws {
        let store = try VocabularyStore(path: Self.fixtureStore)
        #expect(store.knows(vocabulary: "CIM10"))
        #expect(!store.knows(vocabulary: "CIM11"))
        let versions = try store.versions(of: ["CIM10"])
        #expect(versions.map(\.id) == ["CIM10", "None"])
        #expect(versions.last?.version == "v5.0 09-APR-22")
    }

    @Test func commaDelimitedLowerCaseExportsLoadToo() throws {
        let (store, report) = try Self.commaStore()
        #expect(
            report.files.map(\.file) == [
                "concept.csv", "concept_relationship.csv", "concept_ancestor.csv", "vocabulary.csv", "source_to_concept_map.csv",
            ])
        #expect(report.files.allSatisfy { $0.delimiter == "," && $0.rejected == 0 && $0.sha256.count == 64 })
        #expect(report.files.map(\.rows) == [8, 7, 1, 1, 3])
        let k922 = try store.resolve(vocabulary: "ICD10CM", code: "K92.2")
        #expect(k922.sourceConceptID == 35_208_414 && k922.standardConceptID == 192671)
        // A quoted name with a comma and doubled quotes is one cell.
        #expect(try store.concept(id: 2_000_000_501)?.name == "Two targets, \"ambiguous\" (test)")
        #expect(try store.versions(of: ["ICD10CM"]).first?.version == "ICD10CM FY2019 code descriptions")
    }

    @Test func severalMapsToTargetsResolveToTheLowestValidStandardConcept() throws {
        let (store, _) = try Self.commaStore()
        // 2000000502 is the lowest valid standard target (2000000504 is deprecated).
        #expect(try store.resolve(vocabulary: "TESTVOC", code: "AMB").standardConceptID == 2_000_000_502)
        #expect(try store.resolve(vocabulary: "TESTVOC", code: "AMB").standard?.domain == "Observation")
        #expect(try store.resolve(vocabulary: "TESTVOC", code: "DEP").standardConceptID == nil)
    }

    @Test func sourceToConceptMapEntriesMapCodesTheConceptTableLacks() throws {
        let (store, _) = try Self.commaStore()
        let gi = try store.resolve(vocabulary: "HOSP_DX", code: "LOCAL-GI")
        #expect(gi.standardConceptID == 192671 && gi.standard?.domain == "Condition" && gi.sourceConceptID == nil)
        #expect(try store.resolve(vocabulary: "HOSP_DX", code: "LOCAL-OLD").standardConceptID == nil, "an invalid entry is ignored")
        #expect(try store.resolve(vocabulary: "HOSP_DX", code: "LOCAL-NONE").standardConceptID == nil, "target 0 means unmapped")
        #expect(store.knows(vocabulary: "HOSP_DX"))
    }

    @Test func badRowsAreRejectedWithTheirLineAndReasonAndTheRestLoads() throws {
        let dir = TestSupport.temporaryDirectory("vocab-bad")
        TestSupport.write(
            """
            CONCEPT_ID\tCONCEPT_NAME\tDOMAIN_ID\tVOCABULARY_ID\tCONCEPT_CLASS_ID\tSTANDARD_CONCEPT\tCONCEPT_CODE\tVALID_START_DATE\tVALID_END_DATE\tINVALID_REASON
            1\tOne "quoted" name\tCondition\tV\tC\tS\tA\t19700101\t20991231\t
            x2\tSecret-looking name\tCondition\tV\tC\tS\tB\t19700101\t20991231\t
            3\tThree\tCondition\tV\tC\tS\tC\t1970-13-01\t20991231\t
            1\tDuplicate\tCondition\tV\tC\tS\tD\t19700101\t20991231\t
            4\tFour\tCondition\tV\tC\tS

            5\tFive\tCondition\tV\tC\tS\tE\t19700101\t20991231\t

            """, to: dir + "/CONCEPT.csv")
        let out = dir + "/v.sqlite"
        let report = try VocabularyLoader.load(directory: dir, output: out)
        #expect(report.files.first?.rows == 2)
        #expect(report.rejectedCount == 4)
        #expect(report.rejects.map(\.line) == [3, 4, 5, 6])
        #expect(report.rejects.map(\.reason) == ["type-error", "type-error", "duplicate-concept-id", "missing-cell"])
        #expect(report.rejects[0].column == "concept_id" && report.rejects[1].column == "valid_start_date")
        let store = try VocabularyStore(path: out)
        #expect(try store.concept(id: 1)?.name == "One \"quoted\" name", "tab files are not quoted")
        #expect(try store.concept(id: 5) != nil)
    }

    @Test func aFolderWithoutConceptOrAColumnIsAConfigurationError() throws {
        let dir = TestSupport.temporaryDirectory("vocab-empty")
        TestSupport.write("vocabulary_id\tvocabulary_name\n", to: dir + "/VOCABULARY.csv")
        #expect(throws: VocabularyError.self) { try VocabularyLoader.load(directory: dir, output: dir + "/v.sqlite") }
        do {
            try VocabularyLoader.load(directory: dir, output: dir + "/v.sqlite")
        } catch {
            #expect(error.kind == .configuration && error.message.contains("CONCEPT.csv"))
        }
        TestSupport.write("concept_id,concept_name,domain_id,vocabulary_id\n1,a,b,c\n", to: dir + "/concept.csv")
        do {
            try VocabularyLoader.load(directory: dir, output: dir + "/v.sqlite")
            Issue.record("a CONCEPT.csv without concept_code must fail")
        } catch {
            #expect(error.kind == .configuration && error.message.contains("concept_code"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/v.sqlite"), "nothing published")
        #expect(throws: VocabularyError.self) { try VocabularyStore(path: dir + "/concept.csv") }
    }

    /// A download of tens of millions of rows must stream: the loader keeps no row (each is bound to a
    /// prepared insert and released; transactions commit every `transactionRows`). This loads 200,000
    /// generated concepts through several transactions and checks every row arrived.
    @Test func aLargeGeneratedConceptFileStreamsThroughSeveralTransactions() throws {
        let dir = TestSupport.temporaryDirectory("vocab-large")
        var text =
            "CONCEPT_ID\tCONCEPT_NAME\tDOMAIN_ID\tVOCABULARY_ID\tCONCEPT_CLASS_ID\tSTANDARD_CONCEPT\tCONCEPT_CODE\tVALID_START_DATE\tVALID_END_DATE\tINVALID_REASON\n"
        text.reserveCapacity(200_000 * 64)
        for i in 1...200_000 {
            text += "\(i)\tGenerated concept \(i)\tCondition\tGEN\tGen\t\(i % 2 == 0 ? "S" : "")\tG\(i)\t19700101\t20991231\t\n"
        }
        TestSupport.write(text, to: dir + "/CONCEPT.csv")
        text = ""
        var batches = 0
        let report = try VocabularyLoader.load(directory: dir, output: dir + "/v.sqlite", transactionRows: 50_000) { _, _ in batches += 1 }
        #expect(report.files.first?.rows == 200_000)
        #expect(report.rejectedCount == 0)
        #expect(batches >= 4, "committed in transactions of 50,000 rows")
        let store = try VocabularyStore(path: dir + "/v.sqlite")
        #expect(try store.resolve(vocabulary: "GEN", code: "G199999").sourceConceptID == 199_999)
        #expect(try store.resolve(vocabulary: "GEN", code: "G200000").standardConceptID == 200_000)
    }
}
