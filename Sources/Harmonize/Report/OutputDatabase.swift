import Foundation

/// Read-only access to what a run left in its output, a SQLite file or a PostgreSQL schema:
/// table counts, the ledger, rejects, quality results and the lineage of mappings. Never reads
/// OMOP cell values. A PostgreSQL schema keeps the bookkeeping rows of every published run: the
/// latest published run's are read (`publishedRun`).
package final class OutputDatabase {
    let db: any OutputConnection
    let tables: Set<String>
    private let columns: [String: [String]]
    /// The database path (PostgreSQL: the URI, without password, and schema).
    public let path: String
    /// PostgreSQL: the latest published run, whose rejects, unmapped codes and quality results
    /// are read; nil for a SQLite file (its rows are those of its run and replays).
    package let publishedRun: String?

    /// A failure to open or read the database.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        /// What went wrong (no values).
        public var description: String
    }

    /// Opens the database at `path` read-only.
    public init(path: String) throws(Failure) {
        guard FileManager.default.fileExists(atPath: path) else { throw Failure(description: "no such output database: \(path)") }
        do {
            let connection = try SQLiteOutputConnection(path: path, readOnly: true)
            columns = try connection.tableColumns()
            db = connection
        } catch {
            throw Failure(description: "cannot open \(path): \(error)")
        }
        tables = Set(columns.keys)
        self.path = path
        publishedRun = nil
        guard tables.contains("harmonize_run") else { throw Failure(description: "\(path) is not a Harmonize output (no harmonize_run table)") }
    }

    /// Connects to the schema of a PostgreSQL output and finds its latest published run.
    package init(postgres target: PostgreSQLTarget) throws(Failure) {
        path = target.displayURI
        do {
            let connection = try PostgreSQLOutputConnection(target: target)
            // Several queries answer one command: they read one state of the schema.
            try connection.beginSnapshot()
            let found = try connection.tableColumns()
            var latest: String?
            if found["harmonize_run"] != nil {
                latest = try connection.rows("SELECT run_id FROM harmonize_run WHERE kind = 'run' ORDER BY run_seq DESC LIMIT 1", []).first?.first?
                    .text
            }
            publishedRun = latest
            columns = found
            tables = Set(found.keys)
            db = connection
        } catch {
            throw Failure(description: "cannot read schema \(target.schema): \(error)")
        }
        guard publishedRun != nil else { throw Failure(description: "schema \(target.schema) holds no published Harmonize run") }
    }

    func rows(_ sql: String, _ args: [Value] = []) throws(Failure) -> [[Value]] {
        do {
            return try db.rows(sql, args)
        } catch {
            throw Failure(description: "cannot read \(path): \(error)")
        }
    }

    /// The columns of a table of the output, in order (empty when it has no such table).
    func columns(of table: String) -> [String] { columns[table.lowercased()] ?? [] }

    func hasColumn(_ table: String, _ column: String) throws(Failure) -> Bool {
        columns(of: table).contains(column.lowercased())
    }

    /// The run filter's argument: the published run (PostgreSQL), or null (every row of a file).
    var runArgument: Value { publishedRun.map(Value.string) ?? .null }

    /// The condition on `run_id` that keeps the rows of the published run and of the replays
    /// made since (PostgreSQL: their `run_seq` is greater), given the published run as argument
    /// `?index`; true for a SQLite file (its rows are those of its run and replays).
    func inPublishedRun(argument index: Int) -> String {
        guard publishedRun != nil else { return "(CAST(?\(index) AS TEXT) IS NULL)" }
        return "run_id IN (SELECT run_id FROM harmonize_run WHERE run_seq >= (SELECT run_seq FROM harmonize_run WHERE run_id = ?\(index)))"
    }

    /// The latest full run (replays, which add the rows of re-run rejects, are left out): id,
    /// status, start and end times, engine version, model.
    public func latestRun() throws(Failure) -> RunManifest? {
        let full = try hasColumn("harmonize_run", "kind") ? "WHERE kind IS NULL OR kind = 'run'" : ""
        guard let json = try rows("SELECT manifest FROM harmonize_run \(full) ORDER BY \(db.dialect.latestRunOrder) LIMIT 1").first?.first?.text
        else {
            return nil
        }
        return try? JSONDecoder().decode(RunManifest.self, from: Data(json.utf8))
    }

    /// One reject: where, which field, why; never the value.
    public struct Reject: Sendable, Hashable {
        /// Mapping id.
        public var mapping: String
        /// Input file.
        public var file: String
        /// Line, if known.
        public var line: Int?
        /// Record number, if known.
        public var record: Int?
        /// Field, if known.
        public var field: String?
        /// Reason code.
        public var reason: String
        /// The rule (expression or constraint) concerned, if any.
        public var rule: String?
        /// The message (never a value).
        public var message: String
    }

    /// Rejects in mapping, file, record and line order, a missing one first on both outputs
    /// (PostgreSQL sorts nulls last unless told).
    var rejectOrder: String {
        db.dialect == .sqlite
            ? "mapping, file, record, line" : "mapping NULLS FIRST, file NULLS FIRST, record NULLS FIRST, line NULLS FIRST"
    }

    /// `resolved_by IS NULL` when the output records replays, else true.
    func outstandingCondition(all: Bool) throws(Failure) -> String {
        if all { return "1 = 1" }
        return try hasColumn("harmonize_reject", "resolved_by") ? "resolved_by IS NULL" : "1 = 1"
    }

    /// Outstanding rejects (those a replay re-processed are left out unless `includeResolved`),
    /// optionally only one reason code and/or one mapping, in file and line order. PostgreSQL:
    /// those of the published run and of its replays.
    public func rejects(reason: String? = nil, mapping: String? = nil, includeResolved: Bool = false) throws(Failure) -> [Reject] {
        guard tables.contains("harmonize_reject") else { return [] }
        let condition = try outstandingCondition(all: includeResolved)
        let sql = """
            SELECT coalesce(mapping, ''), coalesce(file, ''), line, record, field, reason, rule, message FROM harmonize_reject
            WHERE (CAST(?1 AS TEXT) IS NULL OR reason = ?1) AND (CAST(?2 AS TEXT) IS NULL OR mapping = ?2) AND \(condition)
            AND \(inPublishedRun(argument: 3))
            ORDER BY \(rejectOrder)
            """
        return try rows(sql, [reason.map(Value.string) ?? .null, mapping.map(Value.string) ?? .null, runArgument]).map { r in
            Reject(
                mapping: r[0].text ?? "", file: r[1].text ?? "", line: r[2].intValue, record: r[3].intValue, field: r[4].text,
                reason: r[5].text ?? "", rule: r[6].text, message: r[7].text ?? "")
        }
    }

    /// Outstanding reject counts (all with `includeResolved`) grouped by reason and mapping
    /// (sorted by count, descending).
    public func rejectCounts(includeResolved: Bool = false) throws(Failure) -> [(reason: String, mapping: String, count: Int)] {
        guard tables.contains("harmonize_reject") else { return [] }
        let condition = try outstandingCondition(all: includeResolved)
        return try rows(
            """
            SELECT reason, coalesce(mapping, ''), count(*) FROM harmonize_reject WHERE \(condition) AND \(inPublishedRun(argument: 1))
            GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
            """, [runArgument]
        )
        .map {
            (reason: $0[0].text ?? "", mapping: $0[1].text ?? "", count: $0[2].intValue ?? 0)
        }
    }

    /// The id of the latest run, or nil.
    public func latestRunID() throws(Failure) -> String? {
        try rows("SELECT run_id FROM harmonize_run ORDER BY \(db.dialect.latestRunOrder) LIMIT 1").first?.first?.text
    }

    /// Unmapped source codes of the latest run (or of `runID`), most frequent first, optionally
    /// only one mapping and/or vocabulary.
    public func unmappedCodes(runID: String? = nil, mapping: String? = nil, vocabulary: String? = nil) throws(Failure) -> [UnmappedCode] {
        guard tables.contains("harmonize_unmapped") else { return [] }
        let latest = runID == nil ? try latestRunID() : nil
        guard let run = runID ?? latest else { return [] }
        let sql = """
            SELECT mapping_id, mapping, vocabulary_id, source_code, records FROM harmonize_unmapped
            WHERE run_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR mapping = ?2) AND (CAST(?3 AS TEXT) IS NULL OR vocabulary_id = ?3)
            ORDER BY mapping_id, vocabulary_id, records DESC, source_code
            """
        return try rows(sql, [.string(run), mapping.map(Value.string) ?? .null, vocabulary.map(Value.string) ?? .null]).map { r in
            UnmappedCode(
                mappingIndex: Int32(r[0].intValue ?? -1), mapping: r[1].text ?? "", vocabulary: r[2].text ?? "", code: r[3].text ?? "",
                records: r[4].intValue ?? 0)
        }
    }

    /// Per mapping and vocabulary totals of the latest run (or of `runID`): codes looked up and
    /// mapped to a standard concept.
    public func vocabularyUsage(runID: String? = nil) throws(Failure) -> [VocabularyUsageTotal] {
        guard tables.contains("harmonize_vocabulary_usage") else { return [] }
        let latest = runID == nil ? try latestRunID() : nil
        guard let run = runID ?? latest else { return [] }
        return try rows(
            """
            SELECT mapping, vocabulary_id, lookups, mapped, distinct_unmapped FROM harmonize_vocabulary_usage
            WHERE run_id = ?1 ORDER BY mapping_id, vocabulary_id
            """, [.string(run)]
        ).map { r in
            VocabularyUsageTotal(
                mapping: r[0].text ?? "", vocabulary: r[1].text ?? "", lookups: r[2].intValue ?? 0, mapped: r[3].intValue ?? 0,
                distinctUnmapped: r[4].intValue ?? 0, truncated: false)
        }
    }

    /// Stored quality results (latest check time), as check id, name, category, table, field,
    /// threshold, status, checked, violating, pct, reason (PostgreSQL: the published run's and its
    /// replays').
    public func qualityResults() throws(Failure) -> [QualityRow] {
        guard tables.contains("harmonize_quality") else { return [] }
        // In check order: SQLite rows as written, PostgreSQL by run and the stored rank (the
        // published run's, then its replays', as a SQLite output holds them).
        let order = db.dialect == .sqlite ? "rowid" : "(SELECT h.run_seq FROM harmonize_run h WHERE h.run_id = harmonize_quality.run_id), position"
        return try rows(
            """
            SELECT check_id, check_name, category, table_name, threshold, status, rows_checked, rows_violating, pct_violating, reason
            FROM harmonize_quality WHERE \(inPublishedRun(argument: 1)) ORDER BY \(order)
            """, [runArgument]
        ).map { r in
            QualityRow(
                id: r[0].text ?? "", check: r[1].text ?? "", category: r[2].text ?? "", table: r[3].text ?? "",
                threshold: r[4].doubleValue ?? 0, status: r[5].text ?? "", rowsChecked: r[6].intValue ?? 0, rowsViolating: r[7].intValue ?? 0,
                pctViolating: r[8].doubleValue ?? 0, reason: r[9].text)
        }
    }

    /// A stored quality result.
    public struct QualityRow: Sendable, Hashable {
        /// Stable check id.
        public var id: String
        /// Check type name.
        public var check: String
        /// Kahn category.
        public var category: String
        /// Table.
        public var table: String
        /// Threshold (percent).
        public var threshold: Double
        /// `passed`, `failed`, `not_applicable`, `error`.
        public var status: String
        /// Rows checked.
        public var rowsChecked: Int
        /// Rows violating.
        public var rowsViolating: Int
        /// Percentage violating.
        public var pctViolating: Double
        /// Why not applicable / error.
        public var reason: String?
    }
}

extension Value {
    /// The number, if the value is numeric.
    var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
}

@available(*, unavailable)
extension OutputDatabase: Sendable {}
