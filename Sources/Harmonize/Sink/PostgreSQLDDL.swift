/// SQL text for a target model on PostgreSQL, in OHDSI's order for CDM v5.4: the tables, then
/// the primary keys (`xpk_<table>`), the foreign-key constraints (`fpk_<table>_<column>`) and
/// the indices (`idx_<table>_<column>`), as separate steps so a loader can create the tables,
/// COPY, then add keys and indices.
///
/// Integer columns are `bigint`: Harmonize's pseudonymous ids use 63 bits (OHDSI's script says
/// `integer`; CDM v5.4 allows `bigint` ids).
package enum PostgreSQLDDL {
    /// `"name"`, quoted when it is not a plain lower-case identifier or is a reserved word
    /// (OMOP's `note_nlp.offset`).
    package static func quote(_ name: String) -> String {
        PostgreSQLTarget.isPlainIdentifier(name) && !reserved.contains(name)
            ? name : "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// PostgreSQL's reserved key words (also those reserved but allowed as function or type names).
    static let reserved: Set<String> = [
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary", "both", "case", "cast",
        "check", "collate", "collation", "column", "concurrently", "constraint", "create", "cross", "current_catalog", "current_date",
        "current_role", "current_schema", "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct",
        "do", "else", "end", "except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike", "in",
        "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime",
        "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or", "order", "outer", "overlaps", "placing",
        "primary", "references", "returning", "right", "select", "session_user", "similar", "some", "symmetric", "table", "tablesample",
        "then", "to", "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose", "when", "where", "window", "with",
    ]

    /// `schema.table`.
    package static func qualified(_ schema: String?, _ table: String) -> String {
        (schema.map { quote($0) + "." } ?? "") + quote(table)
    }

    static func sqlType(_ t: ColumnType) -> String {
        switch t {
        case .integer, .bigint: return "bigint"
        case .float: return "numeric"
        case .date: return "date"
        case .datetime: return "timestamp"
        case .varchar(let n): return n.map { "varchar(\($0))" } ?? "text"
        }
    }

    /// `CREATE TABLE` with NOT NULL on required columns (no keys: they come after the load).
    package static func createTable(_ t: TargetTable, schema: String?) -> String {
        let cols = t.columns.map { c in "  \(quote(c.name)) \(sqlType(c.type))" + (c.isRequired ? " NOT NULL" : "") }
        return "CREATE TABLE \(qualified(schema, t.name)) (\n" + cols.joined(separator: ",\n") + "\n);"
    }

    /// The primary-key constraint's (and its index's) name.
    static func primaryKeyName(_ t: TargetTable) -> String { "xpk_" + t.name }

    /// `ALTER TABLE … ADD CONSTRAINT xpk_… PRIMARY KEY`, or nil for a table without a key.
    package static func primaryKey(_ t: TargetTable, schema: String?) -> String? {
        guard !t.primaryKey.isEmpty else { return nil }
        return "ALTER TABLE \(qualified(schema, t.name)) ADD CONSTRAINT \(quote(primaryKeyName(t))) PRIMARY KEY ("
            + t.primaryKey.map(quote).joined(separator: ", ") + ");"
    }

    /// The foreign-key constraints of `t` whose referenced table is in `tables` (all of them
    /// when nil) and whose referenced column is that table's one-column primary key. With
    /// `notValid`, the constraints are declared `NOT VALID` (checked for rows written later, not
    /// for the rows already loaded).
    package static func constraints(_ t: TargetTable, among tables: [TargetTable], schema: String?, notValid: Bool = false) -> [String] {
        t.columns.compactMap { c in
            guard let fk = c.foreignKey else { return nil }
            let referenced = tables.first { $0.name.lowercased() == fk.table.lowercased() }
            if let referenced, referenced.primaryKey.map({ $0.lowercased() }) != [fk.column.lowercased()] { return nil }
            if referenced == nil { return nil }
            return "ALTER TABLE \(qualified(schema, t.name)) ADD CONSTRAINT \(quote("fpk_" + t.name + "_" + c.name)) FOREIGN KEY (\(quote(c.name))) "
                + "REFERENCES \(qualified(schema, fk.table.lowercased())) (\(quote(fk.column.lowercased())))" + (notValid ? " NOT VALID;" : ";")
        }
    }

    /// Plain indices on the `person_id`-like foreign keys (not on concept columns), as the
    /// SQLite output has them: a nullable column's index holds its non-null rows only.
    package static func indices(_ t: TargetTable, schema: String?) -> [String] {
        t.columns.compactMap { c in
            guard let fk = c.foreignKey, !c.isPrimaryKey, !fk.column.hasSuffix("_concept_id"), fk.table != "concept" else { return nil }
            return "CREATE INDEX \(quote("idx_" + t.name + "_" + c.name)) ON \(qualified(schema, t.name)) (\(quote(c.name)))"
                + (c.isRequired ? "" : " WHERE \(quote(c.name)) IS NOT NULL") + ";"
        }
    }

    /// The run bookkeeping tables, created in the target schema when missing. The run tables
    /// keep every published run (`harmonize_run.run_id` is unique: a run id is published once);
    /// `harmonize_lineage*` describe the published CDM and are replaced with it.
    package static func bookkeeping(schema: String) -> String {
        let s = quote(schema)
        return """
            CREATE TABLE IF NOT EXISTS \(s).harmonize_run (
              run_id text NOT NULL, engine_version text NOT NULL, started_at text NOT NULL, finished_at text,
              status text NOT NULL, model text, parameters text, manifest text NOT NULL,
              run_seq bigint, kind text, replay_of text, input_dir text, published_at timestamptz NOT NULL DEFAULT now(),
              CONSTRAINT harmonize_run_id_unique UNIQUE (run_id));
            CREATE TABLE IF NOT EXISTS \(s).harmonize_run_mapping (
              run_id text NOT NULL, mapping_id bigint NOT NULL, mapping text NOT NULL, version text, sha256 text NOT NULL, file text);
            CREATE TABLE IF NOT EXISTS \(s).harmonize_run_input (
              run_id text NOT NULL, file_id bigint NOT NULL, path text NOT NULL, sha256 text NOT NULL, bytes bigint, records bigint);
            CREATE TABLE IF NOT EXISTS \(s).harmonize_run_table (
              run_id text NOT NULL, table_id bigint NOT NULL, table_name text NOT NULL, rows bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS \(s).harmonize_run_rule (
              run_id text NOT NULL, mapping_id bigint NOT NULL, table_name text NOT NULL, column_name text NOT NULL, line bigint,
              rule text NOT NULL, reads text, target bigint);
            CREATE TABLE IF NOT EXISTS \(s).harmonize_ledger (
              run_id text NOT NULL, mapping text NOT NULL, file text NOT NULL, read bigint NOT NULL, written bigint NOT NULL,
              rejected bigint NOT NULL, filtered bigint NOT NULL, excluded bigint NOT NULL, grouped bigint NOT NULL DEFAULT 0,
              group_stage bigint NOT NULL DEFAULT 0, duplicate bigint NOT NULL DEFAULT 0);
            ALTER TABLE \(s).harmonize_ledger ADD COLUMN IF NOT EXISTS duplicate bigint NOT NULL DEFAULT 0;
            CREATE TABLE IF NOT EXISTS \(s).harmonize_reject (
              run_id text, mapping_id bigint, file_id bigint, mapping text, file text, line bigint, record bigint, path text,
              field text, reason text NOT NULL, rule text, message text NOT NULL, resolved_by text);
            CREATE TABLE IF NOT EXISTS \(s).harmonize_unmapped (
              run_id text NOT NULL, mapping_id bigint NOT NULL, mapping text NOT NULL, vocabulary_id text NOT NULL, source_code text NOT NULL,
              records bigint NOT NULL);
            CREATE TABLE IF NOT EXISTS \(s).harmonize_vocabulary_usage (
              run_id text NOT NULL, mapping_id bigint NOT NULL, mapping text NOT NULL, vocabulary_id text NOT NULL, lookups bigint NOT NULL,
              mapped bigint NOT NULL, unmapped bigint NOT NULL, distinct_unmapped bigint NOT NULL, share_mapped double precision NOT NULL);
            CREATE TABLE IF NOT EXISTS \(s).harmonize_run_vocabulary (
              run_id text NOT NULL, vocabulary_id text NOT NULL, vocabulary_name text, vocabulary_version text);
            """ + "\n" + qualityTable(schema: schema)
    }

    /// `harmonize_quality`: the data-quality results of each published run (the SQLite output's
    /// columns, plus `position`, the check's rank), in `schema` (nil: the first of the search path).
    package static func qualityTable(schema: String?) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(qualified(schema, "harmonize_quality")) (
          run_id text, check_id text NOT NULL, check_name text NOT NULL, category text NOT NULL, subcategory text,
          table_name text NOT NULL, field_name text, concept_id bigint, unit_concept_id bigint, threshold double precision NOT NULL,
          status text NOT NULL, rows_checked bigint NOT NULL, rows_violating bigint NOT NULL, pct_violating double precision NOT NULL,
          reason text, checked_at text NOT NULL, position bigint);
        """
    }

    /// The shard ledger of a schema (`run --shard i/N` into PostgreSQL): one row per committed
    /// shard of a run, written in the transaction that adds the shard's rows to the run's area
    /// (`PostgreSQLShards`); a shard is committed once (`UNIQUE (run_id, shard)`).
    package static func shardLedger(schema: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(quote(schema)).harmonize_shard_ledger (
          run_id text NOT NULL, shard bigint NOT NULL, of bigint NOT NULL, rows text NOT NULL, sha256 text NOT NULL,
          manifest text NOT NULL, input_dir text, area text NOT NULL, committed_at timestamptz NOT NULL DEFAULT now(),
          CONSTRAINT harmonize_shard_ledger_unique UNIQUE (run_id, shard));
        """
    }

    /// The per-run tables staged with the CDM tables (rejects and unmapped codes are copied into
    /// the target's tables at publication; the lineage tables replace the target's).
    package static func staged(schema: String) -> String {
        let s = quote(schema)
        return """
            CREATE TABLE \(s).harmonize_reject (
              run_id text, mapping_id bigint, file_id bigint, mapping text, file text, line bigint, record bigint, path text,
              field text, reason text NOT NULL, rule text, message text NOT NULL, resolved_by text);
            CREATE TABLE \(s).harmonize_unmapped (
              run_id text NOT NULL, mapping_id bigint NOT NULL, mapping text NOT NULL, vocabulary_id text NOT NULL, source_code text NOT NULL,
              records bigint NOT NULL);
            CREATE TABLE \(s).harmonize_lineage (
              table_id bigint NOT NULL, row_id text, mapping_id bigint NOT NULL, file_id bigint NOT NULL, line bigint, record bigint,
              run_seq bigint NOT NULL DEFAULT 1, lookup_set bigint, target bigint);
            CREATE TABLE \(s).harmonize_lineage_entry (
              entry_id bigint NOT NULL, run_seq bigint NOT NULL, column_name text NOT NULL, function text NOT NULL,
              vocabulary text NOT NULL, code text NOT NULL, concept_id bigint, value text);
            CREATE TABLE \(s).harmonize_lineage_entry_set (
              set_id bigint NOT NULL, position bigint NOT NULL, entry_id bigint NOT NULL);
            """
    }

    /// The staged tables that replace the target's at publication.
    static let lineageTables = ["harmonize_lineage", "harmonize_lineage_entry", "harmonize_lineage_entry_set"]
}
