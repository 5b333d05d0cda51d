import Foundation

/// Writes a run into a PostgreSQL schema (`run --output postgresql://USER@HOST:PORT/DB?schema=cdm`).
///
/// The rows are loaded by `COPY … FROM STDIN` (binary format for the run's tables, text for the
/// bookkeeping rows: `PostgreSQLCopyBinary`, `PostgreSQLCopyText`) into a staging schema of the run
/// (`harmonize_stage_<run>_<nonce>`); after the load the primary keys, the foreign-key
/// constraints among the run's tables (`NOT VALID`: declared, not re-checked over the loaded
/// rows) and the indices are built there, in OHDSI's order. Publication is one transaction that
/// drops the target's tables of the previous run and moves the staged ones in (`ALTER TABLE …
/// SET SCHEMA`), together with the run's rows in the bookkeeping tables: readers see the old CDM
/// or the new one. `harmonize_run.run_id` is unique, so a run id is published once.
///
/// A session advisory lock per target schema keeps two runs from writing it at once; each run
/// also holds a lock named by its staging schema, so the next run drops the staging schemas
/// whose run is gone (killed) and leaves live ones alone.
///
/// A shard of a run (`run --shard i/N`, the manifest's `shard`) loads its staging schema the same
/// way but does not publish: `finish` commits its rows into the run's area together with its row
/// in the shard ledger (`PostgreSQLShards`), without the target's lock (shards run at once);
/// `shardCommit` says what happened. Publication comes once all N shards are in.
package final class PostgreSQLSink: Sink {
    /// Where the run goes.
    package let target: PostgreSQLTarget
    /// Whether to store one lineage row per output row (`harmonize_lineage`).
    package let recordsLineage: Bool
    /// The input folder, recorded in `harmonize_run.input_dir`.
    package var inputDirectory: String?
    /// The first duplicated primary key found by `finish(run:)`, for `DuplicateKeyLocator`.
    package internal(set) var duplicateKey: DuplicateKey?
    /// The staging schema of this run.
    package let stagingSchema: String
    /// Seconds spent in each phase of the run, set by `finish(run:)` (`run --json` prints them).
    package private(set) var phases = PostgreSQLPhases()
    private var openedAt = ContinuousClock.now
    /// For a shard (`run --shard i/N`): what `finish` did with its rows; nil for an unsharded run.
    package private(set) var shardCommit: PostgreSQLShards.Commit?
    /// Run on the complete staging schema (keys and indices built) before the publication
    /// transaction, e.g. the data-quality checks, which store their results in the staging
    /// schema's `harmonize_quality` (published with the run). When it throws, nothing is published.
    package var beforePublish: ((PostgreSQLStaging) throws(SinkError) -> Void)?
    /// Bytes of COPY data held per table before they are sent.
    private let flushBytes: Int

    var db: PostgreSQLConnection?
    private(set) var tables: [TargetTable] = []
    private var rowKeyColumns: [Int?] = []
    private(set) var runID = ""
    private(set) var runSeq = 1
    /// A replay (`harmonize-run replay`): the rows are appended to the published tables instead
    /// of replacing them (`PostgreSQLSink+Replay.swift`); nil for a run.
    package var replay: PostgreSQLReplay?
    /// Replay: the largest lookup entry and set ids already in the target's lineage tables (the
    /// replay's are numbered after them).
    var entryBase = 0
    var setBase = 0
    /// Replay: derived tables derived again over the whole output, rows added and stored rows changed.
    var derivedCounts: [Int: TableWriteCount] = [:]
    /// Replay: the staged periods (by staging table) that replace the target's at publication.
    var pendingDerivations: [(derivation: Derivation, staged: String)] = []
    /// Replay: per table index, the columns a replayed row updates in a published row with its
    /// key (`on_conflict: update`); its staged rows are merged into the published table.
    var replayUpdates: [Int: [Int]] = [:]
    /// COPY data waiting per destination: the run's tables (binary tuples, without the stream's
    /// header and trailer), then `Side` tables (text).
    private var buffers: [[UInt8]] = []
    private var copySQL: [String] = []
    /// How each column of each run table is sent in binary COPY.
    private var columnKinds: [[PostgreSQLCopyBinary.Kind]] = []
    private var rowsSent: [Int: Int] = [:]
    private var keyedTables: Set<Int> = []
    private var entryIDs: [EntryKey: Int] = [:]
    private var setIDs: [[Int]: Int] = [:]
    private var rowEntries: [Int] = []

    private struct EntryKey: Hashable {
        var table: Int
        var column: Int32
        var use: LookupUse
    }

    /// The staged side tables, after the run's tables in `buffers`.
    private enum Side: Int, CaseIterable {
        case reject, unmapped, lineage, entry, entrySet
        var table: String {
            switch self {
            case .reject: return "harmonize_reject"
            case .unmapped: return "harmonize_unmapped"
            case .lineage: return "harmonize_lineage"
            case .entry: return "harmonize_lineage_entry"
            case .entrySet: return "harmonize_lineage_entry_set"
            }
        }
    }

    /// Advisory-lock classes: one for target schemas, one for staging schemas.
    static let targetLockClass = 18522
    static let stagingLockClass = 18523
    static let stagingPrefix = "harmonize_stage_"

    /// Creates a sink for `target`; `runID` names the staging schema.
    package init(target: PostgreSQLTarget, runID: String, recordsLineage: Bool = false, flushBytes: Int = 4 << 20) {
        self.target = target
        self.recordsLineage = recordsLineage
        self.flushBytes = flushBytes
        let cleaned = String(
            runID.lowercased().unicodeScalars.prefix(32).map { c -> Character in
                (c >= "a" && c <= "z") || (c >= "0" && c <= "9") ? Character(c) : "_"
            })
        stagingSchema = Self.stagingPrefix + cleaned + "_" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }

    deinit {
        if db != nil { abort() }
    }

    func fail(_ what: String, _ error: any Error) -> SinkError {
        SinkError("\(what): \(error) [\(ErrorCode.postgresFailed)]", code: .postgresFailed)
    }

    func connection() throws(SinkError) -> PostgreSQLConnection {
        guard let db else { throw SinkError("sink not open", isIO: false) }
        return db
    }

    /// Whether `runID` is already published in the target schema (a rerun then changes nothing).
    package static func isPublished(runID: String, in target: PostgreSQLTarget) throws(SinkError) -> Bool {
        do {
            let db = try PostgreSQLConnection(uri: target.connectionURI)
            defer { db.close() }
            let table = PostgreSQLDDL.qualified(target.schema, "harmonize_run")
            guard try db.scalar("SELECT to_regclass($1)", [table]) != nil else { return false }
            return try db.scalar("SELECT 1 FROM \(table) WHERE run_id = $1", [runID]) != nil
        } catch {
            throw SinkError("cannot read the runs of schema \(target.schema): \(error) [\(ErrorCode.postgresFailed)]", code: .postgresFailed)
        }
    }

    /// Connects, takes the target's lock (waiting at most 10 s), creates the target schema and
    /// its bookkeeping tables when missing, drops stale staging schemas, and creates this run's
    /// staging schema with the run's tables.
    package func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {
        openedAt = ContinuousClock.now
        let db: PostgreSQLConnection
        do {
            db = try PostgreSQLConnection(uri: target.connectionURI)
        } catch {
            throw fail("cannot open the PostgreSQL output", error)
        }
        self.db = db
        // A shard writes its staging schema and the run's area only: shards of a run load at once.
        let isShard = run.shard != nil
        do {
            if !isShard {
                try db.execute("SET lock_timeout = '10s'")
                do throws(PostgreSQLError) {
                    try db.query("SELECT pg_advisory_lock(\(Self.targetLockClass), hashtext($1))", [target.schema])
                } catch {
                    guard error.state == "55P03" else { throw error }
                    abort()
                    throw SinkError(
                        "another run is writing schema \(target.schema) (its advisory lock is held); this run stops before writing [\(ErrorCode.outputLocked)]",
                        code: .outputLocked)
                }
                try db.execute("SET lock_timeout = 0")
            }
            try Self.createBookkeeping(target.schema, shardLedger: isShard, db)
            if try db.scalar("SELECT 1 FROM \(bk("harmonize_run")) WHERE run_id = $1", [run.runID]) != nil {
                abort()
                throw SinkError("run \(run.runID) is already published in schema \(target.schema); nothing was written", isIO: false)
            }
            try removeStaleStagingSchemas(db)
            try db.query("SELECT pg_advisory_lock(\(Self.stagingLockClass), hashtext($1))", [stagingSchema])
            try db.execute("CREATE SCHEMA \(PostgreSQLDDL.quote(stagingSchema)); SET search_path = \(PostgreSQLDDL.quote(stagingSchema))")
            try db.execute("COMMENT ON SCHEMA \(PostgreSQLDDL.quote(stagingSchema)) IS 'harmonize-run staging for schema \(target.schema)'")
            runSeq = Int(try db.scalar("SELECT coalesce(max(run_seq), 0) + 1 FROM \(bk("harmonize_run"))") ?? "1") ?? 1
            self.tables = tables
            self.runID = run.runID
            rowKeyColumns = tables.map(\.lineageKeyColumn)
            for t in tables { try db.execute(PostgreSQLDDL.createTable(t, schema: stagingSchema)) }
            try db.execute(PostgreSQLDDL.staged(schema: stagingSchema))
            if replay != nil { try openReplay(db) }
            copySQL = tables.map { t in
                "COPY \(PostgreSQLDDL.qualified(stagingSchema, t.name)) (\(t.columns.map { PostgreSQLDDL.quote($0.name) }.joined(separator: ", "))) FROM STDIN (FORMAT binary)"
            }
            columnKinds = tables.map { $0.columns.map { PostgreSQLCopyBinary.Kind($0.type) } }
            copySQL += Side.allCases.map { "COPY \(PostgreSQLDDL.qualified(stagingSchema, $0.table)) FROM STDIN" }
            buffers = Array(repeating: [], count: copySQL.count)
        } catch let e as SinkError {
            throw e
        } catch let e as PostgreSQLError {
            abort()
            throw fail("cannot create the staging schema of the run", e)
        } catch {
            abort()
            throw SinkError("cannot create the staging schema of the run: \(error)")
        }
    }

    /// A bookkeeping table of the target schema.
    private func bk(_ table: String) -> String { PostgreSQLDDL.qualified(target.schema, table) }

    /// Creates the target schema and its bookkeeping tables (and the shard ledger) when missing,
    /// under a transaction lock per schema: shards of a run (which do not take the target's lock)
    /// may create them at once.
    static func createBookkeeping(_ schema: String, shardLedger: Bool, _ db: PostgreSQLConnection) throws(PostgreSQLError) {
        try db.execute("BEGIN")
        do throws(PostgreSQLError) {
            try db.query("SELECT pg_advisory_xact_lock(\(PostgreSQLShards.setupLockClass), hashtext($1))", [schema])
            try db.execute("CREATE SCHEMA IF NOT EXISTS \(PostgreSQLDDL.quote(schema))")
            try db.execute(PostgreSQLDDL.bookkeeping(schema: schema))
            if shardLedger { try db.execute(PostgreSQLDDL.shardLedger(schema: schema)) }
            try db.execute("COMMIT")
        } catch {
            rollback(db)
            throw error
        }
    }

    /// Rolls back the open transaction, if any.
    static func rollback(_ db: PostgreSQLConnection) {
        do {
            try db.execute("ROLLBACK")
        } catch {
            // The connection is gone: the server rolls the transaction back itself.
        }
    }

    /// Drops every `harmonize_stage_*` schema whose run holds no lock (a killed run's).
    private func removeStaleStagingSchemas(_ db: PostgreSQLConnection) throws(PostgreSQLError) {
        let names = try db.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'harmonize\\_stage\\_%' AND nspname <> $1", [stagingSchema])
        for row in names {
            guard let name = row.first ?? nil, PostgreSQLTarget.isPlainIdentifier(name) else { continue }
            guard try db.scalar("SELECT pg_try_advisory_lock(\(Self.stagingLockClass), hashtext($1))", [name]) == "t" else { continue }
            try db.execute("DROP SCHEMA IF EXISTS \(PostgreSQLDDL.quote(name)) CASCADE")
            try db.query("SELECT pg_advisory_unlock(\(Self.stagingLockClass), hashtext($1))", [name])
        }
    }

    // MARK: - COPY text

    /// One value in COPY text format (`\N` for null).
    static func append(_ v: Value, to out: inout [UInt8]) {
        PostgreSQLCopyText.append(v, to: &out)
    }

    private func appendRow(_ values: [Value], to side: Side) {
        let i = tables.count + side.rawValue
        for (k, v) in values.enumerated() {
            if k > 0 { buffers[i].append(UInt8(ascii: "\t")) }
            Self.append(v, to: &buffers[i])
        }
        buffers[i].append(UInt8(ascii: "\n"))
    }

    private func flush(_ i: Int) throws(SinkError) {
        guard !buffers[i].isEmpty else { return }
        do {
            if i < tables.count {
                // The run's tables: binary tuples, framed by the stream's header and trailer.
                try connection().copy(copySQL[i], data: buffers[i], prefix: PostgreSQLCopyBinary.header, suffix: PostgreSQLCopyBinary.trailer)
            } else {
                try connection().copy(copySQL[i], data: buffers[i])
            }
        } catch let e as PostgreSQLError {
            let name = i < tables.count ? tables[i].name : (Side(rawValue: i - tables.count)?.table ?? "?")
            throw fail("cannot copy rows into table \(name)", e)
        } catch {
            throw SinkError("cannot copy rows: \(error)")
        }
        buffers[i].removeAll(keepingCapacity: true)
    }

    func flushAll() throws(SinkError) {
        for i in buffers.indices { try flush(i) }
    }

    // MARK: - Writing

    /// Adds the batch's rows to the table's binary COPY data (sent every `flushBytes`); rows that may
    /// update a stored row (`on_conflict: update`) are upserted one by one.
    package func write(_ batch: RowBatch) throws(SinkError) {
        guard db != nil, batch.table < tables.count else { throw SinkError("sink not open", isIO: false) }
        rowsSent[batch.table, default: 0] += batch.rowCount
        let n = batch.columnCount
        let ti = batch.table
        if case .update(let columns) = batch.conflict {
            if replay != nil {
                // The staged rows are folded per key here (the upsert), then merged into the
                // published table with the same columns at publication.
                if let known = replayUpdates[ti], known != columns {
                    throw SinkError(
                        "table \(tables[ti].name): two replayed mappings update it with different columns (on_conflict: update); nothing was published [\(ErrorCode.postgresUnsupported)]",
                        isIO: false, code: .postgresUnsupported)
                }
                replayUpdates[ti] = columns
            }
            try upsert(batch, columns: columns)
        } else {
            // The table's buffer is taken out while the batch is encoded (one exclusive access,
            // not one per value) and put back.
            var out: [UInt8] = []
            Swift.swap(&out, &buffers[ti])
            let kinds = columnKinds[ti]
            let failed: Int? = batch.values.withUnsafeBufferPointer { values in
                var offset = 0
                for _ in 0..<batch.rowCount {
                    PostgreSQLCopyBinary.appendTupleHeader(fields: n, to: &out)
                    for c in 0..<n where !PostgreSQLCopyBinary.append(values[offset + c], as: kinds[c], to: &out) { return c }
                    offset += n
                }
                return nil
            }
            Swift.swap(&out, &buffers[ti])
            if let c = failed {
                throw SinkError(
                    "a value of column \(tables[ti].columns[c].name) of table \(tables[ti].name) has no PostgreSQL \(PostgreSQLDDL.sqlType(tables[ti].columns[c].type)) form; nothing was published",
                    isIO: false)
            }
        }
        if recordsLineage { try writeLineage(batch) }
        if buffers[ti].count >= flushBytes { try flush(ti) }
        for side in Side.allCases where buffers[tables.count + side.rawValue].count >= flushBytes { try flush(tables.count + side.rawValue) }
    }

    private func writeLineage(_ batch: RowBatch) throws(SinkError) {
        let n = batch.columnCount
        let pk = rowKeyColumns[batch.table]
        let columnNames = batch.lookups.isEmpty ? [] : tables[batch.table].columns.map(\.name)
        var lookup = 0
        for r in 0..<min(batch.rowCount, batch.lineage.count) {
            let l = batch.lineage[r]
            var set = Value.null
            if lookup < batch.lookups.count {
                rowEntries.removeAll(keepingCapacity: true)
                while lookup < batch.lookups.count, batch.lookups[lookup].row <= Int32(r) {
                    let u = batch.lookups[lookup]
                    lookup += 1
                    guard u.row == Int32(r), Int(u.column) < columnNames.count else { continue }
                    rowEntries.append(entryID(table: batch.table, column: u.column, name: columnNames[Int(u.column)], use: u.use))
                }
                if !rowEntries.isEmpty { set = .int(setID(rowEntries)) }
            }
            let key = pk.map { batch.values[r * n + $0] } ?? .null
            appendRow(
                [
                    .int(batch.table), key.isNull ? .null : .string(key.description), .int(Int(l.mapping)), .int(Int(l.file)), .int(l.line),
                    .int(l.record), .int(runSeq), set, .int(Int(l.target)),
                ], to: .lineage)
        }
    }

    private func entryID(table: Int, column: Int32, name: String, use: LookupUse) -> Int {
        let key = EntryKey(table: table, column: column, use: use)
        if let id = entryIDs[key] { return id }
        let id = entryBase + entryIDs.count + 1
        entryIDs[key] = id
        appendRow(
            [
                .int(id), .int(runSeq), .string(name), .string(use.function), .string(use.source), .string(use.key),
                use.conceptID.map(Value.int) ?? .null, use.resultText.map(Value.string) ?? .null,
            ], to: .entry)
        return id
    }

    private func setID(_ entries: [Int]) -> Int {
        if let id = setIDs[entries] { return id }
        let id = setBase + setIDs.count + 1
        setIDs[entries] = id
        for (position, entry) in entries.enumerated() { appendRow([.int(id), .int(position), .int(entry)], to: .entrySet) }
        return id
    }

    /// `INSERT … ON CONFLICT (key) DO UPDATE SET c = coalesce(excluded.c, t.c)`, row by row, after
    /// building the table's primary-key index.
    private func upsert(_ batch: RowBatch, columns: [Int]) throws(SinkError) {
        let t = tables[batch.table]
        let db = try connection()
        try flush(batch.table)
        do {
            if !keyedTables.contains(batch.table) {
                try db.execute(
                    "CREATE UNIQUE INDEX \(PostgreSQLDDL.quote(PostgreSQLDDL.primaryKeyName(t))) ON \(PostgreSQLDDL.quote(t.name)) ("
                        + t.primaryKey.map(PostgreSQLDDL.quote).joined(separator: ", ") + ")")
                keyedTables.insert(batch.table)
            }
            let names = t.columns.map { PostgreSQLDDL.quote($0.name) }
            let params = t.columns.indices.map { "$\($0 + 1)::\(PostgreSQLDDL.sqlType(t.columns[$0].type))" }
            let key = t.primaryKey.map(PostgreSQLDDL.quote).joined(separator: ", ")
            var sql = "INSERT INTO \(PostgreSQLDDL.quote(t.name)) (\(names.joined(separator: ", "))) VALUES (\(params.joined(separator: ", "))) "
            if columns.isEmpty {
                sql += "ON CONFLICT (\(key)) DO NOTHING"
            } else {
                sql +=
                    "ON CONFLICT (\(key)) DO UPDATE SET "
                    + columns.map { i in
                        let c = PostgreSQLDDL.quote(t.columns[i].name)
                        return "\(c) = coalesce(excluded.\(c), \(PostgreSQLDDL.quote(t.name)).\(c))"
                    }.joined(separator: ", ")
            }
            let n = batch.columnCount
            for r in 0..<batch.rowCount {
                try db.query(sql, (0..<n).map { c in batch.values[r * n + c].isNull ? nil : batch.values[r * n + c].description })
            }
        } catch {
            throw fail("cannot update rows of table \(t.name)", error)
        }
    }

    /// Rows per table: for a table that receives updates, the rows it holds and the rows that
    /// updated one; else the rows received.
    package func writeCounts() throws(SinkError) -> [Int: TableWriteCount] {
        let db = try connection()
        try flushAll()
        var out: [Int: TableWriteCount] = [:]
        for (i, t) in tables.enumerated() {
            if let d = derivedCounts[i] {
                out[i] = d
                continue
            }
            let sent = rowsSent[i] ?? 0
            guard keyedTables.contains(i) else {
                out[i] = TableWriteCount(inserted: sent, updated: 0)
                continue
            }
            do {
                var n = Int(try db.scalar("SELECT count(*) FROM \(PostgreSQLDDL.quote(t.name))") ?? "0") ?? 0
                if replay != nil, !t.primaryKey.isEmpty,
                    try db.scalar("SELECT to_regclass($1)", [PostgreSQLDDL.qualified(target.schema, t.name)]) != nil
                {
                    // A replay: the staged keys the published table does not hold are new rows,
                    // the other staged rows update published ones (the target's lock is held).
                    let on = t.primaryKey.map { "o.\(PostgreSQLDDL.quote($0)) = s.\(PostgreSQLDDL.quote($0))" }.joined(separator: " AND ")
                    n =
                        Int(
                            try db.scalar(
                                "SELECT count(*) FROM \(PostgreSQLDDL.quote(t.name)) s WHERE NOT EXISTS (SELECT 1 FROM \(PostgreSQLDDL.qualified(target.schema, t.name)) o WHERE \(on))"
                            ) ?? "0") ?? 0
                }
                out[i] = TableWriteCount(inserted: n, updated: sent - n)
            } catch {
                throw fail("cannot count the rows of table \(t.name)", error)
            }
        }
        return out
    }

    /// The PostgreSQL output updates rows (`on_conflict: update`).
    package var supportsUpdates: Bool { true }

    /// Stores rejects (reason, location, field, rule, message: never values).
    package func writeRejects(_ rejects: [RunReject]) throws(SinkError) {
        guard db != nil else { throw SinkError("sink not open", isIO: false) }
        for r in rejects {
            let j = r.reject
            appendRow(
                [
                    .null, .int(Int(r.mapping)), .int(Int(r.file)), j.mapping.map(Value.string) ?? .null, .string(j.location.file),
                    j.location.line.map(Value.int) ?? .null, j.location.record.map(Value.int) ?? .null, j.location.path.map(Value.string) ?? .null,
                    j.field.map(Value.string) ?? .null, .string(j.reason.rawValue), j.rule.map(Value.string) ?? .null, .string(j.message), .null,
                ], to: .reject)
        }
    }

    /// Stores the unmapped source codes: codes and counts, never records.
    package func writeUnmapped(_ codes: [UnmappedCode]) throws(SinkError) {
        guard db != nil else { throw SinkError("sink not open", isIO: false) }
        for c in codes {
            appendRow(
                [.string(runID), .int(Int(c.mappingIndex)), .string(c.mapping), .string(c.vocabulary), .string(c.code), .int(c.records)],
                to: .unmapped)
        }
    }

    /// Fills a derived table (`observation_period`) with one SQL statement over the staged rows.
    package func derive(_ derivation: Derivation, personTable: Bool) throws(SinkError) -> Int {
        let db = try connection()
        try flushAll()
        if derivation.replacesExisting { return try deriveAgain(derivation, db) }
        let q = PostgreSQLDDL.quote
        let unions = derivation.sources.map { s in
            let end = s.end.map { "coalesce(\(q($0)), \(q(s.start)))" } ?? q(s.start)
            return "SELECT person_id AS p, \(q(s.start)) AS s, \(end) AS e FROM \(q(s.table))"
        }.joined(separator: " UNION ALL ")
        let personFilter = personTable ? " AND p IN (SELECT person_id FROM person)" : ""
        let sql = """
            INSERT INTO \(q(derivation.table)) (observation_period_id, person_id, observation_period_start_date, observation_period_end_date, period_type_concept_id)
            SELECT p, p, min(s), max(e), \(derivation.periodTypeConceptID) FROM (\(unions)) AS events
            WHERE p IS NOT NULL AND s IS NOT NULL\(personFilter) GROUP BY p
            """
        do {
            let before = Int(try db.scalar("SELECT count(*) FROM \(q(derivation.table))") ?? "0") ?? 0
            try db.execute(sql)
            let after = Int(try db.scalar("SELECT count(*) FROM \(q(derivation.table))") ?? "0") ?? 0
            return after - before
        } catch {
            throw fail("cannot derive table \(derivation.table)", error)
        }
    }

    // MARK: - Completion and publication

    /// Builds keys, constraints and indices on the staged tables, then publishes in one
    /// transaction (see the type's documentation) and drops the staging schema.
    package func finish(run: RunManifest) throws(SinkError) {
        let db = try connection()
        try flushAll()
        var clock = PhaseClock(since: openedAt)
        if run.shard != nil { return try commitShard(run, db) }
        if replay != nil { return try publishReplay(run, db) }
        do {
            try db.query("UPDATE harmonize_reject SET run_id = $1 WHERE run_id IS NULL", [run.runID])
            phases.load = clock.lap()
            try buildKeys(db)
            phases.keys = clock.lap()
            for t in tables {
                for c in PostgreSQLDDL.constraints(t, among: tables, schema: stagingSchema, notValid: true) { try db.execute(c) }
            }
            phases.constraints = clock.lap()
            for t in tables {
                for i in PostgreSQLDDL.indices(t, schema: stagingSchema) { try db.execute(i) }
            }
            try db.execute("CREATE INDEX harmonize_lineage_row ON harmonize_lineage (table_id, row_id)")
            phases.indices = clock.lap()
            try db.execute("ANALYZE " + (tables.map { PostgreSQLDDL.quote($0.name) } + ["harmonize_lineage"]).joined(separator: ", "))
            phases.analyze = clock.lap()
            try runBeforePublish(db)
            try publish(run, db)
            phases.publish = clock.lap()
        } catch let e as SinkError {
            abort()
            throw e
        } catch let e as PostgreSQLError {
            abort()
            throw fail("cannot publish the run into schema \(target.schema)", e)
        } catch {
            abort()
            throw SinkError("cannot publish the run: \(error)")
        }
        close(db)
    }

    /// The end of a run, shard or replay once its rows are published or committed: drops the
    /// staging schema, and those of runs killed just before this one started (their server session
    /// may have outlived them by a moment), then closes the connection (releasing the locks).
    func close(_ db: PostgreSQLConnection) {
        do {
            try db.execute("DROP SCHEMA IF EXISTS \(PostgreSQLDDL.quote(stagingSchema)) CASCADE")
            try removeStaleStagingSchemas(db)
        } catch {
            // Published or committed already; the next run drops what is left.
        }
        db.close()
        self.db = nil
    }

    /// A shard's end: its rows and its ledger row in one transaction (`PostgreSQLShards.commit`);
    /// the staging schema is dropped whatever the outcome.
    private func commitShard(_ run: RunManifest, _ db: PostgreSQLConnection) throws(SinkError) {
        do {
            try db.query("UPDATE harmonize_reject SET run_id = $1 WHERE run_id IS NULL", [run.runID])
            shardCommit = try PostgreSQLShards.commit(
                run, tables: tables, staging: stagingSchema, target: target, inputDirectory: inputDirectory, db)
        } catch let e as HarmonizeError {
            abort()
            throw SinkError("\(e.message) [\(e.code)]", isIO: e.kind == .io, code: e.code)
        } catch let e as PostgreSQLError {
            abort()
            throw fail("cannot commit the shard's rows into schema \(target.schema)", e)
        } catch {
            abort()
            throw SinkError("cannot commit the shard's rows: \(error)")
        }
        close(db)
    }

    /// Adds the primary keys; two rows with one key stop the run (`target-pk-duplicate`).
    func buildKeys(_ db: PostgreSQLConnection) throws {
        for (i, t) in tables.enumerated() where !t.primaryKey.isEmpty {
            let sql: String
            if keyedTables.contains(i) {
                let name = PostgreSQLDDL.quote(PostgreSQLDDL.primaryKeyName(t))
                sql = "ALTER TABLE \(PostgreSQLDDL.quote(t.name)) ADD CONSTRAINT \(name) PRIMARY KEY USING INDEX \(name)"
            } else {
                sql = PostgreSQLDDL.primaryKey(t, schema: nil) ?? ""
            }
            do throws(PostgreSQLError) {
                try db.execute(sql)
            } catch {
                guard error.isUniqueViolation else { throw error }
                let cols = t.primaryKey.map(PostgreSQLDDL.quote).joined(separator: ", ")
                if let row = try db.query("SELECT \(cols) FROM \(PostgreSQLDDL.quote(t.name)) GROUP BY \(cols) HAVING count(*) > 1 LIMIT 1").first {
                    duplicateKey = DuplicateKey(
                        table: t.name, columns: t.primaryKey,
                        key: zip(row, t.primaryKey).map { v, name in Self.value(v, type: t.columns[t.columnIndex(named: name) ?? 0].type) })
                }
                throw SinkError(
                    "table \(t.name): a primary-key value (\(t.primaryKey.joined(separator: ", "))) is written more than once (target-pk-duplicate); nothing was published",
                    isIO: false)
            }
        }
    }

    /// A value read back as text, typed by its column.
    static func value(_ text: String?, type: ColumnType) -> Value {
        guard let text else { return .null }
        switch type {
        case .integer, .bigint: return Int(text).map(Value.int) ?? .string(text)
        case .float: return Double(text).map(Value.double) ?? .string(text)
        default: return .string(text)
        }
    }

    /// The publication transaction.
    private func publish(_ run: RunManifest, _ db: PostgreSQLConnection) throws {
        try db.execute("BEGIN")
        do {
            try Self.swap(
                run, from: stagingSchema, moving: tables.map(\.name), into: target.schema, runSeq: runSeq, inputDirectory: inputDirectory,
                sumsUnmapped: false, db)
            try publishQualityResults(db)
            try db.execute("COMMIT")
        } catch {
            Self.rollback(db)
            throw error
        }
    }

    /// The statements of a publication, inside its transaction: the target's tables of the
    /// previous run (those it listed in `harmonize_run_table`) and those `moving` names are
    /// dropped, the tables of `source` (`moving` and the lineage tables) are moved into `schema`,
    /// the rejects and unmapped codes of `source` appended (summed per code with `sumsUnmapped`),
    /// and the run's rows stored in the bookkeeping tables.
    static func swap(
        _ run: RunManifest, from source: String, moving tables: [String], into schema: String, runSeq: Int, inputDirectory: String?,
        sumsUnmapped: Bool, _ db: PostgreSQLConnection
    ) throws {
        let q = PostgreSQLDDL.quote
        let bk = { (table: String) in PostgreSQLDDL.qualified(schema, table) }
        // The tables the previous published run wrote (gone from the new CDM unless this run writes them).
        let previous = try db.query(
            """
            SELECT t.table_name FROM \(bk("harmonize_run_table")) t
            WHERE t.run_id = (SELECT run_id FROM \(bk("harmonize_run")) WHERE kind = 'run' ORDER BY run_seq DESC LIMIT 1)
            """
        ).compactMap { $0.first ?? nil }
        let moved = tables + PostgreSQLDDL.lineageTables
        var dropped: [String] = []
        for name in Set(moved + previous).sorted() {
            if try db.scalar("SELECT to_regclass($1)", [PostgreSQLDDL.qualified(schema, name)]) != nil {
                dropped.append(PostgreSQLDDL.qualified(schema, name))
            }
        }
        if !dropped.isEmpty { try db.execute("DROP TABLE " + dropped.joined(separator: ", ")) }
        for name in moved { try db.execute("ALTER TABLE \(q(source)).\(q(name)) SET SCHEMA \(q(schema))") }
        try db.execute("INSERT INTO \(bk("harmonize_reject")) SELECT * FROM \(q(source)).harmonize_reject")
        if sumsUnmapped {
            try db.execute(
                """
                INSERT INTO \(bk("harmonize_unmapped")) SELECT run_id, mapping_id, mapping, vocabulary_id, source_code, sum(records)
                  FROM \(q(source)).harmonize_unmapped GROUP BY run_id, mapping_id, mapping, vocabulary_id, source_code
                """)
        } else {
            try db.execute("INSERT INTO \(bk("harmonize_unmapped")) SELECT * FROM \(q(source)).harmonize_unmapped")
        }
        try storeManifest(run, schema: schema, runSeq: runSeq, inputDirectory: inputDirectory, db)
    }

    private static func insertRow(_ table: String, _ values: [Value], schema: String, _ db: PostgreSQLConnection) throws(PostgreSQLError) {
        let params = values.indices.map { "$\($0 + 1)" }.joined(separator: ",")
        try db.query(
            "INSERT INTO \(PostgreSQLDDL.qualified(schema, table)) VALUES (\(params))", values.map { $0.isNull ? nil : $0.description })
    }

    /// The run's rows in the bookkeeping tables (as the SQLite output stores them).
    static func storeManifest(_ run: RunManifest, schema: String, runSeq: Int, inputDirectory: String?, _ db: PostgreSQLConnection) throws {
        let bk = { (table: String) in PostgreSQLDDL.qualified(schema, table) }
        func insert(_ table: String, _ values: [Value], _ db: PostgreSQLConnection) throws(PostgreSQLError) {
            try insertRow(table, values, schema: schema, db)
        }
        let json = try JSONText.encode(run)
        let params = try JSONText.encode(run.parameters)
        try db.query(
            """
            INSERT INTO \(bk("harmonize_run"))(run_id, engine_version, started_at, finished_at, status, model, parameters, manifest, run_seq, kind,
              replay_of, input_dir) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
            """,
            [
                run.runID, run.engineVersion, run.startedAt, run.finishedAt, run.status, run.model, params, json, String(runSeq), run.kind ?? "run",
                run.replayOf, inputDirectory,
            ])
        for (i, e) in run.mappings.enumerated() {
            for (ti, t) in (e.columnLineage ?? []).enumerated() {
                for c in t.columns {
                    let reads = c.inputs.map(\.readsText)
                    try insert(
                        "harmonize_run_rule",
                        [
                            .string(run.runID), .int(i), .string(t.table), .string(c.column), c.line.map(Value.int) ?? .null, .string(c.rule),
                            .string(reads.joined(separator: ", ")), .int(ti),
                        ], db)
                }
            }
            try insert(
                "harmonize_run_mapping", [.string(run.runID), .int(i), .string(e.id), .string(e.version), .string(e.sha256), .string(e.file)], db)
        }
        for (i, e) in run.inputs.enumerated() {
            try insert(
                "harmonize_run_input", [.string(run.runID), .int(i), .string(e.path), .string(e.sha256), .int(Int(e.bytes)), .int(e.records)], db)
        }
        for (i, e) in run.tables.enumerated() {
            try insert("harmonize_run_table", [.string(run.runID), .int(i), .string(e.table), .int(e.rows)], db)
        }
        for e in run.vocabularyUsage ?? [] {
            let index = run.mappings.firstIndex { $0.id == e.mapping } ?? -1
            try insert(
                "harmonize_vocabulary_usage",
                [
                    .string(run.runID), .int(index), .string(e.mapping), .string(e.vocabulary), .int(e.lookups), .int(e.mapped), .int(e.unmapped),
                    .int(e.distinctUnmapped), .double(e.shareMapped),
                ], db)
        }
        for e in run.vocabularies ?? [] {
            try insert(
                "harmonize_run_vocabulary",
                [.string(run.runID), .string(e.id), e.name.map(Value.string) ?? .null, e.version.map(Value.string) ?? .null],
                db)
        }
        for e in run.ledger {
            try insert(
                "harmonize_ledger",
                [
                    .string(run.runID), .string(e.mapping), .string(e.file), .int(e.read), .int(e.written), .int(e.rejected), .int(e.filtered),
                    .int(e.excluded), .int(e.grouped), .int(e.groupStage == true ? 1 : 0), .int(e.duplicate ?? 0),
                ], db)
        }
    }

    /// Drops the staging schema and closes the connection (releasing the locks); the published
    /// schema is untouched.
    package func abort() {
        if let db {
            do {
                try db.execute("ROLLBACK")
            } catch {
                // No transaction was open.
            }
            do {
                try db.execute("DROP SCHEMA IF EXISTS \(PostgreSQLDDL.quote(stagingSchema)) CASCADE")
            } catch {
                // The next run drops it (its lock goes with this connection).
            }
            db.close()
        }
        db = nil
        buffers = []
    }
}

@available(*, unavailable)
extension PostgreSQLSink: Sendable {}

// MARK: - Checks before publication

extension PostgreSQLSink {
    /// Runs `beforePublish` on the staging schema, telling it which tables of the target the
    /// publication replaces (the previous run's, this run's, the lineage tables).
    fileprivate func runBeforePublish(_ db: PostgreSQLConnection) throws {
        guard let beforePublish else { return }
        let replaced = try Self.replacedTables(in: target.schema, moving: tables.map(\.name), db)
        try beforePublish(PostgreSQLStaging(target: target, schema: stagingSchema, runID: runID, replacedTables: replaced))
    }

    /// The tables of `schema` that a publication moving `tables` drops: the previous run's, those
    /// it moves, the lineage tables.
    static func replacedTables(in schema: String, moving tables: [String], _ db: PostgreSQLConnection) throws(PostgreSQLError) -> Set<String> {
        let bk = { (table: String) in PostgreSQLDDL.qualified(schema, table) }
        let previous = try db.query(
            """
            SELECT t.table_name FROM \(bk("harmonize_run_table")) t
            WHERE t.run_id = (SELECT run_id FROM \(bk("harmonize_run")) WHERE kind = 'run' ORDER BY run_seq DESC LIMIT 1)
            """
        ).compactMap { $0.first ?? nil }
        return Set(previous + tables + PostgreSQLDDL.lineageTables)
    }

    /// Appends the staged `harmonize_quality` rows (when the checks ran) to the target's, inside
    /// the publication transaction.
    fileprivate func publishQualityResults(_ db: PostgreSQLConnection) throws {
        try Self.appendQualityResults(from: stagingSchema, into: target.schema, db)
    }

    /// Appends the `harmonize_quality` rows of `source` (a staging schema or a run's area, when
    /// the checks ran there) to those of `schema`, inside the publication transaction.
    static func appendQualityResults(from source: String, into schema: String, _ db: PostgreSQLConnection) throws(PostgreSQLError) {
        let staged = PostgreSQLDDL.qualified(source, "harmonize_quality")
        guard try db.scalar("SELECT to_regclass($1)", [staged]) != nil else { return }
        try db.execute(PostgreSQLDDL.qualityTable(schema: schema))
        try db.execute("INSERT INTO \(PostgreSQLDDL.qualified(schema, "harmonize_quality")) SELECT * FROM \(staged)")
    }
}

extension PostgreSQLSink: OrphanCapableSink {
    /// The staged rows of the tables other than `rule.table` whose `rule.column` names no row of
    /// `rule.table`; a row is named by its tuple id (`ctid`, in writing order: the staged tables
    /// only grow).
    package func orphans(_ rule: ForeignKey) throws(SinkError) -> [OrphanRow] {
        let db = try connection()
        guard let parent = tables.first(where: { $0.name == rule.table }), let pc = parent.columnIndex(named: rule.column) else { return [] }
        try flushAll()
        let q = PostgreSQLDDL.quote
        var rows: [OrphanRow] = []
        do {
            for (ti, t) in tables.enumerated() where t.name != rule.table {
                guard let ci = t.columnIndex(named: rule.column) else { continue }
                let col = q(t.columns[ci].name)
                let key = t.lineageKeyColumn.map { q(t.columns[$0].name) + "::text" } ?? "NULL"
                let found = try db.query(
                    """
                    SELECT ((ctid::text::point)[0]::bigint << 16) + (ctid::text::point)[1]::bigint, \(col)::text, \(key) FROM \(q(t.name)) c
                    WHERE \(col) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM \(q(parent.name)) p WHERE p.\(q(parent.columns[pc].name)) = c.\(col))
                    """)
                for r in found {
                    guard let id = (r[0]).flatMap({ Int($0) }) else { continue }
                    let keyColumn = t.lineageKeyColumn.map { t.columns[$0].type } ?? .varchar(nil)
                    rows.append(
                        OrphanRow(
                            table: ti, rowid: id, reference: Self.value(r[1], type: t.columns[ci].type), lineageKey: Self.value(r[2], type: keyColumn)
                        ))
                }
            }
        } catch {
            throw fail("cannot look for orphan rows", error)
        }
        return rows
    }

    /// Deletes the rows, and their lineage rows.
    package func remove(_ rows: [OrphanRow]) throws(SinkError) {
        let db = try connection()
        try flushAll()
        let q = PostgreSQLDDL.quote
        do {
            for (ti, group) in Dictionary(grouping: rows.filter { $0.table < tables.count }, by: \.table) {
                let tids = group.map { "\"(\($0.rowid >> 16),\($0.rowid & 0xFFFF))\"" }.joined(separator: ",")
                try db.query("DELETE FROM \(q(tables[ti].name)) WHERE ctid = ANY($1::tid[])", ["{" + tids + "}"])
                if recordsLineage {
                    let keys = group.map { $0.lineageKey.isNull ? nil : $0.lineageKey.description }.compactMap { $0 }
                    try db.query(
                        "DELETE FROM harmonize_lineage WHERE table_id = $1 AND row_id = ANY($2::text[])",
                        [
                            String(ti),
                            "{"
                                + keys.map {
                                    "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
                                }.joined(separator: ",") + "}",
                        ])
                }
            }
        } catch {
            throw fail("cannot hold back orphan rows", error)
        }
    }
}
