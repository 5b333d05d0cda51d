/// A batch of output rows for one table, row-major: `values.count == rowCount * columnCount`.
package struct RowBatch: Sendable {
    /// Index of the table in the list the sink was opened with.
    public var table: Int
    /// Columns per row (the table's column count).
    public var columnCount: Int
    /// Cell values, row after row.
    public var values: RowValues
    /// Lineage of each row (one per row), when the run records lineage.
    public var lineage: [RowLineage]
    /// What to do with a row whose primary key is already in the table (the target's
    /// `on_conflict:`); `.insert` unless the mapping says otherwise.
    public var conflict: ConflictPolicy = .insert
    /// The lookups (vocabulary entries, lookup-table keys) each row's columns used, in row order;
    /// filled only when the run records lineage and the mapping calls lookup functions.
    public var lookups: [RowLookup] = []

    /// Creates an empty batch.
    public init(table: Int, columnCount: Int, reservingRows rows: Int = 0) {
        self.table = table
        self.columnCount = columnCount
        self.values = []
        self.lineage = []
        if rows > 0 {
            values.reserveCapacity(rows * columnCount)
            lineage.reserveCapacity(rows)
        }
    }

    /// Number of rows.
    public var rowCount: Int { columnCount == 0 ? 0 : values.count / columnCount }
}

/// Where an output row comes from: interned ids of the mapping and the source file, and the
/// record's location in that file.
package struct RowLineage: Sendable, Hashable {
    /// Index of the mapping in the run.
    public var mapping: Int32
    /// Index of the input file in the run.
    public var file: Int32
    /// 1-based physical line where the record starts (0 when the format has none).
    public var line: Int
    /// 1-based record number in the file.
    public var record: Int
    /// Which of the mapping's targets wrote the row (0-based, in the mapping file's order): a
    /// mapping may write one table twice (a primary and a related diagnosis).
    public var target: Int32

    /// Creates lineage.
    public init(mapping: Int32, file: Int32, line: Int, record: Int, target: Int32 = 0) {
        self.mapping = mapping
        self.file = file
        self.line = line
        self.record = record
        self.target = target
    }
}

/// A failure of a sink (creating, writing, publishing). Never contains cell values.
package struct SinkError: Error, Sendable, CustomStringConvertible {
    /// What failed, in plain words.
    public var message: String
    /// Whether the failure is an I/O problem (exit code 3) rather than a configuration one.
    public var isIO: Bool
    /// The stable code, when the failure has one of its own (`ErrorCode.outputLocked`).
    public var code: ErrorCode?

    /// Creates the error.
    public init(_ message: String, isIO: Bool = true, code: ErrorCode? = nil) {
        self.message = message
        self.isIO = isIO
        self.code = code
    }

    /// The message.
    public var description: String { message }
}

/// Where a run's rows go. The engine calls `open` once, then `write`/`writeRejects` any number of
/// times from one thread, then `finish` (success) or `abort` (failure).
///
/// A sink must not make anything visible before `finish` succeeds: a failed or killed run leaves
/// the previous output untouched. PostgreSQL (COPY), CSV and SQLite sinks fit this protocol.
package protocol Sink: AnyObject {
    /// Prepares the tables the run writes (creates them in a staging area).
    func open(tables: [TargetTable], run: RunManifest) throws(SinkError)
    /// Writes a batch of rows.
    func write(_ batch: RowBatch) throws(SinkError)
    /// Records rejected records.
    func writeRejects(_ rejects: [RunReject]) throws(SinkError)
    /// Records the source codes the run found no standard concept for (called once, before
    /// `finish`, when the run used a vocabulary store).
    func writeUnmapped(_ codes: [UnmappedCode]) throws(SinkError)
    /// Completes the run: stores the manifest, builds indexes and publishes atomically.
    func finish(run: RunManifest) throws(SinkError)
    /// Abandons the run: removes the staging area; the previous output stays as it was.
    func abort()
    /// Whether the sink can apply `ConflictPolicy.update` (update a stored row). A run whose
    /// mappings update rows refuses a sink that cannot, before reading anything.
    var supportsUpdates: Bool { get }
    /// Whether the rows handed to `write` go nowhere (`--sink none`): the engine may then drop
    /// rows once counted instead of holding them for their turn (`EarlyXMLMapping`).
    var discardsRows: Bool { get }
    /// Waits until every row handed to `write` is stored and returns, per table index (in the list
    /// given to `open`), the rows inserted and the rows that updated a stored row; empty when the
    /// sink does not know (the engine then counts rows sent as inserted).
    func writeCounts() throws(SinkError) -> [Int: TableWriteCount]
    /// Fills a derived table from the rows written so far (called after the last `write`, before
    /// `finish`); returns the rows it added. Sinks that cannot read back what they wrote refuse.
    func derive(_ derivation: Derivation, personTable: Bool) throws(SinkError) -> Int
    /// Tells the sink, before `open`, the columns of its tables that no mapping of the run writes
    /// (null in every row the run adds), by table name: a sink may create their indexes with the
    /// table, where an index built after the load reads the whole table to index nothing.
    func noteColumnsLeftNull(_ columns: [String: Set<String>])
}

extension Sink {
    /// Default: a sink appends rows and cannot update them.
    public var supportsUpdates: Bool { false }
    /// Default: a sink keeps the rows it is given.
    public var discardsRows: Bool { false }
    /// Default: unknown.
    public func writeCounts() throws(SinkError) -> [Int: TableWriteCount] { [:] }
    /// Refuses: this sink cannot read back what it wrote.
    public func derive(_ derivation: Derivation, personTable: Bool) throws(SinkError) -> Int {
        throw SinkError(
            "derived table \(derivation.table) (mapping \(derivation.mapping)) needs the SQLite output; this output cannot read back its rows",
            isIO: false)
    }
}

extension Sink {
    /// Default: nothing to prepare.
    public func noteColumnsLeftNull(_ columns: [String: Set<String>]) {}
    /// Default: unmapped codes are not kept (the manifest still has the totals).
    public func writeUnmapped(_ codes: [UnmappedCode]) throws(SinkError) {}
}

/// A reject as stored by a sink: the reject plus the run's interned mapping and file.
package struct RunReject: Sendable, Hashable {
    /// The reject (reason, location, field, rule, message without values).
    public var reject: Reject
    /// Index of the mapping in the run, or -1.
    public var mapping: Int32
    /// Index of the input file in the run, or -1.
    public var file: Int32

    /// Creates a run reject.
    public init(reject: Reject, mapping: Int32, file: Int32) {
        self.reject = reject
        self.mapping = mapping
        self.file = file
    }
}

/// A sink that discards rows (`--sink none`): measures everything but the writing.
package final class NullSink: Sink {
    /// Rows received.
    public private(set) var rowCount = 0

    /// Creates the sink.
    public init() {}
    /// Does nothing.
    public func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {}
    /// Counts the rows.
    public func write(_ batch: RowBatch) throws(SinkError) { rowCount += batch.rowCount }
    /// Discarding needs no update either.
    public var supportsUpdates: Bool { true }
    /// Does nothing.
    public func writeRejects(_ rejects: [RunReject]) throws(SinkError) {}
    /// The rows go nowhere.
    public var discardsRows: Bool { true }
    /// Does nothing.
    public func finish(run: RunManifest) throws(SinkError) {}
    /// Does nothing.
    public func abort() {}
}
