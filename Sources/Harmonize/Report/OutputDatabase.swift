import Foundation

/// Read-only access to what a run left in its output database: table counts, the ledger,
/// rejects, quality results and the lineage of mappings. Never reads OMOP cell values.
package final class OutputDatabase {
    let db: SQLiteConnection
    let tables: Set<String>
    /// The database path.
    public let path: String

    /// A failure to open or read the database.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        /// What went wrong (no values).
        public var description: String
    }

    /// Opens the database at `path` read-only.
    public init(path: String) throws(Failure) {
        guard FileManager.default.fileExists(atPath: path) else { throw Failure(description: "no such output database: \(path)") }
        do {
            db = try SQLiteConnection(path: path, readOnly: true)
            tables = Set(try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text })
        } catch {
            throw Failure(description: "cannot open \(path): \(error)")
        }
        self.path = path
        guard tables.contains("harmonize_run") else { throw Failure(description: "\(path) is not a Harmonize output (no harmonize_run table)") }
    }

    func rows(_ sql: String, _ args: [Value] = []) throws(Failure) -> [[Value]] {
        do {
            return try db.query(sql, args)
        } catch {
            throw Failure(description: "cannot read \(path): \(error)")
        }
    }

    /// The latest full run (replays, which add the rows of re-run rejects, are left out): id,
    /// status, start and end times, engine version, model.
    public func latestRun() throws(Failure) -> RunManifest? {
        let full = try hasColumn("harmonize_run", "kind") ? "WHERE kind IS NULL OR kind = 'run'" : ""
        guard let json = try rows("SELECT manifest FROM harmonize_run \(full) ORDER BY started_at DESC, rowid DESC LIMIT 1").first?.first?.text else {
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

    /// `resolved_by IS NULL` when the output records replays, else true.
    func outstandingCondition(all: Bool) throws(Failure) -> String {
        if all { return "1" }
        return try hasColumn("harmonize_reject", "resolved_by") ? "resolved_by IS NULL" : "1"
    }

    /// Outstanding rejects (those a replay re-processed are left out unless `includeResolved`),
    /// optionally only one reason code and/or one mapping, in file and line order.
    public func rejects(reason: String? = nil, mapping: String? = nil, includeResolved: Bool = false) throws(Failure) -> [Reject] {
        guard tables.contains("harmonize_reject") else { return [] }
        let condition = try outstandingCondition(all: includeResolved)
        let sql = """
            SELECT coalesce(mapping, ''), coalesce(file, ''), line, record, field, reason, rule, message FROM harmonize_reject
            WHERE (?1 IS NULL OR reason = ?1) AND (?2 IS NULL OR mapping = ?2) AND \(condition)
            ORDER BY mapping, file, record, line
            """
        return try rows(sql, [reason.map(Value.string) ?? .null, mapping.map(Value.string) ?? .null]).map { r in
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
        return try rows("SELECT reason, coalesce(mapping, ''), count(*) FROM harmonize_reject WHERE \(condition) GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2")
            .map {
                (reason: $0[0].text ?? "", mapping: $0[1].text ?? "", count: $0[2].intValue ?? 0)
            }
    }

    /// The id of the latest run, or nil.
    public func latestRunID() throws(Failure) -> String? {
        try rows("SELECT run_id FROM harmonize_run ORDER BY started_at DESC, rowid DESC LIMIT 1").first?.first?.text
    }

    /// Unmapped source codes of the latest run (or of `runID`), most frequent first, optionally
    /// only one mapping and/or vocabulary.
    public func unmappedCodes(runID: String? = nil, mapping: String? = nil, vocabulary: String? = nil) throws(Failure) -> [UnmappedCode] {
        guard tables.contains("harmonize_unmapped") else { return [] }
        let latest = runID == nil ? try latestRunID() : nil
        guard let run = runID ?? latest else { return [] }
        let sql = """
            SELECT mapping_id, mapping, vocabulary_id, source_code, records FROM harmonize_unmapped
            WHERE run_id = ?1 AND (?2 IS NULL OR mapping = ?2) AND (?3 IS NULL OR vocabulary_id = ?3)
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
    /// threshold, status, checked, violating, pct, reason.
    public func qualityResults() throws(Failure) -> [QualityRow] {
        guard tables.contains("harmonize_quality") else { return [] }
        return try rows(
            """
            SELECT check_id, check_name, category, table_name, threshold, status, rows_checked, rows_violating, pct_violating, reason
            FROM harmonize_quality ORDER BY rowid
            """
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
