/// One difference between what a test case expects and what the mapping produced, with its path
/// (`table[row].field`). Expected and actual values are the case's own test data.
package struct MappingTestFailure: Sendable, Hashable, CustomStringConvertible {
    /// The case.
    public var testCase: String
    /// The target table, when the difference is in a table.
    public var table: String?
    /// The 0-based row, when the difference is in a row.
    public var row: Int?
    /// The field, when the difference is in a cell.
    public var field: String?
    /// What the case expects.
    public var expected: String?
    /// What the mapping produced.
    public var actual: String?
    /// The difference in words.
    public var message: String

    /// Creates a failure.
    public init(
        testCase: String, table: String? = nil, row: Int? = nil, field: String? = nil, expected: String? = nil, actual: String? = nil,
        message: String
    ) {
        self.testCase = testCase
        self.table = table
        self.row = row
        self.field = field
        self.expected = expected
        self.actual = actual
        self.message = message
    }

    /// The path of the difference: `measurement[0].value_as_number`, `measurement`, or `rejects`.
    public var path: String {
        var p = table ?? ""
        if let row { p += "[\(row)]" }
        if let field { p += p.isEmpty ? field : ".\(field)" }
        return p
    }

    /// `path: message (expected X, actual Y)`.
    public var description: String {
        var s = path.isEmpty ? message : "\(path): \(message)"
        if let expected, let actual { s += "\n      expected: \(expected)\n      actual:   \(actual)" }
        return s
    }
}
