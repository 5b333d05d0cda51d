/// The outcome of one test case.
package struct MappingTestResult: Sendable {
    /// The case's name.
    public var name: String
    /// 1-based line of the case in the mapping file.
    public var line: Int
    /// The differences found (empty: the case passed).
    public var failures: [MappingTestFailure]
    /// Whether the case passed.
    public var passed: Bool { failures.isEmpty }
}

/// The results of a mapping's test cases and the coverage they reached.
public struct MappingTestReport: Sendable {
    /// The mapping id.
    public var mappingID: String
    /// The mapping file.
    public var file: String
    /// One result per case, in file order.
    package var results: [MappingTestResult]
    /// What the cases exercised.
    package var coverage: MappingCoverage

    /// Whether every case passed.
    public var passed: Bool { results.allSatisfy(\.passed) }
    /// The failures of every case.
    package var failures: [MappingTestFailure] { results.flatMap(\.failures) }
}
