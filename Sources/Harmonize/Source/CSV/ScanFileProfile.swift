/// The profile of one delimited file, as `harmonize-run scan` reports it (text, JSON and HTML):
/// the layout found (with its evidence), the record counts and one `ColumnProfile` per column.
package struct ScanFileProfile: Sendable, Encodable {
    /// The file's name (relative to the scanned folder).
    package var file: String
    /// The encoding read.
    package var encoding: String
    /// The delimiter (`tab` for a tab).
    package var delimiter: String
    /// Lines skipped above the header (a preamble).
    package var skipLines: Int
    /// Whether the first record is a header.
    package var header: Bool
    /// Why the layout was guessed so.
    package var evidence: [String]
    /// Records read.
    package var records: Int
    /// Records the reader rejected (a structure or encoding error).
    package var rejected: Int
    /// The columns, in file order.
    package var columns: [ColumnProfile]

    /// Creates a profile.
    package init(
        file: String, encoding: String, delimiter: String, skipLines: Int, header: Bool, evidence: [String], records: Int, rejected: Int,
        columns: [ColumnProfile]
    ) {
        self.file = file
        self.encoding = encoding
        self.delimiter = delimiter
        self.skipLines = skipLines
        self.header = header
        self.evidence = evidence
        self.records = records
        self.rejected = rejected
        self.columns = columns
    }
}
