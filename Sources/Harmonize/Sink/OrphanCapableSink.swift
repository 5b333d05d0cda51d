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

/// What `run --incremental` takes over from the output's run (`IncrementalPlan`): the rows,
/// lineage, rejects and unmapped codes of the mappings that do not run again, renumbered to this
/// run's mapping, file and table ids.
package struct OutputReuse: Sendable {
    /// An id of the output's run and the same thing's id in this run.
    package struct Pair: Sendable, Hashable {
        /// The id in the output's run.
        public var base: Int
        /// The id in this run.
        public var now: Int
    }

    /// A table to take rows over into.
    package struct Table: Sendable, Hashable {
        /// Its index in this run's tables.
        public var now: Int
        /// Its id in the output's run (`harmonize_run_table.table_id`).
        public var base: Int
        /// Every row (an output without row lineage, whose table only reused mappings write), or
        /// only the rows whose lineage names a reused mapping.
        public var whole: Bool
    }

    /// The SQLite output.
    public var basePath: String
    /// The run that wrote it, checked again once the output's lock is held.
    public var baseRunID: String
    /// The reused mappings.
    public var mappings: [Pair]
    /// Every input file of the output's run that this run knows.
    public var files: [Pair]
    /// The tables the reused mappings write.
    public var tables: [Table]
}

/// A sink that can take over rows of the output it replaces (the SQLite output, directly or
/// pipelined).
package protocol ReusingSink: Sink {
    /// Copies what `reuse` names from the output into the staging database; returns the rows
    /// copied per table index.
    func reuse(_ reuse: OutputReuse) throws(SinkError) -> [Int: Int]
}
