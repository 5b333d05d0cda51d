import Foundation
import Synchronization
import Testing

@testable import Harmonize
@testable import Mappings

#if canImport(Glibc)
    import Glibc
#endif

/// Shards of a run into PostgreSQL (issue 14), through the command line against a real server
/// (`PostgresTestServer`): 4 shards equal the unsharded run, table by table and in the books;
/// the schema shows the previous CDM until the last shard commits; a shard killed during its
/// COPY and run again gives the same; a rerun of a published run id changes nothing; `publish`
/// before all shards are in, another shard count or an index out of range are refused; the
/// data-quality checks of the publication give the unsharded run's results, and `publish` honours
/// `--checks` and `--fail-on-quality`.
@Suite(.serialized) struct PostgreSQLShardTests {
    typealias Pack = ShardCLITests.Pack

    static func arguments(_ pack: Pack, input: String? = nil, output: String, runID: String, _ more: [String] = []) -> [String] {
        [
            "run", "--mappings", TestSupport.path(pack.mappings), "--input", input ?? TestSupport.path(pack.input), "--output", output,
            "--run-id", runID, "--no-quality", "--no-progress",
        ] + pack.extra + more
    }

    static let environment = ["HZ_SHARD_KEY": ShardCLITests.key]

    /// Runs the CLI (a shard with `shard`); expects `status`.
    @discardableResult
    static func run(
        _ pack: Pack, input: String? = nil, output: String, runID: String, shard: String? = nil, json: Bool = false, status: Int32 = 0
    ) throws -> TestSupport.CommandResult {
        let more = (shard.map { ["--shard", $0] } ?? []) + (json ? ["--json"] : [])
        let r = try TestSupport.runCLI(arguments(pack, input: input, output: output, runID: runID, more), environment: environment)
        #expect(r.status == status, "\(pack.name) \(shard ?? "whole"): \(r.stderr)")
        return r
    }

    static func publish(output: String, runID: String, json: Bool = false) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(["publish", "--run-id", runID, "--output", output] + (json ? ["--json"] : []))
    }

    /// The `shards` object of a shard's `--json` summary (or the whole document when it has none).
    static func shardStatus(_ stdout: String) throws -> [String: Any] {
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        return (doc["shards"] as? [String: Any]) ?? doc
    }

    /// The books of one run, order-independent: rejects, ledger, rows per table, unmapped codes
    /// and vocabulary use (everything but timestamps, run ids and row order).
    static func books(_ uri: String, schema: String, runID: String) throws -> [String: [String]] {
        let db = try PostgresTestServer.connect(uri)
        let queries = [
            "reject": "SELECT mapping, file, line, record, path, field, reason, rule, message FROM \(schema).harmonize_reject WHERE run_id = $1",
            "ledger":
                "SELECT mapping, file, read, written, rejected, filtered, excluded, grouped, group_stage FROM \(schema).harmonize_ledger WHERE run_id = $1",
            "tables": "SELECT table_id, table_name, rows FROM \(schema).harmonize_run_table WHERE run_id = $1",
            "unmapped": "SELECT mapping_id, mapping, vocabulary_id, source_code, records FROM \(schema).harmonize_unmapped WHERE run_id = $1",
            "usage":
                "SELECT mapping, vocabulary_id, lookups, mapped, unmapped, distinct_unmapped FROM \(schema).harmonize_vocabulary_usage WHERE run_id = $1",
            "inputs": "SELECT file_id, path, sha256, bytes, records FROM \(schema).harmonize_run_input WHERE run_id = $1",
            "mappings": "SELECT mapping_id, mapping, sha256 FROM \(schema).harmonize_run_mapping WHERE run_id = $1",
        ]
        var out: [String: [String]] = [:]
        for (name, sql) in queries {
            out[name] = try db.query(sql, [runID]).map { $0.map { $0 ?? "∅" }.joined(separator: "|") }.sorted()
        }
        return out
    }

    /// Schemas left by runs: staging schemas of the run id, and the run's area.
    static func leftovers(_ uri: String, schema: String, runID: String) throws -> [String] {
        let area = PostgreSQLShards.areaSchema(of: runID, in: try PostgreSQLTarget(parsing: PostgresTestServer.output(uri, schema: schema)))
        let db = try PostgresTestServer.connect(uri)
        let areas = try db.query("SELECT nspname FROM pg_namespace WHERE nspname = $1", [area]).compactMap { $0.first ?? nil }
        return try PostgresTestServer.stagingSchemas(uri, runID: runID) + areas
    }

    static func ledgerRows(_ db: PostgreSQLConnection, schema: String, runID: String) throws -> [[String?]] {
        try db.query(
            "SELECT shard, of, rows, sha256, committed_at::text FROM \(schema).harmonize_shard_ledger WHERE run_id = $1 ORDER BY shard", [runID])
    }

    static func dropAll(_ uri: String, _ schemas: [String], runIDs: [String]) {
        for s in schemas {
            for id in runIDs {
                do {
                    for left in try leftovers(uri, schema: s, runID: id) { PostgresTestServer.drop(uri, schema: left) }
                } catch {
                    print("could not list the schemas left by \(id): \(error)")
                }
            }
            PostgresTestServer.drop(uri, schema: s)
        }
    }

    // MARK: - 1. Four shards equal the unsharded run

    @Test(arguments: [0, 1, 2])
    func fourShardsIntoPostgreSQLEqualTheUnshardedRun(packIndex: Int) throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let pack = ShardCLITests.packs[packIndex]
        let single = PostgresTestServer.schema("single_\(pack.name)")
        let sharded = PostgresTestServer.schema("sharded_\(pack.name)")
        let runID = "shards-\(pack.name)-\(UInt32.random(in: 0...UInt32.max))"
        defer { Self.dropAll(uri, [single, sharded], runIDs: [runID]) }
        try Self.run(pack, output: PostgresTestServer.output(uri, schema: single), runID: "single-\(pack.name)")
        // The four shards at once, as a scheduler runs them.
        let output = PostgresTestServer.output(uri, schema: sharded)
        let processes = try (0..<4).map { i in
            try CLIProcess(Self.arguments(pack, output: output, runID: runID, ["--shard", "\(i)/4", "--json"]), environment: Self.environment)
        }
        var statuses: [String] = []
        for (i, p) in processes.enumerated() {
            let r = p.wait(timeout: 300).result
            #expect(r.status == 0, "shard \(i): \(r.stderr)")
            statuses.append(try Self.shardStatus(r.stdout)["status"] as? String ?? "?")
        }
        // Exactly one shard published (the one that completed the ledger); the others committed.
        #expect(statuses.filter { $0 == "published" }.count == 1, "\(statuses)")
        #expect(statuses.filter { $0 == "committed" }.count == 3, "\(statuses)")
        let a = try PostgresTestServer.content(uri, schema: single)
        let b = try PostgresTestServer.content(uri, schema: sharded)
        #expect(a.keys.sorted() == b.keys.sorted())
        #expect(a.values.reduce(0) { $0 + $1.count } > 10, "\(pack.name): the single run wrote rows")
        for (t, rows) in a { #expect(rows == b[t], "\(pack.name): table \(t) differs (\(rows.count) rows unsharded, \(b[t]?.count ?? 0) sharded)") }
        // The books of the run as a whole: summed as `merge` sums them.
        let booksA = try Self.books(uri, schema: single, runID: "single-\(pack.name)")
        let booksB = try Self.books(uri, schema: sharded, runID: runID)
        for (name, rows) in booksA { #expect(rows == booksB[name], "\(pack.name): \(name) differs") }
        let db = try PostgresTestServer.connect(uri)
        let ledger = try Self.ledgerRows(db, schema: sharded, runID: runID)
        #expect(ledger.map { $0[0] } == ["0", "1", "2", "3"])
        #expect(ledger.allSatisfy { $0[1] == "4" && ($0[3]?.count ?? 0) == 64 })
        // Rows per table in the ledger add up to the published run's.
        var summed: [String: Int] = [:]
        for row in ledger {
            let rows = try JSONDecoder().decode([String: Int].self, from: Data((row[2] ?? "{}").utf8))
            for (t, n) in rows { summed[t, default: 0] += n }
        }
        for row in try db.query("SELECT table_name, rows FROM \(sharded).harmonize_run_table WHERE run_id = $1", [runID]) {
            #expect(summed[row[0] ?? ""] == Int(row[1] ?? ""), "rows of \(row[0] ?? "")")
        }
        // Published after the fourth commit, once; the manifest lists the shards.
        #expect(try db.scalar("SELECT count(*) FROM \(sharded).harmonize_run") == "1")
        #expect(
            try db.scalar(
                "SELECT (SELECT published_at FROM \(sharded).harmonize_run WHERE run_id = $1) >= (SELECT max(committed_at) FROM \(sharded).harmonize_shard_ledger WHERE run_id = $1)",
                [runID]) == "t")
        let manifestText = try #require(try db.scalar("SELECT manifest FROM \(sharded).harmonize_run WHERE run_id = $1", [runID]))
        let manifest = try JSONDecoder().decode(RunManifest.self, from: Data(manifestText.utf8))
        #expect(manifest.shard == nil)
        #expect(manifest.mergedShards?.map(\.shard.index) == [0, 1, 2, 3])
        #expect(manifest.ledger.allSatisfy { $0.otherShard == nil && $0.balances })
        // The keys, constraints and indices are built, as by an unsharded run.
        for name in ["xpk_person", "fpk_observation_period_person_id"] where a["observation_period"] != nil {
            #expect(
                try db.scalar(
                    "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 AND conname = $2",
                    [sharded, name])
                    == "1", "\(name)")
        }
        #expect(try Self.leftovers(uri, schema: sharded, runID: runID).isEmpty)
    }

    /// Row lineage with its lookup entries, resolved (ids of entries and sets differ by shard).
    static func lineage(_ db: PostgreSQLConnection, schema: String) throws -> [String] {
        try db.query(
            """
            SELECT l.table_id, l.row_id, l.mapping_id, l.file_id, l.line, l.record, l.target,
              coalesce(string_agg(e.column_name || ':' || e.function || ':' || e.vocabulary || ':' || e.code || ':' || coalesce(e.concept_id::text, '∅'),
                ',' ORDER BY s.position), '')
            FROM \(schema).harmonize_lineage l
              LEFT JOIN \(schema).harmonize_lineage_entry_set s ON s.set_id = l.lookup_set
              LEFT JOIN \(schema).harmonize_lineage_entry e ON e.entry_id = s.entry_id
            GROUP BY l.ctid, l.table_id, l.row_id, l.mapping_id, l.file_id, l.line, l.record, l.target
            """
        ).map { $0.map { $0 ?? "∅" }.joined(separator: "|") }.sorted()
    }

    @Test func theLineageOfFourShardsIsTheUnshardedRunsWithItsLookups() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let pack = ShardCLITests.packs[0]
        let single = PostgresTestServer.schema("lineage_single")
        let sharded = PostgresTestServer.schema("lineage_sharded")
        let runID = "lineage-\(UInt32.random(in: 0...UInt32.max))"
        defer { Self.dropAll(uri, [single, sharded], runIDs: [runID]) }
        let lineage = ["--lineage"]
        let one = try TestSupport.runCLI(
            Self.arguments(pack, output: PostgresTestServer.output(uri, schema: single), runID: "single", lineage), environment: Self.environment)
        #expect(one.status == 0, "\(one.stderr)")
        for i in 0..<4 {
            let r = try TestSupport.runCLI(
                Self.arguments(pack, output: PostgresTestServer.output(uri, schema: sharded), runID: runID, lineage + ["--shard", "\(i)/4"]),
                environment: Self.environment)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let db = try PostgresTestServer.connect(uri)
        let a = try Self.lineage(db, schema: single)
        let b = try Self.lineage(db, schema: sharded)
        #expect(a.count > 10)
        #expect(a.contains { $0.hasSuffix("|") == false }, "some rows used lookups")
        #expect(a == b)
        // The lineage rows carry the published run's sequence number.
        #expect(
            try db.scalar(
                "SELECT count(*) FROM \(sharded).harmonize_lineage WHERE run_seq <> (SELECT run_seq FROM \(sharded).harmonize_run WHERE run_id = $1)",
                [runID]) == "0")
        #expect(try db.scalar("SELECT count(*) FROM \(sharded).harmonize_lineage_entry GROUP BY entry_id HAVING count(*) > 1") == nil)
    }

    // MARK: - 2. Before the last shard, the previous CDM; 5. publish refused before

    @Test func theSchemaShowsThePreviousCDMUntilTheLastShardCommits() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let pack = ShardCLITests.packs[2]
        let schema = PostgresTestServer.schema("before_last")
        let reference = PostgresTestServer.schema("before_last_ref")
        let runID = "next-\(UInt32.random(in: 0...UInt32.max))"
        defer { Self.dropAll(uri, [schema, reference], runIDs: [runID]) }
        let output = PostgresTestServer.output(uri, schema: schema)
        // The previous CDM: the research fixture; the next run reads a larger input.
        try Self.run(pack, output: output, runID: "previous")
        let input = try PostgreSQLSinkTests.bigResearchInput(copies: 3)
        try Self.run(pack, input: input, output: PostgresTestServer.output(uri, schema: reference), runID: "reference")
        let db = try PostgresTestServer.connect(uri)
        let before = try PostgresTestServer.content(uri, schema: schema)
        let booksBefore = try db.query("SELECT run_id, published_at::text FROM \(schema).harmonize_run")
        for i in 0..<3 {
            let r = try Self.run(pack, input: input, output: output, runID: runID, shard: "\(i)/4", json: true)
            let status = try Self.shardStatus(r.stdout)
            #expect(status["status"] as? String == "committed")
            #expect(status["committed"] as? Int == i + 1 && status["of"] as? Int == 4)
            #expect(try PostgresTestServer.content(uri, schema: schema) == before, "after shard \(i)")
            #expect(try db.query("SELECT run_id, published_at::text FROM \(schema).harmonize_run") == booksBefore)
            #expect(try Self.ledgerRows(db, schema: schema, runID: runID).count == i + 1)
        }
        // 5. publish before the fourth shard: refused, nothing published.
        let early = try Self.publish(output: output, runID: runID, json: true)
        #expect(early.status == 2, "\(early.stderr)")
        #expect(early.stderr.contains("HZ7209") && early.stderr.contains("3/4"), "\(early.stderr)")
        #expect(try Self.shardStatus(early.stdout)["exitCode"] as? Int == 2)
        #expect(try PostgresTestServer.content(uri, schema: schema) == before)
        #expect(try db.query("SELECT run_id, published_at::text FROM \(schema).harmonize_run") == booksBefore)
        // A committed shard run again is skipped; another shard count or an index out of range is refused.
        let committed = try Self.ledgerRows(db, schema: schema, runID: runID)
        let again = try Self.run(pack, input: input, output: output, runID: runID, shard: "1/4", json: true)
        #expect(again.stderr.contains("already committed"))
        #expect(try Self.shardStatus(again.stdout)["status"] as? String == "shard-already-committed")
        #expect(try Self.ledgerRows(db, schema: schema, runID: runID) == committed)
        let otherCount = try Self.run(pack, input: input, output: output, runID: runID, shard: "3/5", status: 2)
        #expect(otherCount.stderr.contains("HZ7208"), "\(otherCount.stderr)")
        let outOfRange = try Self.run(pack, input: input, output: output, runID: runID, shard: "4/4", status: 2)
        #expect(outOfRange.stderr.contains("HZ7207"), "\(outOfRange.stderr)")
        #expect(try Self.ledgerRows(db, schema: schema, runID: runID) == committed)
        #expect(try PostgresTestServer.content(uri, schema: schema) == before)
        // The fourth shard publishes: the new CDM, equal to the unsharded run of the same input.
        let last = try Self.run(pack, input: input, output: output, runID: runID, shard: "3/4", json: true)
        #expect(try Self.shardStatus(last.stdout)["status"] as? String == "published")
        let after = try PostgresTestServer.content(uri, schema: schema)
        #expect(after != before)
        #expect(after == (try PostgresTestServer.content(uri, schema: reference)))
        #expect(try db.scalar("SELECT count(*) FROM \(schema).harmonize_run") == "2")
        #expect(try Self.leftovers(uri, schema: schema, runID: runID).isEmpty)
    }

    // MARK: - 3. A shard killed during its COPY, run again

    @Test func aShardKilledDuringItsCopyThenRunAgainGivesTheUnshardedRun() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let pack = ShardCLITests.packs[2]
        let schema = PostgresTestServer.schema("shard_kill")
        let reference = PostgresTestServer.schema("shard_kill_ref")
        let runID = "shard-kill-\(UInt32.random(in: 0...UInt32.max))"
        defer { Self.dropAll(uri, [schema, reference], runIDs: [runID]) }
        let output = PostgresTestServer.output(uri, schema: schema)
        let input = try PostgreSQLSinkTests.bigResearchInput(copies: 300)
        try Self.run(pack, input: input, output: PostgresTestServer.output(uri, schema: reference), runID: "reference")
        for i in 0..<3 { try Self.run(pack, input: input, output: output, runID: runID, shard: "\(i)/4") }
        // Shard 3's first COPY into measurement is held by a lock the test takes on the staged
        // table as soon as it exists; the shard is killed while that COPY waits.
        let db = try PostgresTestServer.connect(uri)
        let blocker = try PostgresTestServer.connect(uri)
        let stagingPattern = "harmonize_stage_" + runID.replacingOccurrences(of: "-", with: "_") + "%"
        let process = try CLIProcess(
            Self.arguments(pack, input: input, output: output, runID: runID, ["--shard", "3/4"]), environment: Self.environment)
        var locked = false
        var caught = false
        var stagedSchema: String?
        let deadline = Date().addingTimeInterval(120)
        while process.process.isRunning, Date() < deadline {
            if !locked,
                let staged = try db.scalar(
                    "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE $1 AND c.relname = 'measurement'",
                    [stagingPattern])
            {
                try blocker.execute("BEGIN; LOCK TABLE \(staged).measurement IN ACCESS EXCLUSIVE MODE")
                locked = true
                stagedSchema = staged
            }
            if locked,
                try db.scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND wait_event_type = 'Lock' AND query LIKE $1",
                    ["COPY " + stagingPattern]) != "0"
            {
                process.kill()
                caught = true
                break
            }
            usleep(1_000)
        }
        let killed = process.wait(timeout: 60).result
        // Any run on this server (other suites run beside this one) drops the staging schemas that
        // no run holds, a killed run's among them: the test holds its schema as a live run would,
        // until the rerun below. Its request for the schema's lock queues behind the killed
        // shard's session (still waiting in its COPY) before that session is let go, so that no
        // other run's cleanup (a `pg_try_advisory_lock`, which fails while a request waits) takes
        // the lock in between (it did, once, under load).
        let keeper = stagedSchema.map { StagingLockKeeper(uri: uri, schema: $0) }
        defer { keeper?.release.signal() }  // also when the test stops early
        var queued = false
        if let stagedSchema {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, !queued {
                queued =
                    try db.scalar(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = \(PostgreSQLSink.stagingLockClass) "
                            + "AND objid = (hashtext($1)::bigint & 4294967295)::oid", [stagedSchema]) != "0"
                if !queued { usleep(1_000) }
            }
        }
        try blocker.execute("ROLLBACK")
        #expect(queued, "the keeper's request waits behind the killed shard's session")
        if let keeper {
            #expect(keeper.acquired.wait(timeout: .now() + 90) == .success, "the staging schema's lock")
            #expect(keeper.failure.withLock { $0 } == nil)
        }
        #expect(caught, "shard 3 ended before its COPY was caught: \(killed.stderr)")
        #expect(killed.status == -9)
        // Killed: three shards in the ledger, nothing published, its staging schema left behind.
        #expect(try Self.ledgerRows(db, schema: schema, runID: runID).count == 3)
        #expect(try db.scalar("SELECT count(*) FROM \(schema).harmonize_run WHERE run_id = $1", [runID]) == "0")
        #expect(!(try PostgresTestServer.stagingSchemas(uri, runID: runID)).isEmpty)
        // The killed shard's server session ends once its COPY reads the closed connection.
        let gone = Date().addingTimeInterval(30)
        while Date() < gone, try db.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1", ["COPY " + stagingPattern]) != "0" {
            usleep(10_000)
        }
        keeper?.release.signal()
        _ = keeper?.released.wait(timeout: .now() + 60)
        let rerun = try Self.run(pack, input: input, output: output, runID: runID, shard: "3/4", json: true)
        #expect(try Self.shardStatus(rerun.stdout)["status"] as? String == "published")
        #expect(try PostgresTestServer.content(uri, schema: schema) == (try PostgresTestServer.content(uri, schema: reference)))
        let books = try Self.books(uri, schema: schema, runID: runID)
        for (name, rows) in try Self.books(uri, schema: reference, runID: "reference") where name != "inputs" {
            #expect(rows == books[name], "\(name) differs")
        }
        let ledger = try Self.ledgerRows(db, schema: schema, runID: runID)
        #expect(ledger.map { $0[0] } == ["0", "1", "2", "3"])
        // Only this run's staging schemas: other tests stage their own runs on the same server meanwhile.
        #expect(try PostgresTestServer.stagingSchemas(uri, runID: runID).isEmpty)
        #expect(try Self.leftovers(uri, schema: schema, runID: runID).isEmpty)
    }

    @Test func publishFinishesWhatTheLastShardCouldNotPublish() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let pack = ShardCLITests.packs[2]
        let schema = PostgresTestServer.schema("publish_later")
        let reference = PostgresTestServer.schema("publish_later_ref")
        let runID = "later-\(UInt32.random(in: 0...UInt32.max))"
        defer { Self.dropAll(uri, [schema, reference], runIDs: [runID]) }
        let output = PostgresTestServer.output(uri, schema: schema)
        try Self.run(pack, output: PostgresTestServer.output(uri, schema: reference), runID: "reference")
        for i in 0..<3 { try Self.run(pack, output: output, runID: runID, shard: "\(i)/4") }
        // Another writer holds the schema's lock: the last shard commits, but cannot publish.
        let holder = try PostgresTestServer.connect(uri)
        try holder.query("SELECT pg_advisory_lock(\(PostgreSQLSink.targetLockClass), hashtext($1))", [schema])
        let last = try Self.run(pack, output: output, runID: runID, shard: "3/4", status: 3)
        #expect(last.stderr.contains("is committed, but the run could not be published") && last.stderr.contains("HZ7012"), "\(last.stderr)")
        let db = try PostgresTestServer.connect(uri)
        #expect(try Self.ledgerRows(db, schema: schema, runID: runID).count == 4)
        #expect(try db.scalar("SELECT count(*) FROM \(schema).harmonize_run WHERE run_id = $1", [runID]) == "0")
        holder.close()
        let published = try Self.publish(output: output, runID: runID, json: true)
        #expect(published.status == 0, "\(published.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(published.stdout.utf8)) as? [String: Any])
        #expect(summary["status"] as? String == "succeeded" && summary["run_id"] as? String == runID)
        #expect(try PostgresTestServer.content(uri, schema: schema) == (try PostgresTestServer.content(uri, schema: reference)))
        #expect(try db.scalar("SELECT count(*) FROM \(schema).harmonize_run WHERE run_id = $1", [runID]) == "1")
        #expect(try Self.leftovers(uri, schema: schema, runID: runID).isEmpty)
    }

    // MARK: - 6. The data-quality checks of a sharded run

    /// A run's arguments with the data-quality checks (`arguments` turns them off).
    static func checked(_ pack: Pack, output: String, runID: String, _ more: [String] = []) -> [String] {
        arguments(pack, output: output, runID: runID, more).filter { $0 != "--no-quality" }
    }

    @Test func fourShardsGiveTheQualityResultsOfTheUnshardedRun() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let pack = ShardCLITests.packs[0]
        let single = PostgresTestServer.schema("quality_single")
        let sharded = PostgresTestServer.schema("quality_sharded")
        let runID = "quality-\(UInt32.random(in: 0...UInt32.max))"
        defer { Self.dropAll(uri, [single, sharded], runIDs: [runID]) }
        let one = try TestSupport.runCLI(
            Self.checked(pack, output: PostgresTestServer.output(uri, schema: single), runID: "single"), environment: Self.environment)
        #expect(one.status == 0, "\(one.stderr)")
        var published: TestSupport.CommandResult?
        for i in 0..<4 {
            let r = try TestSupport.runCLI(
                Self.checked(pack, output: PostgresTestServer.output(uri, schema: sharded), runID: runID, ["--shard", "\(i)/4", "--json"]),
                environment: Self.environment)
            #expect(r.status == 0, "shard \(i): \(r.stderr)")
            let status = try Self.shardStatus(r.stdout)["status"] as? String
            #expect(status == (i == 3 ? "published" : "committed"))
            // Only the shard that publishes runs the checks (on the assembled run).
            #expect((PostgreSQLQualityTests.qualityLine(r.stderr) != nil) == (i == 3), "shard \(i): \(r.stderr)")
            if i == 3 { published = r }
        }
        let a = try PostgreSQLQualityTests.stored(postgres: uri, schema: single, runID: "single")
        let b = try PostgreSQLQualityTests.stored(postgres: uri, schema: sharded, runID: runID)
        #expect(a.count > 100)
        #expect(b == a, "\(Set(b).symmetricDifference(a).sorted().prefix(10))")
        #expect(b.contains { $0.contains("|passed|") && !$0.hasSuffix("|0|0") })
        #expect(!b.contains { $0.contains("|error|") }, "\(b.filter { $0.contains("|error|") })")
        // The summary line and the JSON summary's counts are those of the unsharded run.
        let summary = try #require(published)
        #expect(PostgreSQLQualityTests.qualityLine(summary.stderr) == PostgreSQLQualityTests.qualityLine(one.stderr))
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(summary.stdout.utf8)) as? [String: Any])
        let counts = try #require(doc["quality"] as? [String: Int])
        #expect(counts["passed"] == b.filter { $0.contains("|passed|") }.count)
        // Nothing of the run is left: the area (where the results were staged) is gone.
        #expect(try Self.leftovers(uri, schema: sharded, runID: runID).isEmpty)
    }

    @Test func publishRunsTheChecksOnTheAssembledRunAndFailOnQualityExitsOne() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let pack = ShardCLITests.packs[0]
        let schema = PostgresTestServer.schema("quality_publish")
        let runID = "quality-publish-\(UInt32.random(in: 0...UInt32.max))"
        defer { Self.dropAll(uri, [schema], runIDs: [runID]) }
        let output = PostgresTestServer.output(uri, schema: schema)
        let target = try PostgreSQLTarget(parsing: output)
        for i in 0..<3 { try Self.run(pack, output: output, runID: runID, shard: "\(i)/4") }
        // The last shard commits but cannot publish (the schema's lock is held).
        let holder = try PostgresTestServer.connect(uri)
        try holder.query("SELECT pg_advisory_lock(\(PostgreSQLSink.targetLockClass), hashtext($1))", [schema])
        try Self.run(pack, output: output, runID: runID, shard: "3/4", status: 3)
        holder.close()
        let db = try PostgresTestServer.connect(uri)
        let area = PostgreSQLShards.areaSchema(of: runID, in: target)
        // Checks that cannot run publish nothing (exit 3): the shards stay committed. They see
        // the assembled run with its keys built, and a failing statement of theirs does not
        // spoil the publication transaction.
        final class Seen {
            var key: [String] = []
            var badQuery: OutputReadError?
            var afterError: [[Value]] = []
            var runID = ""
        }
        let seen = Seen()
        let checks: PostgreSQLShards.Checks = { connection, id throws(SinkError) in
            seen.runID = id
            do {
                seen.key = try connection.primaryKey(of: "person")
                do throws(OutputReadError) {
                    _ = try connection.rows("SELECT no_such_column FROM person", [])
                } catch {
                    seen.badQuery = error
                }
                seen.afterError = try connection.rows("SELECT count(*) FROM person", [])
                // Results staged in the area, then the failure: rolled back with the publication.
                try connection.execute(PostgreSQLDDL.qualityTable(schema: nil))
            } catch {
                throw SinkError("cannot read the area: \(error)")
            }
            throw SinkError("data-quality checks could not run")
        }
        let failed = #expect(throws: HarmonizeError.self) { _ = try PostgreSQLShards.publish(runID: runID, target: target, checks: checks) }
        #expect(failed?.exitCode == 3 && failed?.message.contains("could not run") == true, "\(String(describing: failed))")
        #expect(seen.runID == runID)
        #expect(seen.badQuery != nil)
        #expect(seen.key == ["person_id"])
        #expect(seen.afterError.first?.first?.intValue ?? 0 > 0)
        #expect(try db.scalar("SELECT count(*) FROM \(schema).harmonize_run WHERE run_id = $1", [runID]) == "0")
        #expect(try Self.ledgerRows(db, schema: schema, runID: runID).count == 4)
        #expect(try db.scalar("SELECT to_regclass($1)", [PostgreSQLDDL.qualified(area, "person")]) != nil)
        #expect(try db.scalar("SELECT to_regclass($1)", [PostgreSQLDDL.qualified(area, "harmonize_quality")]) == nil)
        // publish with a failing user check and --fail-on-quality: published, results stored, exit 1.
        let dir = TestSupport.temporaryDirectory("pg-shard-quality")
        TestSupport.write("checks:\n  - {name: impossible, table: person, rule: \"person_id < 0\"}\n", to: dir + "/checks.yaml")
        let strict = try TestSupport.runCLI(["publish", "--run-id", runID, "--output", output, "--checks", dir + "/checks.yaml", "--fail-on-quality"])
        #expect(strict.status == 1, "\(strict.stderr)")
        #expect(strict.stderr.contains("userRule.impossible") && strict.stderr.contains("the output was published"), "\(strict.stderr)")
        #expect(try db.scalar("SELECT count(*) FROM \(schema).harmonize_run WHERE run_id = $1", [runID]) == "1")
        #expect(
            try db.scalar("SELECT status FROM \(schema).harmonize_quality WHERE run_id = $1 AND check_id = 'userRule.impossible'", [runID])
                == "failed")
        let stored = try PostgreSQLQualityTests.stored(postgres: uri, schema: schema, runID: runID)
        #expect(stored.count > 100)
        #expect(try db.scalar("SELECT count(DISTINCT checked_at) FROM \(schema).harmonize_quality WHERE run_id = $1", [runID]) == "1")
        #expect(try Self.leftovers(uri, schema: schema, runID: runID).isEmpty)
        // --no-quality cannot be combined with --fail-on-quality.
        let usage = try TestSupport.runCLI(["publish", "--run-id", runID, "--output", output, "--no-quality", "--fail-on-quality"])
        #expect(usage.status == 2, "\(usage.stderr)")
    }

    // MARK: - 4. A rerun of a published run id

    @Test func aRerunOfAPublishedShardedRunChangesNothing() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let pack = ShardCLITests.packs[2]
        let schema = PostgresTestServer.schema("shard_rerun")
        let runID = "shard-rerun-\(UInt32.random(in: 0...UInt32.max))"
        defer { Self.dropAll(uri, [schema], runIDs: [runID]) }
        let output = PostgresTestServer.output(uri, schema: schema)
        for i in 0..<4 { try Self.run(pack, output: output, runID: runID, shard: "\(i)/4") }
        let db = try PostgresTestServer.connect(uri)
        let content = try PostgresTestServer.content(uri, schema: schema)
        let counts = try db.query(
            """
            SELECT (SELECT count(*) FROM \(schema).harmonize_run), (SELECT count(*) FROM \(schema).harmonize_ledger),
              (SELECT count(*) FROM \(schema).harmonize_reject), (SELECT count(*) FROM \(schema).harmonize_run_table),
              (SELECT count(*) FROM \(schema).harmonize_unmapped)
            """)
        let published = try db.query("SELECT run_id, published_at::text, run_seq FROM \(schema).harmonize_run")
        let ledger = try Self.ledgerRows(db, schema: schema, runID: runID)
        #expect(ledger.count == 4)
        for i in 0..<4 {
            let r = try Self.run(pack, output: output, runID: runID, shard: "\(i)/4", json: true)
            #expect(r.stderr.contains("already published"))
            #expect(try Self.shardStatus(r.stdout)["status"] as? String == "already-published")
        }
        let again = try Self.publish(output: output, runID: runID, json: true)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("already published"))
        #expect(try Self.shardStatus(again.stdout)["status"] as? String == "already-published")
        #expect(try PostgresTestServer.content(uri, schema: schema) == content)
        #expect(try db.query("SELECT run_id, published_at::text, run_seq FROM \(schema).harmonize_run") == published)
        #expect(try Self.ledgerRows(db, schema: schema, runID: runID) == ledger)
        #expect(
            try db.query(
                """
                SELECT (SELECT count(*) FROM \(schema).harmonize_run), (SELECT count(*) FROM \(schema).harmonize_ledger),
                  (SELECT count(*) FROM \(schema).harmonize_reject), (SELECT count(*) FROM \(schema).harmonize_run_table),
                  (SELECT count(*) FROM \(schema).harmonize_unmapped)
                """) == counts)
    }

    @Test func publishRefusesASQLiteOutputAndAnUnknownRun() throws {
        let sqlite = try TestSupport.runCLI(["publish", "--run-id", "x", "--output", "/tmp/out.sqlite"])
        #expect(sqlite.status == 2 && sqlite.stderr.contains("merge"), "\(sqlite.stderr)")
        guard let uri = PostgresTestServer.uri() else { return }
        let schema = PostgresTestServer.schema("publish_unknown")
        defer { PostgresTestServer.drop(uri, schema: schema) }
        let r = try Self.publish(output: PostgresTestServer.output(uri, schema: schema), runID: "never-run")
        #expect(r.status == 2 && r.stderr.contains("HZ7209"), "\(r.stderr)")
    }
}

/// A session that takes a staging schema's advisory lock on a thread of its own (the request
/// waits while a killed run's session holds it) and keeps it until `release` is signalled.
final class StagingLockKeeper: Sendable {
    let acquired = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    let released = DispatchSemaphore(value: 0)
    let failure = Mutex<String?>(nil)

    init(uri: String, schema: String) {
        let thread = Thread { [self] in
            do {
                let c = try PostgresTestServer.connect(uri)
                try c.execute("SET lock_timeout = '60s'")  // a session that never ends fails the test, not hangs it
                _ = try c.query("SELECT pg_advisory_lock(\(PostgreSQLSink.stagingLockClass), hashtext($1))", [schema])
                acquired.signal()
                release.wait()
                _ = try c.query("SELECT pg_advisory_unlock_all()")
            } catch {
                failure.withLock { $0 = "\(error)" }
                acquired.signal()
            }
            released.signal()
        }
        thread.start()
    }
}
