import Foundation
import Testing

@testable import Harmonize

/// Vocabulary lookups through the command line: `vocabulary load`, `run --vocabulary` with domain
/// routing, the unmapped-code report, the manifest, `check`, `test` and the HTML report.
@Suite(.serialized) struct VocabularyRunTests {
    static let mapping = TestSupport.path("Tests/HarmonizeTests/Fixtures/vocabulary-run/diagnoses.yaml")
    static let input = TestSupport.path("Tests/HarmonizeTests/Fixtures/vocabulary-run/input")

    static func loadFixture(_ dir: String) throws -> String {
        let store = dir + "/vocabulary.sqlite"
        let r = try TestSupport.runCLI(["vocabulary", "load", TestSupport.path("fixtures/vocabulary"), "--output", store])
        #expect(r.status == 0, "\(r.stderr)")
        return store
    }

    static func ints(_ db: SQLiteConnection, _ sql: String) throws -> [Int] {
        try db.query(sql).map { $0[0].intValue ?? -1 }
    }

    @Test func vocabularyLoadExitCodes() throws {
        let dir = TestSupport.temporaryDirectory("vocab-cli")
        let ok = try TestSupport.runCLI(["vocabulary", "load", TestSupport.path("fixtures/vocabulary"), "--output", dir + "/v.sqlite", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any])
        #expect((report["files"] as? [[String: Any]])?.count == 3)
        // No CONCEPT.csv: usage error, nothing published.
        let empty = TestSupport.temporaryDirectory("vocab-cli-empty")
        let missing = try TestSupport.runCLI(["vocabulary", "load", empty, "--output", empty + "/v.sqlite"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("CONCEPT.csv"))
        #expect(!FileManager.default.fileExists(atPath: empty + "/v.sqlite"))
        // Rejected rows: published without them, exit 1, coordinates but no values.
        TestSupport.write(
            "concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code,valid_start_date,valid_end_date,invalid_reason\n"
                + "1,Fine,Condition,V,C,S,A,2020-01-01,2099-12-31,\nSECRETID,Name,Condition,V,C,S,B,2020-01-01,2099-12-31,\n",
            to: empty + "/concept.csv")
        let rejected = try TestSupport.runCLI(["vocabulary", "load", empty, "--output", empty + "/v.sqlite"])
        #expect(rejected.status == 1)
        #expect(rejected.stderr.contains("concept.csv:3: rejected row: type-error (column concept_id)"), "\(rejected.stderr)")
        #expect(!rejected.stderr.contains("SECRETID"))
        #expect(FileManager.default.fileExists(atPath: empty + "/v.sqlite"))
        // Not a store.
        let info = try TestSupport.runCLI(["vocabulary", "info", "--store", empty + "/concept.csv"])
        #expect(info.status == 2)
    }

    @Test func aRunRoutesRecordsByDomainAndReportsUnmappedCodes() throws {
        let dir = TestSupport.temporaryDirectory("vocab-run")
        let store = try Self.loadFixture(dir)
        let out = dir + "/omop.sqlite"
        let r = try TestSupport.runCLI([
            "run", "--mappings", Self.mapping, "--input", Self.input, "--output", out, "--vocabulary", store, "--no-quality", "--no-progress",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        // The summary gives counts, never codes.
        #expect(
            r.stderr.contains("vocabulary CIM10 (test.diagnoses): 4 of 8 codes mapped to a standard concept (50.0%), 3 distinct unmapped"),
            "\(r.stderr)")
        for code in ["E78.0", "E780", "XXX", "E14.9"] { #expect(!r.stderr.contains(code) && !r.stdout.contains(code)) }

        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try Self.ints(db, "SELECT condition_occurrence_id FROM condition_occurrence ORDER BY 1") == [1, 2, 5, 6, 7, 8])
        #expect(
            try Self.ints(db, "SELECT condition_concept_id FROM condition_occurrence ORDER BY condition_occurrence_id") == [
                320128, 201826, 0, 0, 0, 0,
            ])
        #expect(
            try Self.ints(db, "SELECT condition_source_concept_id FROM condition_occurrence ORDER BY condition_occurrence_id")
                == [2_000_000_001, 2_000_000_002, 2_000_000_003, 2_000_000_003, 0, 2_000_000_024])
        #expect(try Self.ints(db, "SELECT observation_concept_id FROM observation") == [42_709_996])
        #expect(try Self.ints(db, "SELECT measurement_concept_id FROM measurement") == [4_064_377])

        // Unmapped codes with their record counts (each record counted once, although the mapping
        // looks its code up in a let, a filter and a column).
        let unmapped = try db.query("SELECT mapping, vocabulary_id, source_code, records FROM harmonize_unmapped ORDER BY records DESC, source_code")
        #expect(
            unmapped.map { $0.map { $0.description } } == [
                ["test.diagnoses", "CIM10", "E78.0", "2"], ["test.diagnoses", "CIM10", "E14.9", "1"], ["test.diagnoses", "CIM10", "XXX.9", "1"],
            ])
        let usage = try db.query("SELECT vocabulary_id, lookups, mapped, unmapped, distinct_unmapped, share_mapped FROM harmonize_vocabulary_usage")
        #expect(usage.count == 1)
        #expect(usage.first.map { $0.map(\.description) } == ["CIM10", "8", "4", "4", "3", "0.5"])
        // The manifest records the vocabulary versions used.
        let versions = try db.query("SELECT vocabulary_id, vocabulary_version FROM harmonize_run_vocabulary ORDER BY 1")
        #expect(versions.map { $0.map(\.description) } == [["CIM10", "Harmonize fixture 2026-11"], ["None", "v5.0 09-APR-22"]])
        let manifestJSON = try #require(try db.scalar("SELECT manifest FROM harmonize_run").text)
        let manifest = try JSONDecoder().decode(RunManifest.self, from: Data(manifestJSON.utf8))
        #expect(manifest.vocabularies?.map(\.id) == ["CIM10", "None"])
        #expect(manifest.vocabularyUsage?.first?.mapped == 4)
        #expect(manifest.parameters["vocabulary"] == "vocabulary.sqlite")
        #expect(manifest.parameters["vocabulary_concept_sha256"]?.count == 64)

        // The listing.
        let csv = try TestSupport.runCLI(["unmapped", "--output", out, "--format", "csv"])
        #expect(csv.status == 0)
        #expect(
            csv.stdout
                == "mapping,vocabulary_id,source_code,records\ntest.diagnoses,CIM10,E78.0,2\ntest.diagnoses,CIM10,E14.9,1\ntest.diagnoses,CIM10,XXX.9,1\n"
        )
        let json = try TestSupport.runCLI(["unmapped", "--output", out, "--format", "json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((doc["totals"] as? [[String: Any]])?.first?["share_mapped"] as? Double == 0.5)

        // The HTML report: the share mapped and the codes, with small counts suppressed.
        let html = dir + "/report.html"
        let rep = try TestSupport.runCLI(["report", "--output", out, "--html", html])
        #expect(rep.status == 0, "\(rep.stderr)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("<h2>Vocabulary mapping</h2>"))
        #expect(page.contains("<td>E78.0</td><td class=\"n\">&lt; 11</td>"))
        #expect(page.contains("<td class=\"n\">50</td>"))
    }

    @Test func theCSVSinkWritesTheUnmappedCodesToo() throws {
        let dir = TestSupport.temporaryDirectory("vocab-csv")
        let r = try TestSupport.runCLI([
            "run", "--mappings", Self.mapping, "--input", Self.input, "--output", dir + "/out", "--sink", "csv",
            "--vocabulary", TestSupport.path("fixtures/vocabulary"), "--no-progress",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: dir + "/out/_unmapped.csv", encoding: .utf8)
        #expect(
            text
                == "mapping,vocabulary_id,source_code,records\ntest.diagnoses,CIM10,E78.0,2\ntest.diagnoses,CIM10,E14.9,1\ntest.diagnoses,CIM10,XXX.9,1\n"
        )
        let manifest = try JSONDecoder().decode(RunManifest.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/out/_manifest.json")))
        #expect(manifest.vocabularyUsage?.first?.lookups == 8)
    }

    @Test func aRunWithoutTheVocabularyIsAConfigurationError() throws {
        let dir = TestSupport.temporaryDirectory("vocab-none")
        let r = try TestSupport.runCLI(["run", "--mappings", Self.mapping, "--input", Self.input, "--output", dir + "/o.sqlite", "--no-quality"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("mapping test.diagnoses calls vocabulary functions"), "\(r.stderr)")
        #expect(r.stderr.contains("--vocabulary"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/o.sqlite"))
    }

    @Test func checkReportsArgumentCountsAndUnknownVocabularies() throws {
        let dir = TestSupport.temporaryDirectory("vocab-check")
        var text = try String(contentsOfFile: Self.mapping, encoding: .utf8)
        text = text.replacingOccurrences(of: "standard_domain('CIM10', code) ?? 'Condition'", with: "standard_domain('CIM10') ?? 'Condition'")
        text = text.replacingOccurrences(
            of: "condition_source_concept_id: \"source_concept_id('CIM10', code) ?? 0\"",
            with: "condition_source_concept_id: \"source_concept_id('CIM-10', code) ?? 0\"")
        TestSupport.write(text, to: dir + "/broken.yaml")
        let noStore = try TestSupport.runCLI(["check", "--mappings", dir + "/broken.yaml"])
        #expect(noStore.status == 2)
        #expect(noStore.stderr.contains("[HZ3004]"), "\(noStore.stderr)")
        #expect(!noStore.stderr.contains("[HZ3007]"), "without a store the vocabulary id cannot be checked")
        let withStore = try TestSupport.runCLI(["check", "--mappings", dir + "/broken.yaml", "--vocabulary", TestSupport.path("fixtures/vocabulary")])
        #expect(withStore.status == 2)
        #expect(
            withStore.stderr.contains("vocabulary 'CIM-10' is not in the vocabulary store (did you mean 'CIM10'?) [HZ3007]"), "\(withStore.stderr)")
        let good = try TestSupport.runCLI(["check", "--mappings", Self.mapping, "--vocabulary", TestSupport.path("fixtures/vocabulary")])
        #expect(good.status == 0, "\(good.stderr)")
    }

    @Test func mappingTestsRunAgainstTheVocabularyGivenToTest() throws {
        let r = try TestSupport.runCLI(["test", "--mappings", Self.mapping, "--vocabulary", TestSupport.path("fixtures/vocabulary")])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("4/4 cases passed"))
        let without = try TestSupport.runCLI(["test", "--mappings", Self.mapping])
        #expect(without.status == 1, "cases cannot run without a store")
        #expect(
            without.stdout.contains("cannot run: mapping test.diagnoses cannot run: standard_domain: no vocabulary store was given"),
            "\(without.stdout)")
    }
}
