/// What a mapping's rows depend on, recorded per mapping in every run's manifest
/// (`RunManifest.fingerprints`) so that `run --incremental` can tell which mappings must run
/// again (docs/incremental-runs.md). Holds hashes, file names and settings: never values or keys.
package struct MappingFingerprint: Sendable, Codable, Hashable {
    /// The mapping's id.
    public var mapping: String
    /// SHA-256 over the mapping file's SHA-256 and those of the schema files and lookup files
    /// shipped with it (`file:`).
    public var definition: String
    /// The input files it reads (its own, its joins', its `input:` lookups'), relative to the
    /// input folder, with their SHA-256.
    public var inputs: [String: String]
    /// The vocabulary release it looked codes up in (the `None` version and `CONCEPT.csv`'s
    /// SHA-256; `none` without a store), when it calls vocabulary functions; nil otherwise.
    public var vocabulary: String?
    /// The run settings that change rows: engine and model versions, key fingerprint, date
    /// shift, objection list, run profile, lineage, orphans, shard.
    public var settings: [String: String]
}

/// What `run --incremental` did (`RunManifest.incremental`).
package struct IncrementalSummary: Sendable, Codable, Hashable {
    /// The run whose output the incremental run started from; nil when there was none to reuse.
    public var base: String?
    /// The mappings run again, in run order, each with its reasons.
    public var rerun: [Decision]
    /// The mappings whose rows, rejects, ledger and lineage were taken over from `base`.
    public var reused: [String]

    /// A mapping run again, and why.
    package struct Decision: Sendable, Codable, Hashable {
        /// The mapping's id.
        public var mapping: String
        /// Plain-language reasons (file names, settings, tables: never values).
        public var reasons: [String]
    }
}
