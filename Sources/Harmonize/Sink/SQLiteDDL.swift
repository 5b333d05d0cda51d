/// SQL text for a target model on SQLite: `CREATE TABLE` with declared types, inserts, indexes
/// built after the load, and the run bookkeeping tables.
enum SQLiteDDL {
    static func quote(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    static func sqlType(_ t: ColumnType) -> String {
        switch t {
        case .integer, .bigint: return "INTEGER"
        case .float: return "REAL"
        case .date: return "DATE"
        case .datetime: return "DATETIME"
        case .varchar(let n): return n.map { "VARCHAR(\($0))" } ?? "TEXT"
        }
    }

    /// `CREATE TABLE` with NOT NULL on required columns. Primary keys are enforced by the engine and
    /// by a unique index built after the load (SQLite cannot add constraints later).
    static func createTable(_ t: TargetTable) -> String {
        let cols = t.columns.map { c in
            "  \(quote(c.name)) \(sqlType(c.type))" + (c.isRequired ? " NOT NULL" : "")
        }
        return "CREATE TABLE IF NOT EXISTS \(quote(t.name)) (\n" + cols.joined(separator: ",\n") + "\n);"
    }

    static func insert(_ t: TargetTable, rows: Int = 1) -> String {
        let names = t.columns.map { quote($0.name) }.joined(separator: ", ")
        let params = "(" + Array(repeating: "?", count: t.columns.count).joined(separator: ",") + ")"
        return "INSERT INTO \(quote(t.name)) (\(names)) VALUES " + Array(repeating: params, count: max(1, rows)).joined(separator: ",")
    }

    /// `INSERT … ON CONFLICT (key) DO UPDATE`: each of `columns` (indices) takes the new value
    /// unless it is null; `DO NOTHING` when no column may change.
    static func upsert(_ t: TargetTable, columns: [Int]) -> String {
        let key = t.primaryKey.map(quote).joined(separator: ", ")
        guard !columns.isEmpty else { return insert(t) + " ON CONFLICT (\(key)) DO NOTHING" }
        let sets = columns.map { i in
            let c = quote(t.columns[i].name)
            return "\(c) = coalesce(excluded.\(c), \(quote(t.name)).\(c))"
        }
        return insert(t) + " ON CONFLICT (\(key)) DO UPDATE SET " + sets.joined(separator: ", ")
    }

    /// The unique primary-key index (also built by `indexes`, which skips it when it exists).
    static func primaryKeyIndex(_ t: TargetTable) -> String {
        "CREATE UNIQUE INDEX IF NOT EXISTS \(quote("pk_" + t.name)) ON \(quote(t.name)) (\(t.primaryKey.map(quote).joined(separator: ", ")));"
    }

    /// A unique index on the primary key and plain indexes on `person_id`-like foreign keys. The
    /// index of a nullable foreign key holds its non-null rows only (`WHERE … IS NOT NULL`): an
    /// equality or a join on the column still uses it, and a column that is mostly or entirely
    /// null (`visit_detail_id`, `provider_id` of many sources) costs no sort of empty keys when
    /// the index is built after the load.
    static func indexes(_ t: TargetTable) -> String {
        var out = ""
        let pk = t.primaryKey
        if !pk.isEmpty {
            out += "CREATE UNIQUE INDEX IF NOT EXISTS \(quote("pk_" + t.name)) ON \(quote(t.name)) (\(pk.map(quote).joined(separator: ", ")));\n"
        }
        for c in t.columns where isIndexedForeignKey(c) { out += foreignKeyIndex(t, c) }
        return out
    }

    /// Whether `indexes` gives column `c` an index of its own: a foreign key to another table's
    /// row (`person_id`, `visit_occurrence_id`), not to a concept.
    static func isIndexedForeignKey(_ c: TargetColumn) -> Bool {
        c.foreignKey != nil && !c.isPrimaryKey && c.foreignKey?.column.hasSuffix("_concept_id") == false && c.foreignKey?.table != "concept"
    }

    /// The index of foreign key `c`, partial (its non-null rows) when the column is nullable.
    static func foreignKeyIndex(_ t: TargetTable, _ c: TargetColumn) -> String {
        "CREATE INDEX IF NOT EXISTS \(quote("idx_" + t.name + "_" + c.name)) ON \(quote(t.name)) (\(quote(c.name)))"
            + (c.isRequired ? "" : " WHERE \(quote(c.name)) IS NOT NULL") + ";\n"
    }

    /// The partial indexes of `indexes` whose column is among `columns` (those no mapping of the
    /// run writes): created with the table they stay empty, each row checked at insertion, where
    /// built after the load each reads the whole table (three such columns were 5 % of an ORU run).
    static func indexesOfColumnsLeftNull(_ t: TargetTable, _ columns: Set<String>) -> String {
        var out = ""
        for c in t.columns where isIndexedForeignKey(c) && !c.isRequired && columns.contains(c.name) { out += foreignKeyIndex(t, c) }
        return out
    }

    /// The run bookkeeping tables. `harmonize_run.run_seq` numbers the runs of one database
    /// (1 for the run that created it, then each replay); lineage rows name their run by it.
    static let bookkeeping = """
        CREATE TABLE IF NOT EXISTS harmonize_run (
          run_id TEXT PRIMARY KEY, engine_version TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
          status TEXT NOT NULL, model TEXT, parameters TEXT, manifest TEXT NOT NULL,
          run_seq INTEGER, kind TEXT, replay_of TEXT, input_dir TEXT);
        CREATE TABLE IF NOT EXISTS harmonize_run_mapping (
          run_id TEXT NOT NULL, mapping_id INTEGER NOT NULL, mapping TEXT NOT NULL, version TEXT, sha256 TEXT NOT NULL, file TEXT);
        CREATE TABLE IF NOT EXISTS harmonize_run_input (
          run_id TEXT NOT NULL, file_id INTEGER NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER, records INTEGER);
        CREATE TABLE IF NOT EXISTS harmonize_run_table (
          run_id TEXT NOT NULL, table_id INTEGER NOT NULL, table_name TEXT NOT NULL, rows INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS harmonize_run_rule (
          run_id TEXT NOT NULL, mapping_id INTEGER NOT NULL, table_name TEXT NOT NULL, column_name TEXT NOT NULL, line INTEGER,
          rule TEXT NOT NULL, reads TEXT, target INTEGER);
        CREATE TABLE IF NOT EXISTS harmonize_ledger (
          run_id TEXT NOT NULL, mapping TEXT NOT NULL, file TEXT NOT NULL, read INTEGER NOT NULL, written INTEGER NOT NULL,
          rejected INTEGER NOT NULL, filtered INTEGER NOT NULL, excluded INTEGER NOT NULL, grouped INTEGER NOT NULL DEFAULT 0,
          group_stage INTEGER NOT NULL DEFAULT 0, other_shard INTEGER NOT NULL DEFAULT 0, duplicate INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS harmonize_reject (
          run_id TEXT, mapping_id INTEGER, file_id INTEGER, mapping TEXT, file TEXT, line INTEGER, record INTEGER, path TEXT,
          field TEXT, reason TEXT NOT NULL, rule TEXT, message TEXT NOT NULL, resolved_by TEXT);
        CREATE TABLE IF NOT EXISTS harmonize_lineage (
          table_id INTEGER NOT NULL, row_id, mapping_id INTEGER NOT NULL, file_id INTEGER NOT NULL, line INTEGER, record INTEGER,
          run_seq INTEGER NOT NULL DEFAULT 1, lookup_set INTEGER, target INTEGER);
        CREATE TABLE IF NOT EXISTS harmonize_unmapped (
          run_id TEXT NOT NULL, mapping_id INTEGER NOT NULL, mapping TEXT NOT NULL, vocabulary_id TEXT NOT NULL, source_code TEXT NOT NULL,
          records INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS harmonize_vocabulary_usage (
          run_id TEXT NOT NULL, mapping_id INTEGER NOT NULL, mapping TEXT NOT NULL, vocabulary_id TEXT NOT NULL, lookups INTEGER NOT NULL,
          mapped INTEGER NOT NULL, unmapped INTEGER NOT NULL, distinct_unmapped INTEGER NOT NULL, share_mapped REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS harmonize_run_vocabulary (
          run_id TEXT NOT NULL, vocabulary_id TEXT NOT NULL, vocabulary_name TEXT, vocabulary_version TEXT);
        """

    /// Vocabulary lineage (`run --lineage`): `harmonize_lineage_entry` holds each distinct lookup
    /// of a table column (function, vocabulary or lookup table, code or key, concept id, result);
    /// `harmonize_lineage_entry_set` each distinct list of entries a row used, which
    /// `harmonize_lineage.lookup_set` names (null: none). The view `harmonize_lineage_vocabulary`
    /// joins them with run ids and table names, one row per output row and entry.
    static let lookupLineage = """
        CREATE TABLE IF NOT EXISTS harmonize_lineage_entry (
          entry_id INTEGER PRIMARY KEY, run_seq INTEGER NOT NULL, column_name TEXT NOT NULL, function TEXT NOT NULL,
          vocabulary TEXT NOT NULL, code TEXT NOT NULL, concept_id INTEGER, value TEXT);
        CREATE TABLE IF NOT EXISTS harmonize_lineage_entry_set (
          set_id INTEGER NOT NULL, position INTEGER NOT NULL, entry_id INTEGER NOT NULL, PRIMARY KEY (set_id, position)) WITHOUT ROWID;
        CREATE VIEW IF NOT EXISTS harmonize_lineage_vocabulary AS
          SELECT r.run_id AS run_id, t.table_name AS table_name, l.row_id AS row_id, e.column_name AS column_name,
            e.vocabulary AS vocabulary, e.code AS code, e.concept_id AS concept_id, e.function AS function, e.value AS value
          FROM harmonize_lineage l
          JOIN harmonize_lineage_entry_set s ON s.set_id = l.lookup_set
          JOIN harmonize_lineage_entry e ON e.entry_id = s.entry_id
          JOIN harmonize_run r ON r.run_seq = l.run_seq
          JOIN harmonize_run_table t ON t.run_id = r.run_id AND t.table_id = l.table_id;
        """

    /// Adds the columns of this version to bookkeeping tables written by an older one (a replay
    /// appends to an existing output).
    static func migrate(_ db: SQLiteConnection) throws(SQLiteError) {
        func columns(_ table: String) throws(SQLiteError) -> Set<String> {
            Set(try db.query("PRAGMA table_info(\(quote(table)))").compactMap { $0.count > 1 ? $0[1].text : nil })
        }
        let wanted: [(String, String, String)] = [
            ("harmonize_run", "run_seq", "INTEGER"), ("harmonize_run", "kind", "TEXT"), ("harmonize_run", "replay_of", "TEXT"),
            ("harmonize_run", "input_dir", "TEXT"), ("harmonize_reject", "resolved_by", "TEXT"),
            ("harmonize_lineage", "run_seq", "INTEGER NOT NULL DEFAULT 1"),
            ("harmonize_lineage", "lookup_set", "INTEGER"), ("harmonize_lineage", "target", "INTEGER"),
            ("harmonize_run_rule", "target", "INTEGER"), ("harmonize_ledger", "other_shard", "INTEGER NOT NULL DEFAULT 0"),
            ("harmonize_ledger", "duplicate", "INTEGER NOT NULL DEFAULT 0"),
        ]
        for (table, column, decl) in wanted where try !columns(table).contains(column) {
            try db.execute("ALTER TABLE \(quote(table)) ADD COLUMN \(quote(column)) \(decl)")
        }
        try db.execute("UPDATE harmonize_run SET run_seq = rowid WHERE run_seq IS NULL")
    }

    static func storeManifest(_ run: RunManifest, runSeq: Int = 1, inputDirectory: String? = nil, in db: SQLiteConnection) throws(SQLiteError) {
        // A manifest that cannot be encoded stops the run: an output without its books is not published.
        let json: String
        let params: String
        do {
            json = try JSONText.encode(run)
            params = try JSONText.encode(run.parameters)
        } catch {
            throw SQLiteError(code: 1, message: "the run manifest cannot be encoded as JSON: \(error)", sql: nil)
        }
        let st = try db.prepare(
            """
            INSERT INTO harmonize_run(run_id, engine_version, started_at, finished_at, status, model, parameters, manifest, run_seq, kind,
              replay_of, input_dir) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
            """)
        let values: [Value] =
            [run.runID, run.engineVersion, run.startedAt, run.finishedAt, run.status, run.model, params, json].map(Value.string)
            + [.int(runSeq), .string(run.kind ?? "run"), run.replayOf.map(Value.string) ?? .null, inputDirectory.map(Value.string) ?? .null]
        for (i, v) in values.enumerated() { st.bind(v, at: Int32(i + 1)) }
        try st.step()
        // The rule of each mapped column, for `harmonize-run trace`.
        let r = try db.prepare(
            "INSERT INTO harmonize_run_rule(run_id, mapping_id, table_name, column_name, line, rule, reads, target) VALUES (?,?,?,?,?,?,?,?)")
        for (i, e) in run.mappings.enumerated() {
            // One entry per target of the mapping, in its order (the lineage rows' `target`).
            for (ti, t) in (e.columnLineage ?? []).enumerated() {
                for c in t.columns {
                    let reads = c.inputs.map(\.readsText)
                    let vals: [Value] = [
                        .string(run.runID), .int(i), .string(t.table), .string(c.column), c.line.map(Value.int) ?? .null, .string(c.rule),
                        .string(reads.joined(separator: ", ")), .int(ti),
                    ]
                    for (k, v) in vals.enumerated() { r.bind(v, at: Int32(k + 1)) }
                    try r.step()
                    r.reset()
                }
            }
        }
        let m = try db.prepare("INSERT INTO harmonize_run_mapping VALUES (?,?,?,?,?,?)")
        for (i, e) in run.mappings.enumerated() {
            for (k, v) in [Value.string(run.runID), .int(i), .string(e.id), .string(e.version), .string(e.sha256), .string(e.file)].enumerated() {
                m.bind(v, at: Int32(k + 1))
            }
            try m.step()
            m.reset()
        }
        let f = try db.prepare("INSERT INTO harmonize_run_input VALUES (?,?,?,?,?,?)")
        for (i, e) in run.inputs.enumerated() {
            for (k, v) in [Value.string(run.runID), .int(i), .string(e.path), .string(e.sha256), .int(Int(e.bytes)), .int(e.records)].enumerated() {
                f.bind(v, at: Int32(k + 1))
            }
            try f.step()
            f.reset()
        }
        let t = try db.prepare("INSERT INTO harmonize_run_table VALUES (?,?,?,?)")
        for (i, e) in run.tables.enumerated() {
            for (k, v) in [Value.string(run.runID), .int(i), .string(e.table), .int(e.rows)].enumerated() { t.bind(v, at: Int32(k + 1)) }
            try t.step()
            t.reset()
        }
        let u = try db.prepare("INSERT INTO harmonize_vocabulary_usage VALUES (?,?,?,?,?,?,?,?,?)")
        for e in run.vocabularyUsage ?? [] {
            let index = run.mappings.firstIndex { $0.id == e.mapping } ?? -1
            let vals: [Value] = [
                .string(run.runID), .int(index), .string(e.mapping), .string(e.vocabulary), .int(e.lookups), .int(e.mapped), .int(e.unmapped),
                .int(e.distinctUnmapped), .double(e.shareMapped),
            ]
            for (k, v) in vals.enumerated() { u.bind(v, at: Int32(k + 1)) }
            try u.step()
            u.reset()
        }
        let vv = try db.prepare("INSERT INTO harmonize_run_vocabulary VALUES (?,?,?,?)")
        for e in run.vocabularies ?? [] {
            let vals: [Value] = [.string(run.runID), .string(e.id), e.name.map(Value.string) ?? .null, e.version.map(Value.string) ?? .null]
            for (k, v) in vals.enumerated() { vv.bind(v, at: Int32(k + 1)) }
            try vv.step()
            vv.reset()
        }
        let l = try db.prepare(
            """
            INSERT INTO harmonize_ledger(run_id, mapping, file, read, written, rejected, filtered, excluded, grouped, group_stage, other_shard,
              duplicate) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
            """)
        for e in run.ledger {
            let vals: [Value] = [
                .string(run.runID), .string(e.mapping), .string(e.file), .int(e.read), .int(e.written), .int(e.rejected), .int(e.filtered),
                .int(e.excluded),
                .int(e.grouped), .int(e.groupStage == true ? 1 : 0), .int(e.otherShard ?? 0), .int(e.duplicate ?? 0),
            ]
            for (k, v) in vals.enumerated() { l.bind(v, at: Int32(k + 1)) }
            try l.step()
            l.reset()
        }
    }
}
