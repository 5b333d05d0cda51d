/// A Table Schema foreign key: local `fields` that reference `fields` of another resource.
///
/// Kept for planning (joins, checks); `fields` may be written as one name or a list.
package struct SchemaForeignKey: Sendable, Hashable, Codable {
    /// The referenced resource and its fields.
    public struct Reference: Sendable, Hashable, Codable {
        /// The resource (table) name; empty means this table.
        public var resource: String
        /// The referenced fields, in the order of the local fields.
        public var fields: [String]

        /// Creates a reference.
        public init(resource: String, fields: [String]) {
            self.resource = resource
            self.fields = fields
        }

        enum CodingKeys: String, CodingKey { case resource, fields }

        /// Decodes leniently (`fields` may be one name).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            resource = try c.lenientString(.resource) ?? ""
            fields = try c.stringOrArray(.fields) ?? []
        }

        /// Encodes a single field as a string.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(resource, forKey: .resource)
            try c.encodeStringOrArray(fields, forKey: .fields)
        }
    }

    /// The local fields.
    public var fields: [String]
    /// What they reference.
    public var reference: Reference

    /// Creates a foreign key.
    public init(fields: [String], reference: Reference) {
        self.fields = fields
        self.reference = reference
    }

    enum CodingKeys: String, CodingKey { case fields, reference }

    /// Decodes leniently (`fields` may be one name; unknown keys such as `description` ignored).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        fields = try c.stringOrArray(.fields) ?? []
        reference = try c.decode(Reference.self, forKey: .reference)
    }

    /// Encodes a single field as a string.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeStringOrArray(fields, forKey: .fields)
        try c.encode(reference, forKey: .reference)
    }
}
