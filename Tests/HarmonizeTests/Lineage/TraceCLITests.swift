import Foundation
import Testing

@testable import Harmonize

/// `harmonize-run trace`: which source record, run and rule produced an output row.
@Suite(.serialized) struct TraceCLITests {
    /// The line number (1-based) of the first line of `file` containing `needle`.
    static func line(of needle: String, in file: String) throws -> Int {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return try #require(lines.firstIndex { $0.contains(needle) }) + 1
    }

    static func sha256(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(String(decoding: d, as: UTF8.self).prefix(64))
    }

    static func runResearch(lineage: Bool) throws -> String {
        let dir = TestSupport.temporaryDirectory("trace")
        let out = dir + "/o.sqlite"
        let r = try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"), "--output", out,
                "--no-quality",
            ]
                + (lineage ? ["--lineage"] : []))
        #expect(r.status == 0, "\(r.stderr)")
        return out
    }

    @Test func traceShowsRunFileLocationMappingAndTheRuleOfEachColumn() throws {
        let out = try Self.runResearch(lineage: true)
        let mapping = TestSupport.path("mappings/research/measurements.yaml")
        let r = try TestSupport.runCLI(["trace", "--output", out, "measurement", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        let runID = try #require(try db.scalar("SELECT run_id FROM harmonize_run").text)
        #expect(r.stdout.contains("measurement measurement_id = 3"))
        #expect(r.stdout.contains("run       \(runID) (run"))
        let hash = try Self.sha256(TestSupport.path("fixtures/research/input/mesures.csv"))
        #expect(r.stdout.contains("source    mesures.csv (csv, sha256 \(hash))"), "\(r.stdout)")
        // Measurement 3 is the third data row: line 4 of the file (after the header).
        #expect(r.stdout.contains("location  line 4 (record 3)"))
        #expect(r.stdout.contains("mapping   research.measurements"))
        let conceptLine = try Self.line(of: "  measurement_concept_id:", in: mapping)
        let ruleLine = try #require(r.stdout.split(separator: "\n").first { $0.contains("measurement_concept_id ") })
        #expect(ruleLine.contains("measurements.yaml:\(conceptLine)"), "\(ruleLine)")
        #expect(ruleLine.contains("lookup('measures', code) ?? 0"))
        #expect(ruleLine.contains("reads code (lookup measures)"))
        let personLine = try #require(r.stdout.split(separator: "\n").first { $0.contains("    person_id ") })
        #expect(personLine.contains("reads patient_id (transformation)"))
        // The lookup entries the columns used (codes of the lookup tables, not record values).
        #expect(r.stdout.contains("  vocabulary\n    measurement_concept_id: lookup measures HBA1C → "), "\(r.stdout)")
        #expect(r.stdout.contains("    unit_concept_id:        lookup units % → "), "\(r.stdout)")
        #expect(!r.stdout.contains("P0001") && !r.stdout.contains("7,2"), "no source value without --show-source")

        // JSON, with the source record read back.
        let j = try TestSupport.runCLI(["trace", "--output", out, "measurement", "3", "--json", "--show-source"])
        #expect(j.status == 0, "\(j.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        let entry = try #require((doc["traces"] as? [[String: Any]])?.first)
        let trace = try #require(entry["trace"] as? [String: Any])
        let source = try #require(trace["source"] as? [String: Any])
        #expect(source["line"] as? Int == 4)
        #expect(source["record"] as? Int == 3)
        #expect(source["sha256"] as? String == hash)
        #expect(
            (trace["mapping"] as? [String: Any])?["sha256"] as? String
                == (try db.scalar("SELECT sha256 FROM harmonize_run_mapping WHERE mapping = 'research.measurements'").text))
        #expect(entry["sourceRecord"] as? String == "3;P0001;05/01/2020;08:35;HBA1C;7,2;%;4,0;6,0")
        let rules = try #require(trace["rules"] as? [[String: Any]])
        #expect(
            rules.contains {
                $0["column"] as? String == "measurement_id" && $0["line"] as? Int == (try? Self.line(of: "  measurement_id:", in: mapping))
            })
    }

    @Test func notFoundUsageAndIOHaveTheirExitCodes() throws {
        let out = try Self.runResearch(lineage: true)
        let missing = try TestSupport.runCLI(["trace", "--output", out, "measurement", "999999"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no row of measurement has that measurement_id"))
        #expect(!missing.stderr.contains("999999"), "messages do not repeat the key value")
        let table = try TestSupport.runCLI(["trace", "--output", out, "measurment", "3"])
        #expect(table.status == 2)
        let io = try TestSupport.runCLI(["trace", "--output", out + ".nope", "measurement", "3"])
        #expect(io.status == 3)
        let usage = try TestSupport.runCLI(["trace", "--output", out, "measurement"])
        #expect(usage.status == 2)

        let plain = try Self.runResearch(lineage: false)
        let none = try TestSupport.runCLI(["trace", "--output", plain, "measurement", "3"])
        #expect(none.status == 1)
        #expect(none.stderr.contains("exists, but no lineage was recorded"))
        #expect(none.stderr.contains("--lineage"))
    }

    @Test func aChangedSourceFileIsNotReadBack() throws {
        let dir = TestSupport.temporaryDirectory("trace-changed")
        let input = dir + "/in"
        try FileManager.default.copyItem(atPath: TestSupport.path("fixtures/research/input"), toPath: input)
        let out = dir + "/o.sqlite"
        let r = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", input, "--output", out, "--no-quality", "--lineage",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        // The recorded input folder is used by default.
        let ok = try TestSupport.runCLI(["trace", "--output", out, "person", "1", "--show-source"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("source record (patients.csv, line 2 (record 1)):"))
        let h = try #require(FileHandle(forWritingAtPath: input + "/patients.csv"))
        h.seekToEndOfFile()
        h.write(Data("\n".utf8))
        try h.close()
        let changed = try TestSupport.runCLI(["trace", "--output", out, "person", "1", "--show-source"])
        #expect(changed.status == 3)
        #expect(changed.stderr.contains("changed since the run"))
    }

    @Test func hl7AndXMLRowsTraceToTheirMessageSegmentAndElement() throws {
        let dir = TestSupport.temporaryDirectory("trace-hospital")
        let out = dir + "/o.sqlite"
        let r = try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("mappings/hospital"), "--input", TestSupport.path("fixtures/hospital"), "--output", out,
                "--no-quality",
                "--lineage", "--max-reject-rate", "1", "--key-env", "HZ_TRACE_KEY",
                "--keep-orphans",  // the lab's patients have no ADT message in the fixtures
            ], environment: ["HZ_TRACE_KEY": String(repeating: "k", count: 40)])
        #expect(r.status == 0, "\(r.stderr)")
        // The second OBX of the first message (line 6).
        let obx = try TestSupport.runCLI(["trace", "--output", out, "measurement", "100102", "--show-source"])
        #expect(obx.status == 0, "\(obx.stderr)")
        #expect(obx.stdout.contains("source    oru/lab.hl7 (hl7v2"))
        #expect(obx.stdout.contains("location  message 1, OBX segment at line 6"), "\(obx.stdout)")
        #expect(obx.stdout.contains("    MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101120000||ORU^R01^ORU_R01|1001|"))
        #expect(obx.stdout.contains("    OBX|2|NM|2085-9^HDL Cholesterol^LN||\"\"|"))
        #expect(!obx.stdout.contains("|1002|"), "only that message")
        // The second message (its MSH at line 7).
        let second = try TestSupport.runCLI(["trace", "--output", out, "measurement", "100201", "--show-source"])
        #expect(second.stdout.contains("location  message 2, OBX segment at line 11"), "\(second.stdout)")
        #expect(second.stdout.contains("PID|1||67890^^^HOSP^PI||ROE^JANE"))
        #expect(!second.stdout.contains("|1001|"))

        let stay = try TestSupport.runCLI(["trace", "--output", out, "visit_occurrence", "1000002", "--show-source", "--json"])
        #expect(stay.status == 0, "\(stay.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(stay.stdout.utf8)) as? [String: Any])
        let entry = try #require((doc["traces"] as? [[String: Any]])?.first)
        let source = try #require((entry["trace"] as? [String: Any])?["source"] as? [String: Any])
        #expect(source["record"] as? Int == 2)
        #expect(source["line"] as? Int == 4)
        #expect(source["unit"] as? String == "/h:export/h:sejour")
        let element = try #require(entry["sourceRecord"] as? String)
        #expect(element.hasPrefix("<sejour id=\"S00000002\""))
        #expect(element.hasSuffix("</sejour>"))
        #expect(!element.contains("S00000003"))
    }

    /// A table without a primary key (OMOP `death`) is traced by its first `*_id` column.
    @Test func aTableWithoutAPrimaryKeyIsTracedByItsFirstIDColumn() throws {
        let dir = TestSupport.temporaryDirectory("trace-death")
        TestSupport.write("id;dd\n7;2020-01-02\n8;2021-03-04\n", to: dir + "/in/deaths.csv")
        TestSupport.write(
            """
            harmonize: 1
            id: t.death
            version: 1.0.0
            source: {files: deaths.csv, dialect: {delimiter: ";"}}
            target: death
            fields:
              person_id: "to_int(id)"
              death_date: "parse_date(dd, 'yyyy-MM-dd')"
              death_type_concept_id: "32817"
            """, to: dir + "/death.yaml")
        let out = dir + "/o.sqlite"
        let r = try TestSupport.runCLI([
            "run", "--mappings", dir + "/death.yaml", "--input", dir + "/in", "--output", out, "--no-quality", "--lineage",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let t = try TestSupport.runCLI(["trace", "--output", out, "death", "8"])
        #expect(t.status == 0, "\(t.stderr)")
        #expect(t.stdout.contains("death person_id = 8"))
        #expect(t.stdout.contains("location  line 3 (record 2)"))
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM harmonize_lineage WHERE row_id IS NULL") == .int(0))
    }
}
