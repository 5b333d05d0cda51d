/// The evaluator closure type: reads slots from the frame, returns a value or throws.
typealias Evaluator = (EvaluationFrame) throws(EvaluationError) -> Value

/// A type-checked expression compiled to nested closures over slot indices.
///
/// Evaluating is safe from several threads at once with distinct frames, provided the lookup
/// tables and registered functions are thread-safe and no `CoverageRecorder` was used (a recorder
/// is not thread-safe); hence `@unchecked Sendable`.
public struct CompiledExpression: @unchecked Sendable {
    /// The static result type (after widening to the expected type, when one was given).
    public let type: ValueType
    /// The expression text as written.
    public let source: String
    /// Identifiers read by the expression, in order of first appearance.
    public let referencedIdentifiers: [String]
    /// Lookup tables used, in order of first appearance.
    public let lookupsUsed: [String]
    /// Functions called (lower-case; `lookup` included), in order of first appearance.
    public let functionsUsed: [String]
    /// Number of `if` / `case` branches, implicit `else` included.
    public let branchCount: Int
    /// The value when the whole expression folded to a constant at compile time.
    public let constantValue: Value?
    let evaluator: Evaluator

    init(
        type: ValueType, source: String, referencedIdentifiers: [String], lookupsUsed: [String], functionsUsed: [String],
        branchCount: Int, constantValue: Value?, evaluator: @escaping Evaluator
    ) {
        self.type = type
        self.source = source
        self.referencedIdentifiers = referencedIdentifiers
        self.lookupsUsed = lookupsUsed
        self.functionsUsed = functionsUsed
        self.branchCount = branchCount
        self.constantValue = constantValue
        self.evaluator = evaluator
    }

    /// Whether the expression is a compile-time constant.
    public var isConstant: Bool { constantValue != nil }

    /// Evaluates the expression on a frame.
    @inline(__always)
    public func evaluate(_ frame: EvaluationFrame) throws(EvaluationError) -> Value { try evaluator(frame) }

    /// Evaluates a condition (filters, `where` clauses): null counts as false; a non-boolean
    /// value (only possible for `any`-typed expressions) is an `expression-error`.
    public func evaluateCondition(_ frame: EvaluationFrame) throws(EvaluationError) -> Bool {
        try CompilationContext.truth(try evaluator(frame), "condition")
    }
}
