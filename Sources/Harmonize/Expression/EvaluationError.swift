/// A run-time failure of an expression (bad conversion, invalid date, division by zero, fatal
/// lookup miss). The message names the function or operator, never the value.
package struct EvaluationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The reject reason: `.expressionError` or `.lookupMiss`.
    public var reason: RejectReason
    /// What went wrong, in plain words, without any cell value.
    public var message: String
    /// The function or operator concerned, when known.
    public var function: String?
    /// Set when the failure is not the record's but the run's (a vocabulary store or an on-disk
    /// index that cannot be read): the run stops with an I/O error instead of rejecting the
    /// record, since every later record would fail the same way and the output would be wrong.
    public var stopsRun = false

    /// Creates an error.
    public init(reason: RejectReason = .expressionError, message: String, function: String? = nil) {
        self.reason = reason
        self.message = message
        self.function = function
    }

    /// A failure of the run's resources, not of the record (`stopsRun`).
    public static func runFailure(_ message: String, function: String? = nil) -> EvaluationError {
        var e = EvaluationError(message: message, function: function)
        e.stopsRun = true
        return e
    }

    /// `function: message`.
    public var description: String {
        if let function { return "\(function): \(message)" }
        return message
    }

    /// An `.expressionError` for a value of the wrong dynamic type (only for `any`-typed inputs).
    static func type(expected: String, found: Value, in function: String) -> EvaluationError {
        EvaluationError(message: "expected \(expected), found \(found.type.rawValue)", function: function)
    }
}
