import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// `source: deduplicate:` (HL7 v2 messages re-sent after a lost acknowledgement): the mapping
/// variants of `fixtures/hospital-resent/mappings/` on `fixtures/hospital-resent/` (re-sent
/// copies of three messages, README there), with the first or the last copy kept.
@Suite struct DeduplicateTests {
    static let resent = TestSupport.path("fixtures/hospital-resent")

    /// The variant mappings, with `keep:` set to `keep`.
    static func plans(keep: String = "first", folder: String = "fixtures/hospital-resent/mappings") throws -> [MappingPlan] {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        return try ["adt-person-visit", "oru-measurement"].map { name in
            let path = TestSupport.path("\(folder)/\(name).yaml")
            var text = try String(contentsOfFile: path, encoding: .utf8)
            if keep != "first" {
                text = text.replacingOccurrences(
                    of: "deduplicate: {on: control-id, keep: first}", with: "deduplicate: {on: control-id, keep: \(keep)}")
            }
            return try MappingPlanner.plan(MappingLoader.load(yaml: text, file: path), context: context)
        }
    }

    static func run(_ plans: [MappingPlan], input: String = resent, into output: String) throws -> RunManifest {
        var options = RunOptions.keyed(input)
        options.holdsBackOrphans = false  // the lab's patients have no ADT message in the fixtures
        return try Pipeline(plans: plans, options: options).run(into: SQLiteSink(outputPath: output))
    }

    static func scalar(_ path: String, _ sql: String) throws -> String? {
        let db = try SQLiteConnection(path: path, readOnly: true)
        return try db.query(sql).first?.first.map { $0.isNull ? "" : $0.description }
    }

    static func ledger(_ m: RunManifest, _ mapping: String) -> [String: RunManifest.LedgerEntry] {
        Dictionary(uniqueKeysWithValues: m.ledger.filter { $0.mapping == mapping }.map { ($0.file, $0) })
    }

    @Test func theFirstCopyIsMappedAndTheOthersAreCountedAsDuplicates() throws {
        let out = TestSupport.temporaryDirectory("dedup-first") + "/omop.sqlite"
        let m = try Self.run(try Self.plans(), into: out)
        // Visit V0004 has no discharge: it ends at the MSH-7 of the copy mapped (the original's).
        #expect(try Self.scalar(out, "SELECT visit_end_datetime FROM visit_occurrence WHERE visit_occurrence_id = 4") == "2024-01-12T09:45:00")
        #expect(try Self.scalar(out, "SELECT count(*) FROM measurement WHERE measurement_id = 100201") == "1")
        let adt = Self.ledger(m, "hospital.adt_person_visit")
        #expect(adt["adt/a01.hl7"]?.duplicate == 1, "the copy of 2001")
        #expect(adt["adt/a01.hl7"]?.written == 2)
        #expect(adt["adt/movements.hl7"]?.duplicate == 0)
        #expect(adt["adt/resent.hl7"]?.duplicate == 1, "the copy of 2102")
        #expect(adt["adt/resent.hl7"]?.written == 0)
        let oru = Self.ledger(m, "hospital.oru_measurement")
        #expect(oru["oru/lab.hl7"]?.duplicate == 1, "the one OBX of the copy of 1002")
        #expect(oru["oru/lab.hl7"]?.written == 6)
        #expect(oru["oru/lab.hl7"]?.rejected == 1)
        for l in m.ledger { #expect(l.balances, "\(l.mapping) \(l.file)") }
        #expect(m.duplicateCount == 3)
        // The books in the output: the ledger table's new column.
        #expect(try Self.scalar(out, "SELECT sum(duplicate) FROM harmonize_ledger") == "3")
        // The list: coordinates of each duplicate and of the copy kept.
        let d = try #require(m.duplicates?.first { $0.mapping == "hospital.adt_person_visit" })
        #expect(d.keep == "first")
        #expect(d.key == ["MSH-3", "MSH-4", "MSH-10"])
        #expect(d.duplicates == 2)
        #expect(
            d.occurrences == [
                DuplicateOccurrence(file: "adt/a01.hl7", line: 10, message: 3, keptFile: "adt/a01.hl7", keptLine: 1, keptMessage: 1),
                DuplicateOccurrence(file: "adt/resent.hl7", line: 1, message: 1, keptFile: "adt/movements.hl7", keptLine: 6, keptMessage: 2),
            ])
        let o = try #require(m.duplicates?.first { $0.mapping == "hospital.oru_measurement" })
        #expect(o.occurrences.map { "\($0.file):\($0.message)>\($0.keptMessage)" } == ["oru/lab.hl7:6>2"])
    }

    @Test func theLastCopyIsMappedWithKeepLast() throws {
        let out = TestSupport.temporaryDirectory("dedup-last") + "/omop.sqlite"
        let m = try Self.run(try Self.plans(keep: "last"), into: out)
        #expect(try Self.scalar(out, "SELECT visit_end_datetime FROM visit_occurrence WHERE visit_occurrence_id = 4") == "2024-01-12T10:15:00")
        let adt = Self.ledger(m, "hospital.adt_person_visit")
        #expect(adt["adt/a01.hl7"]?.duplicate == 1, "the original 2001")
        #expect(adt["adt/movements.hl7"]?.duplicate == 1, "the original 2102")
        #expect(adt["adt/resent.hl7"]?.duplicate == 0)
        #expect(adt["adt/resent.hl7"]?.written == 1)
        for l in m.ledger { #expect(l.balances, "\(l.mapping) \(l.file)") }
        let d = try #require(m.duplicates?.first { $0.mapping == "hospital.adt_person_visit" })
        #expect(d.keep == "last")
        #expect(
            d.occurrences == [
                DuplicateOccurrence(file: "adt/a01.hl7", line: 1, message: 1, keptFile: "adt/a01.hl7", keptLine: 10, keptMessage: 3),
                DuplicateOccurrence(file: "adt/movements.hl7", line: 6, message: 2, keptFile: "adt/resent.hl7", keptLine: 1, keptMessage: 1),
            ])
        let o = try #require(m.duplicates?.first { $0.mapping == "hospital.oru_measurement" })
        #expect(o.occurrences.map { "\($0.file):\($0.message)>\($0.keptMessage)" } == ["oru/lab.hl7:2>6"])
        // The inputs are read twice but hashed once, completely.
        let a01 = try #require(m.inputs.first { $0.path == "adt/a01.hl7" })
        let size = try #require(try FileManager.default.attributesOfItem(atPath: Self.resent + "/adt/a01.hl7")[.size] as? Int)
        #expect(a01.bytes == Int64(size))
        #expect(a01.records == 3)
    }

    @Test func withoutReSentMessagesTheOptionChangesNothing() throws {
        let dir = TestSupport.temporaryDirectory("dedup-none")
        let hospital = TestSupport.path("fixtures/hospital")
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let bundled = try ["adt-person-visit", "oru-measurement"].map { name in
            try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("mappings/hospital/\(name).yaml")), context: context)
        }
        let plain = try Self.run(bundled, input: hospital, into: dir + "/plain.sqlite")
        for keep in ["first", "last"] {
            let deduplicated = try Self.run(try Self.plans(keep: keep), input: hospital, into: dir + "/\(keep).sqlite")
            for table in ["person", "visit_occurrence", "measurement", "observation"] {
                let a = try SQLiteConnection(path: dir + "/plain.sqlite", readOnly: true)
                let b = try SQLiteConnection(path: dir + "/\(keep).sqlite", readOnly: true)
                let sql = "SELECT * FROM \(table) ORDER BY 1"
                #expect(try HospitalExampleTests.csv(a, sql) == HospitalExampleTests.csv(b, sql), "\(table), keep \(keep)")
            }
            #expect(deduplicated.ledger.map(\.duplicate) == plain.ledger.map { _ in Int?(0) })
            var withoutDuplicates = deduplicated.ledger
            for i in withoutDuplicates.indices { withoutDuplicates[i].duplicate = nil }
            #expect(withoutDuplicates == plain.ledger)
            #expect(deduplicated.duplicates?.allSatisfy { $0.duplicates == 0 && $0.occurrences.isEmpty } == true)
        }
        // Without the option, the ledger and the manifest have no duplicate entries at all.
        #expect(plain.ledger.allSatisfy { $0.duplicate == nil })
        #expect(plain.duplicates == nil)
        #expect(try Self.scalar(dir + "/plain.sqlite", "SELECT sum(duplicate) FROM harmonize_ledger") == "0")
    }

    @Test func withoutTheOptionTheReSentCopiesAreMappedTwice() throws {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let bundled = try MappingPlanner.plan(
            MappingLoader.load(path: TestSupport.path("mappings/hospital/adt-person-visit.yaml")), context: context)
        let out = TestSupport.temporaryDirectory("dedup-without") + "/omop.sqlite"
        let m = try Self.run([bundled], into: out)
        // The copy of 2102, read last, updates visit V0004 with its own MSH-7.
        #expect(try Self.scalar(out, "SELECT visit_end_datetime FROM visit_occurrence WHERE visit_occurrence_id = 4") == "2024-01-12T10:15:00")
        #expect(Self.ledger(m, "hospital.adt_person_visit")["adt/a01.hl7"]?.written == 3)
        #expect(m.duplicateCount == 0)
    }

    @Test func thePostgreSQLLedgerHasTheDuplicateColumnEvenInAnOlderSchema() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let schema = PostgresTestServer.schema("dedup")
        defer { PostgresTestServer.drop(uri, schema: schema) }
        // A schema written by an older version: its ledger has no `duplicate` column.
        let pg = try PostgresTestServer.connect(uri)
        try pg.execute(
            """
            CREATE SCHEMA \(schema);
            CREATE TABLE \(schema).harmonize_ledger (
              run_id text NOT NULL, mapping text NOT NULL, file text NOT NULL, read bigint NOT NULL, written bigint NOT NULL,
              rejected bigint NOT NULL, filtered bigint NOT NULL, excluded bigint NOT NULL, grouped bigint NOT NULL DEFAULT 0,
              group_stage bigint NOT NULL DEFAULT 0);
            """)
        var options = RunOptions.keyed(Self.resent)
        options.holdsBackOrphans = false
        options.runID = "dedup-\(UInt32.random(in: 0...UInt32.max))"
        let target = try PostgreSQLTarget(parsing: PostgresTestServer.output(uri, schema: schema))
        let m = try Pipeline(plans: try Self.plans(), options: options).run(
            into: PipelinedSink(PostgreSQLSink(target: target, runID: options.runID ?? "", recordsLineage: false)))
        #expect(m.duplicateCount == 3)
        #expect(try pg.scalar("SELECT sum(duplicate) FROM \(schema).harmonize_ledger") == "3")
        #expect(
            try pg.scalar("SELECT visit_end_datetime::text FROM \(schema).visit_occurrence WHERE visit_occurrence_id = 4") == "2024-01-12 09:45:00")
    }

    @Test func mappingTestsReadTheirTextTwiceForKeepLast() throws {
        let dir = TestSupport.temporaryDirectory("dedup-runner")
        for keep in ["first", "last"] {
            let text = try String(contentsOfFile: TestSupport.path("fixtures/hospital-resent/mappings/adt-person-visit.yaml"), encoding: .utf8)
                .replacingOccurrences(of: "keep: first}", with: "keep: \(keep)}")
            TestSupport.write(text, to: dir + "/adt-\(keep).yaml")
            let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
            let runner = try MappingTestRunner(mappingFile: dir + "/adt-\(keep).yaml", context: context)
            let message = { (time: String) in
                "MSH|^~\\&|ADT|HOSP|EHR|HOSP|\(time)||ADT^A04^ADT_A01|77|P|2.5\rPID|1||4711^^^HOSP^PI||PETIT^LEA||19850117|F\r"
                    + "PV1|1|O|CARDIO^1^1^HOSP||||||||||||||||V9001|||||||||||||||||||||||||20240401080000\r"
            }
            let run = try runner.run(text: message("20240401090000") + message("20240401093000"))
            #expect(run.ledger.duplicate == 1, "keep \(keep)")
            #expect(run.ledger.written == 1, "keep \(keep)")
            let end = run.tables["visit_occurrence"]?.first?["visit_end_datetime"]
            #expect(end?.description == (keep == "first" ? "2024-04-01T09:00:00" : "2024-04-01T09:30:00"), "keep \(keep)")
        }
    }

    @Test func theAccountingCountsDuplicates() {
        var e = RunManifest.LedgerEntry(mapping: "m", file: "f", read: 3, written: 2, rejected: 0, filtered: 0, excluded: 0)
        #expect(!e.balances)
        e.duplicate = 1
        #expect(e.balances)
        e.count(.duplicate)
        #expect(e.read == 4 && e.duplicate == 2 && e.balances)
    }

    @Test func theHTMLReportListsTheDuplicatesByCoordinates() throws {
        let out = TestSupport.temporaryDirectory("dedup-report") + "/omop.sqlite"
        _ = try Self.run(try Self.plans(), into: out)
        let page = try HTMLReport.render(try OutputDatabase(path: out))
        #expect(page.contains("<th>duplicate</th>"))
        let start = try #require(page.range(of: "<h2>Duplicate messages</h2>"))
        let rest = page[start.upperBound...]
        let section = rest.range(of: "<h2>").map { String(rest[..<$0.lowerBound]) } ?? String(rest)
        #expect(section.contains("adt/resent.hl7:1"))
        #expect(section.contains("adt/movements.hl7:6"))
        #expect(section.contains("MSH-3, MSH-4, MSH-10"))
        // Coordinates only: no control id, application or facility value.
        for value in ["2001", "2102", "1002", "HOSP", "|ADT|", "LAB"] { #expect(!section.contains(value), "\(value)") }
    }

    @Test func theOptionIsCheckedWithPositions() throws {
        func diagnostics(_ source: String) -> [Diagnostic] {
            let yaml = "harmonize: 1\nid: x\nsource:\n\(source)\ntarget: location\nfields: {location_id: \"1\"}\n"
            do {
                _ = try MappingLoader.load(yaml: yaml, file: "m.yaml")
                return []
            } catch {
                return error.diagnostics
            }
        }
        let keep = diagnostics("  format: hl7v2\n  files: a.hl7\n  deduplicate: {on: control-id, keep: lastt}")
        #expect(keep.map(\.code) == ["HZ1038"])
        #expect(keep.first.map { "\($0.file ?? ""):\($0.line ?? 0):\($0.column ?? 0)" } == "m.yaml:6:39", "\(keep)")
        #expect(keep.first?.notes.contains("did you mean 'last'?") == true)
        let on = diagnostics("  format: hl7v2\n  files: a.hl7\n  deduplicate: {on: MSH-10}")
        #expect(on.map(\.code) == ["HZ1038"])
        #expect(on.first?.line == 6)
        #expect(diagnostics("  format: hl7v2\n  files: a.hl7\n  deduplicate: {keep: first}").map(\.code) == ["HZ1038"], "no 'on'")
        #expect(diagnostics("  format: hl7v2\n  files: a.hl7\n  deduplicate: first").map(\.code) == ["HZ1038"])
        let typo = diagnostics("  format: hl7v2\n  files: a.hl7\n  deduplicate: {on: control-id, kep: first}")
        #expect(typo.contains { $0.code == "HZ1038" && $0.notes.contains("did you mean 'keep'?") }, "\(typo)")
        #expect(diagnostics("  files: a.csv\n  deduplicate: {on: control-id}").map(\.code) == ["HZ1038"], "csv")
        #expect(diagnostics("  format: hl7v2\n  files: a.hl7\n  deduplicate: {on: control-id}").isEmpty)
        #expect(diagnostics("  format: hl7v2\n  files: a.hl7\n  deduplicate: {on: control-id, keep: last}").isEmpty)
    }
}

/// `source: deduplicate:` through the command line: the run summary, `run --json`, `check` and
/// `report`.
@Suite struct DeduplicateCLITests {
    static let key = "dedup-cli-test-key-0123456789-abcdefghijklmn"

    static func run(_ extra: [String], output: String) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("fixtures/hospital-resent/mappings"), "--input", TestSupport.path("fixtures/hospital-resent"),
                "--output", output, "--key-env", "DEDUP_TEST_KEY", "--no-progress", "--no-quality", "--keep-orphans", "--max-reject-rate", "0.1",
            ] + extra,
            environment: ["DEDUP_TEST_KEY": key])
    }

    /// A replay of a run whose mapping keeps the last copy: the replay reads the first file
    /// through its selection of records in the first pass (which deduplicates nothing there),
    /// and that reading is the one hashed: it must read the file whole, or the replay finds the
    /// file "changed since the run".
    @Test func aReplayOfAMappingThatKeepsTheLastCopyFindsItsInputsUnchanged() throws {
        let dir = TestSupport.temporaryDirectory("dedup-replay")
        let oru = try String(contentsOfFile: TestSupport.path("fixtures/hospital-resent/mappings/oru-measurement.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "deduplicate: {on: control-id, keep: first}", with: "deduplicate: {on: control-id, keep: last}")
        #expect(oru.contains("keep: last"))
        TestSupport.write(oru, to: dir + "/m/oru-measurement.yaml")
        let input = TestSupport.path("fixtures/hospital-resent")
        let out = dir + "/o.sqlite"
        let environment = ["DEDUP_TEST_KEY": Self.key]
        let first = try TestSupport.runCLI(
            [
                "run", "--mappings", dir + "/m/oru-measurement.yaml", "--input", input, "--output", out, "--key-env", "DEDUP_TEST_KEY",
                "--no-progress", "--no-quality", "--keep-orphans", "--max-reject-rate", "1", "--lineage",
            ], environment: environment)
        #expect(first.status == 0, "one OBX is rejected, under the rate: \(first.stderr)")
        let runID = try #require(try SQLiteConnection(path: out, readOnly: true).scalar("SELECT run_id FROM harmonize_run").text)
        let replay = try TestSupport.runCLI(
            [
                "replay", "--output", out, "--run", runID, "--mappings", dir + "/m/oru-measurement.yaml", "--input", input, "--key-env",
                "DEDUP_TEST_KEY", "--no-quality", "--json",
            ], environment: environment)
        #expect(!replay.stderr.contains("changed since"), "\(replay.stderr)")
        #expect(replay.status == 1, "the record still fails, and is rejected again: \(replay.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any], "\(replay.stdout)")
        #expect(summary["records_read"] as? Int == 1, "\(summary)")
    }

    @Test func theSummaryTheJSONAndTheReportShowTheDuplicates() throws {
        let dir = TestSupport.temporaryDirectory("dedup-cli")
        let text = try Self.run([], output: dir + "/a.sqlite")
        #expect(text.status == 0, "\(text.stdout)\n\(text.stderr)")
        #expect(text.stderr.contains("duplicate"), "\(text.stderr)")
        #expect(
            text.stderr.contains("duplicates hospital.adt_person_visit: 2 (records of re-sent messages: same MSH-3, MSH-4, MSH-10), keep first"),
            "\(text.stderr)")
        #expect(text.stderr.contains("adt/resent.hl7:1 (message 1) duplicates adt/movements.hl7:6 (message 2), kept"), "\(text.stderr)")
        let json = try Self.run(["--json"], output: dir + "/b.sqlite")
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let manifest = try #require(object["manifest"] as? [String: Any])
        let ledger = try #require(manifest["ledger"] as? [[String: Any]])
        #expect(ledger.compactMap { $0["duplicate"] as? Int }.reduce(0, +) == 3)
        let duplicates = try #require(manifest["duplicates"] as? [[String: Any]])
        #expect(duplicates.count == 2)
        let page = dir + "/report.html"
        let report = try TestSupport.runCLI(["report", "--output", dir + "/b.sqlite", "--html", page])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("Duplicate messages"))
        #expect(html.contains("adt/a01.hl7:10"))
    }

    @Test func twoShardsMergedEqualTheUnshardedRunWithDuplicatesCountedOnce() throws {
        let dir = TestSupport.temporaryDirectory("dedup-shards")
        let whole = try Self.run([], output: dir + "/whole.sqlite")
        #expect(whole.status == 0, "\(whole.stderr)")
        for i in 0..<2 {
            let r = try Self.run(["--shard", "\(i)/2", "--run-id", "dedup-shards"], output: dir + "/shard\(i).sqlite")
            #expect(r.status == 0, "\(r.stderr)")
        }
        let merge = try TestSupport.runCLI([
            "merge", "--output", dir + "/merged.sqlite", "--no-quality", dir + "/shard0.sqlite", dir + "/shard1.sqlite",
        ])
        #expect(merge.status == 0, "\(merge.stderr)")
        let a = try SQLiteConnection(path: dir + "/whole.sqlite", readOnly: true)
        let b = try SQLiteConnection(path: dir + "/merged.sqlite", readOnly: true)
        for table in ["person", "visit_occurrence", "measurement", "observation"] {
            #expect(try a.query("SELECT * FROM \(table) ORDER BY 1") == b.query("SELECT * FROM \(table) ORDER BY 1"), "\(table)")
        }
        let ledger = "SELECT mapping, file, read, written, rejected, filtered, duplicate FROM harmonize_ledger ORDER BY 1, 2"
        #expect(try a.query(ledger) == b.query(ledger))
        #expect(try b.scalar("SELECT sum(duplicate) FROM harmonize_ledger") == .int(3))
    }

    @Test func checkReportsABadOptionWithItsPosition() throws {
        let dir = TestSupport.temporaryDirectory("dedup-check")
        let text = try String(
            contentsOfFile: TestSupport.path("fixtures/hospital-resent/mappings/oru-measurement.yaml"), encoding: .utf8
        ).replacingOccurrences(of: "keep: first}", with: "keep: newest}")
        TestSupport.write(text, to: dir + "/oru-measurement.yaml")
        let r = try TestSupport.runCLI(["check", "--mappings", dir + "/oru-measurement.yaml"])
        #expect(r.status == 2, "\(r.stdout)\n\(r.stderr)")
        let output = r.stdout + r.stderr
        #expect(output.contains("oru-measurement.yaml:18:"), "\(output)")
        #expect(output.contains("[HZ1038]"), "\(output)")
    }
}
