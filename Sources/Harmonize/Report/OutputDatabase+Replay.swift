import Foundation

/// What `harmonize-run replay` needs from an output: the rejects still outstanding and the hashes
/// of the files they come from.
extension OutputDatabase {
    /// A reject not yet replayed successfully: where it is, never the value.
    public struct OutstandingReject: Sendable, Hashable {
        /// Row id in `harmonize_reject` (marked resolved when a replay re-processes it).
        public var id: Int64
        /// The run that rejected it.
        public var run: String
        /// Mapping id.
        public var mapping: String
        /// Input file, relative to the input folder.
        public var file: String
        /// Where the record is.
        public var key: RecordKey
        /// Reason code.
        public var reason: String
    }

    /// Whether the output holds a run with this id (PostgreSQL: the published run or one of its
    /// replays; a run whose CDM another replaced is gone).
    public func hasRun(_ id: String) throws(Failure) -> Bool {
        try !rows("SELECT 1 FROM harmonize_run WHERE run_id = ?1 AND \(inPublishedRun(argument: 2))", [.string(id), runArgument]).isEmpty
    }

    /// The rejects of `run` (every run when nil) that no replay has re-processed yet, in file
    /// order (PostgreSQL: of the published run and its replays; their `id` is 0, a table there
    /// has no row id: a reject is named by its run and place).
    public func outstandingRejects(run: String?) throws(Failure) -> [OutstandingReject] {
        guard tables.contains("harmonize_reject") else { return [] }
        let resolved = try hasColumn("harmonize_reject", "resolved_by") ? "resolved_by IS NULL" : "1 = 1"
        let id = db.dialect == .sqlite ? "rowid" : "0"
        return try rows(
            """
            SELECT \(id), coalesce(run_id, ''), coalesce(mapping, ''), coalesce(file, ''), record, line, reason FROM harmonize_reject
            WHERE \(resolved) AND (CAST(?1 AS TEXT) IS NULL OR run_id = ?1) AND \(inPublishedRun(argument: 2))
            ORDER BY \(rejectOrder)\(db.dialect == .sqlite ? ", rowid" : "")
            """, [run.map(Value.string) ?? .null, runArgument]
        ).map { r in
            OutstandingReject(
                id: Int64(r[0].intValue ?? 0), run: r[1].text ?? "", mapping: r[2].text ?? "", file: r[3].text ?? "",
                key: RecordKey(record: r[4].intValue, line: r[5].intValue), reason: r[6].text ?? "")
        }
    }

    /// SHA-256 of each input file as recorded by the given runs (path → hash); a file recorded
    /// with two different hashes is left out (it changed between runs).
    public func inputHashes(runs: Set<String>) throws(Failure) -> [String: String] {
        var out: [String: String] = [:]
        var conflicting: Set<String> = []
        for run in runs.sorted() {
            for r in try rows("SELECT path, sha256 FROM harmonize_run_input WHERE run_id = ?1", [.string(run)]) {
                guard let p = r[0].text, let h = r[1].text, !h.isEmpty else { continue }
                if let seen = out[p], seen != h { conflicting.insert(p) }
                out[p] = h
            }
        }
        for p in conflicting { out[p] = "conflicting" }
        return out
    }
}

extension OutputDatabase {
    /// Whether the output holds row-level lineage (a run was given `--lineage`).
    public func hasLineage() throws(Failure) -> Bool {
        guard tables.contains("harmonize_lineage") else { return false }
        return try !rows("SELECT 1 FROM harmonize_lineage LIMIT 1").isEmpty
    }
}

extension OutputDatabase {
    /// The manifest of a run, if stored and readable.
    public func manifest(run: String) throws(Failure) -> RunManifest? {
        guard let json = try rows("SELECT manifest FROM harmonize_run WHERE run_id = ?1", [.string(run)]).first?.first?.text else { return nil }
        return try? JSONDecoder().decode(RunManifest.self, from: Data(json.utf8))
    }
}
