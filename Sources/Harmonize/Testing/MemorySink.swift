/// A sink that keeps everything in memory: the batches and rejects it receives, for tests and
/// in-memory runs. Nothing is published anywhere.
public final class MemorySink: Sink {
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
    /// Keeps the rejects.
    public func writeRejects(_ rejects: [RunReject]) throws(SinkError) { self.rejects.append(contentsOf: rejects) }
    /// Marks the run finished.
    public func finish(run: RunManifest) throws(SinkError) { finished = true }
    /// Forgets everything.
    public func abort() {
        batches = []
        rejects = []
    }

    /// The rows of table `index` (in the list given to `open`), one array of values per row.
    public func rows(ofTable index: Int) -> [[Value]] {
        var out: [[Value]] = []
        for b in batches where b.table == index {
            for r in 0..<b.rowCount { out.append(Array(b.values[(r * b.columnCount)..<((r + 1) * b.columnCount)])) }
        }
        return out
    }
}

@available(*, unavailable)
extension MemorySink: Sendable {}
