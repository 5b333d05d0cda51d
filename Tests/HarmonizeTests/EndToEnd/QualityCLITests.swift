import Foundation
import Testing

@testable import Harmonize

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `quality`, `rejects`, `report` and the checks at the end of `run`, as a scheduler sees them.
@Suite(.serialized) struct QualityCLITests {
    /// The research example run into a fresh folder, with the given extra flags.
    static func research(_ extra: [String] = [], label: String = "qcli") throws -> (dir: String, output: String, result: TestSupport.CommandResult) {
        let dir = TestSupport.temporaryDirectory(label)
        let out = dir + "/omop.sqlite"
        let r = try TestSupport.runCLI(
            ["run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"), "--output", out]
                + extra)
        return (dir, out, r)
    }

    @Test func runChecksQualityAfterPublishingUnlessToldNot() throws {
        let (_, out, r) = try Self.research()
        #expect(r.status == 0, "\(r.stderr)")
        let line = try #require(r.stderr.split(separator: "\n").first { $0.hasPrefix("quality: ") })
        #expect(line.contains(" passed, ") && line.contains(" failed, ") && line.hasSuffix(" not applicable"))
        let db = try SQLiteConnection(path: out, readOnly: true)
        let stored = try db.scalar("SELECT count(*) FROM harmonize_quality")
        #expect((stored.intValue ?? 0) > 100)
        #expect(try db.scalar("SELECT count(*) FROM harmonize_quality WHERE run_id = (SELECT run_id FROM harmonize_run)") == stored)

        let (_, _, withJSON) = try Self.research(["--json"])
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(withJSON.stdout.utf8)) as? [String: Any])
        let quality = try #require(summary["quality"] as? [String: Any])
        #expect((quality["passed"] as? Int ?? 0) > 0)
        #expect(quality["not_applicable"] != nil && quality["failed"] != nil)

        let (_, out2, r2) = try Self.research(["--no-quality"])
        #expect(r2.status == 0)
        #expect(!r2.stderr.contains("quality: "))
        let db2 = try SQLiteConnection(path: out2, readOnly: true)
        #expect(try db2.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'harmonize_quality'") == .int(0))
    }

    @Test func failOnQualityTurnsFailedChecksIntoExitOne() throws {
        let dir = TestSupport.temporaryDirectory("qcli-fail")
        TestSupport.write("checks:\n  - {name: impossible, table: person, rule: \"person_id < 0\"}\n", to: dir + "/checks.yaml")
        let (_, _, lenient) = try Self.research(["--checks", dir + "/checks.yaml"])
        #expect(lenient.status == 0, "\(lenient.stderr)")
        #expect(lenient.stderr.contains("userRule.impossible"))
        let (_, _, strict) = try Self.research(["--checks", dir + "/checks.yaml", "--fail-on-quality"])
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("--fail-on-quality"))
        // A broken checks file stops the run before anything is read.
        TestSupport.write("checks:\n  - {name: x, table: persn, rule: \"true\"}\n", to: dir + "/bad.yaml")
        let (_, out, bad) = try Self.research(["--checks", dir + "/bad.yaml"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("bad.yaml:2:"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    struct ExitCase: Sendable, CustomStringConvertible {
        var label: String
        var checks: String?
        var useMissingDatabase = false
        var status: Int32
        var description: String { label }
    }

    @Test(arguments: [
        ExitCase(label: "all pass", checks: "checks:\n  - {name: ok, table: person, rule: \"person_id > 0\"}\n", status: 0),
        ExitCase(label: "a rule fails", checks: "checks:\n  - {name: ko, table: person, rule: \"person_id < 0\"}\n", status: 1),
        ExitCase(label: "bad checks file", checks: "checks:\n  - {name: ko, table: person, rule: \"person_idd < 0\"}\n", status: 2),
        ExitCase(label: "missing database", checks: nil, useMissingDatabase: true, status: 3),
    ])
    func qualityExitCodes(_ c: ExitCase) throws {
        let (dir, out, r) = try Self.research(["--no-quality"])
        #expect(r.status == 0)
        // Only the user rules decide here: the built-in checks are checked by QualityEngineTests.
        var args = ["quality", "--output", c.useMissingDatabase ? dir + "/nope.sqlite" : out, "--json", dir + "/q.json"]
        if let checks = c.checks {
            TestSupport.write(checks, to: dir + "/c.yaml")
            args += ["--checks", dir + "/c.yaml"]
        }
        let q = try TestSupport.runCLI(args)
        if c.status >= 2 {
            #expect(q.status == c.status, "\(q.stderr)")
            return
        }
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/q.json"))) as? [String: Any])
        let checks = try #require(json["checks"] as? [[String: Any]])
        let user = try #require(checks.first { ($0["id"] as? String)?.hasPrefix("userRule.") == true })
        #expect(user["status"] as? String == (c.status == 0 ? "passed" : "failed"))
        let failed = json["failed"] as? Int ?? -1
        #expect(q.status == (failed > 0 ? 1 : 0), "\(q.stderr)")
        #expect(checks.contains { $0["id"] as? String == "isRequired.person.gender_concept_id" })
    }

    @Test func rejectsAreListedWithCountsAndNeverValues() throws {
        let dir = TestSupport.temporaryDirectory("qcli-rej")
        let input = dir + "/in"
        // Two patients with an unparseable birth date (the value must not appear in the listing).
        // Bytes, not Strings: the file is Latin-1 with CRLF line ends (one Character in Swift).
        let source = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestSupport.path("fixtures/research/input/patients.csv"))))
        var lines = source.split(separator: 10, omittingEmptySubsequences: false).map(Array.init)
        let secret = "31/02/1977"
        for i in [1, 2] where i < lines.count {
            var cells = lines[i].split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).map(Array.init)
            // patient_id;sexe;date_naissance;…
            if cells.count > 2 { cells[2] = Array(secret.utf8) }
            lines[i] = Array(cells.joined(separator: [UInt8(ascii: ";")]))
        }
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        for f in ["mesures.csv", "questionnaire.csv"] {
            try FileManager.default.copyItem(atPath: TestSupport.path("fixtures/research/input/" + f), toPath: input + "/" + f)
        }
        TestSupport.write(bytes: Array(lines.joined(separator: [10])), to: input + "/patients.csv")
        let out = dir + "/o.sqlite"
        let run = try TestSupport.runCLI(
            ["run", "--mappings", TestSupport.path("mappings/research"), "--input", input, "--output", out, "--max-reject-rate", "1", "--no-quality"])
        #expect(run.status == 0, "\(run.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        let total = try db.scalar("SELECT count(*) FROM harmonize_reject").intValue ?? 0
        // The two patients, and their measurement and questionnaire records, held back for want
        // of a person (orphans).
        #expect(try db.scalar("SELECT count(*) FROM harmonize_reject WHERE reason <> 'target-fk-missing'") == .int(2), "\(run.stderr)")
        #expect(total > 2)

        let table = try TestSupport.runCLI(["rejects", "--output", out])
        #expect(table.status == 0)
        #expect(table.stdout.contains("\(total) reject"))
        #expect(!table.stdout.contains(secret))
        let csv = try TestSupport.runCLI(["rejects", "--output", out, "--format", "csv"])
        #expect(csv.stdout.hasPrefix("mapping,file,line,record,field,reason,rule,message"))
        #expect(csv.stdout.split(separator: "\n").count == total + 1)
        let json = try TestSupport.runCLI(["rejects", "--output", out, "--format", "json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(doc["total"] as? Int == total)
        let counts = try #require(doc["counts"] as? [[String: Any]])
        #expect(counts.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == total)
        let reason = try #require(counts.first?["reason"] as? String)
        let filtered = try TestSupport.runCLI(["rejects", "--output", out, "--format", "csv", "--reason", reason, "--mapping", "no.such.mapping"])
        #expect(filtered.stdout.split(separator: "\n").count == 1)
        #expect(try TestSupport.runCLI(["rejects", "--output", dir + "/missing.sqlite"]).status == 3)
    }

    @Test func reportIsOneSelfContainedWellFormedPage() throws {
        let (dir, out, r) = try Self.research()
        #expect(r.status == 0)
        let html = dir + "/report.html"
        let rep = try TestSupport.runCLI(["report", "--output", out, "--html", html])
        #expect(rep.status == 0, "\(rep.stderr)")
        let text = try String(contentsOfFile: html, encoding: .utf8)
        #expect(!text.lowercased().contains("http:") && !text.lowercased().contains("https:"))
        #expect(!text.contains("<script") && !text.contains("<link") && !text.contains("src="))
        for part in [
            "Rows per table", "Ledger", "Rejects by reason", "Data quality", "Lineage", "<svg", "research.measurements", "mesures.csv", "measurement",
        ] {
            #expect(text.contains(part), "missing \(part)")
        }
        let parser = XMLParser(data: Data(text.utf8))
        #expect(parser.parse(), "not well-formed: \(String(describing: parser.parserError))")
        #expect(try TestSupport.runCLI(["report", "--output", dir + "/none.sqlite", "--html", html]).status == 3)
    }
}
