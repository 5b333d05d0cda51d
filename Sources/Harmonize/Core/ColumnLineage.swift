/// Column-level lineage of one target table, derived statically from a mapping's expressions
/// (nothing is read): for each mapped column, the mapping-file line and text of its rule and the
/// source fields it reads, each with the kind of transformation; and the fields the record filter
/// and the table's filter read (they decide which rows exist, not what a column holds).
///
/// Named values (`let:`) are followed transitively: a column reading `person`, where
/// `person = to_int(substr(patient_id, 2))`, reads `patient_id` by a transformation.
/// Stored in the run manifest (`RunManifest.MappingEntry.columnLineage`), printed by
/// `harmonize-run plan`, and emitted as the OpenLineage `columnLineage` dataset facet.
package struct ColumnLineage: Sendable, Codable, Hashable {
    /// How a source field reaches a target column.
    public enum Kind: String, Sendable, Codable, Hashable, CaseIterable {
        /// The column is the field's value, unchanged (the rule is the field, or a named value that is).
        case identity
        /// The value is computed from the field (functions, operators, conditions).
        case transformation
        /// The field is a key of a lookup table; the column holds (or is computed from) the value found.
        case lookup
        /// The field decides whether the row is written at all (record or target filter).
        case filter
        /// The field is read by a join key (`joins: on:`): it decides which joined row a record
        /// meets (listed per table, with the fields of the filters).
        case join
    }

    /// One source field read by a rule.
    public struct Input: Sendable, Codable, Hashable {
        /// The source field (header name, HL7 path or XML path).
        public var field: String
        /// How it reaches the column.
        public var kind: Kind
        /// For `lookup`: the lookup table named in the mapping.
        public var lookup: String?
        /// Whether the field passes through a masking function (pseudonyms, date shifting) on its way.
        public var masked: Bool?
        /// The join the field belongs to: for a field of a joined file (`join.FIELD` in rules), the
        /// join's name (`field` is then the joined file's column); for kind `join`, the join whose
        /// key reads this field of the driving source.
        public var join: String?

        /// Creates an input.
        public init(field: String, kind: Kind, lookup: String? = nil, masked: Bool? = nil, join: String? = nil) {
            self.field = field
            self.kind = kind
            self.lookup = lookup
            self.masked = masked
            self.join = join
        }

        /// How `trace` shows the input: `join.FIELD (kind lookup)`, or the field alone for an
        /// identity.
        package var readsText: String {
            (join.map { $0 + "." } ?? "") + field + (kind == .identity ? "" : " (\(kind.rawValue)\(lookup.map { " " + $0 } ?? ""))")
        }
    }

    /// One mapped column.
    public struct Column: Sendable, Codable, Hashable {
        /// The target column.
        public var column: String
        /// The mapping-file line of its rule.
        public var line: Int?
        /// The rule as written in the mapping.
        public var rule: String
        /// The source fields the rule reads (named values expanded), in order of first use; empty
        /// for a constant.
        public var inputs: [Input]
    }

    /// The target table.
    public var table: String
    /// Mapped columns, in table order (unmapped columns are null and left out).
    public var columns: [Column]
    /// Fields that decide which rows exist: read by the mapping's record filter and this table's
    /// filter (kind `filter`), and by join keys (kind `join`, with the join's name).
    public var filters: [Input]
}
