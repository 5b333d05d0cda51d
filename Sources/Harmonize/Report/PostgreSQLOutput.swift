/// Read-only access to what runs left in a PostgreSQL output schema (`run --output
/// postgresql://…`): the rejects, unmapped codes and vocabulary use of the latest published run.
/// Never reads OMOP cell values.
package final class PostgreSQLOutput {
    private let db: PostgreSQLConnection
    private let target: PostgreSQLTarget
    /// The latest published full run (highest `run_seq` of kind `run`).
    package let runID: String

    /// Connects and finds the latest published run.
    package init(target: PostgreSQLTarget) throws(OutputDatabase.Failure) {
        self.target = target
        do {
            db = try PostgreSQLConnection(uri: target.connectionURI)
            let table = PostgreSQLDDL.qualified(target.schema, "harmonize_run")
            guard try db.scalar("SELECT to_regclass($1)", [table]) != nil,
                let id = try db.scalar("SELECT run_id FROM \(table) WHERE kind = 'run' ORDER BY run_seq DESC LIMIT 1")
            else {
                throw OutputDatabase.Failure(description: "schema \(target.schema) holds no published Harmonize run")
            }
            runID = id
        } catch let e as OutputDatabase.Failure {
            throw e
        } catch {
            throw OutputDatabase.Failure(description: "cannot read schema \(target.schema): \(error)")
        }
    }

    private func rows(_ sql: String, _ parameters: [String?]) throws(OutputDatabase.Failure) -> [[String?]] {
        do {
            return try db.query(sql, parameters)
        } catch {
            throw OutputDatabase.Failure(description: "cannot read schema \(target.schema): \(error)")
        }
    }

    /// The latest run's rejects, optionally one reason code and/or one mapping, in file and line order.
    package func rejects(reason: String? = nil, mapping: String? = nil) throws(OutputDatabase.Failure) -> [OutputDatabase.Reject] {
        let sql = """
            SELECT coalesce(mapping, ''), coalesce(file, ''), line::text, record::text, field, reason, rule, message
            FROM \(PostgreSQLDDL.qualified(target.schema, "harmonize_reject"))
            WHERE run_id = $1 AND ($2::text IS NULL OR reason = $2) AND ($3::text IS NULL OR mapping = $3)
            ORDER BY mapping, file, record, line
            """
        return try rows(sql, [runID, reason, mapping]).map { r in
            OutputDatabase.Reject(
                mapping: r[0] ?? "", file: r[1] ?? "", line: r[2].flatMap { Int($0) }, record: r[3].flatMap { Int($0) }, field: r[4],
                reason: r[5] ?? "", rule: r[6], message: r[7] ?? "")
        }
    }

    /// The latest run's reject counts by reason and mapping (by count, descending).
    package func rejectCounts() throws(OutputDatabase.Failure) -> [(reason: String, mapping: String, count: Int)] {
        try rows(
            """
            SELECT reason, coalesce(mapping, ''), count(*)::text FROM \(PostgreSQLDDL.qualified(target.schema, "harmonize_reject"))
            WHERE run_id = $1 GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
            """, [runID]
        ).map { (reason: $0[0] ?? "", mapping: $0[1] ?? "", count: ($0[2] ?? nil).flatMap { Int($0) } ?? 0) }
    }

    /// The latest run's unmapped source codes, most frequent first, optionally one mapping
    /// and/or vocabulary.
    package func unmappedCodes(mapping: String? = nil, vocabulary: String? = nil) throws(OutputDatabase.Failure) -> [UnmappedCode] {
        let sql = """
            SELECT mapping_id::text, mapping, vocabulary_id, source_code, records::text
            FROM \(PostgreSQLDDL.qualified(target.schema, "harmonize_unmapped"))
            WHERE run_id = $1 AND ($2::text IS NULL OR mapping = $2) AND ($3::text IS NULL OR vocabulary_id = $3)
            ORDER BY mapping_id, vocabulary_id, records DESC, source_code
            """
        return try rows(sql, [runID, mapping, vocabulary]).map { r in
            UnmappedCode(
                mappingIndex: Int32(r[0].flatMap { Int($0) } ?? -1), mapping: r[1] ?? "", vocabulary: r[2] ?? "", code: r[3] ?? "",
                records: r[4].flatMap { Int($0) } ?? 0)
        }
    }

    /// The latest run's totals per mapping and vocabulary: codes looked up and mapped.
    package func vocabularyUsage() throws(OutputDatabase.Failure) -> [VocabularyUsageTotal] {
        let sql = """
            SELECT mapping, vocabulary_id, lookups::text, mapped::text, distinct_unmapped::text
            FROM \(PostgreSQLDDL.qualified(target.schema, "harmonize_vocabulary_usage")) WHERE run_id = $1 ORDER BY mapping_id, vocabulary_id
            """
        return try rows(sql, [runID]).map { r in
            VocabularyUsageTotal(
                mapping: r[0] ?? "", vocabulary: r[1] ?? "", lookups: r[2].flatMap { Int($0) } ?? 0, mapped: r[3].flatMap { Int($0) } ?? 0,
                distinctUnmapped: r[4].flatMap { Int($0) } ?? 0, truncated: false)
        }
    }
}

@available(*, unavailable)
extension PostgreSQLOutput: Sendable {}
