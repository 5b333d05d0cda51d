/// One output row of an in-memory run: the table's columns with their values, and where the row
/// comes from.
package struct InMemoryRow: Sendable, Hashable {
    /// The target table.
    public var table: String
    /// Column names, in table order.
    public var columns: [String]
    /// Values, parallel to `columns`.
    public var values: [Value]
    /// The source record the row comes from.
    public var lineage: RowLineage

    /// The value of a column (case-insensitive name), or nil when the table has no such column.
    public subscript(column: String) -> Value? {
        if let i = columns.firstIndex(of: column) ?? columns.firstIndex(where: { $0.lowercased() == column.lowercased() }) {
            return values[i]
        }
        return nil
    }
}

/// What a mapping produced in memory (`MappingTestRunner.run`): rows per target table, rejects
/// and the books of the run.
package struct InMemoryRun: Sendable {
    /// Rows per target table name, in output order.
    public var tables: [String: [InMemoryRow]]
    /// Rejected records, in record order (reason, location, field, rule; never values).
    public var rejects: [Reject]
    /// `read = written + rejected + filtered + excluded`.
    public var ledger: RunManifest.LedgerEntry

    /// The rows written to a table (empty when none).
    public func rows(_ table: String) -> [InMemoryRow] { tables[table] ?? [] }
}
