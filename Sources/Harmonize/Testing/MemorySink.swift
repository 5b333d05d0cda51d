/// A sink that keeps everything in memory: the batches and rejects it receives, for tests and
/// in-memory runs. Nothing is published anywhere.
///
/// Rows of a batch with `ConflictPolicy.update` update the stored row with the same primary key
/// as the SQLite sink does (non-null values of the listed columns overwrite): `rows(ofTable:)`
/// shows the table as a database would hold it; `batches` keeps what was received.
package final class MemorySink: Sink {
    /// The tables the run was opened with.
    public private(set) var tables: [TargetTable] = []
    /// Every batch received, in order.
    public private(set) var batches: [RowBatch] = []
    /// Every reject received, in order.
    public private(set) var rejects: [RunReject] = []
    /// Whether `finish` was called.
    public private(set) var finished = false

    /// Creates an empty sink.
    public init() {}

    /// Remembers the tables.
    public func open(tables: [TargetTable], run: RunManifest) throws(SinkError) { self.tables = tables }
    /// Keeps the batch.
    public func write(_ batch: RowBatch) throws(SinkError) { batches.append(batch) }
    /// Updates are applied in `rows(ofTable:)`.
    public var supportsUpdates: Bool { true }
    /// Rows inserted and updated per table, as a database would count them.
    public func writeCounts() throws(SinkError) -> [Int: TableWriteCount] {
        var out: [Int: TableWriteCount] = [:]
        for i in tables.indices {
            let t = keyedRows(ofTable: i)
            out[i] = TableWriteCount(inserted: t.rows.count, updated: t.updated)
        }
        return out
    }
    /// Keeps the rejects.
    public func writeRejects(_ rejects: [RunReject]) throws(SinkError) { self.rejects.append(contentsOf: rejects) }
    /// Marks the run finished.
    public func finish(run: RunManifest) throws(SinkError) { finished = true }
    /// Forgets everything.
    public func abort() {
        batches = []
        rejects = []
    }

    /// The rows of table `index` (in the list given to `open`), one array of values per row, with
    /// updates applied (a row updated by later batches appears once, where it was first inserted).
    public func rows(ofTable index: Int) -> [[Value]] { keyedRows(ofTable: index).rows }

    /// The rows of table `index` with the lineage of the record that first inserted each (nil when
    /// the run records no lineage).
    public func rowsWithLineage(ofTable index: Int) -> [(values: [Value], lineage: RowLineage?)] {
        let t = keyedRows(ofTable: index)
        return Array(zip(t.rows, t.lineage)).map { ($0, $1) }
    }

    func keyedRows(ofTable index: Int) -> KeyedRows {
        let key = index < tables.count ? tables[index].columns.indices.filter { tables[index].columns[$0].isPrimaryKey } : []
        var out = KeyedRows(key: key)
        for b in batches where b.table == index {
            for r in 0..<b.rowCount {
                out.add(
                    Array(b.values[(r * b.columnCount)..<((r + 1) * b.columnCount)]), lineage: r < b.lineage.count ? b.lineage[r] : nil,
                    policy: b.conflict)
            }
        }
        return out
    }
}

@available(*, unavailable)
extension MemorySink: Sendable {}
