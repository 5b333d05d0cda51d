/// A date/time pattern that cannot be compiled; names the pattern (configuration, never data).
package struct DateFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public var pattern: String
    /// What is wrong.
    public var reason: String

    /// Creates the error.
    public init(pattern: String, reason: String) {
        self.pattern = pattern
        self.reason = reason
    }

    /// `invalid date format 'P': reason`.
    public var description: String { "invalid date format '\(pattern)': \(reason)" }
}
