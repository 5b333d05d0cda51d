/// The static type of a value, a source field, an expression or a target column.
package enum ValueType: String, Sendable, Hashable, Codable, CaseIterable {
    /// Only `null` (the type of the literal `null`).
    case null
    /// Text.
    case string
    /// 64-bit integer.
    case integer
    /// Floating-point number.
    case number
    /// Boolean.
    case boolean
    /// Civil date.
    case date
    /// Civil date-time.
    case datetime
    /// Unknown until run time (checked per value).
    case any

    /// Whether a value of type `self` may be stored where `target` is expected without an explicit
    /// conversion: identical types, `null` anywhere, `any` anywhere, integer into number, and date
    /// into date-time (midnight).
    public func isAssignable(to target: ValueType) -> Bool {
        if self == target || self == .null || self == .any || target == .any { return true }
        switch (self, target) {
        case (.integer, .number), (.date, .datetime): return true
        default: return false
        }
    }
}
