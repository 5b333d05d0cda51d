import Foundation
import Testing

@testable import Harmonize

/// `harmonize-run remap`: an output written with `run --lineage` and one vocabulary, remapped
/// with another (`fixtures/vocabulary-next`: a target changed, one lost, a code moved from the
/// Condition to the Observation domain), holds exactly the CDM rows a full run with the new
/// vocabulary writes; the sources are not read again.
@Suite(.serialized) struct RemapCLITests {
    static let vocabulary = TestSupport.path("fixtures/vocabulary")
    static let next = TestSupport.path("fixtures/vocabulary-next")
    static let diagnoses = TestSupport.path("Tests/HarmonizeTests/Fixtures/vocabulary-run/diagnoses.yaml")
    static let diagnosesInput = TestSupport.path("Tests/HarmonizeTests/Fixtures/vocabulary-run/input")

    /// Every CDM table of an output (bookkeeping tables left out), rows sorted by all their
    /// columns, the primary key first.
    static func dump(_ path: String) throws -> [String: [[Value]]] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        let tables = try db.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'harmonize%' AND name NOT LIKE 'sqlite%' ORDER BY name"
        ).compactMap { $0.first?.text }
        var out: [String: [[Value]]] = [:]
        for t in tables {
            let n = try db.query("PRAGMA table_info(\"\(t)\")").count
            let order = (1...max(1, n)).map(String.init).joined(separator: ", ")
            out[t] = try db.query("SELECT * FROM \"\(t)\" ORDER BY \(order)")
        }
        return out
    }

    /// The bytes of a file (to check an output was left untouched).
    static func contents(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// Runs `run` then `remap` into one output and a full run with the new vocabulary into
    /// another; returns both dumps, the dump before the remap, and the remap's JSON summary.
    static func remapAndRerun(_ runArguments: [String], mappings: String, label: String) throws -> (
        remapped: [String: [[Value]]], rerun: [String: [[Value]]], before: [String: [[Value]]], summary: [String: Any], output: String
    ) {
        let dir = TestSupport.temporaryDirectory(label)
        let remapped = dir + "/remapped.sqlite"
        let rerun = dir + "/rerun.sqlite"
        let first = try TestSupport.runCLI(["run"] + runArguments + ["--output", remapped, "--vocabulary", vocabulary, "--lineage"])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try dump(remapped)
        let remap = try TestSupport.runCLI(["remap", "--mappings", mappings, "--output", remapped, "--vocabulary", next, "--json"])
        #expect(remap.status == 0, "\(remap.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(remap.stdout.utf8)) as? [String: Any])
        let full = try TestSupport.runCLI(["run"] + runArguments + ["--output", rerun, "--vocabulary", next])
        #expect(full.status == 0, "\(full.stderr)")
        return (try dump(remapped), try dump(rerun), before, summary, remapped)
    }

    static func counts(_ summary: [String: Any], _ mapping: String) -> [String: Int] {
        let list = summary["mappings"] as? [[String: Any]] ?? []
        let m = list.first { $0["mapping"] as? String == mapping } ?? [:]
        var out: [String: Int] = [:]
        for (k, v) in m { if let i = v as? Int { out[k] = i } }
        return out
    }

    static func expectEqual(_ a: [String: [[Value]]], _ b: [String: [[Value]]]) {
        #expect(a.keys.sorted() == b.keys.sorted())
        for t in b.keys.sorted() {
            #expect(a[t] == b[t], "table \(t) differs from the full rerun")
        }
    }

    @Test func sndsRemapEqualsAFullRunWithTheNewVocabulary() throws {
        let dir = TestSupport.temporaryDirectory("remap-snds-key")
        let key = dir + "/snds.key"
        TestSupport.write(bytes: (0..<48).map { UInt8(($0 * 37 + 11) & 0xFF) }, to: key)
        let mappings = TestSupport.path("mappings/snds")
        let args = [
            "--mappings", mappings, "--input", TestSupport.path("fixtures/snds/input"), "--key-file", key, "--max-reject-rate", "0.05",
            "--no-quality",
            "--no-progress",
        ]
        let r = try Self.remapAndRerun(args, mappings: mappings, label: "remap-snds")
        Self.expectEqual(r.remapped, r.rerun)
        // The new vocabulary changes the output: the remap did something.
        #expect(r.before != r.rerun)
        #expect(r.before["observation"]?.count ?? 0 < r.rerun["observation"]?.count ?? 0, "the PMSI I10 row moved to observation")
        let diagnoses = Self.counts(r.summary, "snds.pmsi_mco_diagnoses")
        #expect(diagnoses["moved"] ?? 0 >= 1, "\(r.summary)")
        #expect(diagnoses["changed"] ?? 0 >= 1, "E119 changed target")
        let ald = Self.counts(r.summary, "snds.ir_imb_r")
        #expect(ald["changed"] ?? 0 >= 1, "E119 and C509 long-term illnesses changed concept")
        // The mappings that call no vocabulary function are not remapped.
        #expect(Self.counts(r.summary, "snds.dcir_visit").isEmpty)
        // Remapping back to the first vocabulary would move the I10 row back to
        // condition_occurrence, whose condition_end_date (the stay's end) observation does not
        // hold and the lineage does not record: refused, the output untouched.
        let remapped = try Self.contents(r.output)
        let back = try TestSupport.runCLI(["remap", "--mappings", mappings, "--output", r.output, "--vocabulary", Self.vocabulary])
        #expect(back.status == 2, "\(back.stderr)")
        #expect(back.stderr.contains("[HZ7302]"), "\(back.stderr)")
        #expect(back.stderr.contains("moves from observation to condition_occurrence, whose column condition_end_date"), "\(back.stderr)")
        #expect(try Self.contents(r.output) == remapped)
    }

    @Test func hospitalRemapEqualsAFullRunWithTheNewVocabulary() throws {
        let dir = TestSupport.temporaryDirectory("remap-hospital-key")
        let key = dir + "/hospital.key"
        TestSupport.write(bytes: (0..<48).map { UInt8(($0 * 13 + 5) & 0xFF) }, to: key)
        let mappings = TestSupport.path("mappings/hospital")
        let args = [
            "--mappings", mappings, "--input", TestSupport.path("fixtures/hospital"), "--key-file", key, "--max-reject-rate", "1", "--no-quality",
            "--no-progress",
        ]
        let r = try Self.remapAndRerun(args, mappings: mappings, label: "remap-hospital")
        Self.expectEqual(r.remapped, r.rerun)
        // The hospital mappings call no vocabulary function (concepts are constants or cases):
        // nothing to recompute, and the output is the full run's.
        #expect((r.summary["mappings"] as? [Any])?.isEmpty == true, "\(r.summary)")
        // The output before the remap is the full run's but for cdm_source, which names the
        // release: the remap rewrote it (the first comparison above).
        var before = r.before
        var rerun = r.rerun
        let oldSource = before.removeValue(forKey: "cdm_source")
        let newSource = rerun.removeValue(forKey: "cdm_source")
        #expect(oldSource != nil && oldSource != newSource)
        Self.expectEqual(before, rerun)
    }

    @Test func domainRoutingWithConceptDomainEqualsAFullRun() throws {
        let args = ["--mappings", Self.diagnoses, "--input", Self.diagnosesInput, "--no-quality", "--no-progress"]
        let r = try Self.remapAndRerun(args, mappings: Self.diagnoses, label: "remap-diagnoses")
        Self.expectEqual(r.remapped, r.rerun)
        let c = Self.counts(r.summary, "test.diagnoses")
        #expect(c["rows"] == 8)
        #expect(c["moved"] == 1, "I10 moves to observation: \(c)")
        #expect(c["changed"] ?? 0 >= 2, "E11.9 changed target, E78.0 gained one: \(c)")
        #expect(c["unchanged"]! + c["changed"]! + c["moved"]! + c["removed"]! == c["rows"]!)
        let back = try TestSupport.runCLI(["remap", "--mappings", Self.diagnoses, "--output", r.output, "--vocabulary", Self.vocabulary])
        #expect(back.status == 0, "\(back.stderr)")
        Self.expectEqual(try Self.dump(r.output), r.before)
    }

    @Test func routingThatSentRecordsToNoTableIsRefused() throws {
        let dir = TestSupport.temporaryDirectory("remap-unrouted")
        let out = dir + "/o.sqlite"
        let mapping = dir + "/diagnoses.yaml"
        let text = try String(contentsOfFile: Self.diagnoses, encoding: .utf8)
        // Condition-domain codes now go to no table: those records are not in the lineage, and a
        // new vocabulary could route them to observation.
        let shaped = text.replacingOccurrences(of: "filter: \"domain == 'Condition'\"", with: "filter: \"domain == 'Procedure'\"")
        #expect(shaped != text)
        TestSupport.write(shaped, to: mapping)
        let run = try TestSupport.runCLI(
            [
                "run", "--mappings", mapping, "--input", Self.diagnosesInput, "--output", out, "--vocabulary", Self.vocabulary, "--lineage",
                "--no-quality", "--no-progress",
            ])
        #expect(run.status == 0, "\(run.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        let manifest = try #require(try db.scalar("SELECT manifest FROM harmonize_run").text)
        #expect(manifest.contains("\"unrouted\""), "run --lineage counts them")
        let hash = try Self.contents(out)
        let remap = try TestSupport.runCLI(["remap", "--mappings", mapping, "--output", out, "--vocabulary", Self.next])
        #expect(remap.status == 2)
        #expect(remap.stderr.contains("[HZ7302]"), "\(remap.stderr)")
        #expect(remap.stderr.contains("to no table"), "\(remap.stderr)")
        #expect(try Self.contents(out) == hash)
    }

    @Test func remapLineagePointsToTheNewEntriesAndIsARunOfKindRemap() throws {
        let dir = TestSupport.temporaryDirectory("remap-lineage")
        let out = dir + "/o.sqlite"
        let run = try TestSupport.runCLI(
            [
                "run", "--mappings", Self.diagnoses, "--input", Self.diagnosesInput, "--output", out, "--vocabulary", Self.vocabulary, "--lineage",
                "--no-quality", "--no-progress",
            ])
        #expect(run.status == 0, "\(run.stderr)")
        let remap = try TestSupport.runCLI(["remap", "--mappings", Self.diagnoses, "--output", out, "--vocabulary", Self.next])
        #expect(remap.status == 0, "\(remap.stderr)")
        #expect(remap.stderr.contains("test.diagnoses: 8 rows:"), "\(remap.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.scalar("SELECT kind FROM harmonize_run ORDER BY run_seq DESC LIMIT 1") == .string("remap"))
        #expect(try db.scalar("SELECT moved FROM harmonize_remap_ledger WHERE mapping = 'test.diagnoses'") == .int(1))
        let manifest = try #require(try db.scalar("SELECT manifest FROM harmonize_run WHERE kind = 'remap'").text)
        #expect(manifest.contains("Harmonize fixture next"), "the manifest names the new release")
        // The moved row (id 1, I10) is an observation now, traced to the remap run and the new entry.
        let trace = try TestSupport.runCLI(["trace", "--output", out, "observation", "1"])
        #expect(trace.status == 0, "\(trace.stderr)")
        #expect(trace.stdout.contains("(remap, started"), "\(trace.stdout)")
        #expect(trace.stdout.contains("observation_concept_id:        CIM10 I10 → concept 320128 (standard_concept_id)"), "\(trace.stdout)")
        #expect(trace.stdout.contains("location  line 2 (record 1)"), "\(trace.stdout)")
        // E11.9's row (id 2) now maps to 201820.
        let e119 = try TestSupport.runCLI(["trace", "--output", out, "condition_occurrence", "2"])
        #expect(e119.stdout.contains("CIM10 E11.9 → concept 201820 (standard_concept_id)"), "\(e119.stdout)")
    }

    @Test func remapWithTheSameVocabularyChangesNothing() throws {
        let dir = TestSupport.temporaryDirectory("remap-same")
        let out = dir + "/o.sqlite"
        let run = try TestSupport.runCLI(
            [
                "run", "--mappings", Self.diagnoses, "--input", Self.diagnosesInput, "--output", out, "--vocabulary", Self.vocabulary, "--lineage",
                "--no-quality", "--no-progress",
            ])
        #expect(run.status == 0, "\(run.stderr)")
        let before = try Self.dump(out)
        let lineageBefore = try SQLiteConnection(path: out, readOnly: true).query("SELECT * FROM harmonize_lineage ORDER BY rowid")
        let remap = try TestSupport.runCLI(["remap", "--mappings", Self.diagnoses, "--output", out, "--vocabulary", Self.vocabulary, "--json"])
        #expect(remap.status == 0, "\(remap.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(remap.stdout.utf8)) as? [String: Any])
        let c = Self.counts(summary, "test.diagnoses")
        #expect(c["rows"] == 8 && c["unchanged"] == 8, "\(c)")
        #expect(c["changed"] == 0 && c["moved"] == 0 && c["removed"] == 0 && c["added"] == 0, "\(c)")
        Self.expectEqual(try Self.dump(out), before)
        #expect(try SQLiteConnection(path: out, readOnly: true).query("SELECT * FROM harmonize_lineage ORDER BY rowid") == lineageBefore)
    }

    @Test func anOutputWithoutLineageIsRefused() throws {
        let dir = TestSupport.temporaryDirectory("remap-nolineage")
        let out = dir + "/o.sqlite"
        let run = try TestSupport.runCLI(
            [
                "run", "--mappings", Self.diagnoses, "--input", Self.diagnosesInput, "--output", out, "--vocabulary", Self.vocabulary, "--no-quality",
                "--no-progress",
            ])
        #expect(run.status == 0, "\(run.stderr)")
        let hash = try Self.contents(out)
        let remap = try TestSupport.runCLI(["remap", "--mappings", Self.diagnoses, "--output", out, "--vocabulary", Self.next])
        #expect(remap.status == 2)
        #expect(remap.stderr.contains("no row lineage"), "\(remap.stderr)")
        #expect(remap.stderr.contains("--lineage"), "\(remap.stderr)")
        #expect(remap.stderr.contains("[HZ7300]"), "\(remap.stderr)")
        #expect(try Self.contents(out) == hash, "the output is untouched")
    }

    @Test func aPostgreSQLOutputIsRefusedBeforeAnythingIsRead() throws {
        let remap = try TestSupport.runCLI(
            ["remap", "--mappings", "/nonexistent", "--output", "postgresql://localhost/omop", "--vocabulary", "/nonexistent"])
        #expect(remap.status == 2)
        #expect(remap.stderr.contains("[HZ7022]"), "\(remap.stderr)")
    }

    @Test func aColumnThatNeedsOtherSourceValuesOrAChangedMappingIsRefused() throws {
        let dir = TestSupport.temporaryDirectory("remap-unsupported")
        let out = dir + "/o.sqlite"
        let mapping = dir + "/diagnoses.yaml"
        let text = try String(contentsOfFile: Self.diagnoses, encoding: .utf8)
        // The concept depends on the vocabulary and on the patient: the lineage records the code,
        // not the patient.
        let shaped = text.replacingOccurrences(
            of: "condition_concept_id: \"standard_concept_id('CIM10', code) ?? 0\"",
            with: "condition_concept_id: \"if patient > 2 then standard_concept_id('CIM10', code) ?? 0 else 0\"")
        #expect(shaped != text)
        TestSupport.write(shaped, to: mapping)
        let run = try TestSupport.runCLI(
            [
                "run", "--mappings", mapping, "--input", Self.diagnosesInput, "--output", out, "--vocabulary", Self.vocabulary, "--lineage",
                "--no-quality", "--no-progress",
            ])
        #expect(run.status == 0, "\(run.stderr)")
        let hash = try Self.contents(out)
        let remap = try TestSupport.runCLI(["remap", "--mappings", mapping, "--output", out, "--vocabulary", Self.next])
        #expect(remap.status == 2)
        #expect(remap.stderr.contains("[HZ7302]"), "\(remap.stderr)")
        #expect(remap.stderr.contains("column condition_occurrence.condition_concept_id"), "\(remap.stderr)")
        #expect(try Self.contents(out) == hash)
        // The mapping the run used is needed, unchanged.
        TestSupport.write(shaped + "\n# edited\n", to: mapping)
        let changed = try TestSupport.runCLI(["remap", "--mappings", mapping, "--output", out, "--vocabulary", Self.next])
        #expect(changed.status == 2)
        #expect(changed.stderr.contains("[HZ7301]"), "\(changed.stderr)")
        #expect(changed.stderr.contains("test.diagnoses"), "\(changed.stderr)")
    }
}
