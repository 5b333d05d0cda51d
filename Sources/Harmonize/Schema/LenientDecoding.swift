/// Decoding helpers that accept the shapes real schema files use (a number written as a string,
/// a single name instead of a list, `null` for absent).
extension KeyedDecodingContainer {
    /// A string, or nil when the key is absent or null.
    func lenientString(_ key: Key) throws -> String? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decode(String.self, forKey: key)
    }

    /// A whole number written as a number or as a string; nil when absent, null or empty.
    func lenientInt(_ key: Key) throws -> Int? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let i = try? decode(Int.self, forKey: key) { return i }
        if let d = try? decode(Double.self, forKey: key), d.rounded() == d, abs(d) < 9e18 { return Int(d) }
        if let s = try? decode(String.self, forKey: key) {
            if s.isEmpty { return nil }
            if let i = Int(s) { return i }
        }
        throw DecodingError.typeMismatch(
            Int.self, DecodingError.Context(codingPath: codingPath + [key], debugDescription: "expected a whole number"))
    }

    /// A boolean written as a boolean or as `"true"`/`"false"`; nil when absent or null.
    func lenientBool(_ key: Key) throws -> Bool? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let b = try? decode(Bool.self, forKey: key) { return b }
        if let s = try? decode(String.self, forKey: key) {
            switch s.lowercased() {
            case "true": return true
            case "false": return false
            default: break
            }
        }
        throw DecodingError.typeMismatch(
            Bool.self, DecodingError.Context(codingPath: codingPath + [key], debugDescription: "expected a boolean"))
    }

    /// A list of strings, accepting a single string as a one-element list; nil when absent or null.
    func stringOrArray(_ key: Key) throws -> [String]? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let s = try? decode(String.self, forKey: key) { return [s] }
        return try decode([String].self, forKey: key)
    }

    /// A list of scalars, accepting a single scalar as a one-element list; nil when absent or null.
    func scalarOrArray(_ key: Key) throws -> [SchemaScalar]? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let list = try? decode([SchemaScalar].self, forKey: key) { return list }
        return [try decode(SchemaScalar.self, forKey: key)]
    }

    /// A scalar; nil when absent or null.
    func lenientScalar(_ key: Key) throws -> SchemaScalar? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decode(SchemaScalar.self, forKey: key)
    }
}

extension KeyedEncodingContainer {
    /// Encodes a list of one string as that string (the `primaryKey` / foreign key `fields` form).
    mutating func encodeStringOrArray(_ value: [String], forKey key: Key) throws {
        if value.count == 1 { try encode(value[0], forKey: key) } else { try encode(value, forKey: key) }
    }
}
