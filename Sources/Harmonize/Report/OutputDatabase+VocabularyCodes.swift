extension OutputDatabase {
    /// The vocabulary functions whose lineage entries name a source code (`concept_domain` takes a
    /// concept id, `lookup` a lookup table's key: neither is a vocabulary code).
    static let codeFunctions = ["standard_concept_id", "source_concept_id", "standard_domain"]

    /// The source codes the output's rows used, with the rows of each table that used them (a
    /// row counts once per code), read from its vocabulary lineage (`run --lineage`): the rows
    /// of the latest full run and its replays (PostgreSQL: of the published run). Nil when the
    /// output holds no vocabulary lineage (written without `--lineage`).
    package func vocabularyCodesUsed() throws(Failure) -> [VocabularyCodeUse]? {
        guard tables.contains("harmonize_lineage_entry"), tables.contains("harmonize_lineage_entry_set"),
            try hasColumn("harmonize_lineage", "lookup_set"),
            try !rows("SELECT 1 FROM harmonize_lineage WHERE lookup_set IS NOT NULL LIMIT 1").isEmpty
        else { return nil }
        let runSeq = db.dialect == .postgresql ? "r.run_seq" : "coalesce(r.run_seq, r.rowid)"
        let functions = Self.codeFunctions.map { "'\($0)'" }.joined(separator: ", ")
        let sql = """
            WITH codes AS (
              SELECT DISTINCT s.set_id, e.vocabulary, e.code FROM harmonize_lineage_entry_set s
              JOIN harmonize_lineage_entry e ON e.entry_id = s.entry_id WHERE e.function IN (\(functions)))
            SELECT c.vocabulary, c.code, t.table_name, count(*) FROM harmonize_lineage l
            JOIN codes c ON c.set_id = l.lookup_set
            JOIN harmonize_run r ON \(runSeq) = l.run_seq
            JOIN harmonize_run_table t ON t.run_id = r.run_id AND t.table_id = l.table_id
            WHERE CAST(?1 AS TEXT) IS NULL OR r.run_id = ?1
            GROUP BY c.vocabulary, c.code, t.table_name ORDER BY 1, 2, 3
            """
        return try rows(sql, [publishedRun.map(Value.string) ?? .null]).map { r in
            VocabularyCodeUse(vocabulary: r[0].text ?? "", code: r[1].text ?? "", table: r[2].text ?? "", rows: r[3].intValue ?? 0)
        }
    }

    /// The unmapped codes of the latest run as uses (their record counts as rows, the mapping as
    /// the table): what an output written without `--lineage` tells of the codes it used.
    package func unmappedCodeUses() throws(Failure) -> [VocabularyCodeUse] {
        try unmappedCodes().map { VocabularyCodeUse(vocabulary: $0.vocabulary, code: $0.code, table: $0.mapping, rows: $0.records) }
    }
}
