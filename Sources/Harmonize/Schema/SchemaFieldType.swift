/// The `type` of a Table Schema field.
///
/// The spec types that Harmonize decodes have their own case; anything else is kept as
/// `unsupported` so that a schema still loads and `SourceSchema.validate()` can name the field.
/// Unsupported fields are decoded as text.
package enum SchemaFieldType: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Text.
    case string
    /// A 64-bit integer.
    case integer
    /// A decimal number (stored as a double).
    case number
    /// A boolean read with the field's `trueValues` and `falseValues`.
    case boolean
    /// A calendar date.
    case date
    /// A date and a time of day, without a time zone.
    case datetime
    /// A time of day (decoded as canonical `HH:mm:ss` text).
    case time
    /// A year (decoded as an integer).
    case year
    /// A year and a month (decoded as the date of the first of the month).
    case yearmonth
    /// Anything (decoded as text).
    case any
    /// A type Harmonize does not decode: a Table Schema type such as `object`, `array`,
    /// `duration`, `geopoint` or `geojson`, or an unknown name.
    case unsupported(String)

    /// The Table Schema types that Harmonize does not decode but that the spec defines.
    static let specTypesDecodedAsText: Set<String> = ["object", "array", "duration", "geopoint", "geojson"]

    /// Creates the type named `rawValue` (unknown names give `.unsupported`).
    public init(rawValue: String) {
        switch rawValue {
        case "string": self = .string
        case "integer": self = .integer
        case "number": self = .number
        case "boolean": self = .boolean
        case "date": self = .date
        case "datetime": self = .datetime
        case "time": self = .time
        case "year": self = .year
        case "yearmonth": self = .yearmonth
        case "any": self = .any
        default: self = .unsupported(rawValue)
        }
    }

    /// The name written in a schema.
    public var rawValue: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .number: return "number"
        case .boolean: return "boolean"
        case .date: return "date"
        case .datetime: return "datetime"
        case .time: return "time"
        case .year: return "year"
        case .yearmonth: return "yearmonth"
        case .any: return "any"
        case .unsupported(let name): return name
        }
    }

    /// The type of the decoded values: `year` is an integer, `yearmonth` a date, `time`,
    /// `any` and unsupported types are text.
    public var valueType: ValueType {
        switch self {
        case .string, .time, .any, .unsupported: return .string
        case .integer, .year: return .integer
        case .number: return .number
        case .boolean: return .boolean
        case .date, .yearmonth: return .date
        case .datetime: return .datetime
        }
    }

    /// Whether values of this type are read with date/time formats.
    public var usesDateFormats: Bool {
        switch self {
        case .date, .datetime, .time: return true
        default: return false
        }
    }

    /// Decodes the type name.
    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes the type name.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// The name written in a schema.
    public var description: String { rawValue }
}
