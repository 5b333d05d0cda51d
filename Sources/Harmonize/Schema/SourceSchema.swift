import Foundation

/// The schema of a source table: a Frictionless Table Schema
/// (https://specs.frictionlessdata.io/table-schema/) read from JSON or YAML, or declared inline
/// in a mapping file.
///
/// Decoding is lenient with real files: unknown keys are ignored, `primaryKey` may be one name
/// or a list, and constraint values may be numbers or strings. Call `validate()` for problems
/// that decoding lets through (unknown types, invalid formats or patterns, unknown key fields).
package struct SourceSchema: Sendable, Hashable, Codable {
    /// The fields, in column order.
    public var fields: [SchemaField]
    /// Texts that mean "no value" for every field without its own `missingValues` (default `[""]`).
    public var missingValues: [String]
    /// The fields that form the primary key (in order); empty when none.
    public var primaryKey: [String]
    /// The foreign keys, when declared.
    public var foreignKeys: [SchemaForeignKey]?

    /// Creates a schema.
    public init(
        fields: [SchemaField], missingValues: [String] = [""], primaryKey: [String] = [],
        foreignKeys: [SchemaForeignKey]? = nil
    ) {
        self.fields = fields
        self.missingValues = missingValues
        self.primaryKey = primaryKey
        self.foreignKeys = foreignKeys
    }

    /// The first field named `name`, if any.
    public func field(named name: String) -> SchemaField? {
        fields.first { $0.name == name }
    }

    /// The missing-value markers that apply to `field`: its own, or the schema's.
    public func missingValues(for field: SchemaField) -> [String] {
        field.missingValues ?? missingValues
    }

    enum CodingKeys: String, CodingKey { case fields, missingValues, primaryKey, foreignKeys }

    /// Decodes leniently (unknown keys ignored, `primaryKey` as one name or a list).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fields = try c.decode([SchemaField].self, forKey: .fields)
        missingValues = try c.stringOrArray(.missingValues) ?? [""]
        primaryKey = try c.stringOrArray(.primaryKey) ?? []
        foreignKeys = try c.decodeIfPresent([SchemaForeignKey].self, forKey: .foreignKeys)
    }

    /// Encodes the schema (`primaryKey` left out when empty).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(fields, forKey: .fields)
        try c.encode(missingValues, forKey: .missingValues)
        if !primaryKey.isEmpty { try c.encodeStringOrArray(primaryKey, forKey: .primaryKey) }
        try c.encodeIfPresent(foreignKeys, forKey: .foreignKeys)
    }

    /// Reads a Table Schema JSON file.
    ///
    /// - Throws: `SchemaLoadError` naming the file, and the JSON path of the offending key when
    ///   the file is valid JSON but not a valid schema.
    public static func load(jsonFile path: String) throws(SchemaLoadError) -> SourceSchema {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SchemaLoadError(file: path, path: nil, message: "cannot read the file")
        }
        return try decode(json: data, file: path)
    }

    /// Decodes a Table Schema from JSON text; `file` names the source in errors.
    public static func decode(json text: String, file: String = "<inline>") throws(SchemaLoadError) -> SourceSchema {
        try decode(json: Data(text.utf8), file: file)
    }

    static func decode(json data: Data, file: String) throws(SchemaLoadError) -> SourceSchema {
        do {
            return try JSONDecoder().decode(SourceSchema.self, from: data)
        } catch let error as DecodingError {
            throw SchemaLoadError(file: file, decodingError: error)
        } catch {
            throw SchemaLoadError(file: file, path: nil, message: "not a valid schema")
        }
    }
}
