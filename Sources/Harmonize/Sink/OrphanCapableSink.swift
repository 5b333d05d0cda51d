/// A row held back because its person is not in the output (see `OrphanPass`).
package struct OrphanRow: Sendable, Hashable {
    /// Index of the table in the sink's list.
    public var table: Int
    /// The row's SQLite rowid (order of writing).
    public var rowid: Int
    /// The value of the referencing column (`person_id`); kept in memory only, never printed.
    var reference: Value
    /// The row's lineage key (`harmonize_lineage.row_id`), to drop its lineage with it.
    var lineageKey: Value

    init(table: Int, rowid: Int, reference: Value, lineageKey: Value) {
        self.table = table
        self.rowid = rowid
        self.reference = reference
        self.lineageKey = lineageKey
    }
}

/// A sink that can find and remove orphan rows (the SQLite output, directly or pipelined).
package protocol OrphanCapableSink: Sink {
    /// See `Sink.findOrphans(_:)`.
    func orphans(_ rule: ForeignKey) throws(SinkError) -> [OrphanRow]
    /// Deletes the rows (and their lineage rows).
    func remove(_ rows: [OrphanRow]) throws(SinkError)
}
