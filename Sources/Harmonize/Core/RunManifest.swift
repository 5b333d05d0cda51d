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
    /// `run` (a full run) or `replay` (re-ran the rejected records of an earlier run); absent in
    /// manifests of older versions, which are full runs.
    public var kind: String? = nil
    /// For a replay: the run whose rejects were replayed (nil: the outstanding rejects of every run).
    public var replayOf: String? = nil
    /// `VOCABULARY.csv` rows of the vocabularies the mappings named, and the `None` row (the
    /// release of the download), when the run used a vocabulary store (`--vocabulary`).
    package var vocabularies: [VocabularyVersion]? = nil
    /// Per mapping and vocabulary: source codes looked up and mapped to a standard concept.
    package var vocabularyUsage: [VocabularyUsageTotal]? = nil
    /// Joins of the run's mappings: rows indexed, rejected, ambiguous keys, partners found or
    /// missing, and whether an index outgrew the memory budget.
    package var joins: [JoinStatistics] = []
    /// Lookup tables read from files by the run's mappings: keys loaded, whether a table
    /// outgrew its share of the memory budget and moved to disk, lookups found and missed; nil
    /// when no mapping has one (and in manifests of older versions).
    package var lookups: [LookupStatistics]? = nil
    /// The shard this run was (`run --shard i/N`); nil for an unsharded run.
    public var shard: ShardSpec? = nil
    /// Mappings that deduplicate their HL7 v2 messages (`source: deduplicate:`): the duplicates
    /// left out, with their coordinates; nil when no mapping has the option.
    package var duplicates: [DuplicateStatistics]? = nil
    /// For the output of `harmonize-run merge`: the shard outputs it combined, in shard order;
    /// nil otherwise.
    public var mergedShards: [MergedShard]? = nil
    /// For a run of kind `remap` (`harmonize-run remap`): per mapping, the rows it examined and
    /// what became of them; nil otherwise.
    package var remap: [RemapCount]? = nil
    /// Per mapping, what its rows depend on (definition, inputs, vocabulary release, settings):
    /// what `run --incremental` compares to tell which mappings to run again; nil for a derived
    /// table's mapping, and in manifests of older versions.
    package var fingerprints: [MappingFingerprint]? = nil
    /// For `run --incremental`: the run whose output it started from, and per mapping whether it
    /// ran again (and why) or its rows were taken over; nil for other runs.
    package var incremental: IncrementalSummary? = nil
    /// The files mapped by several workers (`run --threads N`), with the number of workers and
    /// chunks; nil when every file was mapped on one thread. The output does not depend on it.
    public var parallel: [ParallelPass]? = nil
    /// The XML files a mapping read from another mapping's parse of them (one parse of a file for
    /// every mapping that reads it); nil when every mapping parsed its files. The output does not
    /// depend on it.
    public var sharedParses: [SharedParse]? = nil

    /// A mapping that read an XML file's records from another mapping's parse of the file.
    public struct SharedParse: Sendable, Codable, Hashable {
        /// Mapping id.
        public var mapping: String
        /// Input file path.
        public var file: String
        /// The mapping whose reader parsed the file.
        public var parsedBy: String
        /// The records of the file this mapping's workers mapped during that parse (the rest at
        /// its turn, from the parse's spill); absent when none were.
        public var mappedDuringParse: Int?
    }

    /// A file mapped by several workers (`run --threads N`).
    public struct ParallelPass: Sendable, Codable, Hashable {
        /// Mapping id.
        public var mapping: String
        /// Input file path.
        public var file: String
        /// Workers that mapped it.
        public var workers: Int
        /// Chunks of records they mapped.
        public var chunks: Int
    }

    /// A shard output combined by `harmonize-run merge`.
    public struct MergedShard: Sendable, Codable, Hashable {
        /// The shard (`i/N`).
        public var shard: ShardSpec
        /// The shard file's name (its last path component).
        public var file: String
        /// SHA-256 of the shard file (hex).
        public var sha256: String
        /// Records the shard kept: read less those left to other shards.
        public var records: Int
    }

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
        /// Column-level lineage of each target, derived statically from the rules (absent in
        /// manifests of older versions).
        package var columnLineage: [ColumnLineage]? = nil
        /// How the mapping reads its source (absent in manifests of older versions): enough for
        /// `harmonize-run trace --show-source` to read a record back.
        public var source: SourceEntry? = nil
    }

    /// The source side of a mapping, as `trace` needs it.
    public struct SourceEntry: Sendable, Codable, Hashable {
        /// `csv`, `hl7v2` or `xml`.
        public var format: String
        /// The record unit: an HL7 segment id or `message`, the XML record path; nil for CSV.
        public var record: String?
        /// The text encoding of delimited sources (after the run profile).
        public var encoding: String?
        /// The quote character of delimited sources (nil: none).
        public var quote: String?
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
        /// Records of a sharded run (`run --shard i/N`) that another shard writes (their subject
        /// hashes to another shard; records without a subject belong to shard 0): neither written
        /// nor rejected here. Nil for an unsharded run.
        public var otherShard: Int? = nil
        /// Records of a mapping that deduplicates its HL7 v2 messages (`source: deduplicate:`)
        /// left out because another occurrence of their message (same MSH-3, MSH-4 and MSH-10)
        /// is the one kept. Nil for a mapping without the option.
        public var duplicate: Int? = nil
        /// Of `filtered`: records that passed the record filter but no target's filter (routed
        /// to no table); counted with `run --lineage` (nil otherwise), so that `remap` knows
        /// whether records its lineage does not hold could be routed to a table by a new
        /// vocabulary.
        package var unrouted: Int? = nil
        /// Whether `read == written + rejected + filtered + excluded + grouped + otherShard + duplicate`.
        public var balances: Bool {
            read == written + rejected + filtered + excluded + grouped + (otherShard ?? 0) + (duplicate ?? 0)
        }
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
        /// Rows deleted (a remap moves a row to another table); nil when none was.
        package var removed: Int? = nil
    }

    /// The manifest with everything that differs between two runs of the same inputs, mappings
    /// and parameters blanked: the run id, the start and end times, and the run it replays.
    /// Two such runs give equal masked manifests (`harmonize-run` relies on it for reproducibility).
    public var maskingRunIdentity: RunManifest {
        var m = self
        m.runID = ""
        m.startedAt = ""
        m.finishedAt = ""
        if m.replayOf != nil { m.replayOf = "" }
        return m
    }

    /// Total records rejected.
    public var rejectedCount: Int { ledger.reduce(0) { $0 + $1.rejected } }
    /// Total records read.
    public var readCount: Int { ledger.reduce(0) { $0 + ($1.groupStage == true ? 0 : $1.read) } }
    /// Total records left out as duplicates of a message kept elsewhere (`source: deduplicate:`).
    public var duplicateCount: Int { ledger.reduce(0) { $0 + ($1.duplicate ?? 0) } }
    /// Total records left to other shards (`run --shard i/N`; 0 for an unsharded run).
    public var otherShardCount: Int { ledger.reduce(0) { $0 + ($1.otherShard ?? 0) } }
}

/// What a remap (`harmonize-run remap`) did to the rows of one mapping: `rows` (lineage rows
/// examined) = `unchanged` + `changed` + `moved` + `removed`; `added` rows are new (a record now
/// routed to a target it did not write).
package struct RemapCount: Sendable, Codable, Hashable {
    /// The mapping id.
    package var mapping: String
    /// Rows of the mapping the lineage holds.
    package var rows = 0
    /// Rows left as they were.
    package var unchanged = 0
    /// Rows updated in place (a concept column changed).
    package var changed = 0
    /// Rows deleted from one table and written to another (their concept changed domain).
    package var moved = 0
    /// Rows deleted with no replacement (no target takes the record any more).
    package var removed = 0
    /// Rows written for records that had no row in that target.
    package var added = 0

    /// Creates empty counts.
    package init(mapping: String) { self.mapping = mapping }
}
