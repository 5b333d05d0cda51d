/// The outcome of one check: status and aggregate counts (never values).
package struct QualityResult: Sendable, Hashable, Codable {
    /// Outcome of a check.
    public enum Status: String, Sendable, Codable, Hashable {
        /// Violations at or below the threshold.
        case passed
        /// Violations above the threshold.
        case failed
        /// The check does not apply: table or field absent or empty, vocabulary missing, concept absent.
        case notApplicable = "not_applicable"
        /// The check could not be evaluated (a SQL or expression error).
        case error
    }

    /// The check.
    public var check: QualityCheck
    /// The outcome.
    public var status: Status
    /// Rows the check looked at (the denominator).
    public var rowsChecked: Int
    /// Rows that violate the check.
    public var rowsViolating: Int
    /// Why the check is not applicable or in error (no values), if so.
    public var reason: String?

    /// Creates a result.
    public init(check: QualityCheck, status: Status, rowsChecked: Int = 0, rowsViolating: Int = 0, reason: String? = nil) {
        self.check = check
        self.status = status
        self.rowsChecked = rowsChecked
        self.rowsViolating = rowsViolating
        self.reason = reason
    }

    /// The percentage of violating rows (0 when nothing was checked).
    public var percentViolating: Double {
        rowsChecked == 0 ? 0 : 100 * Double(rowsViolating) / Double(rowsChecked)
    }

    /// Evaluates counts against the check's threshold (DQD rule: fail when pct > threshold; a
    /// threshold of 0 fails on one violating row).
    public static func evaluate(_ check: QualityCheck, checked: Int, violating: Int) -> QualityResult {
        var r = QualityResult(check: check, status: .passed, rowsChecked: checked, rowsViolating: violating)
        if violating > 0 && r.percentViolating > check.threshold { r.status = .failed }
        return r
    }
}
