/// A typed value flowing through the engine: a decoded source cell, an intermediate result of an
/// expression, or an output cell.
///
/// Dates are civil dates without a time zone, stored as days since 1970-01-01; date-times are
/// civil date-times stored as seconds since 1970-01-01T00:00:00 (no time zone, no leap seconds).
/// Numbers are IEEE doubles (OMOP `float` columns); integers are 64-bit.
package enum Value: Sendable, Hashable {
    /// Absent, empty or explicitly null.
    case null
    /// A boolean.
    case bool(Bool)
    /// A 64-bit signed integer.
    case int(Int)
    /// A floating-point number.
    case double(Double)
    /// Text (always valid Unicode).
    case string(String)
    /// A civil date: days since 1970-01-01.
    case date(Int)
    /// A civil date-time: seconds since 1970-01-01T00:00:00.
    case dateTime(Int)

    /// True for `.null`.
    @inlinable public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The dynamic type of the value (`.null` for null).
    public var type: ValueType {
        switch self {
        case .null: return .null
        case .bool: return .boolean
        case .int: return .integer
        case .double: return .number
        case .string: return .string
        case .date: return .date
        case .dateTime: return .datetime
        }
    }
}

extension Value: CustomStringConvertible {
    /// A canonical text form: ISO dates (`yyyy-MM-dd`), ISO date-times (`yyyy-MM-ddTHH:mm:ss`),
    /// shortest round-trip doubles, `true`/`false`, and an empty string for null.
    ///
    /// - Warning: this prints the cell itself. Never use it in logs, errors or rejects.
    public var description: String {
        switch self {
        case .null: return ""
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            if d.rounded() == d, abs(d) < 1e15 { return String(Int(d)) }
            return String(d)
        case .string(let s): return s
        case .date(let days): return CivilDate(daysSinceEpoch: days).isoString
        case .dateTime(let secs): return CivilDate.isoDateTimeString(secondsSinceEpoch: secs)
        }
    }
}
