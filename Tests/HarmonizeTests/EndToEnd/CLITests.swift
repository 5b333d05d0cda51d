import Foundation
import Testing

@testable import Harmonize

/// The command line as a scheduler sees it: exit codes, JSON summary, atomic output.
@Suite(.serialized) struct CLITests {
    @Test func theReadmeMainCommandSucceeds() throws {
        let dir = TestSupport.temporaryDirectory("cli")
        let r = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"),
            "--output", dir + "/harmonized.sqlite", "--json",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["status"] as? String == "succeeded")
        #expect(json["records_read"] as? Int == 12 + 30 + 14)
        #expect(json["records_rejected"] as? Int == 0)
        let db = try SQLiteConnection(path: dir + "/harmonized.sqlite", readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM measurement") == .int(28))
    }

    @Test func mappingErrorsExitWithTwoAndReadNothing() throws {
        let dir = TestSupport.temporaryDirectory("cli-bad")
        TestSupport.write("harmonize: 1\nid: bad\nsource: {files: x.csv}\ntarget: persn\nfields: {person_id: \"1\"}\n", to: dir + "/bad.yaml")
        let r = try TestSupport.runCLI(["run", "--mappings", dir + "/bad.yaml", "--input", dir, "--output", dir + "/o.sqlite"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("bad.yaml:4:9"))
        #expect(r.stderr.contains("did you mean 'person'?"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/o.sqlite"))
        let check = try TestSupport.runCLI(["check", "--mappings", dir + "/bad.yaml"])
        #expect(check.status == 2)
        let ok = try TestSupport.runCLI(["check", "--mappings", TestSupport.path("mappings/research")])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("research.measurements"))
    }

    @Test func missingInputExitsWithThreeAndKeepsThePreviousOutput() throws {
        let dir = TestSupport.temporaryDirectory("cli-io")
        let out = dir + "/omop.sqlite"
        let first = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"), "--output", out,
        ])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        let second = try TestSupport.runCLI(["run", "--mappings", TestSupport.path("mappings/research"), "--input", dir + "/empty", "--output", out])
        #expect(second.status == 3)
        #expect(second.stderr.contains("no file"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == before)
    }

    @Test func rejectsAboveTheThresholdExitWithOneButPublish() throws {
        let dir = TestSupport.temporaryDirectory("cli-rejects")
        let input = dir + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        for f in ["patients.csv", "mesures.csv", "questionnaire.csv"] {
            try FileManager.default.copyItem(atPath: TestSupport.path("fixtures/research/input/\(f)"), toPath: "\(input)/\(f)")
        }
        // One questionnaire answer with a non-numeric pain score: an expression error.
        let q = try Data(contentsOf: URL(fileURLWithPath: input + "/questionnaire.csv"))
        try (q + Data("99;P0003;04/03/2020;DOULEUR;forte\n".utf8)).write(to: URL(fileURLWithPath: input + "/questionnaire.csv"))
        let out = dir + "/omop.sqlite"
        let args = ["run", "--mappings", TestSupport.path("mappings/research"), "--input", input, "--output", out]
        let strict = try TestSupport.runCLI(args)
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("1 of 57 records rejected"))
        #expect(!strict.stderr.contains("forte"), "values never reach the logs")
        #expect(FileManager.default.fileExists(atPath: out))
        let tolerant = try TestSupport.runCLI(args + ["--max-reject-rate", "0.05"])
        #expect(tolerant.status == 0)
    }

    @Test func pseudonymsNeedAKey() throws {
        let dir = TestSupport.temporaryDirectory("cli-key")
        TestSupport.write("id;x\n1;a\n", to: dir + "/in/t.csv")
        let model = """
            harmonize-model: 1
            name: t
            tables:
              - name: t
                columns: [{name: id, type: integer}, {name: h, type: "varchar(64)"}]
            """
        TestSupport.write(model, to: dir + "/model.yaml")
        TestSupport.write(
            "harmonize: 1\nid: k\nmodel: model.yaml\nsource: {files: t.csv, dialect: {delimiter: \";\"}}\ntarget: t\nfields: {id: \"to_int(id)\", h: \"pseudonym(x, 'person')\"}\n",
            to: dir + "/k.yaml")
        let base = ["run", "--mappings", dir + "/k.yaml", "--input", dir + "/in", "--output", dir + "/o.sqlite"]
        let none = try TestSupport.runCLI(base)
        #expect(none.status == 2)
        #expect(none.stderr.contains("--key-file"))
        let short = try TestSupport.runCLI(base + ["--key-env", "HZ_TEST_KEY"], environment: ["HZ_TEST_KEY": "too-short"])
        #expect(short.status == 2)
        #expect(short.stderr.contains("at least 32"))
        #expect(!short.stderr.contains("too-short"))
        let key = String(repeating: "k", count: 40)
        let ok = try TestSupport.runCLI(base + ["--key-env", "HZ_TEST_KEY"], environment: ["HZ_TEST_KEY": key])
        #expect(ok.status == 0, "\(ok.stderr)")
        let db = try SQLiteConnection(path: dir + "/o.sqlite", readOnly: true)
        guard case .string(let h) = try db.scalar("SELECT h FROM t") else {
            Issue.record("no pseudonym")
            return
        }
        #expect(h.count == 64)
        let params = try db.scalar("SELECT parameters FROM harmonize_run")
        #expect("\(params)".contains("key_fingerprint"))
        #expect(!"\(params)".contains(key))
    }

    @Test func aProfileOverridesTheMappingsDialectWithoutEditingThem() throws {
        // The same patients, exported as UTF-8 with commas and ISO dates instead of the mapping's
        // Latin-1, semicolons and dd/mm/yyyy.
        let dir = TestSupport.temporaryDirectory("cli-profile")
        let latin1 = try Data(contentsOf: URL(fileURLWithPath: TestSupport.path("fixtures/research/input/patients.csv")))
        let text = try #require(String(data: latin1, encoding: .isoLatin1))
        var lines: [String] = []
        for (i, line) in text.split(separator: "\r\n").enumerated() {
            var cells = line.replacingOccurrences(of: "\"", with: "").split(separator: ";", omittingEmptySubsequences: false).map(String.init)
            if cells.count > 7 { cells = Array(cells[0..<5]) + [cells[5] + cells[6], cells[7]] }
            if i > 0 {
                for c in 2...4 where !cells[c].isEmpty {
                    let p = cells[c].split(separator: "/")
                    cells[c] = "\(p[2])-\(p[1])-\(p[0])"
                }
            }
            lines.append(cells.map { $0.contains(",") ? "\"\($0)\"" : $0 }.joined(separator: ","))
        }
        TestSupport.write(lines.joined(separator: "\n") + "\n", to: dir + "/in/patients.csv")
        let base = [
            "run", "--mappings", TestSupport.path("mappings/research/patients.yaml"), "--input", dir + "/in", "--output", dir + "/o.sqlite",
            "--no-quality",
        ]
        let asWritten = try TestSupport.runCLI(base)
        #expect(asWritten.status != 0, "the mapping's own dialect cannot read this extract")
        TestSupport.write(
            "harmonize-profile: 1\ndialect: {delimiter: \",\", encoding: utf-8}\ndate_formats: [\"yyyy-MM-dd\"]\n", to: dir + "/extract.yaml")
        for extra in [["--profile", dir + "/extract.yaml"], ["--delimiter", ",", "--encoding", "utf-8", "--date-format", "yyyy-MM-dd"]] {
            let r = try TestSupport.runCLI(base + extra)
            #expect(r.status == 0, "\(r.stderr)")
            let db = try SQLiteConnection(path: dir + "/o.sqlite", readOnly: true)
            #expect(try db.scalar("SELECT count(*) FROM person") == .int(12))
            #expect(try db.scalar("SELECT birth_datetime FROM person WHERE person_id = 5") == .string("1980-02-29T00:00:00"))
        }
    }
}
