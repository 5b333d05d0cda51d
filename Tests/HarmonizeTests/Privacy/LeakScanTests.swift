import Foundation
import Testing

@testable import Harmonize

/// Every file a keyed run leaves behind (output database, JSON summary, OpenLineage events, HTML
/// report, rejects and quality JSON, standard output and error) is scanned for the key (raw, hex,
/// base64) and for the fixture's raw identifiers: none may appear.
@Suite(.serialized) struct LeakScanTests {
    @Test func aKeyedRunWithRejectsLeaksNeitherTheKeyNorTheIdentifiers() throws {
        let dir = TestSupport.temporaryDirectory("leak")
        let input = dir + "/in"
        let mappings = dir + "/mappings"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: mappings, withIntermediateDirectories: true)
        for f in ["patients.csv", "mesures.csv", "questionnaire.csv"] {
            try FileManager.default.copyItem(atPath: TestSupport.path("fixtures/research/input/\(f)"), toPath: "\(input)/\(f)")
        }
        // Bad rows: an impossible birth date, an id outside the numbering, a non-numeric pain score.
        func append(_ text: String, to file: String) throws {
            let url = URL(fileURLWithPath: input + "/" + file)
            try (try Data(contentsOf: url) + Data(text.utf8)).write(to: url)
        }
        try append("P0013;M;31/02/1950;05/01/2020;;;Lyon\r\nQ777;F;01/07/1990;03/03/2020;;;Paris\r\n", to: "patients.csv")
        try append("99;P0003;04/03/2020;DOULEUR;forte\n98;P0014;04/03/2020;DOULEUR;tres forte\n", to: "questionnaire.csv")
        // The research mappings, pseudonymised: keyed person ids and source values.
        try FileManager.default.copyItem(atPath: TestSupport.path("mappings/research/concepts.csv"), toPath: mappings + "/concepts.csv")
        for f in ["patients.yaml", "measurements.yaml", "questionnaire.yaml"] {
            var text = try String(contentsOfFile: TestSupport.path("mappings/research/\(f)"), encoding: .utf8)
            text = text.replacingOccurrences(of: "\"to_int(substr(patient_id, 2))\"", with: "\"pseudonym_int(patient_id, 'person')\"")
            text = text.replacingOccurrences(
                of: "person_source_value: patient_id", with: "person_source_value: \"substr(pseudonym(patient_id, 'person'), 1, 50)\"")
            TestSupport.write(text, to: mappings + "/" + f)
        }
        let keyText = "leak-scan-secret-Zq8-0123456789-abcdefghij"
        TestSupport.write(keyText + "\n", to: dir + "/secret/project.key")
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        TestSupport.write("P0005\n", to: dir + "/secret/objections.txt")

        var streams: [String] = []
        let run = try TestSupport.runCLI([
            "run", "--mappings", mappings, "--input", input, "--output", out + "/omop.sqlite", "--key-file", dir + "/secret/project.key",
            "--project", "leak", "--exclude", dir + "/secret/objections.txt", "--json", "--openlineage", out + "/events.jsonl", "--lineage",
            "--max-reject-rate", "1", "--date-shift-days", "30",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        streams += [run.stdout, run.stderr]
        let db = try SQLiteConnection(path: out + "/omop.sqlite", readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM harmonize_reject") == .int(4), "the injected errors were rejected")
        let report = try TestSupport.runCLI(["report", "--output", out + "/omop.sqlite", "--html", out + "/report.html"])
        #expect(report.status == 0, "\(report.stderr)")
        let rejects = try TestSupport.runCLI(["rejects", "--output", out + "/omop.sqlite", "--format", "json"])
        let quality = try TestSupport.runCLI(["quality", "--output", out + "/omop.sqlite", "--json", out + "/quality.json"])
        let risk = try TestSupport.runCLI([
            "risk", "--output", out + "/omop.sqlite", "--quasi-identifiers", "year_of_birth,gender", "--min-k", "1", "--json", out + "/risk.json",
        ])
        #expect(risk.status == 0, "\(risk.stderr)")
        for r in [report, rejects, quality, risk] { streams += [r.stdout, r.stderr] }

        let keyBytes = Array(keyText.utf8)
        let needles =
            [keyText, Hex.string(keyBytes), Hex.string(keyBytes).uppercased(), Data(keyBytes).base64EncodedString()]
            + (1...14).map { String(format: "P%04d", $0) } + ["Q777", "forte"]
        var files = try FileManager.default.subpathsOfDirectory(atPath: out).map { out + "/" + $0 }
        files.removeAll {
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && d.boolValue
        }
        #expect(files.count >= 5, "\(files)")
        var haystacks: [(String, [UInt8])] = files.map { ($0, Array((try? Data(contentsOf: URL(fileURLWithPath: $0))) ?? Data())) }
        haystacks += streams.enumerated().map { ("stream \($0.offset)", Array($0.element.utf8)) }
        for (name, bytes) in haystacks {
            for n in needles {
                let needle = Array(n.utf8)
                let hit =
                    bytes.count >= needle.count
                    && (0...(bytes.count - needle.count)).contains { i in
                        bytes[i] == needle[0] && Array(bytes[i..<(i + needle.count)]) == needle
                    }
                #expect(!hit, "\(n) found in \(name)")
            }
        }
    }
}
