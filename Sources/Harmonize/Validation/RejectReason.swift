/// The closed list of reasons a record is rejected. The raw values are stable reason codes
/// stored in `harmonize_reject.reason` and accepted by `--reason`.
///
/// A reject never carries the offending value: only the reason, the location, the field and the rule.
package enum RejectReason: String, Sendable, Hashable, Codable, CaseIterable {
    // MARK: Source: bytes and structure
    /// Bytes that are not valid in the declared encoding.
    case encodingError = "encoding-error"
    /// A record whose structure cannot be read (unterminated quote, malformed message or element).
    case structureError = "structure-error"
    /// A record longer than a configured limit (field length, columns per row, record size).
    case limitExceeded = "limit-exceeded"
    /// Fewer cells than the header or schema declares.
    case missingCell = "missing-cell"
    /// More cells than the header or schema declares.
    case extraCell = "extra-cell"
    // MARK: Source: schema
    /// A cell that cannot be read as its declared type (integer, number, date, boolean…).
    case typeError = "type-error"
    /// A cell that violates a declared constraint (enum, pattern, minimum, maximum, length).
    case constraintError = "constraint-error"
    /// A required cell that is empty or a missing-value marker.
    case requiredMissing = "required-missing"
    // MARK: Mapping
    /// An expression failed at run time (conversion, division by zero, invalid date…).
    case expressionError = "expression-error"
    /// A lookup found no entry and the mapping declares misses fatal.
    case lookupMiss = "lookup-miss"
    /// A join found no partner record.
    case joinMissing = "join-missing"
    /// A join found several partner records for one key (the joined side repeats the key).
    case joinAmbiguous = "join-ambiguous"
    // MARK: Target model
    /// A required target column is null.
    case targetRequiredNull = "target-required-null"
    /// A value does not fit the target column's type.
    case targetTypeError = "target-type-error"
    /// A primary key already written in this run.
    case targetPrimaryKeyDuplicate = "target-pk-duplicate"
    /// A foreign key that points at no row.
    case targetForeignKeyMissing = "target-fk-missing"

    /// The stage a reason belongs to: `source`, `mapping` or `target`.
    public var stage: String {
        switch self {
        case .encodingError, .structureError, .limitExceeded, .missingCell, .extraCell, .typeError,
            .constraintError, .requiredMissing:
            return "source"
        case .expressionError, .lookupMiss, .joinMissing, .joinAmbiguous: return "mapping"
        case .targetRequiredNull, .targetTypeError, .targetPrimaryKeyDuplicate, .targetForeignKeyMissing:
            return "target"
        }
    }
}

/// A rejected record: why, where, which field and which rule; never the value.
package struct Reject: Sendable, Hashable, Codable {
    /// The reason code.
    public var reason: RejectReason
    /// Where the record comes from.
    public var location: SourceLocation
    /// The source field or target column concerned, if any.
    public var field: String?
    /// The mapping id, if the reject happened while mapping.
    public var mapping: String?
    /// The rule concerned (a mapping rule such as `person.year_of_birth`, or a schema constraint such as `pattern`).
    public var rule: String?
    /// A message in plain words. It must never contain a cell value.
    public var message: String

    /// Creates a reject.
    public init(
        reason: RejectReason, location: SourceLocation, field: String? = nil, mapping: String? = nil,
        rule: String? = nil, message: String
    ) {
        self.reason = reason
        self.location = location
        self.field = field
        self.mapping = mapping
        self.rule = rule
        self.message = message
    }
}
