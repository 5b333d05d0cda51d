/// Records of a run that its manifest (`RunManifest`) and output tables carry: join counts,
/// vocabulary releases and usage. Plain values, shared by the layers above.

/// Counts of one join in a run, recorded in the manifest.
package struct JoinStatistics: Sendable, Codable, Hashable {
    /// The mapping.
    public var mapping: String
    /// The join's name.
    public var join: String
    /// Joined files read, relative to the input folder.
    public var files: [String]
    /// Rows read from the joined files.
    public var read: Int
    /// Rows indexed (distinct keys).
    public var indexed: Int
    /// Rows rejected while reading (schema failures; stored as rejects of the mapping).
    public var rejected: Int
    /// Rows left out by the join's `where`.
    public var filtered: Int
    /// Rows with a null key component (they can match no record).
    public var nullKeys: Int
    /// Keys present on more than one row (records matching them are rejected `join-ambiguous`).
    public var ambiguousKeys: Int
    /// Whether the index outgrew the memory budget and moved to disk.
    public var spilled: Bool
    /// Driving records that found their partner.
    public var matched: Int
    /// Driving records without partner.
    public var missing: Int
}

/// Counts of one lookup table of a mapping in a run, recorded in the manifest.
package struct LookupStatistics: Sendable, Codable, Hashable {
    /// The mapping.
    public var mapping: String
    /// The lookup's name.
    public var lookup: String
    /// The lookup's file, as the mapping gives it.
    public var file: String
    /// Distinct keys loaded.
    public var keys: Int
    /// Whether the table outgrew its share of the memory budget and moved (in part) to disk.
    public var spilled: Bool
    /// Lookups that found an entry.
    public var found: Int
    /// Lookups that found none.
    public var missed: Int
}

/// A row of `VOCABULARY.csv`: the version a run used.
package struct VocabularyVersion: Sendable, Hashable, Codable {
    /// `vocabulary_id` (`None` carries the release of the whole download).
    public var id: String
    /// `vocabulary_name`.
    public var name: String?
    /// `vocabulary_version`.
    public var version: String?
}

/// Per mapping and vocabulary: how many source codes a run looked up and how many mapped to a
/// standard concept. Stored in the manifest and in `harmonize_vocabulary_usage`.
package struct VocabularyUsageTotal: Sendable, Hashable, Codable {
    /// Mapping id.
    public var mapping: String
    /// Vocabulary id (the literal first argument of `standard_concept_id` / `standard_domain`).
    public var vocabulary: String
    /// Code lookups: one per record and distinct non-null code (for the usual one-code-per-record
    /// source, the number of records with a code).
    public var lookups: Int
    /// Lookups that found a standard concept.
    public var mapped: Int
    /// Distinct unmapped codes.
    public var distinctUnmapped: Int
    /// Whether the list of unmapped codes was cut at `VocabularyUsage.distinctCodeLimit`
    /// (counts stay exact).
    public var truncated: Bool

    /// Lookups without a standard concept.
    public var unmapped: Int { lookups - mapped }
    /// `mapped / lookups` (1 when nothing was looked up).
    public var shareMapped: Double { lookups == 0 ? 1 : Double(mapped) / Double(lookups) }
}

/// A source code that found no standard concept, with the number of records that carried it.
package struct UnmappedCode: Sendable, Hashable {
    /// Index of the mapping in the run.
    public var mappingIndex: Int32
    /// Mapping id.
    public var mapping: String
    /// Vocabulary id.
    public var vocabulary: String
    /// The source code as looked up (a code, not personal data).
    public var code: String
    /// Records in which it was looked up.
    public var records: Int

    /// Creates an entry.
    public init(mappingIndex: Int32, mapping: String, vocabulary: String, code: String, records: Int) {
        self.mappingIndex = mappingIndex
        self.mapping = mapping
        self.vocabulary = vocabulary
        self.code = code
        self.records = records
    }
}

/// The duplicates of one mapping that deduplicates its HL7 v2 messages (`source: deduplicate:`),
/// recorded in the manifest: counts, and where each duplicate and the occurrence kept are —
/// coordinates only, never the values of the key fields.
package struct DuplicateStatistics: Sendable, Codable, Hashable {
    /// The largest number of occurrences listed per mapping (the counts stay exact beyond it).
    package static let occurrenceLimit = 1000

    /// The mapping.
    public var mapping: String
    /// `first` or `last`: which occurrence of a message is kept.
    public var keep: String
    /// The fields that identify a message (`MSH-3`, `MSH-4`, `MSH-10`), by name.
    public var key: [String]
    /// Distinct messages seen with a key (a message without MSH-10 has none and is always kept).
    public var messages: Int
    /// Records left out as duplicates (one per record: a message read as several records, one
    /// per OBX, counts each).
    public var duplicates: Int
    /// Duplicate messages, in reading order, up to `occurrenceLimit`.
    public var occurrences: [DuplicateOccurrence]
    /// Whether the list was cut at `occurrenceLimit`.
    public var truncated: Bool
}

/// One duplicate message and the occurrence of it that was kept (files relative to the input
/// folder, 1-based lines of their MSH segments, message numbers in their files).
package struct DuplicateOccurrence: Sendable, Codable, Hashable {
    /// The file of the duplicate.
    public var file: String
    /// The line of its MSH segment.
    public var line: Int
    /// Its message number in the file.
    public var message: Int
    /// The file of the occurrence kept.
    public var keptFile: String
    /// The line of the kept occurrence's MSH segment.
    public var keptLine: Int
    /// The kept occurrence's message number in its file.
    public var keptMessage: Int
}
