/// What a run did: its inputs with hashes, its mappings with hashes, the ledger and the counts.
/// Stored in the output (`harmonize_run*` tables), printed by `--json`, never holding cell values.
public struct RunManifest: Sendable, Codable, Hashable {
    /// A random id for this run.
    public var runID: String
    /// Engine version.
    public var engineVersion: String
    /// ISO-8601 UTC start time.
    public var startedAt: String
    /// ISO-8601 UTC end time (empty while running).
    public var finishedAt: String
    /// `running`, `succeeded`, `failed`.
    public var status: String
    /// The target model's name and version.
    public var model: String
    /// Run parameters that change the output (never keys or paths to keys).
    public var parameters: [String: String]
    /// Mappings, in run order (their index is the mapping id used by lineage and rejects).
    public var mappings: [MappingEntry]
    /// Input files, in first-read order (their index is the file id used by lineage and rejects).
    public var inputs: [InputEntry]
    /// Per mapping and file: read = written + rejected + filtered + excluded.
    public var ledger: [LedgerEntry]
    /// Rows written per output table.
    public var tables: [TableCount]
    /// `VOCABULARY.csv` rows of the vocabularies the mappings named, and the `None` row (the
    /// release of the download), when the run used a vocabulary store (`--vocabulary`).
    public var vocabularies: [VocabularyVersion]? = nil
    /// Per mapping and vocabulary: source codes looked up and mapped to a standard concept.
    public var vocabularyUsage: [VocabularyUsageTotal]? = nil
    /// Joins of the run's mappings: rows indexed, rejected, ambiguous keys, partners found or
    /// missing, and whether an index outgrew the memory budget.
    public var joins: [JoinStatistics] = []

    /// A mapping used by the run.
    public struct MappingEntry: Sendable, Codable, Hashable {
        /// Mapping id.
        public var id: String
        /// Mapping version.
        public var version: String
        /// SHA-256 of the mapping file.
        public var sha256: String
        /// Mapping file path as given.
        public var file: String
        /// The tables the mapping writes (absent in manifests of older versions).
        public var targets: [String]? = nil
    }

    /// An input file read by the run.
    public struct InputEntry: Sendable, Codable, Hashable {
        /// Path relative to the input folder.
        public var path: String
        /// SHA-256 of the bytes read.
        public var sha256: String
        /// Size in bytes.
        public var bytes: Int64
        /// Records read (by the first mapping that read it).
        public var records: Int
    }

    /// Accounting of one mapping over one file.
    public struct LedgerEntry: Sendable, Codable, Hashable {
        /// Mapping id.
        public var mapping: String
        /// Input file path.
        public var file: String
        /// Records read.
        public var read: Int
        /// Records that produced their rows.
        public var written: Int
        /// Records rejected (with a reason in `harmonize_reject`).
        public var rejected: Int
        /// Records left out by a filter.
        public var filtered: Int
        /// Records left out because the person objected.
        public var excluded: Int
        /// Records folded into groups (`group:`); their groups are accounted for in the mapping's
        /// group-stage entry.
        public var grouped: Int = 0
        /// True for the entry of a mapping's group stage, where `read` counts groups, not records.
        public var groupStage: Bool? = nil
        /// Whether `read == written + rejected + filtered + excluded + grouped`.
        public var balances: Bool { read == written + rejected + filtered + excluded + grouped }
    }

    /// Rows written to a table.
    public struct TableCount: Sendable, Codable, Hashable {
        /// Table name.
        public var table: String
        /// Rows written (the rows the table holds).
        public var rows: Int
        /// Rows that updated a row already written instead of adding one (`on_conflict: update`);
        /// nil for tables no mapping updates.
        public var updated: Int? = nil
    }

    /// Total records rejected.
    public var rejectedCount: Int { ledger.reduce(0) { $0 + $1.rejected } }
    /// Total records read.
    public var readCount: Int { ledger.reduce(0) { $0 + ($1.groupStage == true ? 0 : $1.read) } }
}
