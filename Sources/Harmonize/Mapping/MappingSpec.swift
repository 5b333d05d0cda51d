/// A piece of mapping text with the position of its first character in the mapping file.
package struct LocatedText: Sendable, Hashable {
    /// The text as written (an expression, a name).
    public var text: String
    /// 1-based line of the first character.
    public var line: Int
    /// 1-based column of the first character.
    public var column: Int

    /// Creates located text.
    public init(text: String, line: Int, column: Int) {
        self.text = text
        self.line = line
        self.column = column
    }
}

/// A mapping file as written (format version 1), with positions, before it is checked against
/// its source schema and target model. `MappingPlanner` turns it into a `MappingPlan`.
public struct MappingSpec: Sendable {
    /// Path of the mapping file as given.
    public var file: String
    /// SHA-256 of the file's bytes (hex).
    public var contentHash: String
    /// The `harmonize:` format version.
    public var formatVersion: Int
    /// The mapping's id (unique in a run).
    public var id: String
    /// The mapping's own version.
    public var version: String
    /// What it does.
    public var description: String?
    /// The target model: nil for the run's default model, or a path relative to the mapping file.
    package var model: LocatedText?
    /// The source.
    package var source: SourceSpec
    /// Lookup tables.
    package var lookups: [LookupSpec]
    /// A filter over source records: records for which it is not true are counted as filtered.
    package var filter: LocatedText?
    /// Named intermediate values, evaluated in order once per record.
    package var lets: [(name: LocatedText, expression: LocatedText)]
    /// The target tables, each with one expression per column.
    package var targets: [TargetSpec]
    /// Other sources joined to each driving record, in evaluation order.
    package var joins: [JoinSpec] = []
    /// Folding of records into groups before named values and targets (`group:`), if any.
    package var group: GroupSpec? = nil
    /// A derived table computed after the run's other mappings (`derive:`); such a mapping has
    /// no source and no targets of its own.
    package var derive: DeriveSpec? = nil
}

/// A source joined to the driving records of a mapping (`joins:`): each driving record finds
/// its one partner row by key; the partner's fields read as `NAME.FIELD` in expressions.
package struct JoinSpec: Sendable {
    /// The name expressions use as a prefix (`prs` in `prs.EXE_SOI_DTD`).
    public var name: LocatedText
    /// A file name or glob pattern relative to the run's input folder.
    public var files: LocatedText
    /// The dialect of the joined files.
    public var dialect: Dialect
    /// The schema of the joined files (inline, or a path relative to the mapping file).
    public var schema: SchemaReference
    /// Key columns of the joined side, each with the expression over the driving record
    /// (and earlier joins) that must equal it.
    public var on: [(column: LocatedText, expression: LocatedText)]
    /// A filter over the joined rows (their own fields): rows for which it is not true are not indexed.
    public var whereClause: LocatedText?
    /// Whether a record without partner gets null fields (`on_miss: null`) instead of a reject.
    public var missIsNull: Bool
}

/// Folding of a mapping's records into groups (`group:`), for instance to net regularisation
/// lines: records with equal `by` values become one record carrying the `by` values and the
/// aggregates.
package struct GroupSpec: Sendable {
    /// One aggregate: `name: function(argument)`.
    public struct Aggregate: Sendable {
        /// The name the group's record gives it.
        public var name: LocatedText
        /// `sum`, `count`, `min`, `max`, `first` or `last`.
        public var function: String
        /// The argument expression (nil for `count()`).
        public var argument: LocatedText?
    }
    /// Grouping keys: name → expression over the source record and joins.
    public var by: [(name: LocatedText, expression: LocatedText)]
    /// Aggregates.
    public var aggregates: [Aggregate]
    /// A filter over groups: groups for which it is not true write nothing (counted as filtered).
    public var having: LocatedText?
    /// Where `group:` is.
    public var position: LocatedText
}

/// A derived table (`derive:`): rows computed from what the run's other mappings wrote.
package struct DeriveSpec: Sendable {
    /// The derivation: `observation_period`.
    public var kind: LocatedText
    /// Its parameters (`with:`), as written.
    public var parameters: [String: LocatedText]
    /// Source tables (`with: from:`), in order.
    public var from: [LocatedText]
}

/// The source part of a mapping.
package struct SourceSpec: Sendable {
    /// `csv`, `hl7v2` or `xml`.
    public var format: LocatedText
    /// A file name or glob pattern relative to the run's input folder.
    public var files: LocatedText
    /// The dialect for delimited text.
    public var dialect: Dialect
    /// The schema: inline, or a path to a Table Schema JSON file relative to the mapping file.
    public var schema: SchemaReference
    /// Validate every field of the schema (`all`) or only those the mapping reads (`used`, default).
    public var validateAllFields: Bool
    /// Where the `source:` key is.
    public var position: LocatedText
    /// The record unit: `message` or a segment id (`OBX`) for `hl7v2`; the record element path
    /// (`/export/sejour`) for `xml`; nil for `csv`.
    public var record: LocatedText? = nil
    /// XML namespace prefixes used in paths (`h: "urn:…"`); empty for other formats.
    public var namespaces: [String: String] = [:]
    /// Largest record (HL7 message, XML record element) in bytes, when the mapping sets `max-record-bytes`.
    public var maxRecordBytes: Int? = nil
    /// The expression identifying the person of a record (`subject:`), used by `run --exclude`.
    public var subject: LocatedText? = nil
    /// `on_bad_segment: skip-segment` (hl7v2): lines that are not segments are skipped and
    /// rejected one by one instead of rejecting their message (`reject-message`, the default).
    public var skipBadSegments = false
    /// `deduplicate:` (hl7v2): messages re-sent with the same MSH-10, MSH-3 and MSH-4 are read
    /// once; nil when the mapping reads every message.
    public var deduplicate: DeduplicateSpec? = nil
}

/// `source: deduplicate: {on: control-id, keep: first | last}` (hl7v2 sources): a message whose
/// control id (MSH-10) was sent by the same application (MSH-3) and facility (MSH-4) in another
/// message of the mapping's files is a duplicate, counted in the ledger and not mapped; the
/// first or the last occurrence (files in run order, messages in file order) is the one mapped.
package struct DeduplicateSpec: Sendable, Hashable {
    /// Which occurrence is mapped.
    package enum Keep: String, Sendable, Hashable {
        /// The first one read (streaming).
        case first
        /// The last one (a first pass over the files finds it).
        case last
    }
    /// The occurrence mapped.
    public var keep: Keep
    /// Where `deduplicate:` is.
    public var position: LocatedText
    /// The fields that identify a message (`on: control-id`).
    package static let keyFields = ["MSH-3", "MSH-4", "MSH-10"]
}

/// A schema given inline or by path.
package enum SchemaReference: Sendable {
    /// No schema: every column is text, empty is null.
    case none
    /// A schema written in the mapping.
    case inline(SourceSchema)
    /// A Table Schema JSON file, relative to the mapping file.
    case file(LocatedText)
}

/// A lookup table declared by a mapping.
package struct LookupSpec: Sendable {
    /// The name expressions use in `lookup('name', …)`.
    public var name: LocatedText
    /// The file: relative to the mapping file (`file:`) or to the run's input folder (`input:`).
    public var path: LocatedText
    /// Whether `path` is relative to the input folder.
    public var relativeToInput: Bool
    /// The dialect of the lookup file.
    public var dialect: Dialect
    /// A filter over the lookup rows, with the lookup file's columns as identifiers.
    public var whereClause: LocatedText?
    /// The key columns.
    public var keys: [LocatedText]
    /// The value column.
    public var value: LocatedText
    /// The value's type (`string` by default).
    public var valueType: ValueType
    /// Whether a miss rejects the record (`on_miss: reject`) instead of giving null.
    public var missIsFatal: Bool
}

/// One target table fed by the mapping.
package struct TargetSpec: Sendable {
    /// The target table name.
    public var table: LocatedText
    /// An optional filter: a record for which it is not true writes no row to this table.
    public var filter: LocatedText?
    /// Column name → expression, in file order.
    public var fields: [(column: LocatedText, expression: LocatedText)]
    /// `on_conflict:`: `insert` (default) or `update` (a row whose primary key is already in the
    /// table updates that row).
    public var onConflict: LocatedText? = nil
    /// `update:`: the columns a later row may overwrite (default: every mapped non-key column).
    public var updateColumns: [LocatedText]? = nil
}

extension SchemaReference {
    /// The name a run profile's `tables:` uses for this schema: the schema file's name without
    /// its extension (`schemas/IR_BEN_R.json` is `IR_BEN_R`); nil for inline or no schema.
    package var tableName: String? {
        if case .file(let p) = self { return RunProfile.tableName(ofSchemaFile: p.text) }
        return nil
    }
}
