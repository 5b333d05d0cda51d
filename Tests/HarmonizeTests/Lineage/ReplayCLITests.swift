import Foundation
import Testing

@testable import Harmonize

/// `harmonize-run replay`: the rejected records of a run, re-read alone after a mapping fix.
@Suite(.serialized) struct ReplayCLITests {
    static let model = """
        harmonize-model: 1
        name: t
        tables:
          - name: person
            columns:
              - {name: person_id, type: integer, required: true, primary_key: true}
              - {name: year_of_birth, type: integer, required: true}
              - {name: source, type: "varchar(20)"}
        """

    /// A mapping whose year rule is strict (v1) or tolerant (v2).
    static func mapping(_ year: String) -> String {
        """
        harmonize: 1
        id: t.people
        version: 1.0.0
        model: model.yaml
        source: {files: people.csv, dialect: {delimiter: ";"}}
        target: person
        fields:
          person_id: "to_int(id)"
          year_of_birth: "\(year)"
          source: id
        """
    }

    struct Setup {
        var dir: String
        var out: String
        var input: String
        var v1: String
        var v2: String
    }

    /// 6 people: row 3 has a year that is not a number (fixed by v2), row 5 an id that is not one
    /// (still failing with v2).
    static func setup() -> Setup {
        let dir = TestSupport.temporaryDirectory("replay")
        TestSupport.write(model, to: dir + "/m1/model.yaml")
        TestSupport.write(model, to: dir + "/m2/model.yaml")
        TestSupport.write(mapping("to_int(year)"), to: dir + "/m1/people.yaml")
        TestSupport.write(mapping("if year == '19x0' then 1900 else to_int(year)"), to: dir + "/m2/people.yaml")
        TestSupport.write("id;year\n1;1950\n2;1960\n3;19x0\n4;1980\nX5;1990\n6;2000\n", to: dir + "/in/people.csv")
        return Setup(dir: dir, out: dir + "/o.sqlite", input: dir + "/in", v1: dir + "/m1/people.yaml", v2: dir + "/m2/people.yaml")
    }

    static func count(_ db: String, _ sql: String) throws -> Int {
        try SQLiteConnection(path: db, readOnly: true).scalar(sql).intValue ?? -1
    }

    @Test func replayWritesTheFixedRecordsOnceAndKeepsTheRestOutstanding() throws {
        let s = Self.setup()
        let first = try TestSupport.runCLI(["run", "--mappings", s.v1, "--input", s.input, "--output", s.out, "--no-quality", "--lineage"])
        #expect(first.status == 1, "two rejects: \(first.stderr)")
        #expect(try Self.count(s.out, "SELECT count(*) FROM person") == 4)
        #expect(try Self.count(s.out, "SELECT count(*) FROM harmonize_reject WHERE resolved_by IS NULL") == 2)
        let runID = try #require(try SQLiteConnection(path: s.out, readOnly: true).scalar("SELECT run_id FROM harmonize_run").text)

        let replay = try TestSupport.runCLI(["replay", "--output", s.out, "--run", runID, "--mappings", s.v2, "--input", s.input, "--json"])
        #expect(replay.status == 1, "row 5 still fails: \(replay.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any])
        #expect(summary["records_read"] as? Int == 2, "only the two rejected records are read again")
        #expect(summary["records_rejected"] as? Int == 1)
        let manifest = try #require(summary["manifest"] as? [String: Any])
        #expect(manifest["kind"] as? String == "replay")
        #expect(manifest["replayOf"] as? String == runID)
        let db = try SQLiteConnection(path: s.out, readOnly: true)
        #expect(
            try db.query("SELECT person_id, year_of_birth FROM person ORDER BY person_id").map { $0.map(\.intValue) } == [
                [1, 1950], [2, 1960], [3, 1900], [4, 1980], [6, 2000],
            ])
        #expect(
            try db.query("SELECT kind, replay_of, run_seq FROM harmonize_run ORDER BY run_seq") == [
                [.string("run"), .null, .int(1)], [.string("replay"), .string(runID), .int(2)],
            ])
        let replayID = try #require(try db.scalar("SELECT run_id FROM harmonize_run WHERE kind = 'replay'").text)
        // The original rejects are resolved by the replay; the record that still fails is a new, outstanding reject.
        #expect(
            try db.scalar("SELECT count(*) FROM harmonize_reject WHERE run_id = ? AND resolved_by = ?", [.string(runID), .string(replayID)])
                == .int(2))
        #expect(
            try db.query("SELECT run_id, line, record, reason FROM harmonize_reject WHERE resolved_by IS NULL") == [
                [.string(replayID), .int(6), .int(5), .string("expression-error")]
            ])
        // Each run's ledger balances; the replay's counts only the replayed records.
        #expect(
            try db.query("SELECT read, written, rejected, filtered, excluded FROM harmonize_ledger WHERE run_id = ?", [.string(replayID)]).map {
                $0.map(\.intValue)
            } == [[2, 1, 1, 0, 0]])
        #expect(try db.scalar("SELECT sum(rows) FROM harmonize_run_table") == .int(5))
        // The replayed row traces to the replay run, line 4.
        let trace = try TestSupport.runCLI(["trace", "--output", s.out, "person", "3"])
        #expect(trace.status == 0, "\(trace.stderr)")
        #expect(trace.stdout.contains("(replay of \(runID)"))
        #expect(trace.stdout.contains("location  line 4 (record 3)"))
        #expect(try db.scalar("SELECT count(*) FROM harmonize_lineage") == .int(5))

        // `rejects` lists what is outstanding; --all also the resolved ones.
        let listed = try TestSupport.runCLI(["rejects", "--output", s.out, "--format", "csv"])
        #expect(listed.stdout.split(separator: "\n").count == 2, "\(listed.stdout)")
        let all = try TestSupport.runCLI(["rejects", "--output", s.out, "--format", "csv", "--all"])
        #expect(all.stdout.split(separator: "\n").count == 4)

        // Replaying again reads only the outstanding reject: no duplicate rows.
        let again = try TestSupport.runCLI(["replay", "--output", s.out, "--mappings", s.v2, "--input", s.input, "--max-reject-rate", "1"])
        #expect(again.status == 0, "\(again.stderr)")
        let db2 = try SQLiteConnection(path: s.out, readOnly: true)
        #expect(try db2.scalar("SELECT count(*) FROM person") == .int(5))
        #expect(try db2.scalar("SELECT count(*) FROM harmonize_run") == .int(3))
        #expect(try db2.scalar("SELECT count(*) FROM harmonize_reject WHERE resolved_by IS NULL") == .int(1))
        // The original run has nothing outstanding left: nothing to replay, output unchanged.
        let before = try Data(contentsOf: URL(fileURLWithPath: s.out))
        let nothing = try TestSupport.runCLI(["replay", "--output", s.out, "--run", runID, "--mappings", s.v2, "--input", s.input])
        #expect(nothing.status == 0)
        #expect(nothing.stderr.contains("nothing to replay"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.out)) == before)
    }

    @Test func replayRefusesAChangedInputAnUnknownRunAndAMissingOutput() throws {
        let s = Self.setup()
        _ = try TestSupport.runCLI(["run", "--mappings", s.v1, "--input", s.input, "--output", s.out, "--no-quality"])
        let before = try Data(contentsOf: URL(fileURLWithPath: s.out))
        let unknown = try TestSupport.runCLI(["replay", "--output", s.out, "--run", "no-such-run", "--mappings", s.v2, "--input", s.input])
        #expect(unknown.status == 2)
        let missing = try TestSupport.runCLI(["replay", "--output", s.dir + "/none.sqlite", "--mappings", s.v2, "--input", s.input])
        #expect(missing.status == 3)
        // Replayed rows must be computed with the run's parameters (key, project, date shift, objections).
        let other = s.dir + "/p.sqlite"
        _ = try TestSupport.runCLI(["run", "--mappings", s.v1, "--input", s.input, "--output", other, "--no-quality", "--project", "a"])
        let project = try TestSupport.runCLI(["replay", "--output", other, "--mappings", s.v2, "--input", s.input])
        #expect(project.status == 2)
        #expect(project.stderr.contains("other --project"))
        let same = try TestSupport.runCLI([
            "replay", "--output", other, "--mappings", s.v2, "--input", s.input, "--project", "a", "--max-reject-rate", "1",
        ])
        #expect(same.status == 0, "\(same.stderr)")
        TestSupport.write("id;year\n1;1950\n2;1960\n3;1970\n4;1980\nX5;1990\n6;2000\n", to: s.input + "/people.csv")
        let changed = try TestSupport.runCLI(["replay", "--output", s.out, "--mappings", s.v2, "--input", s.input])
        #expect(changed.status == 2)
        #expect(changed.stderr.contains("changed since the run"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.out)) == before, "nothing published")
    }

    /// HL7 v2 with one record per OBX: the rejected OBX is re-read alone (its message's other OBX,
    /// already written, is skipped by line); an unreadable message is rejected again.
    /// The hospital mappings compute keyed person ids: their runs need a key.
    static let keyEnvironment = ["HZ_REPLAY_KEY": String(repeating: "r", count: 40)]

    @Test func hl7SegmentRecordsAreReplayedOneByOne() throws {
        let dir = TestSupport.temporaryDirectory("replay-hl7")
        let original = try String(contentsOfFile: TestSupport.path("mappings/hospital/oru-measurement.yaml"), encoding: .utf8)
        let strict = original.replacingOccurrences(
            of: "measurement_concept_id: \"0\"", with: "measurement_concept_id: \"if `OBX-5` is null then null else 0\"")
        #expect(strict != original)
        let cut = { (s: String) in String(s[..<s.range(of: "\ntests:")!.lowerBound]) + "\n" }
        TestSupport.write(cut(strict), to: dir + "/v1/oru.yaml")
        TestSupport.write(cut(original), to: dir + "/v2/oru.yaml")
        let out = dir + "/o.sqlite"
        let input = TestSupport.path("fixtures/hospital")
        let first = try TestSupport.runCLI(
            ["run", "--mappings", dir + "/v1/oru.yaml", "--input", input, "--output", out, "--no-quality", "--key-env", "HZ_REPLAY_KEY"],
            environment: Self.keyEnvironment)
        #expect(first.status == 1)
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.query("SELECT measurement_id FROM measurement ORDER BY 1").map { $0[0].intValue } == [100101, 100201, 100301])
        #expect(
            try db.query("SELECT record, line, reason FROM harmonize_reject ORDER BY record").map { $0.map { "\($0)" } } == [
                ["1", "6", "target-required-null"], ["3", "12", "structure-error"],
            ])
        let replay = try TestSupport.runCLI(
            [
                "replay", "--output", out, "--mappings", dir + "/v2/oru.yaml", "--input", input, "--max-reject-rate", "1", "--key-env",
                "HZ_REPLAY_KEY",
            ], environment: Self.keyEnvironment)
        #expect(replay.status == 0, "\(replay.stderr)")
        let db2 = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db2.query("SELECT measurement_id FROM measurement ORDER BY 1").map { $0[0].intValue } == [100101, 100102, 100201, 100301])
        #expect(
            try db2.query("SELECT record, line, reason FROM harmonize_reject WHERE resolved_by IS NULL").map { $0.map { "\($0)" } } == [
                ["3", "12", "structure-error"]
            ])
        #expect(
            try db2.query(
                "SELECT read, written, rejected FROM harmonize_ledger WHERE run_id = (SELECT run_id FROM harmonize_run WHERE kind = 'replay')"
            ).map { $0.map(\.intValue) } == [[2, 1, 1]])
    }

    /// XML: the rejected record element (a stay without an end) is re-read alone.
    @Test func xmlRecordsAreReplayed() throws {
        let dir = TestSupport.temporaryDirectory("replay-xml")
        let original = try String(contentsOfFile: TestSupport.path("mappings/hospital/his-visit.yaml"), encoding: .utf8)
        let fixed = original.replacingOccurrences(
            of: "visit_end_date: \"parse_date(substr(`h:sortie/@date`, 1, 10), 'yyyy-MM-dd')\"",
            with: "visit_end_date: \"parse_date(substr(`h:sortie/@date` ?? `h:entree/@date`, 1, 10), 'yyyy-MM-dd')\"")
        #expect(fixed != original)
        TestSupport.write(fixed, to: dir + "/v2/his.yaml")
        let out = dir + "/o.sqlite"
        let input = TestSupport.path("fixtures/hospital")
        let first = try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("mappings/hospital/his-visit.yaml"), "--input", input, "--output", out, "--no-quality",
                "--lineage",
                "--key-env", "HZ_REPLAY_KEY",
            ], environment: Self.keyEnvironment)
        #expect(first.status == 1)
        let replay = try TestSupport.runCLI(
            ["replay", "--output", out, "--mappings", dir + "/v2/his.yaml", "--input", input, "--key-env", "HZ_REPLAY_KEY"],
            environment: Self.keyEnvironment)
        #expect(replay.status == 0, "\(replay.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(
            try db.query("SELECT visit_occurrence_id FROM visit_occurrence ORDER BY 1").map { $0[0].intValue } == [1_000_001, 1_000_002, 1_000_003])
        #expect(try db.scalar("SELECT count(*) FROM harmonize_reject WHERE resolved_by IS NULL") == .int(0))
        let trace = try TestSupport.runCLI(["trace", "--output", out, "visit_occurrence", "1000003"])
        #expect(trace.stdout.contains("location  record element 3 (/h:export/h:sejour) at line 5"), "\(trace.stdout)")
    }

    /// A mapping with a join: only the rejected driving record is replayed; the joined file is
    /// read again whole (and must be unchanged too).
    @Test func aRecordWithoutJoinPartnerIsReplayedAfterTheFix() throws {
        let dir = TestSupport.temporaryDirectory("replay-join")
        let original = try String(contentsOfFile: TestSupport.path("fixtures/engine/joins/mappings/drugs.yaml"), encoding: .utf8)
        let cut = try #require(original.range(of: "\ntests:"))
        let body = String(original[..<cut.lowerBound]) + "\n"
        let fixed =
            body
            .replacingOccurrences(of: "    on: {k1: \"to_int(k1)\", k2: k2}", with: "    on: {k1: \"to_int(k1)\", k2: k2}\n    on_miss: \"null\"")
            .replacingOccurrences(of: "person_id: \"to_int(substr(prs.ben, 2))\"", with: "person_id: \"to_int(substr(prs.ben, 2)) ?? 0\"")
            .replacingOccurrences(
                of: "drug_exposure_start_date: prs.soin", with: "drug_exposure_start_date: \"prs.soin ?? parse_date('01/01/2020', 'dd/MM/yyyy')\""
            )
            .replacingOccurrences(
                of: "drug_exposure_end_date: prs.soin", with: "drug_exposure_end_date: \"prs.soin ?? parse_date('01/01/2020', 'dd/MM/yyyy')\"")
        #expect(fixed.contains("on_miss"))
        TestSupport.write(body, to: dir + "/v1/drugs.yaml")
        TestSupport.write(fixed, to: dir + "/v2/drugs.yaml")
        let out = dir + "/o.sqlite"
        let input = TestSupport.path("fixtures/engine/joins/input")
        let first = try TestSupport.runCLI(["run", "--mappings", dir + "/v1/drugs.yaml", "--input", input, "--output", out, "--no-quality"])
        #expect(first.status == 1, "\(first.stderr)")
        let replay = try TestSupport.runCLI(["replay", "--output", out, "--mappings", dir + "/v2/drugs.yaml", "--input", input])
        #expect(replay.status == 0, "\(replay.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.query("SELECT drug_exposure_id FROM drug_exposure ORDER BY 1").map { $0[0].intValue } == [1, 3, 6, 7])
        #expect(try db.scalar("SELECT count(*) FROM harmonize_reject WHERE resolved_by IS NULL") == .int(0))
        #expect(
            try db.query("SELECT read, written FROM harmonize_ledger WHERE run_id = (SELECT run_id FROM harmonize_run WHERE kind = 'replay')").map {
                $0.map(\.intValue)
            } == [[1, 1]])
    }

    /// A replay leaves the output as a full run would: the derived observation periods cover the
    /// replayed events (a period extended, a new one for a person whose only event was rejected,
    /// none written twice), and the quality checks are run again and stored for the replay.
    @Test func replayDerivesObservationPeriodsAgainAndRunsTheQualityChecks() throws {
        let dir = TestSupport.temporaryDirectory("replay-derive")
        ReplayFixtures.writeMappings(dir)
        TestSupport.write("id;year\n1;1950\n2;1960\n3;1970\n", to: dir + "/in/people.csv")
        // Event 3 extends person 1's period; event 5 is person 3's only event. Both are rejected by m1.
        TestSupport.write("eid;pid;d\n1;1;2020-01-01\n2;1;2020-03-01\n3;1;2021/06/30\n4;2;2020-05-05\n5;3;2022/01/01\n", to: dir + "/in/events.csv")
        let out = dir + "/o.sqlite"
        let first = try TestSupport.runCLI([
            "run", "--mappings", dir + "/m1", "--input", dir + "/in", "--output", out, "--lineage", "--max-reject-rate", "1",
        ])
        #expect(first.status == 0, "\(first.stderr)")
        let periods = "SELECT person_id, observation_period_start_date, observation_period_end_date FROM observation_period ORDER BY person_id"
        let before = try SQLiteConnection(path: out, readOnly: true)
        #expect(try before.query(periods).map { $0.map(\.description) } == [["1", "2020-01-01", "2020-03-01"], ["2", "2020-05-05", "2020-05-05"]])
        let runID = try #require(try before.scalar("SELECT run_id FROM harmonize_run").text)
        #expect(
            try before.scalar(
                "SELECT max(rows_checked) FROM harmonize_quality WHERE run_id = ? AND table_name = 'condition_occurrence'", [.string(runID)])
                == .int(3))

        // Replaying without the derive mapping says the periods are not derived again.
        try FileManager.default.copyItem(atPath: out, toPath: dir + "/partial.sqlite")
        let partial = try TestSupport.runCLI([
            "replay", "--output", dir + "/partial.sqlite", "--mappings", dir + "/m2/events.yaml", "--input", dir + "/in", "--no-quality",
        ])
        #expect(partial.status == 0, "\(partial.stderr)")
        #expect(
            partial.stderr.contains("observation_period (mapping t.period, derived by run \(runID)) will not be derived again"), "\(partial.stderr)")
        #expect(try SQLiteConnection(path: dir + "/partial.sqlite", readOnly: true).query(periods).count == 2)

        let replay = try TestSupport.runCLI(["replay", "--output", out, "--mappings", dir + "/m2", "--input", dir + "/in", "--json"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any])
        #expect(summary["records_read"] as? Int == 2)
        #expect(summary["quality"] != nil, "the replay's summary carries its quality results")
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(
            try db.query(periods).map { $0.map(\.description) } == [
                ["1", "2020-01-01", "2021-06-30"], ["2", "2020-05-05", "2020-05-05"], ["3", "2022-01-01", "2022-01-01"],
            ])
        #expect(try db.scalar("SELECT count(*) FROM condition_occurrence") == .int(5))
        let replayID = try #require(try db.scalar("SELECT run_id FROM harmonize_run WHERE kind = 'replay'").text)
        // The replay's manifest: one period added, one changed; the run tables add up to the rows held.
        let manifestJSON = try #require(try db.scalar("SELECT manifest FROM harmonize_run WHERE run_id = ?", [.string(replayID)]).text)
        let manifest = try JSONDecoder().decode(RunManifest.self, from: Data(manifestJSON.utf8))
        let derived = try #require(manifest.tables.first { $0.table == "observation_period" })
        #expect(derived.rows == 1)
        #expect(derived.updated == 1)
        #expect(manifest.mappings.map(\.id).contains("t.period"))
        #expect(try db.scalar("SELECT sum(rows) FROM harmonize_run_table WHERE table_name = 'observation_period'") == .int(3))
        #expect(try db.scalar("SELECT sum(rows) FROM harmonize_run_table WHERE table_name = 'condition_occurrence'") == .int(5))
        // Quality results of the replay run, over the whole output; the run's own stay.
        #expect(
            try db.scalar(
                "SELECT max(rows_checked) FROM harmonize_quality WHERE run_id = ? AND table_name = 'condition_occurrence'", [.string(replayID)])
                == .int(5))
        #expect(
            try db.scalar(
                "SELECT max(rows_checked) FROM harmonize_quality WHERE run_id = ? AND table_name = 'condition_occurrence'", [.string(runID)])
                == .int(3))

        // --no-quality skips the checks; nothing left to replay leaves the output as it is.
        let again = try TestSupport.runCLI(["replay", "--output", out, "--mappings", dir + "/m2", "--input", dir + "/in", "--no-quality"])
        #expect(again.status == 0)
        #expect(again.stderr.contains("nothing to replay"))
        #expect(try SQLiteConnection(path: out, readOnly: true).query(periods).count == 3)
    }
}
