import Crypto
import Foundation

/// A table of the target model that holds one row describing the run itself (OMOP's
/// `cdm_source`): the run adds the table to its output and writes the row at its end, from what
/// the run knows then (the manifest with the vocabulary release, the engine version, the
/// mappings' hashes, the inputs' dates), before it publishes, so the row is published with the
/// rows it describes.
///
/// The row is written by a full run only, and by shard 0 of a split run (so that merged or
/// published shards hold one row); a replay keeps the row of the run it completes. A run whose
/// mappings write the table themselves gets no such row: theirs is the one. Text longer than its
/// column (`varchar(n)`) is cut to the column's length (the manifest keeps the full text).
package struct RunDescription: Sendable {
    /// What the row is computed from.
    package struct Facts: Sendable {
        /// The manifest of the run (status `running`: the row is written before the end).
        package var manifest: RunManifest
        /// The UTC day of the newest modification time of the run's input files; nil when the
        /// run read none.
        package var newestInputDate: CivilDate?
        /// The UTC day the run ran.
        package var runDate: CivilDate
        /// SHA-256 (hex) of the lines `id sha256` of the run's mappings sorted by id: one hash
        /// for the whole set of mapping files.
        package var mappingsSHA256: String
    }

    /// The table, as the target model declares it.
    package var table: TargetTable
    /// The row's values by column name (missing columns are null).
    package var row: @Sendable (Facts) -> [String: Value]
    /// The columns a remap to another vocabulary release (`VocabularyRemap`) changes, from the
    /// stored row (by column name), the remap's manifest (with the new release) and its day; nil:
    /// a remap leaves the row as it is.
    package var remapped: (@Sendable ([String: Value], RunManifest, CivilDate) -> [String: Value])?

    /// Creates a description.
    package init(
        table: TargetTable, row: @escaping @Sendable (Facts) -> [String: Value],
        remapped: (@Sendable ([String: Value], RunManifest, CivilDate) -> [String: Value])? = nil
    ) {
        self.table = table
        self.row = row
        self.remapped = remapped
    }

    /// `v` fitted to column `c`: text longer than a `varchar(n)` cut to `n` characters.
    static func fitted(_ v: Value, to c: TargetColumn) -> Value {
        if case .varchar(let n?) = c.type, case .string(let s) = v, s.count > n { return .string(String(s.prefix(n))) }
        return v
    }

    /// SHA-256 of the lines `id sha256\n` of these mappings, sorted by id (then hash).
    package static func mappingsSHA256(_ mappings: [RunManifest.MappingEntry]) -> String {
        let text = mappings.map { "\($0.id) \($0.sha256)\n" }.sorted().joined()
        return Hex.string(Array(SHA256.hash(data: Array(text.utf8))))
    }

    /// The UTC day of the newest modification time among `files` (relative to `directory`); nil
    /// when none can be read (the files were read by the run: one that vanished since is skipped).
    static func newestModificationDay(of files: [String], in directory: String) -> CivilDate? {
        var newest: Int?
        for f in files {
            var st = stat()
            guard stat(directory + "/" + f, &st) == 0 else { continue }
            let seconds = Int(st.st_mtim.tv_sec)
            newest = max(newest ?? seconds, seconds)
        }
        return newest.map { CivilDate(daysSinceEpoch: $0 >= 0 ? $0 / 86_400 : ($0 - 86_399) / 86_400) }
    }

    /// The row as a batch of one row in the table's column order, text cut to its column.
    func batch(tableIndex: Int, facts: Facts) -> RowBatch {
        let values = row(facts)
        var b = RowBatch(table: tableIndex, columnCount: table.columns.count, reservingRows: 1)
        for c in table.columns { b.values.append(Self.fitted(values[c.name] ?? .null, to: c)) }
        return b
    }
}
