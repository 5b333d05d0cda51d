import Crypto
import Foundation

/// The shards of one run into a PostgreSQL schema (`run --shard i/N --run-id ID --output
/// postgresql://…?schema=S`), committed one by one and published once all are in.
///
/// - **Commit.** A shard loads its staging schema as an unsharded run does (COPY, held-back
///   orphans and `observation_period` per shard: all the rows of a person are in the shard of
///   its subject), without the target's lock. Its end is one transaction, under a lock per run
///   id: the ledger is checked (the run id not published, the shard not yet in, every committed
///   shard of the same shard count, mappings and parameters: HZ7208), the staged rows are
///   appended to the run's area (a schema `harmonize_run_<id>_<hash>`, not the published CDM;
///   lineage lookup entries renumbered), and the shard's row is inserted in
///   `S.harmonize_shard_ledger` (`UNIQUE (run_id, shard)`: run id, shard, shard count, rows per
///   table, the shard's manifest and its SHA-256). A killed shard commits nothing; a shard already
///   in is not committed again.
/// - **Publication** (`publish`), once the ledger holds all N shards: under a lock per run (a
///   second publisher waits, then finds the run published) and the target's lock (as a run), one
///   transaction builds the keys, constraints and indices of the area's tables in OHDSI's order,
///   then swaps them into `S` as an unsharded run does, with the run's rows in the bookkeeping
///   tables written from one manifest merged from the shards' (counts summed, as `merge` does for
///   SQLite); the area is dropped. Readers see the old CDM or the new one. The `checks` given to
///   `publish` (the data-quality checks) run in that transaction on the assembled area, after the
///   keys and indices and before the swap; their `harmonize_quality` rows are published with the
///   run.
package enum PostgreSQLShards {
    /// Advisory-lock classes: the commits and publication of one run (transaction locks), one
    /// publisher per run (session lock), the creation of a schema's bookkeeping tables.
    static let runLockClass = 18524
    static let publishLockClass = 18525
    static let setupLockClass = 18526
    /// The prefix of the runs' areas.
    static let areaPrefix = "harmonize_run_"

    /// What a shard's end did with its rows.
    package enum Commit: Sendable, Hashable {
        /// Its rows and its ledger row are committed; `shards` of `of` are now in the ledger.
        case committed(shards: Int, of: Int)
        /// Another attempt of this shard had committed it: nothing was added.
        case alreadyCommitted(shards: Int, of: Int)
        /// The run id is published already: nothing was added.
        case alreadyPublished
    }

    /// What a schema's books say about a run id.
    package struct State: Sendable, Hashable {
        /// Whether the run id is in `harmonize_run` (published).
        package var published = false
        /// The committed shards: shard index → the shard count it was committed with.
        package var committed: [Int: Int] = [:]
    }

    /// Checks run by `publish` on the assembled run (the data-quality checks): given a connection
    /// reading the run's area inside the publication transaction (keys and indices built, the
    /// target's kept tables behind it, as the CDM will be published) and the run id. Results
    /// stored in the area's `harmonize_quality` are published with the run, in the same
    /// transaction; when it throws, nothing is published.
    package typealias Checks = (PostgreSQLOutputConnection, _ runID: String) throws(SinkError) -> Void

    /// What `publish` did.
    package enum Publication: Sendable {
        /// The run is published now; its merged manifest.
        case published(RunManifest)
        /// The run id was published already: nothing changed.
        case alreadyPublished
    }

    /// One row of the shard ledger.
    struct LedgerRow {
        var shard: Int
        var of: Int
        var sha256: String
        var manifest: String
        var inputDirectory: String?
        var area: String
    }

    static func lockKey(_ runID: String, _ target: PostgreSQLTarget) -> String { target.schema + "/" + runID }

    /// The schema holding the committed shards of a run until it is published:
    /// `harmonize_run_<run id, cleaned, at most 32 characters>_<8 hex digits of the SHA-256 of the
    /// target schema and run id>`.
    package static func areaSchema(of runID: String, in target: PostgreSQLTarget) -> String {
        let cleaned = String(
            runID.lowercased().unicodeScalars.prefix(32).map { c -> Character in
                (c >= "a" && c <= "z") || (c >= "0" && c <= "9") ? Character(c) : "_"
            })
        let digest = Hex.string(Array(SHA256.hash(data: Data(lockKey(runID, target).utf8))))
        return areaPrefix + cleaned + "_" + digest.prefix(8)
    }

    /// The state of `runID` in the target schema (nothing committed when the schema has no ledger).
    package static func state(of runID: String, in target: PostgreSQLTarget) throws(HarmonizeError) -> State {
        do {
            let db = try PostgreSQLConnection(uri: target.connectionURI)
            defer { db.close() }
            return try state(runID, target, db)
        } catch {
            throw HarmonizeError(
                .io, "cannot read the shard ledger of schema \(target.schema): \(error) [\(ErrorCode.postgresFailed)]", code: .postgresFailed)
        }
    }

    static func state(_ runID: String, _ target: PostgreSQLTarget, _ db: PostgreSQLConnection) throws(PostgreSQLError) -> State {
        var s = State()
        let run = PostgreSQLDDL.qualified(target.schema, "harmonize_run")
        if try db.scalar("SELECT to_regclass($1)", [run]) != nil {
            s.published = try db.scalar("SELECT 1 FROM \(run) WHERE run_id = $1", [runID]) != nil
        }
        for r in try ledgerRows(runID, target, db) { s.committed[r.shard] = r.of }
        return s
    }

    /// The ledger rows of a run, in shard order.
    static func ledgerRows(_ runID: String, _ target: PostgreSQLTarget, _ db: PostgreSQLConnection) throws(PostgreSQLError) -> [LedgerRow] {
        let ledger = PostgreSQLDDL.qualified(target.schema, "harmonize_shard_ledger")
        guard try db.scalar("SELECT to_regclass($1)", [ledger]) != nil else { return [] }
        return try db.query("SELECT shard, of, sha256, manifest, input_dir, area FROM \(ledger) WHERE run_id = $1 ORDER BY shard", [runID])
            .compactMap { r in
                guard r.count == 6, let shard = r[0].flatMap({ Int($0) }), let of = r[1].flatMap({ Int($0) }), let manifest = r[3], let area = r[5]
                else { return nil }
                return LedgerRow(shard: shard, of: of, sha256: r[2] ?? "", manifest: manifest, inputDirectory: r[4], area: area)
            }
    }

    /// Refuses `shard` when the shards of `runID` already committed are of another count (HZ7208).
    package static func check(_ shard: ShardSpec, runID: String, against state: State, schema: String) throws(HarmonizeError) {
        if let other = state.committed.values.first(where: { $0 != shard.count }) {
            throw HarmonizeError(
                .configuration,
                "shard \(shard) of run \(runID): the shards of this run id committed in schema \(schema) are of \(other) shards, not \(shard.count); nothing was committed",
                code: .shardRunsDiffer)
        }
    }

    /// Refuses a publication while a shard is missing (HZ7209) or the shards disagree (HZ7208).
    static func requireComplete(_ rows: [LedgerRow], _ runID: String, _ target: PostgreSQLTarget) throws(HarmonizeError) {
        guard let of = rows.first?.of else {
            throw HarmonizeError(
                .configuration, "run \(runID) has no shard committed in schema \(target.schema); nothing was published", code: .shardsNotCommitted)
        }
        if rows.contains(where: { $0.of != of }) {
            throw HarmonizeError(
                .configuration, "the shards of run \(runID) in schema \(target.schema) disagree on the shard count; nothing was published",
                code: .shardRunsDiffer)
        }
        let missing = (0..<of).filter { i in !rows.contains { $0.shard == i } }
        guard missing.isEmpty else {
            throw HarmonizeError(
                .configuration,
                "run \(runID): \(of - missing.count) of \(of) shards are committed in schema \(target.schema); shard\(missing.count == 1 ? "" : "s") "
                    + missing.map { "\($0)/\(of)" }.joined(separator: ", ") + " missing; nothing was published",
                code: .shardsNotCommitted)
        }
    }

    // MARK: - Commit

    /// Commits a shard's staged rows (see the type's documentation); `db` is the sink's
    /// connection, `staging` its staging schema.
    static func commit(
        _ run: RunManifest, tables: [TargetTable], staging: String, target: PostgreSQLTarget, inputDirectory: String?, _ db: PostgreSQLConnection
    ) throws -> Commit {
        guard let shard = run.shard else {
            throw HarmonizeError(.configuration, "run \(run.runID) is not a shard", code: .runConfiguration)
        }
        let area = areaSchema(of: run.runID, in: target)
        let ledger = PostgreSQLDDL.qualified(target.schema, "harmonize_shard_ledger")
        let manifestText = try JSONText.encode(run)
        let a = { (table: String) in PostgreSQLDDL.qualified(area, table) }
        let s = { (table: String) in PostgreSQLDDL.qualified(staging, table) }
        try db.execute("BEGIN")
        do {
            try db.query("SELECT pg_advisory_xact_lock(\(runLockClass), hashtext($1))", [lockKey(run.runID, target)])
            let state = try state(run.runID, target, db)
            if state.published {
                PostgreSQLSink.rollback(db)
                return .alreadyPublished
            }
            try check(shard, runID: run.runID, against: state, schema: target.schema)
            if state.committed[shard.index] != nil {
                PostgreSQLSink.rollback(db)
                return .alreadyCommitted(shards: state.committed.count, of: shard.count)
            }
            if let first = try ledgerRows(run.runID, target, db).first {
                let m = try JSONDecoder().decode(RunManifest.self, from: Data(first.manifest.utf8))
                var differs: [String] = []
                if m.mappings != run.mappings { differs.append("mappings") }
                if ShardMerge.comparable(m.parameters) != ShardMerge.comparable(run.parameters) { differs.append("parameters") }
                if m.model != run.model || m.engineVersion != run.engineVersion { differs.append("model or engine version") }
                if !differs.isEmpty {
                    throw HarmonizeError(
                        .configuration,
                        "shard \(shard) of run \(run.runID) is not of the run whose shards are committed in schema \(target.schema) (\(differs.joined(separator: ", ")) differ); nothing was committed",
                        code: .shardRunsDiffer)
                }
            }
            if try db.scalar("SELECT to_regclass($1)", [a("harmonize_publication")]) == nil {
                try createArea(area, tables: tables, db)
            }
            for t in tables {
                let columns = t.columns.map { PostgreSQLDDL.quote($0.name) }.joined(separator: ", ")
                try db.execute("INSERT INTO \(a(t.name)) (\(columns)) SELECT \(columns) FROM \(s(t.name))")
            }
            for side in ["harmonize_reject", "harmonize_unmapped"] {
                try db.execute("INSERT INTO \(a(side)) SELECT * FROM \(s(side))")
            }
            // Lookup entries and sets are numbered per shard from 1: shifted past the area's.
            let entryOffset = Int(try db.scalar("SELECT coalesce(max(entry_id), 0) FROM \(a("harmonize_lineage_entry"))") ?? "0") ?? 0
            let setOffset = Int(try db.scalar("SELECT coalesce(max(set_id), 0) FROM \(a("harmonize_lineage_entry_set"))") ?? "0") ?? 0
            try db.execute(
                """
                INSERT INTO \(a("harmonize_lineage_entry")) (entry_id, run_seq, column_name, function, vocabulary, code, concept_id, value)
                  SELECT entry_id + \(entryOffset), run_seq, column_name, function, vocabulary, code, concept_id, value FROM \(s("harmonize_lineage_entry"));
                INSERT INTO \(a("harmonize_lineage_entry_set")) (set_id, position, entry_id)
                  SELECT set_id + \(setOffset), position, entry_id + \(entryOffset) FROM \(s("harmonize_lineage_entry_set"));
                INSERT INTO \(a("harmonize_lineage")) (table_id, row_id, mapping_id, file_id, line, record, run_seq, lookup_set, target)
                  SELECT table_id, row_id, mapping_id, file_id, line, record, run_seq, lookup_set + \(setOffset), target FROM \(s("harmonize_lineage"));
                """)
            var rows: [String: Int] = [:]
            for t in run.tables { rows[t.table, default: 0] += t.rows }
            try db.query(
                "INSERT INTO \(ledger) (run_id, shard, of, rows, sha256, manifest, input_dir, area) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                [
                    run.runID, String(shard.index), String(shard.count), try JSONText.encode(rows),
                    Hex.string(Array(SHA256.hash(data: Data(manifestText.utf8)))), manifestText, inputDirectory, area,
                ])
            try db.execute("COMMIT")
            return .committed(shards: state.committed.count + 1, of: shard.count)
        } catch {
            PostgreSQLSink.rollback(db)
            throw error
        }
    }

    /// Creates a run's area: the run's tables without keys, the staged side tables, and the
    /// statements its publication runs (`harmonize_publication`: the tables it moves, then the
    /// primary keys, foreign-key constraints and indices in OHDSI's order, unqualified: they run
    /// with the area as search path).
    private static func createArea(_ area: String, tables: [TargetTable], _ db: PostgreSQLConnection) throws(PostgreSQLError) {
        let q = PostgreSQLDDL.quote
        try db.execute("CREATE SCHEMA IF NOT EXISTS \(q(area))")
        try db.execute("COMMENT ON SCHEMA \(q(area)) IS 'harmonize-run: the committed shards of a run, until it is published'")
        for t in tables { try db.execute(PostgreSQLDDL.createTable(t, schema: area)) }
        try db.execute(PostgreSQLDDL.staged(schema: area))
        try db.execute(
            """
            CREATE TABLE \(q(area)).harmonize_publication (
              position bigint NOT NULL, kind text NOT NULL, table_name text NOT NULL, key_columns text, statement text)
            """)
        var steps: [(kind: String, table: String, columns: String?, statement: String?)] = tables.map { ("table", $0.name, nil, nil) }
        for t in tables {
            if let pk = PostgreSQLDDL.primaryKey(t, schema: nil) { steps.append(("key", t.name, t.primaryKey.joined(separator: ", "), pk)) }
        }
        for t in tables {
            for c in PostgreSQLDDL.constraints(t, among: tables, schema: nil, notValid: true) { steps.append(("constraint", t.name, nil, c)) }
        }
        for t in tables {
            for i in PostgreSQLDDL.indices(t, schema: nil) { steps.append(("index", t.name, nil, i)) }
        }
        steps.append(("index", "harmonize_lineage", nil, "CREATE INDEX harmonize_lineage_row ON harmonize_lineage (table_id, row_id)"))
        for (position, step) in steps.enumerated() {
            try db.query(
                "INSERT INTO \(q(area)).harmonize_publication VALUES ($1, $2, $3, $4, $5)",
                [String(position), step.kind, step.table, step.columns, step.statement])
        }
    }

    // MARK: - Publication

    /// Publishes the run once all its shards are in the ledger (see the type's documentation).
    /// - Throws: `HarmonizeError`: a shard missing (HZ7209) or shards that disagree (HZ7208),
    ///   exit 2; two rows with one primary key (`target-pk-duplicate`), exit 2; the target's lock
    ///   held by a run for more than 10 s (HZ7012) or a server failure (HZ7021), exit 3; `checks`
    ///   that cannot run, exit 3 (2 when they say their configuration is at fault). Nothing is
    ///   published then.
    package static func publish(runID: String, target: PostgreSQLTarget, checks: Checks? = nil) throws(HarmonizeError) -> Publication {
        let db: PostgreSQLConnection
        do {
            db = try PostgreSQLConnection(uri: target.connectionURI)
        } catch {
            throw HarmonizeError(.io, "cannot open the PostgreSQL output: \(error) [\(ErrorCode.postgresFailed)]", code: .postgresFailed)
        }
        defer { db.close() }
        do {
            // One publisher per run: a second one waits here, then finds the run published.
            try db.execute("SET lock_timeout = 0")
            try db.query("SELECT pg_advisory_lock(\(publishLockClass), hashtext($1))", [lockKey(runID, target)])
            if try state(runID, target, db).published { return .alreadyPublished }
            try requireComplete(try ledgerRows(runID, target, db), runID, target)
            try db.execute("SET lock_timeout = '10s'")
            do throws(PostgreSQLError) {
                try db.query("SELECT pg_advisory_lock(\(PostgreSQLSink.targetLockClass), hashtext($1))", [target.schema])
            } catch {
                guard error.state == "55P03" else { throw error }
                throw HarmonizeError(
                    .io,
                    "another run is writing schema \(target.schema) (its advisory lock is held); run \(runID) is not published: run 'harmonize-run publish' again",
                    code: .outputLocked)
            }
            try db.execute("SET lock_timeout = 0")
            try db.execute("BEGIN")
            do {
                let manifest = try swap(runID, target, db, checks: checks)
                try db.execute("COMMIT")
                return .published(manifest)
            } catch {
                PostgreSQLSink.rollback(db)
                throw error
            }
        } catch let e as HarmonizeError {
            throw e
        } catch let e as SinkError {
            throw HarmonizeError(e.isIO ? .io : .configuration, "run \(runID) is not published: \(e.message)", code: e.code ?? .sinkFailed)
        } catch {
            throw HarmonizeError(
                .io, "cannot publish run \(runID) into schema \(target.schema): \(error) [\(ErrorCode.postgresFailed)]", code: .postgresFailed)
        }
    }

    /// The publication's statements, inside its transaction; returns the merged manifest.
    private static func swap(_ runID: String, _ target: PostgreSQLTarget, _ db: PostgreSQLConnection, checks: Checks?) throws -> RunManifest {
        try db.query("SELECT pg_advisory_xact_lock(\(runLockClass), hashtext($1))", [lockKey(runID, target)])
        let rows = try ledgerRows(runID, target, db)
        try requireComplete(rows, runID, target)
        let area = rows[0].area
        let q = PostgreSQLDDL.quote
        let manifests = try rows.map { try JSONDecoder().decode(RunManifest.self, from: Data($0.manifest.utf8)) }
        var merged = ShardMerge.mergedManifest(
            manifests, files: rows.map { (file: "harmonize_shard_ledger \($0.shard)/\($0.of)", sha256: $0.sha256) })
        merged.status = "succeeded"
        try db.execute("SET LOCAL search_path = \(q(area))")
        let steps = try db.query("SELECT kind, table_name, key_columns, statement FROM harmonize_publication ORDER BY position")
        var moved: [String] = []
        for step in steps {
            guard step.count == 4, let kind = step[0], let table = step[1] else { continue }
            if kind == "table" {
                moved.append(table)
                continue
            }
            guard let statement = step[3] else { continue }
            do throws(PostgreSQLError) {
                try db.execute(statement)
            } catch {
                guard error.isUniqueViolation, kind == "key" else { throw error }
                throw HarmonizeError(
                    .configuration,
                    "table \(table): a primary-key value (\(step[2] ?? "")) is written more than once, by one shard or by two (target-pk-duplicate); run \(runID) is not published",
                    code: .runConfiguration)
            }
        }
        try db.execute("ANALYZE " + (moved.map(q) + ["harmonize_lineage"]).joined(separator: ", "))
        if let usage = merged.vocabularyUsage {
            // Distinct unmapped codes over all shards (a code unmapped in two shards counts once).
            merged.vocabularyUsage = try usage.map { u in
                guard !u.truncated else { return u }
                var u = u
                u.distinctUnmapped =
                    Int(
                        try db.scalar(
                            "SELECT count(DISTINCT source_code) FROM harmonize_unmapped WHERE mapping = $1 AND vocabulary_id = $2",
                            [u.mapping, u.vocabulary]) ?? "0") ?? 0
                return u
            }
        }
        let bk = PostgreSQLDDL.qualified(target.schema, "harmonize_run")
        let runSeq = Int(try db.scalar("SELECT coalesce(max(run_seq), 0) + 1 FROM \(bk)") ?? "1") ?? 1
        try db.query("UPDATE harmonize_lineage SET run_seq = $1", [String(runSeq)])
        try db.query("UPDATE harmonize_lineage_entry SET run_seq = $1", [String(runSeq)])
        if let checks {
            // On the assembled run, before the target's tables are dropped (readers are not held).
            let replaced = try PostgreSQLSink.replacedTables(in: target.schema, moving: moved, db)
            try checks(try PostgreSQLOutputConnection(publishing: db, area: area, target: target, replacedTables: replaced), runID)
            try db.execute("SET LOCAL search_path = \(q(area))")
        }
        try PostgreSQLSink.swap(
            merged, from: area, moving: moved, into: target.schema, runSeq: runSeq, inputDirectory: rows[0].inputDirectory, sumsUnmapped: true, db)
        try PostgreSQLSink.appendQualityResults(from: area, into: target.schema, db)
        try db.execute("DROP SCHEMA \(q(area)) CASCADE")
        return merged
    }
}
