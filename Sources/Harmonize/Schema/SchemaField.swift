/// One field of a Table Schema (https://specs.frictionlessdata.io/table-schema/).
///
/// Decoding is lenient: unknown keys (SNDS `nomenclature`, `length`, `type_oracle`,
/// `regle_gestion`, …) are ignored and `null` means absent. Extensions to the spec:
/// `formats` (date/time formats tried in order) and a per-field `missingValues` that replaces
/// the schema's.
package struct SchemaField: Sendable, Hashable, Codable {
    /// The default `trueValues`.
    public static let defaultTrueValues = ["true", "True", "TRUE", "1"]
    /// The default `falseValues`.
    public static let defaultFalseValues = ["false", "False", "FALSE", "0"]

    /// The field name (the column header).
    public var name: String
    /// A human title.
    public var title: String?
    /// A description.
    public var description: String?
    /// The type (`string` when absent).
    public var type: SchemaFieldType
    /// `default`, `any`, or a pattern (`%d/%m/%Y`, `dd/MM/yyyy`) for date and time types; nil means `default`.
    public var format: String?
    /// Extension: formats tried in order; when set and not empty, replaces `format`.
    public var formats: [String]?
    /// The decimal separator of `number` fields (one ASCII character).
    public var decimalChar: String
    /// The thousands separator of `number` (and `integer`) fields, if any (one ASCII character).
    public var groupChar: String?
    /// When false, leading and trailing non-numeric characters (`%`, `€`, spaces) are ignored in numbers.
    public var bareNumber: Bool
    /// Texts read as `true` by `boolean` fields.
    public var trueValues: [String]
    /// Texts read as `false` by `boolean` fields.
    public var falseValues: [String]
    /// Extension: missing-value markers for this field, replacing the schema's.
    public var missingValues: [String]?
    /// The constraints.
    public var constraints: FieldConstraints

    /// Creates a field.
    public init(
        name: String, type: SchemaFieldType = .string, format: String? = nil, formats: [String]? = nil,
        title: String? = nil, description: String? = nil, decimalChar: String = ".", groupChar: String? = nil,
        bareNumber: Bool = true, trueValues: [String] = SchemaField.defaultTrueValues,
        falseValues: [String] = SchemaField.defaultFalseValues, missingValues: [String]? = nil,
        constraints: FieldConstraints = FieldConstraints()
    ) {
        self.name = name
        self.title = title
        self.description = description
        self.type = type
        self.format = format
        self.formats = formats
        self.decimalChar = decimalChar
        self.groupChar = groupChar
        self.bareNumber = bareNumber
        self.trueValues = trueValues
        self.falseValues = falseValues
        self.missingValues = missingValues
        self.constraints = constraints
    }

    /// The date/time formats to try, in order: `formats` when set, otherwise `[format ?? "default"]`.
    public var dateFormats: [String] {
        if let formats, !formats.isEmpty { return formats }
        return [format ?? "default"]
    }

    enum CodingKeys: String, CodingKey {
        case name, title, description, type, format, formats, decimalChar, groupChar, bareNumber, trueValues,
            falseValues, missingValues, constraints
    }

    /// Decodes leniently (unknown keys ignored, `null` = absent, `formats` may be a single string).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        title = try c.lenientString(.title)
        description = try c.lenientString(.description)
        type = SchemaFieldType(rawValue: try c.lenientString(.type) ?? "string")
        format = try c.lenientString(.format)
        formats = try c.stringOrArray(.formats)
        decimalChar = try c.lenientString(.decimalChar) ?? "."
        groupChar = try c.lenientString(.groupChar)
        bareNumber = try c.lenientBool(.bareNumber) ?? true
        trueValues = try c.stringOrArray(.trueValues) ?? SchemaField.defaultTrueValues
        falseValues = try c.stringOrArray(.falseValues) ?? SchemaField.defaultFalseValues
        missingValues = try c.stringOrArray(.missingValues)
        constraints = try c.decodeIfPresent(FieldConstraints.self, forKey: .constraints) ?? FieldConstraints()
    }

    /// Encodes the field, leaving out keys that have their default value.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(title, forKey: .title)
        try c.encodeIfPresent(description, forKey: .description)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(format, forKey: .format)
        try c.encodeIfPresent(formats, forKey: .formats)
        if decimalChar != "." { try c.encode(decimalChar, forKey: .decimalChar) }
        try c.encodeIfPresent(groupChar, forKey: .groupChar)
        if !bareNumber { try c.encode(false, forKey: .bareNumber) }
        if trueValues != SchemaField.defaultTrueValues { try c.encode(trueValues, forKey: .trueValues) }
        if falseValues != SchemaField.defaultFalseValues { try c.encode(falseValues, forKey: .falseValues) }
        try c.encodeIfPresent(missingValues, forKey: .missingValues)
        if constraints != FieldConstraints() { try c.encode(constraints, forKey: .constraints) }
    }
}
