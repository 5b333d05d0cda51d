/// One output row's lookup, as carried by a `RowBatch`: the row (index in the batch), the column
/// (index in the table) and the use.
package struct RowLookup: Sendable, Hashable {
    /// Row index in the batch.
    public var row: Int32
    /// Column index in the table.
    public var column: Int32
    /// The lookup.
    public var use: LookupUse

    /// Creates a row lookup.
    public init(row: Int32, column: Int32, use: LookupUse) {
        self.row = row
        self.column = column
        self.use = use
    }
}
