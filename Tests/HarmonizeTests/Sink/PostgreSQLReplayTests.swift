import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// `harmonize-run replay` and `rejects` on a PostgreSQL output (issue 14), against a real server
/// (`PostgresTestServer`): a run with rejects made into SQLite and into PostgreSQL with one run
/// id, the cause fixed by a mapping variant, the replay made on both: the CDM tables, the reject
/// statuses, the runs, ledgers and lineage counts, and what `rejects` lists are the same.
@Suite(.serialized) struct PostgreSQLReplayTests {
    static let keyEnvironment = ["HZ_PGR_KEY": String(repeating: "r", count: 40)]

    /// Everything a replay can change, per output, in one text form: the OMOP tables' rows, the
    /// rejects (place, reason, kind of the run that rejected it and of the one that resolved it),
    /// the runs (kind, replay of), the ledgers and the lineage rows per run kind.
    static func dump(sqlite path: String) throws -> [String: [String]] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        var out: [String: [String]] = [:]
        let present = Set(try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text })
        for t in try Mappings.omopModel().tables where present.contains(t.name) {
            out[t.name] = try PostgresTestServer.rows(sqlite: db, t)
        }
        for (name, sql) in books(text: "") {
            out[name] = try db.query(sql).map { $0.map { $0.isNull ? "∅" : $0.description }.joined(separator: "|") }.sorted()
        }
        return out
    }

    static func dump(postgres uri: String, schema: String) throws -> [String: [String]] {
        var out = try PostgresTestServer.content(uri, schema: schema)
        let db = try PostgresTestServer.connect(uri)
        try db.execute("SET search_path = \(schema)")
        for (name, sql) in books(text: "::text") {
            out[name] = try db.query(sql).map { $0.map { $0 ?? "∅" }.joined(separator: "|") }.sorted()
        }
        return out
    }

    /// The bookkeeping queries of `dump`, the same on both outputs (`text` casts numbers).
    static func books(text: String) -> [(String, String)] {
        [
            (
                "rejects",
                """
                SELECT r.mapping, r.file, r.line\(text), r.record\(text), r.field, r.reason, k.kind, (SELECT kind FROM harmonize_run WHERE run_id = r.resolved_by)
                FROM harmonize_reject r JOIN harmonize_run k ON k.run_id = r.run_id
                """
            ),
            ("runs", "SELECT kind, replay_of, run_seq\(text) FROM harmonize_run"),
            (
                "ledger",
                """
                SELECT k.kind, l.mapping, l.file, l.read\(text), l.written\(text), l.rejected\(text), l.filtered\(text)
                FROM harmonize_ledger l JOIN harmonize_run k ON k.run_id = l.run_id
                """
            ),
            ("run tables", "SELECT k.kind, t.table_name, t.rows\(text) FROM harmonize_run_table t JOIN harmonize_run k ON k.run_id = t.run_id"),
            ("lineage", "SELECT run_seq\(text), count(*)\(text) FROM harmonize_lineage GROUP BY run_seq"),
            (
                "lineage entries",
                "SELECT e.run_seq\(text), e.column_name, e.function, e.code, s.position\(text) FROM harmonize_lineage_entry_set s JOIN harmonize_lineage_entry e ON e.entry_id = s.entry_id"
            ),
        ]
    }

    /// A run into both outputs, a replay on both, the checks of the issue; returns the outputs.
    struct Case {
        var dir: String
        var sqlite: String
        var postgres: String
        var uri: String
        var schema: String
        var runID: String
        var input: String
    }

    static func start(_ label: String, uri: String, mappings: String, input: String, extra: [String] = []) throws -> Case {
        let schema = PostgresTestServer.schema("r" + label)
        let dir = TestSupport.temporaryDirectory("pgr-" + label)
        let c = Case(
            dir: dir, sqlite: dir + "/o.sqlite", postgres: PostgresTestServer.output(uri, schema: schema), uri: uri, schema: schema,
            runID: "pgr-\(label)-\(UInt32.random(in: 0...UInt32.max))", input: input)
        for output in [c.sqlite, c.postgres] {
            let r = try TestSupport.runCLI(
                [
                    "run", "--mappings", mappings, "--input", input, "--output", output, "--run-id", c.runID, "--lineage", "--no-progress",
                    "--max-reject-rate", "1",
                ] + extra, environment: keyEnvironment)
            #expect(r.status == 0, "\(output): \(r.stderr)")
        }
        #expect(try dump(sqlite: c.sqlite) == (try dump(postgres: uri, schema: schema)), "the runs agree before the replay")
        return c
    }

    static func replay(_ c: Case, output: String, mappings: String, _ extra: [String] = []) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(["replay", "--output", output, "--mappings", mappings, "--input", c.input] + extra, environment: keyEnvironment)
    }

    /// 3 people; 5 events, two of them (3 and 5) with a date m1 rejects and m2 reads, one (6)
    /// with a person id that is not a number (rejected by both); observation periods derived.
    static func eventsFixture(_ dir: String) {
        ReplayFixtures.writeMappings(dir)
        // m3: the fixed date, but event ids that collide with stored ones.
        TestSupport.write(ReplayFixtures.people, to: dir + "/m3/people.yaml")
        TestSupport.write(
            ReplayFixtures.events(ReplayFixtures.fixedDate).replacingOccurrences(of: "\"to_int(eid)\"", with: "\"to_int(eid) - 2\""),
            to: dir + "/m3/events.yaml")
        TestSupport.write("id;year\n1;1950\n2;1960\n3;1970\n", to: dir + "/in/people.csv")
        TestSupport.write(
            "eid;pid;d\n1;1;2020-01-01\n2;1;2020-03-01\n3;1;2021/06/30\n4;2;2020-05-05\n5;3;2022/01/01\n6;X;2020-01-01\n", to: dir + "/in/events.csv")
    }

    @Test func aReplayIntoPostgreSQLGivesWhatItGivesIntoSQLite() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let fixture = TestSupport.temporaryDirectory("pgr-events-fixture")
        Self.eventsFixture(fixture)
        let c = try Self.start("events", uri: uri, mappings: fixture + "/m1", input: fixture + "/in")
        defer { PostgresTestServer.drop(uri, schema: c.schema) }
        let db = try PostgresTestServer.connect(uri)
        let before = try Self.dump(postgres: uri, schema: c.schema)
        #expect(before["rejects"]?.count == 3)

        // A replay whose rows collide with stored ones publishes nothing and leaves no staging schema.
        let stale = "harmonize_stage_dead_\(UInt32.random(in: 0...UInt32.max))"
        try db.execute("CREATE SCHEMA \(stale)")
        let collide = try Self.replay(c, output: c.postgres, mappings: fixture + "/m3/events.yaml", ["--no-quality"])
        #expect(collide.status == 2, "\(collide.stderr)")
        #expect(collide.stderr.contains("target-pk-duplicate"), "\(collide.stderr)")
        #expect(try Self.dump(postgres: uri, schema: c.schema) == before)
        #expect(try db.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = $1", [stale]) == "0", "a killed run's staging schema is dropped")

        // The fix: m2 reads both dates; event 6 still fails.
        var summaries: [[String: Any]] = []
        for output in [c.sqlite, c.postgres] {
            let r = try Self.replay(c, output: output, mappings: fixture + "/m2", ["--json", "--max-reject-rate", "1"])
            #expect(r.status == 0, "\(output): \(r.stderr)")
            summaries.append(try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]))
        }
        for s in summaries {
            #expect(s["records_read"] as? Int == 3)
            #expect(s["records_rejected"] as? Int == 1)
            #expect(s["quality"] != nil, "the checks ran for the replay")
            #expect((s["manifest"] as? [String: Any])?["kind"] as? String == "replay")
            #expect((s["manifest"] as? [String: Any])?["replayOf"] == nil)
        }
        let sqliteAfter = try Self.dump(sqlite: c.sqlite)
        let postgresAfter = try Self.dump(postgres: uri, schema: c.schema)
        #expect(sqliteAfter == postgresAfter)
        for name in Set(sqliteAfter.keys).union(postgresAfter.keys).sorted() where sqliteAfter[name] != postgresAfter[name] {
            Issue.record("\(name): sqlite \(sqliteAfter[name] ?? []) postgres \(postgresAfter[name] ?? [])")
        }
        // The fixed events are in, the periods derived again (person 1 extended, person 3 new).
        #expect(postgresAfter["condition_occurrence"]?.count == 5)
        #expect(postgresAfter["observation_period"]?.count == 3)
        #expect(postgresAfter["observation_period"]?.contains { $0.hasPrefix("1|1|2020-01-01|2021-06-30|") } == true)
        #expect(
            postgresAfter["rejects"]?.sorted()
                == [
                    "t.events|events.csv|4|3|∅|expression-error|run|replay",
                    "t.events|events.csv|6|5|∅|expression-error|run|replay",
                    "t.events|events.csv|7|6|∅|expression-error|replay|∅",
                    "t.events|events.csv|7|6|∅|expression-error|run|replay",
                ].sorted(), "\(postgresAfter["rejects"] ?? [])")
        // The replay's checks are stored for it, over the whole CDM.
        let replayID = try #require(try db.scalar("SELECT run_id FROM \(c.schema).harmonize_run WHERE kind = 'replay'"))
        let sqliteReplayID = try #require(
            try SQLiteConnection(path: c.sqlite, readOnly: true).scalar("SELECT run_id FROM harmonize_run WHERE kind = 'replay'").text)
        #expect(
            try PostgreSQLQualityTests.stored(postgres: uri, schema: c.schema, runID: replayID)
                == (try PostgreSQLQualityTests.stored(sqlite: c.sqlite, runID: sqliteReplayID)))
        #expect(
            try db.scalar(
                "SELECT max(rows_checked) FROM \(c.schema).harmonize_quality WHERE run_id = $1 AND table_name = 'condition_occurrence'", [replayID])
                == "5")

        // `rejects` lists the same on both (outstanding, then all).
        for extra in [["--format", "csv"], ["--format", "csv", "--all"], ["--format", "json"], ["--all"]] {
            let a = try TestSupport.runCLI(["rejects", "--output", c.sqlite] + extra)
            let b = try TestSupport.runCLI(["rejects", "--output", c.postgres] + extra)
            #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
            #expect(a.stdout == b.stdout, "\(extra)")
        }
        let listed = try TestSupport.runCLI(["rejects", "--output", c.postgres, "--format", "csv"])
        #expect(listed.stdout.split(separator: "\n").count == 2, "header and event 6: \(listed.stdout)")

        // Replaying again re-reads only event 6 (rejected again) on both: the CDM does not change.
        for output in [c.sqlite, c.postgres] {
            let r = try Self.replay(c, output: output, mappings: fixture + "/m2", ["--max-reject-rate", "1", "--no-quality"])
            #expect(r.status == 0, "\(output): \(r.stderr)")
        }
        let again = try Self.dump(postgres: uri, schema: c.schema)
        #expect(again == (try Self.dump(sqlite: c.sqlite)))
        for t in ["person", "condition_occurrence", "observation_period"] { #expect(again[t] == postgresAfter[t]) }
        #expect(again["runs"]?.count == 3)
        // Nothing outstanding of the run: nothing to replay, nothing changes.
        let nothing = try Self.replay(c, output: c.postgres, mappings: fixture + "/m2", ["--run", c.runID])
        #expect(nothing.status == 0, "\(nothing.stderr)")
        #expect(nothing.stderr.contains("nothing to replay"), "\(nothing.stderr)")
        #expect(try Self.dump(postgres: uri, schema: c.schema) == again)
        #expect(try PostgresTestServer.stagingSchemas(uri, runID: replayID).isEmpty)
    }

    /// The bundled HL7 mapping (keyed person ids): the rejected OBX replayed after the fix gets
    /// the same ids and lineage on both outputs.
    @Test func aKeyedHL7ReplayGivesTheSameIdsOnBothOutputs() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let dir = TestSupport.temporaryDirectory("pgr-hl7")
        let original = try String(contentsOfFile: TestSupport.path("mappings/hospital/oru-measurement.yaml"), encoding: .utf8)
        let strict = original.replacingOccurrences(
            of: "measurement_concept_id: \"0\"", with: "measurement_concept_id: \"if `OBX-5` is null then null else 0\"")
        #expect(strict != original)
        let cut = { (s: String) in String(s[..<(s.range(of: "\ntests:")?.lowerBound ?? s.endIndex)]) + "\n" }
        TestSupport.write(cut(strict), to: dir + "/v1/oru.yaml")
        TestSupport.write(cut(original), to: dir + "/v2/oru.yaml")
        let c = try Self.start(
            "hl7", uri: uri, mappings: dir + "/v1/oru.yaml", input: TestSupport.path("fixtures/hospital"), extra: ["--key-env", "HZ_PGR_KEY"])
        defer { PostgresTestServer.drop(uri, schema: c.schema) }
        for output in [c.sqlite, c.postgres] {
            let r = try Self.replay(c, output: output, mappings: dir + "/v2/oru.yaml", ["--key-env", "HZ_PGR_KEY", "--max-reject-rate", "1"])
            #expect(r.status == 0, "\(output): \(r.stderr)")
        }
        let a = try Self.dump(sqlite: c.sqlite)
        let b = try Self.dump(postgres: uri, schema: c.schema)
        #expect(a == b)
        #expect(b["measurement"]?.count == 4)
        #expect(b["lineage"]?.contains("2|1") == true, "the replayed row's lineage: \(b["lineage"] ?? [])")
        // A replay made with another key is refused before reading.
        let other = try TestSupport.runCLI(
            ["replay", "--output", c.postgres, "--mappings", dir + "/v2/oru.yaml", "--input", c.input, "--key-env", "HZ_PGR_OTHER"],
            environment: ["HZ_PGR_OTHER": String(repeating: "o", count: 40)])
        #expect(other.status == 2, "\(other.stderr)")
        #expect(try Self.dump(postgres: uri, schema: c.schema) == b)
    }

    /// The research measurements with vocabulary lineage: a code the strict variant cannot look
    /// up is rejected, the replay looks it up with a fallback; the replay's lookup entries are
    /// numbered after the run's on both outputs.
    @Test func aReplayWithLookupsNumbersItsLineageEntriesAfterTheRuns() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let dir = TestSupport.temporaryDirectory("pgr-lookup")
        let original = try String(contentsOfFile: TestSupport.path("mappings/research/measurements.yaml"), encoding: .utf8)
        let body = String(original[..<(original.range(of: "\ntests:")?.lowerBound ?? original.endIndex)]) + "\n"
        let strict = body.replacingOccurrences(of: "\"lookup('measures', code) ?? 0\"", with: "\"lookup('measures', code)\"")
        #expect(strict != body)
        let concepts = try String(contentsOfFile: TestSupport.path("mappings/research/concepts.csv"), encoding: .utf8)
        for (folder, text) in [("v1", strict), ("v2", body)] {
            TestSupport.write(text, to: dir + "/\(folder)/measurements.yaml")
            TestSupport.write(concepts, to: dir + "/\(folder)/concepts.csv")
        }
        let c = try Self.start("lookup", uri: uri, mappings: dir + "/v1/measurements.yaml", input: TestSupport.path("fixtures/research/input"))
        defer { PostgresTestServer.drop(uri, schema: c.schema) }
        #expect(try Self.dump(postgres: uri, schema: c.schema)["rejects"]?.count == 1, "the unknown code")
        for output in [c.sqlite, c.postgres] {
            let r = try Self.replay(c, output: output, mappings: dir + "/v2/measurements.yaml")
            #expect(r.status == 0, "\(output): \(r.stderr)")
        }
        let a = try Self.dump(sqlite: c.sqlite)
        let b = try Self.dump(postgres: uri, schema: c.schema)
        #expect(a == b)
        #expect(b["lineage entries"]?.contains { $0.hasPrefix("2|measurement_concept_id|lookup|CREAT|") } == true, "\(b["lineage entries"] ?? [])")
        let db = try PostgresTestServer.connect(uri)
        #expect(try db.scalar("SELECT count(*) - count(DISTINCT entry_id) FROM \(c.schema).harmonize_lineage_entry") == "0")
        #expect(
            try db.scalar("SELECT count(*) FROM (SELECT DISTINCT set_id, position FROM \(c.schema).harmonize_lineage_entry_set) s")
                == (try db.scalar("SELECT count(*) FROM \(c.schema).harmonize_lineage_entry_set")))
    }

    /// A replay of a mapping that updates rows (`on_conflict: update`): one replayed record
    /// updates a published person (its year, a later non-null value), another adds one; a record
    /// whose value is null leaves the published value. PostgreSQL gives what SQLite gives, rows,
    /// books and counts (1 row added, 1 updated), and a rerun of the replay changes nothing.
    @Test func aReplayOfAMappingThatUpdatesRowsGivesWhatItGivesIntoSQLite() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let dir = TestSupport.temporaryDirectory("pgr-update-fixture")
        let mapping = """
            harmonize: 1
            id: test.people
            version: VERSION
            source:
              format: csv
              files: "people.csv"
              dialect: {delimiter: ";"}
            targets:
              - table: person
                on_conflict: update
                fields:
                  person_id: "to_int(id)"
                  gender_concept_id: "0"
                  year_of_birth: "YEAR"
                  race_concept_id: "0"
                  ethnicity_concept_id: "0"
                  person_source_value: "name"
            """
        TestSupport.write(
            mapping.replacingOccurrences(of: "VERSION", with: "1.0.0").replacingOccurrences(of: "YEAR", with: "to_int(year)"),
            to: dir + "/v1/people.yaml")
        TestSupport.write(
            mapping.replacingOccurrences(of: "VERSION", with: "2.0.0").replacingOccurrences(of: "YEAR", with: "to_int(replace(year, 'X', '5'))"),
            to: dir + "/v2/people.yaml")
        // Person 1 again with a year v1 cannot read (and no name), person 3 likewise.
        TestSupport.write("id;name;year\n1;a;1950\n2;b;1960\n1;;19X1\n3;c;19X2\n", to: dir + "/in/people.csv")
        let c = try Self.start("update", uri: uri, mappings: dir + "/v1", input: dir + "/in", extra: ["--no-quality"])
        defer { PostgresTestServer.drop(uri, schema: c.schema) }
        for output in [c.sqlite, c.postgres] {
            let r = try Self.replay(c, output: output, mappings: dir + "/v2", ["--no-quality"])
            #expect(r.status == 0, "\(output): \(r.stderr)")
        }
        let a = try Self.dump(sqlite: c.sqlite)
        let b = try Self.dump(postgres: uri, schema: c.schema)
        #expect(a == b)
        let db = try PostgresTestServer.connect(uri)
        #expect(
            try db.query("SELECT person_id::text, year_of_birth::text, person_source_value FROM \(c.schema).person ORDER BY 1") == [
                ["1", "1951", "a"], ["2", "1960", "b"], ["3", "1952", "c"],
            ])
        let manifest = try #require(try db.scalar("SELECT manifest FROM \(c.schema).harmonize_run WHERE kind = 'replay'"))
        let tables = try #require(try JSONDecoder().decode(RunManifest.self, from: Data(manifest.utf8)).tables.first { $0.table == "person" })
        #expect(tables.rows == 1 && tables.updated == 1, "\(tables)")
        // The SQLite replay counts the same (it counted the rows the table held before as added).
        let sqliteManifest = try #require(
            try SQLiteConnection(path: c.sqlite, readOnly: true).scalar("SELECT manifest FROM harmonize_run WHERE kind = 'replay'").text)
        #expect(try JSONDecoder().decode(RunManifest.self, from: Data(sqliteManifest.utf8)).tables.first { $0.table == "person" } == tables)
        // Nothing outstanding: a second replay changes nothing.
        let again = try Self.replay(c, output: c.postgres, mappings: dir + "/v2", ["--no-quality"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.dump(postgres: uri, schema: c.schema) == b)
    }

    /// Staging schemas left for `schema` (named in their comment).
    static func stagingSchemas(_ db: PostgreSQLConnection, for schema: String) throws -> [String] {
        try db.query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'harmonize\\_stage\\_%' AND obj_description(oid, 'pg_namespace') = $1",
            ["harmonize-run staging for schema \(schema)"]
        ).compactMap { $0.first ?? nil }
    }

    /// A replay killed inside its publication transaction (held there by a lock the test takes on
    /// `harmonize_unmapped`, written last): readers see the CDM before the replay meanwhile, the
    /// published schema is as before once it is gone, and the next replay drops its staging
    /// schema and publishes what the SQLite replay gives.
    @Test func aKilledReplayLeavesThePublishedSchemaAsItWas() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let fixture = TestSupport.temporaryDirectory("pgr-kill-fixture")
        Self.eventsFixture(fixture)
        let c = try Self.start("kill", uri: uri, mappings: fixture + "/m1", input: fixture + "/in")
        defer { PostgresTestServer.drop(uri, schema: c.schema) }
        let db = try PostgresTestServer.connect(uri)
        let before = try Self.dump(postgres: uri, schema: c.schema)
        let lock = try PostgresTestServer.connect(uri)
        try lock.execute("BEGIN; LOCK TABLE \(c.schema).harmonize_unmapped IN ACCESS EXCLUSIVE MODE")
        let process = try CLIProcess(
            ["replay", "--output", c.postgres, "--mappings", fixture + "/m2", "--input", c.input, "--no-quality", "--max-reject-rate", "1"],
            environment: Self.keyEnvironment)
        var blocked = false
        let deadline = Date().addingTimeInterval(120)
        while process.process.isRunning, Date() < deadline {
            let waiting = try db.scalar(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = to_regclass($1)", ["\(c.schema).harmonize_unmapped"])
            if waiting != "0" {
                blocked = true
                break
            }
            usleep(5_000)
        }
        #expect(blocked, "the replay never reached its publication")
        // Its rows are appended and its rejects resolved, uncommitted: readers see the CDM before.
        #expect(try Self.dump(postgres: uri, schema: c.schema) == before)
        process.kill()
        #expect(process.wait(timeout: 30).result.status == -9)
        try lock.execute("ROLLBACK")
        // The killed replay's server session ends once it finds its client gone.
        let gone = Date().addingTimeInterval(60)
        while Date() < gone,
            try db.scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = \(PostgreSQLSink.targetLockClass) AND objid = hashtext($1)::oid",
                [c.schema]) != "0"
        {
            usleep(10_000)
        }
        #expect(try Self.dump(postgres: uri, schema: c.schema) == before)
        // The killed replay's staging schema is left (unless a run of another test, which drops
        // every stale staging schema of the database, came first).
        #expect(try Self.stagingSchemas(db, for: c.schema).count <= 1)
        // The next replay drops it and publishes what the SQLite replay gives.
        for output in [c.sqlite, c.postgres] {
            let r = try Self.replay(c, output: output, mappings: fixture + "/m2", ["--no-quality", "--max-reject-rate", "1"])
            #expect(r.status == 0, "\(output): \(r.stderr)")
        }
        #expect(try Self.dump(postgres: uri, schema: c.schema) == (try Self.dump(sqlite: c.sqlite)))
        #expect(try Self.stagingSchemas(db, for: c.schema).isEmpty)
    }
}
