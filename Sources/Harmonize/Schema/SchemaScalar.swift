/// A scalar written in a schema where Table Schema allows several JSON types: `minimum`,
/// `maximum` and `enum` constraint values (`"minimum": 0`, `"minimum": "2020-01-01"`,
/// `"enum": ["1", "2"]`).
///
/// The value is interpreted with the field's type when a decoder is built, so `1` and `"1"` are
/// the same bound for an integer field.
package enum SchemaScalar: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A JSON or YAML string.
    case string(String)
    /// A whole number.
    case integer(Int)
    /// A number with a fraction or an exponent.
    case number(Double)
    /// `true` or `false`.
    case boolean(Bool)

    /// Decodes a string, an integer, a number or a boolean (tried in that order).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let i = try? c.decode(Int.self) {
            self = .integer(i)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let b = try? c.decode(Bool.self) {
            self = .boolean(b)
        } else {
            throw DecodingError.typeMismatch(
                SchemaScalar.self,
                DecodingError.Context(
                    codingPath: decoder.codingPath, debugDescription: "expected a string, a number or a boolean"))
        }
    }

    /// Encodes the scalar with its own JSON type.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .integer(let i): try c.encode(i)
        case .number(let d): try c.encode(d)
        case .boolean(let b): try c.encode(b)
        }
    }

    /// The text form (`1`, `2.5`, `true`, or the string itself).
    public var description: String {
        switch self {
        case .string(let s): return s
        case .integer(let i): return String(i)
        case .number(let d): return Value.double(d).description
        case .boolean(let b): return b ? "true" : "false"
        }
    }
}
