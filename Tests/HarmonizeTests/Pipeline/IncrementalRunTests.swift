import Foundation
import Testing

@testable import Harmonize

/// `run --incremental` (issue 17): into an existing SQLite output, only the mappings whose
/// inputs, mapping file, vocabulary release, key or settings changed run again, with the reasons
/// printed; the others' rows, rejects, ledger and lineage are taken over; the result equals a full
/// run with the same inputs, table by table and in the books (rejects, ledger, row and vocabulary
/// lineage, unmapped codes, vocabulary usage, inputs, counts).
@Suite(.serialized) struct IncrementalRunTests {
    /// A copy of a fixture's input folder and a key, in a fresh temporary folder.
    struct Workspace {
        var dir: String
        var input: String
        var key: String

        init(_ label: String, fixture: String, keySeed: Int) throws {
            dir = TestSupport.temporaryDirectory(label)
            input = dir + "/input"
            try FileManager.default.copyItem(atPath: TestSupport.path(fixture), toPath: input)
            try? FileManager.default.removeItem(atPath: input + "/expected")
            key = dir + "/run.key"
            TestSupport.write(bytes: (0..<48).map { UInt8(($0 * keySeed + 11) & 0xFF) }, to: key)
        }

        /// Replaces the first occurrence of `old` by `new` in an input file.
        func edit(_ file: String, _ old: String, _ new: String) throws {
            let path = input + "/" + file
            let text = try String(contentsOfFile: path, encoding: .isoLatin1)
            let range = try #require(text.range(of: old), "\(old) not in \(file)")
            try text.replacingCharacters(in: range, with: new).write(toFile: path, atomically: true, encoding: .isoLatin1)
        }
    }

    static let sndsArguments = ["--mappings", TestSupport.path("mappings/snds"), "--max-reject-rate", "0.05", "--no-quality", "--no-progress"]
    static let hospitalArguments = ["--mappings", TestSupport.path("mappings/hospital"), "--max-reject-rate", "1", "--no-quality", "--no-progress"]

    /// Every CDM table and the books of an output, ids resolved to names, rows sorted.
    static func dump(_ path: String) throws -> [String: [[Value]]] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        var out: [String: [[Value]]] = [:]
        let tables = try db.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'harmonize%' AND name NOT LIKE 'sqlite%' ORDER BY name"
        ).compactMap { $0.first?.text }
        for t in tables {
            let n = try db.query("PRAGMA table_info(\"\(t)\")").count
            out[t] = try db.query("SELECT * FROM \"\(t)\" ORDER BY \((1...max(1, n)).map(String.init).joined(separator: ", "))")
        }
        let books = [
            "rejects": "SELECT mapping, file, line, record, path, field, reason, rule, message FROM harmonize_reject",
            "ledger":
                "SELECT mapping, file, read, written, rejected, filtered, excluded, grouped, group_stage, other_shard, duplicate FROM harmonize_ledger",
            "lineage": """
            SELECT t.table_name, l.row_id, m.mapping, i.path, l.line, l.record, l.target FROM harmonize_lineage l
            JOIN harmonize_run_table t ON t.table_id = l.table_id JOIN harmonize_run_mapping m ON m.mapping_id = l.mapping_id
            JOIN harmonize_run_input i ON i.file_id = l.file_id
            """,
            "unmapped": "SELECT mapping, vocabulary_id, source_code, records FROM harmonize_unmapped",
            "usage": "SELECT mapping, vocabulary_id, lookups, mapped, unmapped, distinct_unmapped FROM harmonize_vocabulary_usage",
            "inputs": "SELECT path, sha256, bytes, records FROM harmonize_run_input",
            "counts": "SELECT table_name, rows FROM harmonize_run_table",
            "mappings": "SELECT mapping_id, mapping, sha256 FROM harmonize_run_mapping",
        ]
        for (name, sql) in books {
            let rows = try db.query(sql)
            let n = rows.first?.count ?? 1
            out["books." + name] = try db.query(sql + " ORDER BY " + (1...n).map(String.init).joined(separator: ", "))
        }
        if try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'harmonize_lineage_vocabulary'") != .int(0) {
            out["books.vocabulary-lineage"] = try db.query(
                "SELECT table_name, row_id, column_name, vocabulary, code, concept_id, function, value FROM harmonize_lineage_vocabulary ORDER BY 1, 2, 3, 4, 5, 6, 7, 8"
            )
        }
        let manifest = try #require(try manifest(path))
        out["books.updates"] = manifest.tables.map { [.string($0.table), .int($0.rows), $0.updated.map(Value.int) ?? .null] }
        return out
    }

    static func manifest(_ path: String) throws -> RunManifest? {
        let db = try SQLiteConnection(path: path, readOnly: true)
        let json = try db.scalar("SELECT manifest FROM harmonize_run").text ?? ""
        return try JSONDecoder().decode(RunManifest.self, from: Data(json.utf8))
    }

    static func expectEqual(_ a: [String: [[Value]]], _ b: [String: [[Value]]], _ label: String) {
        #expect(a.keys.sorted() == b.keys.sorted(), "\(label)")
        for t in b.keys.sorted() { #expect(a[t] == b[t], "\(label): \(t) differs from the full run") }
    }

    /// `run --incremental` into `output`, then a full run of the same inputs into a new file;
    /// the incremental run's standard error and manifest, and whether both outputs are equal.
    @discardableResult
    static func incrementalThenFull(_ ws: Workspace, _ arguments: [String], output: String, label: String) throws -> (
        stderr: String, manifest: RunManifest
    ) {
        let common = arguments + ["--input", ws.input, "--key-file", ws.key]
        let inc = try TestSupport.runCLI(["run"] + common + ["--output", output, "--incremental"])
        #expect(inc.status == 0, "\(inc.stderr)")
        let full = ws.dir + "/full-\(label).sqlite"
        let f = try TestSupport.runCLI(["run"] + common + ["--output", full])
        #expect(f.status == 0, "\(f.stderr)")
        expectEqual(try dump(output), try dump(full), label)
        return (inc.stderr, try #require(try manifest(output)))
    }

    static func rerun(_ m: RunManifest) -> [String] { m.incremental?.rerun.map(\.mapping) ?? [] }

    @Test func sndsWithLineageRunsOnlyWhatChangedAndEqualsAFullRun() throws {
        let ws = try Workspace("incremental-snds", fixture: "fixtures/snds/input", keySeed: 37)
        let args = Self.sndsArguments + ["--vocabulary", TestSupport.path("fixtures/vocabulary"), "--lineage"]
        let output = ws.dir + "/omop.sqlite"
        // No output yet: every mapping runs, and says why.
        let first = try TestSupport.runCLI(["run"] + args + ["--input", ws.input, "--key-file", ws.key, "--output", output, "--incremental"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("incremental: the output does not exist yet: every mapping runs"), "\(first.stderr)")
        let all = try #require(try Self.manifest(output))
        #expect(all.incremental?.base == nil && Self.rerun(all).count == 9 && all.fingerprints?.count == 9)

        // One pharmacy line changes: only the pharmacy mapping runs again.
        try ws.edit("ER_PHA_F.csv", ";3400930000014;2;", ";3400930000014;3;")
        let drug = try Self.incrementalThenFull(ws, args, output: output, label: "drug")
        #expect(Self.rerun(drug.manifest) == ["snds.dcir_drug"], "\(drug.stderr)")
        #expect(drug.manifest.incremental?.rerun.first?.reasons == ["input ER_PHA_F.csv changed"])
        #expect(drug.manifest.incremental?.reused.count == 8)
        #expect(drug.manifest.incremental?.base == all.runID)
        #expect(drug.stderr.contains("1 of 9 mappings run again, 8 taken over from run \(all.runID)"), "\(drug.stderr)")

        // A new vocabulary release: the mappings that look codes up run again, the others not.
        let next = Self.sndsArguments + ["--vocabulary", TestSupport.path("fixtures/vocabulary-next"), "--lineage"]
        let release = try Self.incrementalThenFull(ws, next, output: output, label: "release")
        let releaseRerun = Set(Self.rerun(release.manifest))
        #expect(releaseRerun.contains("snds.pmsi_mco_diagnoses") && releaseRerun.contains("snds.ir_imb_r"))
        #expect(!releaseRerun.contains("snds.ir_ben_r"), "the beneficiary mapping looks no code up")
        for d in release.manifest.incremental?.rerun ?? [] { #expect(d.reasons == ["the vocabulary release changed"], "\(d)") }

        // A beneficiary changes: persons are written again, so every mapping runs (orphans).
        try ws.edit("IR_BEN_R.csv", ";1;1956;03;", ";1;1957;03;")
        let person = try Self.incrementalThenFull(ws, next, output: output, label: "person")
        #expect(Self.rerun(person.manifest).count == 9, "\(person.stderr)")
        #expect(person.stderr.contains("snds.ir_ben_r writes person again"), "\(person.stderr)")
    }

    @Test func withoutLineageMappingsSharingATableRunTogether() throws {
        let ws = try Workspace("incremental-snds-nolineage", fixture: "fixtures/snds/input", keySeed: 41)
        let args = Self.sndsArguments + ["--vocabulary", TestSupport.path("fixtures/vocabulary")]
        let output = ws.dir + "/omop.sqlite"
        let first = try TestSupport.runCLI(["run"] + args + ["--input", ws.input, "--key-file", ws.key, "--output", output])
        #expect(first.status == 0, "\(first.stderr)")
        // drug_exposure has one writer: alone again.
        try ws.edit("ER_PHA_F.csv", ";3400930000014;2;", ";3400930000014;5;")
        let drug = try Self.incrementalThenFull(ws, args, output: output, label: "drug")
        #expect(Self.rerun(drug.manifest) == ["snds.dcir_drug"])
        // measurement has two (biology lines and PMSI diagnoses), which share other tables in
        // turn: without row lineage, all of those run again.
        try ws.edit("ER_BIO_F.csv", ";1610;1;", ";1610;2;")
        let bio = try Self.incrementalThenFull(ws, args, output: output, label: "bio")
        let rerun = Set(Self.rerun(bio.manifest))
        #expect(rerun.isSuperset(of: ["snds.dcir_measurement", "snds.pmsi_mco_diagnoses"]), "\(bio.stderr)")
        #expect(!rerun.contains("snds.dcir_drug") && !rerun.contains("snds.ir_ben_r"), "\(bio.stderr)")
        #expect(bio.stderr.contains("no row lineage to tell their rows apart"), "\(bio.stderr)")
    }

    @Test func hospitalUpdatesAndHeldBackOrphansEqualAFullRun() throws {
        let ws = try Workspace("incremental-hospital", fixture: "fixtures/hospital", keySeed: 13)
        let args = Self.hospitalArguments + ["--lineage"]
        let output = ws.dir + "/omop.sqlite"
        let first = try TestSupport.runCLI(["run"] + args + ["--input", ws.input, "--key-file", ws.key, "--output", output])
        #expect(first.status == 0, "\(first.stderr)")
        // Lab results only: their rows are held back as orphans (patients without ADT), as in a full run.
        try ws.edit("oru/lab.hl7", "||100.5|mg", "||101.5|mg")
        let lab = try Self.incrementalThenFull(ws, args, output: output, label: "lab")
        #expect(Self.rerun(lab.manifest) == ["hospital.oru_measurement"], "\(lab.stderr)")
        #expect(lab.manifest.tables.first { $0.table == "visit_occurrence" }?.updated == 2, "taken over with the output run's updates")
        // The stay export: its mappings update visit rows the ADT mapping writes, which writes persons.
        try ws.edit("his/sejours.xml", "</", " </")
        let his = try Self.incrementalThenFull(ws, args, output: output, label: "his")
        #expect(Self.rerun(his.manifest).count == 6, "\(his.stderr)")
        #expect(his.stderr.contains("on_conflict: update"), "\(his.stderr)")
    }

    @Test func nothingChangedLeavesTheOutputAsItIsAndSettingsAreCompared() throws {
        let ws = try Workspace("incremental-same", fixture: "fixtures/snds/input", keySeed: 43)
        let mappings = ws.dir + "/mappings"
        try FileManager.default.copyItem(atPath: TestSupport.path("mappings/snds"), toPath: mappings)
        let args = [
            "--mappings", mappings, "--max-reject-rate", "0.05", "--no-quality", "--no-progress", "--input", ws.input, "--vocabulary",
            TestSupport.path("fixtures/vocabulary"),
        ]
        let output = ws.dir + "/omop.sqlite"
        let first = try TestSupport.runCLI(["run"] + args + ["--key-file", ws.key, "--output", output])
        #expect(first.status == 0, "\(first.stderr)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        let same = try TestSupport.runCLI(["run"] + args + ["--key-file", ws.key, "--output", output, "--incremental", "--json"])
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.stderr.contains("nothing changed since run"), "\(same.stderr)")
        #expect(same.stdout.contains("\"status\":\"up-to-date\""), "\(same.stdout)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == bytes)
        // A mapping file edited (a comment): that mapping runs again.
        let visit = mappings + "/dcir-visit.yaml"
        try (try String(contentsOfFile: visit, encoding: .utf8) + "\n# edited\n").write(toFile: visit, atomically: true, encoding: .utf8)
        let edited = try TestSupport.runCLI(["run"] + args + ["--key-file", ws.key, "--output", output, "--incremental"])
        #expect(edited.status == 0, "\(edited.stderr)")
        #expect(edited.stderr.contains("snds.dcir_visit: its mapping file, schema or shipped lookup files changed"), "\(edited.stderr)")
        // Without row lineage, the mappings sharing its tables (visits with PMSI stays…) run with it.
        let decisions = try #require(try Self.manifest(output)?.incremental?.rerun)
        #expect(decisions.first { $0.mapping == "snds.dcir_visit" }?.reasons == ["its mapping file, schema or shipped lookup files changed"])
        #expect(
            decisions.count > 1 && decisions.allSatisfy { $0.mapping == "snds.dcir_visit" || $0.reasons.allSatisfy { $0.contains("shares table") } })
        #expect(!decisions.contains { $0.mapping == "snds.dcir_drug" })
        // Another key: every mapping runs again.
        let other = ws.dir + "/other.key"
        TestSupport.write(bytes: (0..<48).map { UInt8(($0 * 7 + 3) & 0xFF) }, to: other)
        let rekeyed = try TestSupport.runCLI(["run"] + args + ["--key-file", other, "--output", output, "--incremental"])
        #expect(rekeyed.status == 0, "\(rekeyed.stderr)")
        #expect(rekeyed.stderr.contains("9 of 9 mappings run again") && rekeyed.stderr.contains("setting key changed"), "\(rekeyed.stderr)")
        // Another project label (it changes every pseudonym, not the key's fingerprint).
        let project = try TestSupport.runCLI(["run"] + args + ["--key-file", other, "--project", "p2", "--output", output, "--incremental"])
        #expect(project.status == 0, "\(project.stderr)")
        #expect(project.stderr.contains("9 of 9 mappings run again") && project.stderr.contains("setting project changed"), "\(project.stderr)")
        // An output whose run records no fingerprints (an older version): every mapping runs.
        let db = try SQLiteConnection(path: output)
        try db.execute("UPDATE harmonize_run SET manifest = json_remove(manifest, '$.fingerprints')")
        let old = try TestSupport.runCLI(["run"] + args + ["--key-file", other, "--project", "p2", "--output", output, "--incremental"])
        #expect(old.status == 0, "\(old.stderr)")
        #expect(old.stderr.contains("records no fingerprints (written by an older version): every mapping runs"), "\(old.stderr)")
    }

    @Test func outputsItCannotStartFromAreRefusedOrRunInFull() throws {
        let ws = try Workspace("incremental-refused", fixture: "fixtures/snds/input", keySeed: 47)
        let args = Self.sndsArguments + ["--input", ws.input, "--key-file", ws.key, "--vocabulary", TestSupport.path("fixtures/vocabulary")]
        for (extra, message) in [
            (["--output", "postgresql://etl@127.0.0.1:5432/cdm?schema=cdm"], "[HZ7022]"),
            (["--output", ws.dir + "/csv", "--sink", "csv"], "--incremental needs a SQLite output"),
            (["--output", ws.dir + "/s.sqlite", "--shard", "0/2", "--run-id", "r1"], "--incremental does not take --shard"),
        ] {
            let r = try TestSupport.runCLI(["run"] + args + extra + ["--incremental"])
            #expect(r.status == 2, "\(extra): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(extra): \(r.stderr)")
        }
        // A file that is not a Harmonize output: every mapping runs (and replaces it).
        let output = ws.dir + "/omop.sqlite"
        TestSupport.write("not a database", to: output)
        let r = try TestSupport.runCLI(["run"] + args + ["--output", output, "--incremental"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("cannot be read as a Harmonize SQLite output: every mapping runs"), "\(r.stderr)")
    }

    /// The output replaced between the comparison and the copy (another run published meanwhile):
    /// nothing is published (HZ7310).
    @Test func anOutputReplacedAfterThePlanIsRefused() throws {
        let ws = try Workspace("incremental-race", fixture: "fixtures/snds/input", keySeed: 53)
        let output = ws.dir + "/omop.sqlite"
        let plans = try SNDSExampleTests.plans()
        var options = RunOptions.keyed(ws.input, vocabulary: try VocabularyStore(path: TestSupport.path("fixtures/vocabulary")))
        let fullRun = { () throws -> RunManifest in
            try Pipeline(plans: plans, options: options).run(into: PipelinedSink(SQLiteSink(outputPath: output)))
        }
        _ = try fullRun()
        try ws.edit("ER_PHA_F.csv", ";3400930000014;2;", ";3400930000014;6;")
        let plan = try IncrementalPlan.make(plans: plans, options: options, outputPath: output)
        #expect(plan.summary.rerun.map(\.mapping) == ["snds.dcir_drug"])
        // Another run publishes meanwhile.
        _ = try fullRun()
        let before = try Data(contentsOf: URL(fileURLWithPath: output))
        options.incremental = plan
        #expect {
            _ = try Pipeline(plans: plans, options: options).run(into: PipelinedSink(SQLiteSink(outputPath: output)))
        } throws: { error in
            (error as? RunError)?.code == .incrementalOutputChanged
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == before)
    }
}
