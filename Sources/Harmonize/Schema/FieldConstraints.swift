/// The `constraints` of a Table Schema field.
///
/// `minimum`, `maximum` and `enum` values are interpreted with the field's type and formats when
/// a `FieldDecoder` is built. Unknown keys (such as a `description`) are ignored.
package struct FieldConstraints: Sendable, Hashable, Codable {
    /// A missing value (empty or a missing-value marker) is rejected (`required-missing`).
    public var required: Bool
    /// Values must be unique in the file. Checked by the engine, not by a single `FieldDecoder`.
    public var unique: Bool
    /// Minimum length in Unicode scalars (characters for ASCII data).
    public var minLength: Int?
    /// Maximum length in Unicode scalars.
    public var maxLength: Int?
    /// Smallest allowed value (inclusive).
    public var minimum: SchemaScalar?
    /// Largest allowed value (inclusive).
    public var maximum: SchemaScalar?
    /// A regular expression the whole cell text must match (implicitly anchored, as in XML Schema).
    public var pattern: String?
    /// The allowed values.
    public var `enum`: [SchemaScalar]?

    /// Creates constraints; the defaults constrain nothing.
    public init(
        required: Bool = false, unique: Bool = false, minLength: Int? = nil, maxLength: Int? = nil,
        minimum: SchemaScalar? = nil, maximum: SchemaScalar? = nil, pattern: String? = nil,
        enum values: [SchemaScalar]? = nil
    ) {
        self.required = required
        self.unique = unique
        self.minLength = minLength
        self.maxLength = maxLength
        self.minimum = minimum
        self.maximum = maximum
        self.pattern = pattern
        self.enum = values
    }

    /// Whether any per-value check is declared (everything except `required` and `unique`).
    public var hasValueChecks: Bool {
        minLength != nil || maxLength != nil || minimum != nil || maximum != nil || pattern != nil || self.enum != nil
    }

    enum CodingKeys: String, CodingKey {
        case required, unique, minLength, maxLength, minimum, maximum, pattern, `enum`
    }

    /// Decodes leniently: lengths may be strings, bounds and enum values any scalar.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        required = try c.lenientBool(.required) ?? false
        unique = try c.lenientBool(.unique) ?? false
        minLength = try c.lenientInt(.minLength)
        maxLength = try c.lenientInt(.maxLength)
        minimum = try c.lenientScalar(.minimum)
        maximum = try c.lenientScalar(.maximum)
        pattern = try c.lenientString(.pattern)
        self.enum = try c.scalarOrArray(.enum)
    }

    /// Encodes only the declared constraints.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if required { try c.encode(true, forKey: .required) }
        if unique { try c.encode(true, forKey: .unique) }
        try c.encodeIfPresent(minLength, forKey: .minLength)
        try c.encodeIfPresent(maxLength, forKey: .maxLength)
        try c.encodeIfPresent(minimum, forKey: .minimum)
        try c.encodeIfPresent(maximum, forKey: .maximum)
        try c.encodeIfPresent(pattern, forKey: .pattern)
        try c.encodeIfPresent(self.enum, forKey: .enum)
    }
}
