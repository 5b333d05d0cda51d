import Foundation
import Testing

@testable import Harmonize

/// `harmonize-run scan` (issue 16): a folder profiled with the shared guessers, small cells and
/// identifying columns suppressed, distinct counts estimated past the exact bound, and `--draft`.
@Suite struct ScanCLITests {
    func folder() -> String {
        let dir = TestSupport.temporaryDirectory("scan")
        var a = "Extraction du 02/01/2024\nid;nom;mesure;code;jour\n"
        for i in 1...40 { a += "\(i);Nom\(i % 3);\(i % 2),5;0\(2100 + i % 2);2024-01-\(String(format: "%02d", i % 28 + 1))\n" }
        TestSupport.write(a, to: dir + "/mesures.csv")
        TestSupport.write("12,A\n13,B\n14,A\n", to: dir + "/codes.txt")
        TestSupport.write("not profiled", to: dir + "/notes.md")
        return dir
    }

    @Test func profilesAFolderWithEvidenceAndSuppression() throws {
        let dir = folder()
        let r = try TestSupport.runCLI(["scan", dir, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let files = doc["files"] as? [[String: Any]] ?? []
        #expect(files.compactMap { $0["file"] as? String } == ["codes.txt", "mesures.csv"])
        let codes = files[0]
        let mesures = files[1]
        #expect(codes["header"] as? Bool == false, "a headerless file")
        #expect(mesures["skipLines"] as? Int == 1, "the preamble")
        let columns = mesures["columns"] as? [[String: Any]] ?? []
        func column(_ name: String) -> [String: Any] { columns.first { $0["name"] as? String == name } ?? [:] }
        func guess(_ name: String) -> [String: Any] { column(name)["guess"] as? [String: Any] ?? [:] }
        #expect(guess("mesure")["type"] as? String == "number")
        #expect(guess("mesure")["decimalChar"] as? String == ",")
        #expect(guess("code")["type"] as? String == "string")
        #expect(guess("code")["leadingZeros"] as? Int == 40)
        #expect(guess("jour")["format"] as? String == "yyyy-MM-dd")
        #expect(column("id")["min"] as? Double == 1)
        #expect(column("id")["max"] as? Double == 40)
        #expect(column("id")["distinct"] as? Int == 40)
        // Small cells: 20 of each mesure are shown as counts, 1-of-28 dates as <11.
        let frequentMesure = column("mesure")["frequent"] as? [[String: Any]] ?? []
        #expect(frequentMesure.map { $0["count"] as? String } == ["20", "20"])
        let frequentDay = column("jour")["frequent"] as? [[String: Any]] ?? []
        #expect(frequentDay.allSatisfy { $0["count"] as? String == "<11" })
        // A column named like a name: never listed.
        #expect(column("nom")["identifying"] as? String != nil)
        #expect((column("nom")["frequent"] as? [Any] ?? []).isEmpty)
        #expect(!r.stdout.contains("Nom1"))
        // Text output too.
        let text = try TestSupport.runCLI(["scan", dir + "/mesures.csv"])
        #expect(text.stdout.contains("values not listed"))
        #expect(text.stdout.contains("skip_lines 1"))
        #expect(!text.stdout.contains("Nom1"))
    }

    @Test func theDraftMappingPassesCheck() throws {
        let dir = folder()
        let draft = dir + "/draft.yaml"
        let r = try TestSupport.runCLI(["scan", dir + "/mesures.csv", "--draft", draft])
        #expect(r.status == 0, "\(r.stderr)")
        let text = try String(contentsOfFile: draft, encoding: .utf8)
        #expect(text.contains("skip_lines: 1"))
        #expect(text.contains("decimalChar: \",\""))
        #expect(text.contains("{name: \"code\", type: string}"))
        let check = try TestSupport.runCLI(["check", "--mappings", draft])
        #expect(check.status == 0, "\(check.stderr)")
        let headerless = try TestSupport.runCLI(["scan", dir + "/codes.txt", "--draft", dir + "/d2.yaml"])
        #expect(headerless.status == 0)
        #expect(try String(contentsOfFile: dir + "/d2.yaml", encoding: .utf8).contains("columns: [\"1\", \"2\"]"))
        #expect(try TestSupport.runCLI(["check", "--mappings", dir + "/d2.yaml"]).status == 0)
        #expect(try TestSupport.runCLI(["scan", dir + "/missing.csv"]).status == 3)
    }

    @Test func distinctCountsAreEstimatedPastTheExactBound() {
        var p = ColumnProfiler(name: "v", position: 1)
        for i in 0..<30_000 { p.add("value-\(i)") }
        let profile = p.profile()
        #expect(profile.distinctEstimated)
        #expect(abs(profile.distinct - 30_000) < 1_500, "\(profile.distinct)")
        var q = ColumnProfiler(name: "w", position: 1)
        for i in 0..<500 { q.add(String(i % 7)) }
        #expect(q.profile().distinct == 7)
        #expect(!q.profile().distinctEstimated)
    }
}
