import CSQLite
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only descriptor of `path` (-1 on failure), outside `SQLiteSink` whose `open` would
/// hide the system's.
private func openReadOnly(_ path: String) -> Int32 { open(path, O_RDONLY | O_CLOEXEC) }

/// The embedded default sink: writes into a staging SQLite database next to the output and
/// publishes it by atomic rename when the run succeeds.
///
/// Bulk-load settings on the staging file (journal off, synchronous off, exclusive lock) are safe
/// because a crash only loses the staging file; the published file is `fsync`ed before the rename.
/// Indexes are created after the load, except the primary-key index of a table that receives
/// updates (`ConflictPolicy.update`): it is built before that table's first update batch, and such
/// rows are written with `INSERT … ON CONFLICT (key) DO UPDATE SET c = coalesce(excluded.c, c)`.
/// Dates are stored as ISO `yyyy-MM-dd` text.
///
/// The kernel is asked to start writing the staging file back every `writebackRows` rows
/// (`sync_file_range`, not waiting), so that the `fsync` before the rename waits for the last
/// pages only: at the end of a run of 1M claims it took 80–110 ms on a quiet disk, and longer
/// while other files were being written back, all on the run's path.
package final class SQLiteSink: Sink {
    /// The published database path.
    public let outputPath: String
    private let stagingPath: String
    private var db: SQLiteConnection?
    private var tables: [TargetTable] = []
    private var inserts: [SQLiteStatement] = []
    /// Per table, the insert of `rowsPerInsert` rows in one statement, prepared on first use: one
    /// step per row cost the statement's start and end each time (cursors opened on the table
    /// and each of its indexes, then closed; the VDBE halted and reset).
    private var multiRowInserts: [Int: SQLiteStatement] = [:]
    /// The staging connection's `SQLiteConnection.parameterLimit` (read at `open`).
    private var parameterLimit = 999
    private var lineageInsert: SQLiteStatement?
    /// The first duplicated primary key found by `finish(run:)` (then a `target-pk-duplicate`),
    /// for `DuplicateKeyLocator`; never printed.
    public private(set) var duplicateKey: DuplicateKey?
    /// Vocabulary lineage (with `recordsLineage`): entries interned per table column, lists of
    /// entries (a row's) interned as sets, named by `harmonize_lineage.lookup_set`.
    private var entryInsert: SQLiteStatement?
    private var setInsert: SQLiteStatement?
    private var entryIDs: [LookupEntryKey: Int] = [:]
    private var setIDs: [[Int]: Int] = [:]
    private var nextEntryID = 1
    private var nextSetID = 1
    private var rowEntries: [Int] = []

    private struct LookupEntryKey: Hashable {
        var table: Int
        var column: Int32
        var use: LookupUse
    }
    private var rejectInsert: SQLiteStatement?
    private var rowsInTransaction = 0
    /// Upsert statements by table and updatable columns (`on_conflict: update`).
    private var upserts: [ConflictKey: SQLiteStatement] = [:]
    /// Tables whose primary-key index exists already (built at the first update batch).
    private var keyedTables: Set<Int> = []
    /// Tables of a new output whose rows all came, so far, in batches that update nothing on a
    /// conflict (`on_conflict: update` with `update: []`: the first row of a key is kept). They
    /// are appended without the key's unique index, and `settleKeys` removes the rows that repeat
    /// a key (the first kept, as `ON CONFLICT DO NOTHING` would have) and builds the index before
    /// anything reads the table or writes it otherwise: keyed pseudonyms are random, and the
    /// upserts' inserts into that index took SQLite 1.7× the time of appends and an index built
    /// at the end (`bench/sqlite_keyed_load.py`, 1.2M rows).
    private var deferredKeys: Set<Int> = []
    /// Whether such tables defer their key's index (tests compare with the upserts).
    package var defersKeyIndexes = true
    /// Rows received per table.
    private var rowsSent: [Int: Int] = [:]
    /// Derived tables derived again by a replay: rows added and stored rows changed.
    private var derivedCounts: [Int: TableWriteCount] = [:]
    /// A replay: the rows each table held before it (its rows added are those it holds more).
    private var rowsBefore: [Int: Int] = [:]

    private struct ConflictKey: Hashable {
        var table: Int
        var columns: [Int]
    }
    private var runID = ""
    private let transactionRows: Int
    /// Whether to store one lineage row per output row (`harmonize_lineage`).
    public let recordsLineage: Bool
    /// Whether to build indexes on primary and foreign keys after the load.
    public let buildsIndexes: Bool
    /// Replay mode: the staging database starts as a copy of the existing output, the run's rows
    /// are added to it, and the copy replaces the output atomically (`harmonize-run replay`).
    public var appendsToExisting = false
    /// Rejects (row ids in `harmonize_reject`) that this run re-processed: marked `resolved_by`
    /// the run when it is published, so they no longer count as outstanding.
    public var resolvesRejects: [Int64] = []
    /// The input folder, recorded in `harmonize_run.input_dir` (not in the manifest, which must
    /// not depend on where the inputs sit) so `trace --show-source` can read records back.
    public var inputDirectory: String?
    /// The number of this run in the database (1 for a new output; next number for a replay).
    public private(set) var runSeq = 1
    /// Per table: the column whose value identifies a row in `harmonize_lineage.row_id`.
    private var rowKeyColumns: [Int?] = []
    /// The output's lock, stale-file cleanup and side-file settling (see `OutputPublication`).
    private let publication: OutputPublication
    /// The permissions of the staging file, and so of the published output (0600 by default: it
    /// holds pseudonymised rows); a replay keeps the mode of the output it copies.
    public var fileMode: Int = 0o600
    /// Called by `finish` with the path of the completed staging database (closed, all rows and
    /// the manifest committed, indexes built) before it is published: the place for anything that
    /// must be stored in the output (data-quality results), since nothing writes into a published
    /// file. When it throws, nothing is published and `finish` rethrows its error.
    public var beforePublish: ((String) throws(SinkError) -> Void)?

    /// Creates a sink that will publish to `outputPath`.
    public init(outputPath: String, recordsLineage: Bool = false, buildsIndexes: Bool = true, transactionRows: Int = 500_000) {
        self.outputPath = outputPath
        let nonce = UInt32.random(in: 0...UInt32.max)
        self.stagingPath = OutputPublication.folder(of: outputPath) + "/" + OutputPublication.stagingPrefix(of: outputPath) + String(nonce, radix: 16)
        self.publication = OutputPublication(outputPath: outputPath)
        self.recordsLineage = recordsLineage
        self.buildsIndexes = buildsIndexes
        self.transactionRows = transactionRows
    }

    deinit {
        if db != nil { abort() }
        closeWriteback()
    }

    /// The page size of a new output: 16 KiB, where SQLite's default is 4 KiB. A quarter of the
    /// pages to write and to link into the tables' B-trees for the same rows: at 1M claims, 0.91×
    /// the wall time and two thirds of the system time (hand-timed, bench/README); full scans of
    /// an analysis read fewer pages too.
    static let pageSize = 16_384

    /// Rows written between two requests to write the staging file back.
    static let writebackRows = 1 << 17
    /// A descriptor of the staging file for those requests (-1: none).
    private var writebackFD: Int32 = -1
    private var rowsSinceWriteback = 0
    /// Requests made (tests).
    private(set) var writebacksStarted = 0

    /// Asks the kernel to start writing back the staging file's dirty pages, past
    /// `writebackRows` rows since the last request. Advisory: a failure is the `fsync`'s to report.
    private func startWritebackIfDue(rows: Int) {
        rowsSinceWriteback += rows
        guard rowsSinceWriteback >= Self.writebackRows, writebackFD >= 0 else { return }
        rowsSinceWriteback = 0
        if harmonize_start_writeback(writebackFD) == 0 { writebacksStarted += 1 }
    }

    private func closeWriteback() {
        if writebackFD >= 0 { close(writebackFD) }
        writebackFD = -1
    }

    /// Takes the output's lock (failing when another run holds it), removes staging files of
    /// killed runs, creates the staging database (mode `fileMode`), the tables the run writes and
    /// the run bookkeeping tables.
    public func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {
        do {
            try publication.acquire()
            publication.removeStaleStagingFiles()
            if !appendsToExisting { try OutputPublication.createFile(stagingPath, mode: mode_t(fileMode)) }
            if appendsToExisting {
                guard FileManager.default.fileExists(atPath: outputPath) else {
                    throw SinkError("no output database to replay into: \(outputPath)")
                }
                // Copy a consistent output: roll back what a killed writer left beside it.
                publication.settleSideFiles()
                do {
                    try FileManager.default.copyItem(atPath: outputPath, toPath: stagingPath)
                } catch {
                    throw SinkError("cannot copy \(outputPath) to a staging database: \(error.localizedDescription)")
                }
            }
            let db = try SQLiteConnection(path: stagingPath)
            self.db = db
            parameterLimit = db.parameterLimit
            closeWriteback()
            writebackFD = openReadOnly(stagingPath)
            // Appends to new tables need few pages in memory: a 2 MiB cache (`largeCacheKiB` once
            // rows update others, into an output's tables whose indexes exist, and for indexes).
            // A new output has pages of `pageSize` bytes (an existing one, replayed into, keeps its own).
            try db.execute(
                "PRAGMA page_size=\(Self.pageSize); PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE; "
                    + "PRAGMA cache_size=-\(Self.smallCacheKiB);")
            if appendsToExisting { try useLargeCache(db) }
            self.tables = tables
            rowKeyColumns = tables.map(\.lineageKeyColumn)
            self.runID = run.runID
            for t in tables {
                try db.execute(SQLiteDDL.createTable(t))
                if buildsIndexes, let null = columnsLeftNull[t.name] {
                    let early = SQLiteDDL.indexesOfColumnsLeftNull(t, null)
                    if !early.isEmpty { try db.execute(early) }
                }
            }
            try db.execute(SQLiteDDL.bookkeeping)
            if appendsToExisting {
                try SQLiteDDL.migrate(db)
                runSeq = (try db.scalar("SELECT coalesce(max(run_seq), 0) + 1 FROM harmonize_run").intValue) ?? 1
                for (i, t) in tables.enumerated() {
                    rowsBefore[i] = (try db.scalar("SELECT count(*) FROM \(SQLiteDDL.quote(t.name))").intValue) ?? 0
                }
            }
            inserts = try tables.map { t throws(SQLiteError) in try db.prepare(SQLiteDDL.insert(t)) }
            if recordsLineage {
                try db.execute(SQLiteDDL.lookupLineage)
                nextEntryID = (try db.scalar("SELECT coalesce(max(entry_id), 0) + 1 FROM harmonize_lineage_entry").intValue) ?? 1
                nextSetID = (try db.scalar("SELECT coalesce(max(set_id), 0) + 1 FROM harmonize_lineage_entry_set").intValue) ?? 1
                entryInsert = try db.prepare(
                    "INSERT INTO harmonize_lineage_entry(entry_id, run_seq, column_name, function, vocabulary, code, concept_id, value) VALUES (?,?,?,?,?,?,?,?)"
                )
                setInsert = try db.prepare("INSERT INTO harmonize_lineage_entry_set(set_id, position, entry_id) VALUES (?,?,?)")
            }
            lineageInsert = try db.prepare(
                "INSERT INTO harmonize_lineage(table_id, row_id, mapping_id, file_id, line, record, run_seq, lookup_set, target) VALUES (?,?,?,?,?,?,?,?,?)"
            )
            rejectInsert = try db.prepare(
                """
                INSERT INTO harmonize_reject(run_id, mapping_id, file_id, mapping, file, line, record, path, field, reason, rule, message)
                VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
                """)
            try db.execute("BEGIN")
        } catch let e as SinkError {
            abort()
            throw e
        } catch {
            abort()
            throw SinkError("cannot create the staging database next to \(outputPath): \(error)")
        }
    }

    /// SQLite's page cache while rows are appended (KiB). Appended rows fill the last pages of
    /// their table: a small cache does (peak RSS of 5M claims 55.7 MB, against 63.8 with the
    /// larger one, in the same time: bench/README.md, "Peak memory").
    static let smallCacheKiB = 2048
    /// SQLite's page cache once rows update others (`on_conflict: update`: keyed upserts land
    /// anywhere in the key's index) and while indexes are built (KiB): with the small one, the
    /// XML stays' upserts read and wrote more pages (more system time).
    static let largeCacheKiB = 8192
    /// Whether the cache was raised to `largeCacheKiB`.
    private var largeCache = false

    /// The columns no mapping of the run writes, by table (`noteColumnsLeftNull`).
    private var columnsLeftNull: [String: Set<String>] = [:]

    /// Keeps the columns left null: `open` creates their partial indexes with their table.
    public func noteColumnsLeftNull(_ columns: [String: Set<String>]) {
        columnsLeftNull = columns
    }

    /// The names of the indexes of `table` in the staging database now (tests); empty when the
    /// sink is not open.
    func indexNames(of table: String) throws(SQLiteError) -> [String] {
        guard let db else { return [] }
        return try db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name", [.string(table)])
            .compactMap { $0.first?.text }
    }

    /// SQLite's page cache now, in KiB (tests); nil when the sink is not open.
    func pageCacheKiB() throws(SQLiteError) -> Int? {
        guard let db else { return nil }
        return try db.scalar("PRAGMA cache_size").intValue.map { -$0 }
    }

    /// Raises SQLite's page cache to `largeCacheKiB` (once).
    private func useLargeCache(_ db: SQLiteConnection) throws(SQLiteError) {
        guard !largeCache else { return }
        largeCache = true
        try db.execute("PRAGMA cache_size=-\(Self.largeCacheKiB)")
    }

    /// Inserts the batch with the table's prepared statement; commits every `transactionRows` rows.
    public func write(_ batch: RowBatch) throws(SinkError) {
        guard let db, batch.table < inserts.count else { throw SinkError("sink not open", isIO: false) }
        let st: SQLiteStatement
        if case .update(let columns) = batch.conflict {
            if columns.isEmpty, defersKeyIndexes, !appendsToExisting, !keyedTables.contains(batch.table),
                deferredKeys.contains(batch.table) || (rowsSent[batch.table] ?? 0) == 0, !tables[batch.table].primaryKey.isEmpty
            {
                // Nothing to update: appended, the key's index built when the table is settled.
                deferredKeys.insert(batch.table)
                st = inserts[batch.table]
            } else {
                do {
                    try useLargeCache(db)
                    st = try upsertStatement(table: batch.table, columns: columns, db: db)
                } catch {
                    throw SinkError("cannot prepare updates of table \(tables[batch.table].name): \(error)")
                }
            }
        } else {
            if deferredKeys.contains(batch.table) { try settleKeys(batch.table) }
            st = inserts[batch.table]
        }
        rowsSent[batch.table, default: 0] += batch.rowCount
        defer { startWritebackIfDue(rows: batch.rowCount) }
        let n = batch.columnCount
        let tableName = tables[batch.table].name
        let pkColumn = rowKeyColumns[batch.table]
        let runSeq = Value.int(self.runSeq)
        let columnNames = batch.lookups.isEmpty ? [] : tables[batch.table].columns.map(\.name)
        let perInsert = Self.rowsPerInsert(columns: n, parameterLimit: parameterLimit)
        do {
            // Plain inserts go `perInsert` rows per statement (the rest of the batch one by one).
            let multi = st === inserts[batch.table] && batch.rowCount >= perInsert ? try multiRowInsert(batch.table, rows: perInsert, db: db) : nil
            try batch.values.withUnsafeBufferPointer { (values) throws(SQLiteError) in
                var offset = 0
                var lookup = 0
                var r = 0
                while r < batch.rowCount {
                    if let multi, batch.rowCount - r >= perInsert {
                        try multi.insertRow(UnsafeBufferPointer(rebasing: values[offset..<offset + perInsert * n]))
                        for _ in 0..<perInsert {
                            try storeLineage(r)
                            offset += n
                            r += 1
                        }
                    } else {
                        try st.insertRow(UnsafeBufferPointer(rebasing: values[offset..<offset + n]))
                        try storeLineage(r)
                        offset += n
                        r += 1
                    }
                }
                /// The lineage of row `r` (at `offset` in the batch's values).
                func storeLineage(_ r: Int) throws(SQLiteError) {
                    if recordsLineage, r < batch.lineage.count, let li = lineageInsert {
                        let l = batch.lineage[r]
                        li.bind(.int(batch.table), at: 1)
                        li.bind(pkColumn.map { values[offset + $0] } ?? .null, at: 2)
                        li.bind(.int(Int(l.mapping)), at: 3)
                        li.bind(.int(Int(l.file)), at: 4)
                        li.bind(.int(l.line), at: 5)
                        li.bind(.int(l.record), at: 6)
                        li.bind(runSeq, at: 7)
                        // The row's lookups (in row order in the batch) as an interned set.
                        var set = Value.null
                        if lookup < batch.lookups.count {
                            rowEntries.removeAll(keepingCapacity: true)
                            while lookup < batch.lookups.count, batch.lookups[lookup].row <= Int32(r) {
                                let u = batch.lookups[lookup]
                                lookup += 1
                                guard u.row == Int32(r), Int(u.column) < columnNames.count else { continue }
                                rowEntries.append(
                                    try entryID(table: batch.table, column: u.column, name: columnNames[Int(u.column)], use: u.use, runSeq: runSeq))
                            }
                            if !rowEntries.isEmpty { set = .int(try setID(rowEntries)) }
                        }
                        li.bind(set, at: 8)
                        li.bind(.int(Int(l.target)), at: 9)
                        try li.step()
                        li.rewind()
                    }
                }
            }
            rowsInTransaction += batch.rowCount
            if rowsInTransaction >= transactionRows { try commitAndBegin() }
        } catch {
            throw SinkError("cannot write to table \(tableName): \(error)")
        }
    }

    /// Rows per multi-row insert of a table of `columns` columns: 64, fewer for wide tables (a
    /// statement takes at most `parameterLimit` parameters).
    static func rowsPerInsert(columns: Int, parameterLimit: Int) -> Int {
        max(1, min(64, parameterLimit / max(1, columns)))
    }

    /// The insert of `rows` rows into table `table`, prepared on first use.
    private func multiRowInsert(_ table: Int, rows: Int, db: SQLiteConnection) throws(SQLiteError) -> SQLiteStatement {
        if let st = multiRowInserts[table] { return st }
        let st = try db.prepare(SQLiteDDL.insert(tables[table], rows: rows))
        multiRowInserts[table] = st
        return st
    }

    /// The id of a column's lookup entry, stored the first time it is met.
    private func entryID(table: Int, column: Int32, name: String, use: LookupUse, runSeq: Value) throws(SQLiteError) -> Int {
        let key = LookupEntryKey(table: table, column: column, use: use)
        if let id = entryIDs[key] { return id }
        guard let st = entryInsert else { throw SQLiteError(code: 21, message: "vocabulary lineage is not prepared") }
        let id = nextEntryID
        nextEntryID += 1
        let values: [Value] = [
            .int(id), runSeq, .string(name), .string(use.function), .string(use.source), .string(use.key), use.conceptID.map(Value.int) ?? .null,
            use.resultText.map(Value.string) ?? .null,
        ]
        for (i, v) in values.enumerated() { st.bind(v, at: Int32(i + 1)) }
        try st.step()
        st.rewind()
        entryIDs[key] = id
        return id
    }

    /// The id of a row's list of entries, stored the first time it is met.
    private func setID(_ entries: [Int]) throws(SQLiteError) -> Int {
        if let id = setIDs[entries] { return id }
        guard let st = setInsert else { throw SQLiteError(code: 21, message: "vocabulary lineage is not prepared") }
        let id = nextSetID
        nextSetID += 1
        for (position, entry) in entries.enumerated() {
            st.bind(.int(id), at: 1)
            st.bind(.int(position), at: 2)
            st.bind(.int(entry), at: 3)
            try st.step()
            st.rewind()
        }
        setIDs[entries] = id
        return id
    }

    /// The upsert statement for `table` updating `columns`; builds the primary-key index first.
    private func upsertStatement(table: Int, columns: [Int], db: SQLiteConnection) throws(SQLiteError) -> SQLiteStatement {
        let key = ConflictKey(table: table, columns: columns)
        if let st = upserts[key] { return st }
        let t = tables[table]
        if deferredKeys.contains(table) {
            try settleKey(table, db: db)
        } else if !keyedTables.contains(table) {
            try db.execute(SQLiteDDL.primaryKeyIndex(t))
            keyedTables.insert(table)
        }
        let st = try db.prepare(SQLiteDDL.upsert(t, columns: columns))
        upserts[key] = st
        return st
    }

    /// Settles a table whose key's index was deferred (`deferredKeys`): the rows that repeat a
    /// key go, the first kept (the lowest rowid: rows are appended in the order they were sent),
    /// and the unique index is built.
    ///
    /// Called with the sink's transaction open; leaves it open. The index is first tried in a
    /// transaction of its own with an in-memory journal, so that a key that repeats rolls it back
    /// cleanly (with the sink's `journal_mode=OFF` a failed statement may leave the schema
    /// damaged); the index's pages are new pages, so the journal holds little.
    private func settleKey(_ table: Int, db: SQLiteConnection) throws(SQLiteError) {
        let t = tables[table]
        try useLargeCache(db)
        try db.execute("COMMIT; PRAGMA journal_mode=MEMORY; BEGIN")
        var unique = true
        do throws(SQLiteError) {
            try db.execute(SQLiteDDL.primaryKeyIndex(t))
        } catch {
            guard error.code == 2067 else { throw error }  // SQLITE_CONSTRAINT_UNIQUE: some key repeats
            unique = false
        }
        try db.execute(unique ? "COMMIT" : "ROLLBACK")
        try db.execute("PRAGMA journal_mode=OFF; BEGIN")
        if !unique {
            let name = SQLiteDDL.quote(t.name)
            let key = t.primaryKey.map(SQLiteDDL.quote)
            try db.execute(
                "DELETE FROM \(name) WHERE rowid IN (SELECT rowid FROM (SELECT rowid, row_number() OVER (PARTITION BY "
                    + key.joined(separator: ", ") + " ORDER BY rowid) AS n FROM \(name) WHERE "
                    + key.map { "\($0) IS NOT NULL" }.joined(separator: " AND ") + ") WHERE n > 1)")
            try db.execute(SQLiteDDL.primaryKeyIndex(t))
        }
        deferredKeys.remove(table)
        keyedTables.insert(table)
    }

    /// Settles every table whose key's index was deferred: before the output is read (orphans,
    /// derived tables, counts), taken over or completed.
    private func settleKeys(_ only: Int? = nil) throws(SinkError) {
        guard !deferredKeys.isEmpty, let db else { return }
        for t in deferredKeys.sorted() where only == nil || only == t {
            do {
                try settleKey(t, db: db)
            } catch {
                throw SinkError("cannot index table \(tables[t].name) on its key: \(error)")
            }
        }
    }

    /// Rows per table: inserted (the rows the table holds) and updated (rows received minus those).
    public func writeCounts() throws(SinkError) -> [Int: TableWriteCount] {
        guard let db else { throw SinkError("sink not open", isIO: false) }
        try settleKeys()
        var out: [Int: TableWriteCount] = [:]
        do {
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
                let st = try db.prepare("SELECT count(*) FROM \(SQLiteDDL.quote(t.name))")
                guard try st.step(), case .int(let held) = st.column(0) else { continue }
                let n = held - (rowsBefore[i] ?? 0)
                out[i] = TableWriteCount(inserted: n, updated: sent - n)
            }
        } catch {
            throw SinkError("cannot count the rows of the output: \(error)")
        }
        return out
    }

    /// The SQLite sink updates rows (`on_conflict: update`).
    public var supportsUpdates: Bool { true }

    private func commitAndBegin() throws(SQLiteError) {
        try db?.execute("COMMIT; BEGIN")
        rowsInTransaction = 0
    }

    /// Stores rejects (reason, location, field, rule, message: never values).
    public func writeRejects(_ rejects: [RunReject]) throws(SinkError) {
        guard let st = rejectInsert else { throw SinkError("sink not open", isIO: false) }
        do {
            for r in rejects {
                let j = r.reject
                let values: [Value] = [
                    .null, .int(Int(r.mapping)), .int(Int(r.file)), j.mapping.map(Value.string) ?? .null,
                    .string(j.location.file), j.location.line.map(Value.int) ?? .null, j.location.record.map(Value.int) ?? .null,
                    j.location.path.map(Value.string) ?? .null, j.field.map(Value.string) ?? .null, .string(j.reason.rawValue),
                    j.rule.map(Value.string) ?? .null, .string(j.message),
                ]
                for (i, v) in values.enumerated() { st.bind(v, at: Int32(i + 1)) }
                try st.step()
                st.reset()
            }
        } catch {
            throw SinkError("cannot record rejects: \(error)")
        }
    }

    /// Stores the unmapped source codes (`harmonize_unmapped`): codes and counts, never records.
    public func writeUnmapped(_ codes: [UnmappedCode]) throws(SinkError) {
        guard let db else { throw SinkError("sink not open", isIO: false) }
        do {
            let st = try db.prepare(
                "INSERT INTO harmonize_unmapped(run_id, mapping_id, mapping, vocabulary_id, source_code, records) VALUES (?,?,?,?,?,?)")
            for c in codes {
                let values: [Value] = [
                    .string(runID), .int(Int(c.mappingIndex)), .string(c.mapping), .string(c.vocabulary), .string(c.code), .int(c.records),
                ]
                for (i, v) in values.enumerated() { st.bind(v, at: Int32(i + 1)) }
                try st.step()
                st.reset()
            }
        } catch {
            throw SinkError("cannot record unmapped codes: \(error)")
        }
    }

    /// Fills a derived table with one SQL statement over the staging database. For a replay
    /// (`Derivation.replacesExisting`), derives it again over every event table the output holds,
    /// replacing the periods of the persons it covers (see `Derivation.replacingSQL`).
    public func derive(_ derivation: Derivation, personTable: Bool) throws(SinkError) -> Int {
        guard let db else { throw SinkError("sink not open", isIO: false) }
        try settleKeys()
        do {
            try commitAndBegin()
            if derivation.replacesExisting {
                let present = Set(try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text })
                var d = derivation
                d.sources = derivation.sources.filter { present.contains($0.table) }
                guard !d.sources.isEmpty, present.contains(d.table) else { return 0 }
                let sql = d.replacingSQL(personTable: present.contains("person"))
                let before = try db.scalar("SELECT count(*) FROM \(SQLiteDDL.quote(d.table))").intValue ?? 0
                try db.execute(sql.compute)
                let changed = try db.scalar(sql.changedCount).intValue ?? 0
                try db.execute(sql.replace)
                let after = try db.scalar("SELECT count(*) FROM \(SQLiteDDL.quote(d.table))").intValue ?? 0
                if let ti = tables.firstIndex(where: { $0.name == d.table }) {
                    derivedCounts[ti] = TableWriteCount(inserted: after - before, updated: changed)
                }
                return after - before
            }
            let before = try db.scalar("SELECT count(*) FROM \(derivation.table)")
            try db.execute(derivation.sql(personTable: personTable))
            let after = try db.scalar("SELECT count(*) FROM \(derivation.table)")
            if case .int(let a) = after, case .int(let b) = before { return a - b }
            return 0
        } catch {
            throw SinkError("cannot derive table \(derivation.table): \(error)")
        }
    }

    /// Stores the manifest, commits, builds indexes, runs `beforePublish`, then publishes by
    /// atomic rename (after settling any journal a killed writer left beside the output).
    public func finish(run: RunManifest) throws(SinkError) {
        try complete(run: run)
        try publish()
    }

    /// Stores the manifest, commits, builds indexes and closes the staging database.
    private func complete(run: RunManifest) throws(SinkError) {
        guard let db else { throw SinkError("sink not open", isIO: false) }
        try settleKeys()
        do {
            let own = try db.prepare("UPDATE harmonize_reject SET run_id = ? WHERE run_id IS NULL")
            own.bind(.string(run.runID), at: 1)
            try own.step()
            if !resolvesRejects.isEmpty {
                let resolve = try db.prepare("UPDATE harmonize_reject SET resolved_by = ? WHERE rowid = ? AND resolved_by IS NULL")
                for id in resolvesRejects {
                    resolve.bind(.string(run.runID), at: 1)
                    resolve.bind(.int(Int(id)), at: 2)
                    try resolve.step()
                    resolve.reset()
                }
            }
            try SQLiteDDL.storeManifest(run, runSeq: runSeq, inputDirectory: inputDirectory, in: db)
            try db.execute("COMMIT")
            try useLargeCache(db)
            // Two rows with one primary key (a mapping giving two records the same id, or two
            // persons the same pseudonymous id) never pass silently: nothing is published. The
            // unique index finds them; without indexes, a query does.
            for t in tables where !t.primaryKey.isEmpty {
                var duplicates = false
                if buildsIndexes {
                    do throws(SQLiteError) {
                        try db.execute(SQLiteDDL.indexes(t))
                    } catch {
                        guard error.code == 2067 else { throw error }  // SQLITE_CONSTRAINT_UNIQUE
                        duplicates = true
                    }
                } else {
                    let cols = t.primaryKey.map(SQLiteDDL.quote).joined(separator: ", ")
                    duplicates =
                        try db.scalar("SELECT count(*) FROM (SELECT 1 FROM \(SQLiteDDL.quote(t.name)) GROUP BY \(cols) HAVING count(*) > 1)")
                        != .int(0)
                }
                if duplicates {
                    duplicateKey = try firstDuplicate(t, db: db)
                    abort()
                    throw SinkError(
                        "table \(t.name): a primary-key value (\(t.primaryKey.joined(separator: ", "))) is written more than once (target-pk-duplicate); nothing was published",
                        isIO: false)
                }
            }
            if buildsIndexes {
                for t in tables where t.primaryKey.isEmpty { try db.execute(SQLiteDDL.indexes(t)) }
            }
            try db.execute("CREATE INDEX IF NOT EXISTS harmonize_lineage_row ON harmonize_lineage(table_id, row_id)")
            try db.execute("CREATE INDEX IF NOT EXISTS harmonize_unmapped_run ON harmonize_unmapped(run_id, vocabulary_id)")
            try db.execute("PRAGMA locking_mode=NORMAL; PRAGMA journal_mode=DELETE;")
        } catch let e as SinkError {
            throw e
        } catch {
            abort()
            throw SinkError("cannot complete the output database: \(error)")
        }
        inserts = []
        multiRowInserts = [:]
        upserts = [:]
        lineageInsert = nil
        entryInsert = nil
        setInsert = nil
        rejectInsert = nil
        self.db = nil
    }

    /// Runs `beforePublish` on the closed staging database, then publishes it (see
    /// `OutputPublication`) and releases the output's lock.
    private func publish() throws(SinkError) {
        defer { publication.release() }
        closeWriteback()
        do throws(SinkError) {
            try beforePublish?(stagingPath)
        } catch {
            abort()
            throw error
        }
        do {
            try publication.publish(stagingPath)
        } catch {
            abort()
            throw SinkError("cannot publish \(outputPath): \(error)")
        }
    }

    /// Closes and removes the staging database.
    public func abort() {
        inserts = []
        multiRowInserts = [:]
        upserts = [:]
        lineageInsert = nil
        entryInsert = nil
        setInsert = nil
        rejectInsert = nil
        db = nil
        closeWriteback()
        FileOps.remove(stagingPath)
        FileOps.remove(stagingPath + "-journal")
        publication.release()
    }
}

@available(*, unavailable)
extension SQLiteSink: Sendable {}

extension SQLiteSink {
    /// One primary-key value of `t` that has more than one row.
    fileprivate func firstDuplicate(_ t: TargetTable, db: SQLiteConnection) throws(SQLiteError) -> DuplicateKey? {
        let cols = t.primaryKey.map(SQLiteDDL.quote).joined(separator: ", ")
        let st = try db.prepare("SELECT \(cols) FROM \(SQLiteDDL.quote(t.name)) GROUP BY \(cols) HAVING count(*) > 1 LIMIT 1")
        guard try st.step() else { return nil }
        return DuplicateKey(table: t.name, columns: t.primaryKey, key: t.primaryKey.indices.map { st.column($0) })
    }
}

extension SQLiteSink: OrphanCapableSink {
    /// The rows of the tables other than `rule.table` that have the column `rule.column` and
    /// whose value names no row of `rule.table` (nulls are not orphans).
    public func orphans(_ rule: ForeignKey) throws(SinkError) -> [OrphanRow] {
        guard let db else { throw SinkError("sink not open", isIO: false) }
        try settleKeys()
        guard let parent = tables.first(where: { $0.name == rule.table }), parent.columnIndex(named: rule.column) != nil else { return [] }
        var rows: [OrphanRow] = []
        do {
            for (ti, t) in tables.enumerated() where t.name != rule.table {
                guard let ci = t.columnIndex(named: rule.column) else { continue }
                let col = SQLiteDDL.quote(t.columns[ci].name)
                let key = t.lineageKeyColumn.map { SQLiteDDL.quote(t.columns[$0].name) } ?? "NULL"
                let st = try db.prepare(
                    "SELECT rowid, \(col), \(key) FROM \(SQLiteDDL.quote(t.name)) WHERE \(col) IS NOT NULL AND \(col) NOT IN "
                        + "(SELECT \(SQLiteDDL.quote(rule.column)) FROM \(SQLiteDDL.quote(rule.table)) WHERE \(SQLiteDDL.quote(rule.column)) IS NOT NULL)"
                )
                while try st.step() {
                    guard case .int(let rowid) = st.column(0) else { continue }
                    rows.append(OrphanRow(table: ti, rowid: rowid, reference: st.column(1), lineageKey: st.column(2)))
                }
            }
        } catch {
            throw SinkError("cannot look for orphan rows: \(error)")
        }
        return rows
    }

    /// Deletes the rows, and their lineage rows of this run.
    public func remove(_ rows: [OrphanRow]) throws(SinkError) {
        guard let db else { throw SinkError("sink not open", isIO: false) }
        try settleKeys()
        do {
            var statements: [Int: SQLiteStatement] = [:]
            let lineage = recordsLineage ? try db.prepare("DELETE FROM harmonize_lineage WHERE table_id = ? AND row_id = ? AND run_seq = ?") : nil
            for r in rows where r.table < tables.count {
                let st: SQLiteStatement
                if let known = statements[r.table] {
                    st = known
                } else {
                    st = try db.prepare("DELETE FROM \(SQLiteDDL.quote(tables[r.table].name)) WHERE rowid = ?")
                    statements[r.table] = st
                }
                st.bind(.int(r.rowid), at: 1)
                _ = try st.step()
                st.rewind()
                if let lineage {
                    lineage.bind(.int(r.table), at: 1)
                    lineage.bind(r.lineageKey, at: 2)
                    lineage.bind(.int(runSeq), at: 3)
                    _ = try lineage.step()
                    lineage.rewind()
                }
            }
        } catch {
            throw SinkError("cannot hold back orphan rows: \(error)")
        }
    }
}

extension SQLiteSink: ReusingSink {
    /// Attaches the output (its side files settled: the output's lock is held), checks that the
    /// run that wrote it is still the one `reuse` was planned from, and copies in one transaction
    /// the reused mappings' rows, lineage (entries and entry sets renumbered after this run's),
    /// rejects and unmapped codes, with this run's mapping, file and table ids.
    public func reuse(_ reuse: OutputReuse) throws(SinkError) -> [Int: Int] {
        guard let db else { throw SinkError("sink not open", isIO: false) }
        try settleKeys()
        var copied: [Int: Int] = [:]
        let q = SQLiteDDL.quote
        do {
            try db.execute("COMMIT")
            publication.settleSideFiles()
            _ = try db.query("ATTACH DATABASE ? AS base", [.string(reuse.basePath)])
            do {
                let found = try db.query("SELECT run_id FROM base.harmonize_run").compactMap { $0.first?.text }
                guard found == [reuse.baseRunID] else {
                    throw SinkError(
                        "\(outputPath) was replaced since this incremental run compared it (another run published meanwhile); nothing was published",
                        code: .incrementalOutputChanged)
                }
                try db.execute("BEGIN")
                try db.execute(
                    """
                    CREATE TEMP TABLE hz_reuse_mapping(base INTEGER PRIMARY KEY, now INTEGER NOT NULL);
                    CREATE TEMP TABLE hz_reuse_file(base INTEGER PRIMARY KEY, now INTEGER NOT NULL);
                    """)
                for (table, pairs) in [("hz_reuse_mapping", reuse.mappings), ("hz_reuse_file", reuse.files)] {
                    let st = try db.prepare("INSERT INTO temp.\(table)(base, now) VALUES (?, ?)")
                    for p in pairs {
                        st.bind(.int(p.base), at: 1)
                        st.bind(.int(p.now), at: 2)
                        _ = try st.step()
                        st.reset()
                    }
                }
                let reusedSets = "SELECT l.lookup_set FROM base.harmonize_lineage l JOIN temp.hz_reuse_mapping m ON m.base = l.mapping_id"
                let entryOffset = nextEntryID - 1
                let setOffset = nextSetID - 1
                for t in reuse.tables where t.now < tables.count {
                    let table = tables[t.now]
                    let columns = table.columns.map { q($0.name) }.joined(separator: ", ")
                    var sql = "INSERT INTO main.\(q(table.name)) (\(columns)) SELECT \(columns) FROM base.\(q(table.name))"
                    if !t.whole {
                        guard let k = rowKeyColumns[t.now] else {
                            throw SinkError("table \(table.name) has no key column to take its rows over by lineage", isIO: false)
                        }
                        sql +=
                            " WHERE \(q(table.columns[k].name)) IN (SELECT l.row_id FROM base.harmonize_lineage l"
                            + " JOIN temp.hz_reuse_mapping m ON m.base = l.mapping_id WHERE l.table_id = \(t.base))"
                    }
                    _ = try db.query(sql)
                    let n = try db.scalar("SELECT changes()").intValue ?? 0
                    copied[t.now] = n
                    rowsSent[t.now, default: 0] += n
                    if recordsLineage {
                        _ = try db.query(
                            """
                            INSERT INTO main.harmonize_lineage(table_id, row_id, mapping_id, file_id, line, record, run_seq, lookup_set, target)
                            SELECT \(t.now), l.row_id, m.now, f.now, l.line, l.record, \(runSeq), l.lookup_set + \(setOffset), l.target
                            FROM base.harmonize_lineage l JOIN temp.hz_reuse_mapping m ON m.base = l.mapping_id
                            LEFT JOIN temp.hz_reuse_file f ON f.base = l.file_id
                            WHERE l.table_id = \(t.base)
                            """)
                    }
                }
                if recordsLineage {
                    let present = try db.scalar("SELECT count(*) FROM base.sqlite_master WHERE name = 'harmonize_lineage_entry_set'").intValue ?? 0
                    if present > 0 {
                        _ = try db.query(
                            """
                            INSERT INTO main.harmonize_lineage_entry(entry_id, run_seq, column_name, function, vocabulary, code, concept_id, value)
                            SELECT entry_id + \(entryOffset), \(runSeq), column_name, function, vocabulary, code, concept_id, value
                            FROM base.harmonize_lineage_entry WHERE entry_id IN
                              (SELECT entry_id FROM base.harmonize_lineage_entry_set WHERE set_id IN (\(reusedSets)))
                            """)
                        _ = try db.query(
                            """
                            INSERT INTO main.harmonize_lineage_entry_set(set_id, position, entry_id)
                            SELECT set_id + \(setOffset), position, entry_id + \(entryOffset)
                            FROM base.harmonize_lineage_entry_set WHERE set_id IN (\(reusedSets))
                            """)
                        nextEntryID =
                            (try db.scalar("SELECT coalesce(max(entry_id), 0) + 1 FROM main.harmonize_lineage_entry").intValue) ?? nextEntryID
                        nextSetID = (try db.scalar("SELECT coalesce(max(set_id), 0) + 1 FROM main.harmonize_lineage_entry_set").intValue) ?? nextSetID
                    }
                }
                _ = try db.query(
                    """
                    INSERT INTO main.harmonize_reject(run_id, mapping_id, file_id, mapping, file, line, record, path, field, reason, rule, message)
                    SELECT NULL, m.now, f.now, r.mapping, r.file, r.line, r.record, r.path, r.field, r.reason, r.rule, r.message
                    FROM base.harmonize_reject r JOIN temp.hz_reuse_mapping m ON m.base = r.mapping_id
                    LEFT JOIN temp.hz_reuse_file f ON f.base = r.file_id
                    ORDER BY r.rowid
                    """)
                _ = try db.query(
                    """
                    INSERT INTO main.harmonize_unmapped(run_id, mapping_id, mapping, vocabulary_id, source_code, records)
                    SELECT ?, m.now, u.mapping, u.vocabulary_id, u.source_code, u.records
                    FROM base.harmonize_unmapped u JOIN temp.hz_reuse_mapping m ON m.base = u.mapping_id
                    """, [.string(runID)])
                try db.execute("DROP TABLE temp.hz_reuse_mapping; DROP TABLE temp.hz_reuse_file; COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                try? db.execute("DETACH DATABASE base")
                throw error
            }
            try db.execute("DETACH DATABASE base")
            try db.execute("BEGIN")
        } catch let e as SinkError {
            throw e
        } catch {
            throw SinkError("cannot take over the rows of \(outputPath): \(error)")
        }
        return copied
    }
}
