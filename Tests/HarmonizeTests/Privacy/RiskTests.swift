import Foundation
import Testing

@testable import Harmonize

/// `harmonize-run risk` on a small hand-built database.
@Suite(.serialized) struct RiskTests {
    /// Twelve persons: eleven men born in 1950 living in department 75, one woman born in 1960 in 69.
    /// Persons 1–6 have E11.9 and I10 (in any order, with duplicates), 7–11 have I10 only.
    static func database() throws -> String {
        let dir = TestSupport.temporaryDirectory("risk")
        let path = dir + "/o.sqlite"
        let db = try SQLiteConnection(path: path)
        try db.execute(
            """
            CREATE TABLE person (person_id INTEGER, year_of_birth INTEGER, gender_concept_id INTEGER, location_id INTEGER, person_source_value TEXT);
            CREATE TABLE location (location_id INTEGER, county TEXT, zip TEXT);
            CREATE TABLE condition_occurrence (person_id INTEGER, condition_source_value TEXT);
            INSERT INTO location VALUES (1, NULL, '75012'), (2, '69', '69003');
            """)
        for i in 1...11 { try db.execute("INSERT INTO person VALUES (\(i), 1950, 8507, 1, 'S\(i)')") }
        try db.execute("INSERT INTO person VALUES (12, 1960, 8532, 2, 'S12')")
        for i in 1...6 {
            try db.execute(
                "INSERT INTO condition_occurrence VALUES (\(i), \(i % 2 == 0 ? "'e11.9'" : "'I10'")), (\(i), \(i % 2 == 0 ? "'I10'" : "'E119'")), (\(i), 'I10')"
            )
        }
        for i in 7...11 { try db.execute("INSERT INTO condition_occurrence VALUES (\(i), 'I10')") }
        return path
    }

    @Test func classesKAndRisks() throws {
        let path = try Self.database()
        let r = try ReidentificationRisk.analyse(path: path, quasiIdentifiers: ["year_of_birth", "gender"], minK: 11, threshold: 0.2)
        #expect(r.persons == 12)
        #expect(r.classes == 2)
        #expect(r.k == 1)
        #expect(r.unique_persons == 1)
        #expect(abs(r.unique_share - 1.0 / 12) < 1e-9)
        #expect(r.prosecutor_risk_max == 1)
        #expect(r.persons_above_threshold == 1)
        #expect(abs(r.marketer_risk - 2.0 / 12) < 1e-9)
        #expect(r.classes_below_min_k == 1)
        #expect(r.persons_below_min_k == 1)
        #expect(r.small_class_sizes == ["1": 1])
        #expect(!r.passes)
        let dep = try ReidentificationRisk.analyse(path: path, quasiIdentifiers: ["department"], minK: 2, threshold: 0.2)
        #expect(dep.classes == 2 && dep.k == 1)
        let cond = try ReidentificationRisk.analyse(path: path, quasiIdentifiers: ["year_of_birth", "condition_3char"], minK: 5, threshold: 0.2)
        // {E11, I10} × 6 (order and duplicates do not matter), {I10} × 5, the woman with none.
        #expect(cond.classes == 3)
        #expect(cond.k == 1)
        #expect(cond.classes_below_min_k == 1)
        let birth = try ReidentificationRisk.analyse(path: path, quasiIdentifiers: ["birth_decade"], minK: 1, threshold: 0.2)
        #expect(birth.passes)
        #expect(throws: ReidentificationRisk.Failure.self) {
            try ReidentificationRisk.analyse(path: path, quasiIdentifiers: ["shoe_size"], minK: 1, threshold: 0.2)
        }
    }

    @Test func theCommandExitsOneBelowMinKAndWritesCountsOnly() throws {
        let path = try Self.database()
        let dir = (path as NSString).deletingLastPathComponent
        let bad = try TestSupport.runCLI([
            "risk", "--output", path, "--quasi-identifiers", "year_of_birth,gender_concept_id", "--json", dir + "/risk.json",
        ])
        #expect(bad.status == 1, "\(bad.stderr)")
        #expect(bad.stderr.contains("k = 1"))
        let text = try String(contentsOfFile: dir + "/risk.json", encoding: .utf8)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(json["k"] as? Int == 1)
        #expect(json["min_k"] as? Int == 11)
        #expect(!text.contains("1960") && !text.contains("8532") && !text.contains("S12"), "counts only, never the values of a class")
        let ok = try TestSupport.runCLI(["risk", "--output", path, "--quasi-identifiers", "gender", "--min-k", "1", "--json", "-"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("\"classes\""))
        let unknown = try TestSupport.runCLI(["risk", "--output", path, "--quasi-identifiers", "shoe_size"])
        #expect(unknown.status == 2)
        let missing = try TestSupport.runCLI(["risk", "--output", dir + "/none.sqlite", "--quasi-identifiers", "gender"])
        #expect(missing.status == 3)
    }

    @Test func theHTMLReportShowsTheRiskWithSmallCountsSuppressed() throws {
        let dir = TestSupport.temporaryDirectory("risk-report")
        let out = dir + "/o.sqlite"
        let run = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"),
            "--output", out, "--no-quality",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let r = try TestSupport.runCLI([
            "report", "--output", out, "--html", dir + "/r.html", "--quasi-identifiers", "gender", "--min-k", "13",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: dir + "/r.html", encoding: .utf8)
        #expect(html.contains("Re-identification risk"))
        #expect(html.contains("k = 1 (minimum 13)"), "the one person of unknown sex")
        #expect(html.contains("<td>persons</td><td class=\"n\">&lt; 13</td>"), "12 persons: below the threshold, suppressed")
        #expect(!html.contains("P0004"))
        let plain = try TestSupport.runCLI(["report", "--output", out, "--html", dir + "/p.html"])
        #expect(plain.status == 0)
        #expect(!(try String(contentsOfFile: dir + "/p.html", encoding: .utf8)).contains("Re-identification risk"))
    }
}
