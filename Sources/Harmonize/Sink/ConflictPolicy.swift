/// What a sink does with a row whose primary key is already in its table (a target's
/// `on_conflict:` in the mapping file).
package enum ConflictPolicy: Sendable, Hashable {
    /// Add the row (the default). A second row with the same key is an error of the run.
    case insert
    /// Update the row already there: each listed column (its index in table order) takes the new
    /// value unless the new value is null (a later record never erases a value with a null). An
    /// empty list keeps the first row as it is. A row whose key is not there yet is added.
    case update(columns: [Int])

    /// Whether rows may update earlier rows.
    public var updates: Bool {
        if case .update = self { return true }
        return false
    }
}

/// Rows a sink stored in one table: rows added, and rows that updated a row already there.
package struct TableWriteCount: Sendable, Hashable {
    /// Rows added to the table (the rows it holds).
    public var inserted: Int
    /// Rows that updated a row with the same primary key instead of adding one.
    public var updated: Int

    /// Creates the count.
    public init(inserted: Int, updated: Int) {
        self.inserted = inserted
        self.updated = updated
    }
}

/// Applies `ConflictPolicy` to rows kept in memory (the in-memory sink): the same result as the
/// SQLite sink's `INSERT … ON CONFLICT DO UPDATE SET c = coalesce(excluded.c, c)`.
struct KeyedRows {
    /// Primary-key column indices.
    let key: [Int]
    /// The rows, in first-insert order.
    private(set) var rows: [[Value]] = []
    /// Lineage of the row's first insert.
    private(set) var lineage: [RowLineage?] = []
    private var index: [[Value]: Int] = [:]
    /// Rows that updated an existing row.
    private(set) var updated = 0

    init(key: [Int]) { self.key = key }

    mutating func add(_ row: [Value], lineage l: RowLineage?, policy: ConflictPolicy) {
        guard case .update(let columns) = policy, !key.isEmpty else {
            rows.append(row)
            lineage.append(l)
            return
        }
        let k = key.map { row[$0] }
        if let at = index[k] {
            for c in columns where !row[c].isNull { rows[at][c] = row[c] }
            updated += 1
        } else {
            index[k] = rows.count
            rows.append(row)
            lineage.append(l)
        }
    }
}
