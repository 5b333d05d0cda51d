/// A primary-key value written more than once, found when an output was completed. The key is
/// kept in memory only to find its rows again (`DuplicateKeyLocator`); it is never printed.
package struct DuplicateKey: Sendable {
    /// The table.
    public var table: String
    /// The primary-key columns.
    public var columns: [String]
    /// The key's values, as the output database returned them (never logged).
    let key: [Value]

    init(table: String, columns: [String], key: [Value]) {
        self.table = table
        self.columns = columns
        self.key = key
    }
}

/// A sink that writes nothing and notes where the rows with one duplicated primary key come from:
/// run the mappings that write the table again into it, with lineage on, after a
/// `target-pk-duplicate` (the run that found it published nothing). Only rows added with
/// `on_conflict: insert` count: updates of a row are not duplicates.
package final class DuplicateKeyLocator: Sink {
    /// One row with the duplicated key: its mapping, file and record location.
    public struct Origin: Sendable, Hashable, Codable {
        /// The mapping id.
        public var mapping: String
        /// The source file (relative to the input folder).
        public var file: String
        /// 1-based physical line where the record starts (nil when the format has none).
        public var line: Int?
        /// 1-based record number in the file.
        public var record: Int
    }

    private let duplicate: DuplicateKey
    private var tableIndex: Int?
    private var keyColumns: [Int] = []
    private let wanted: [String]
    private var found: [RowLineage] = []
    /// The rows found (at most `limit`), in writing order; filled by `finish(run:)`.
    public private(set) var origins: [Origin] = []
    /// Most rows noted.
    public let limit: Int

    /// A locator of `duplicate`'s rows; keeps at most `limit` of them.
    public init(_ duplicate: DuplicateKey, limit: Int = 4) {
        self.duplicate = duplicate
        self.wanted = duplicate.key.map(\.description)
        self.limit = max(2, limit)
    }

    /// Finds the table and its key columns.
    public func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {
        tableIndex = tables.firstIndex { $0.name == duplicate.table }
        if let t = tableIndex {
            keyColumns = duplicate.columns.compactMap { c in tables[t].columns.firstIndex { $0.name == c } }
        }
    }

    /// Notes the rows of the table whose key is the duplicated one.
    public func write(_ batch: RowBatch) throws(SinkError) {
        guard batch.table == tableIndex, found.count < limit, keyColumns.count == wanted.count else { return }
        if case .update = batch.conflict { return }
        let n = batch.columnCount
        for r in 0..<batch.rowCount where found.count < limit && r < batch.lineage.count {
            var match = true
            for (k, c) in keyColumns.enumerated() where batch.values[r * n + c].description != wanted[k] {
                match = false
                break
            }
            if match { found.append(batch.lineage[r]) }
        }
    }

    /// Rejects are not needed.
    public func writeRejects(_ rejects: [RunReject]) throws(SinkError) {}

    /// Resolves mapping and file indices to names.
    public func finish(run: RunManifest) throws(SinkError) {
        origins = found.map { l in
            Origin(
                mapping: Int(l.mapping) < run.mappings.count ? run.mappings[Int(l.mapping)].id : "#\(l.mapping)",
                file: Int(l.file) < run.inputs.count ? run.inputs[Int(l.file)].path : "#\(l.file)",
                line: l.line > 0 ? l.line : nil, record: l.record)
        }
    }

    /// Nothing to undo.
    public func abort() {}

    /// Accepts `on_conflict: update` targets (their rows are not counted).
    public var supportsUpdates: Bool { true }

    /// `mapping M, FILE line L record R` for each origin, joined with " and ".
    public var originsDescription: String {
        origins.map { o in "mapping \(o.mapping), \(o.file)\(o.line.map { " line \($0)" } ?? "") record \(o.record)" }
            .joined(separator: " and ")
    }
}
