/// The evaluator closure type: reads slots from the frame, returns a value or throws.
typealias Evaluator = (EvaluationFrame) throws(EvaluationError) -> Value

/// An evaluator kept in an array (a call's arguments, a `case`'s arms, a mapping's named
/// values). A closure that is itself an array's element, or a tuple's that is, is kept at the
/// array's generic abstraction: Swift wraps it in a reabstraction thunk on its way in and in
/// another on its way out, for good, so that each call went through two more calls and passed
/// its `Value` through memory (the thunks were on a fifth of the diagnoses' samples, `perf`).
/// A closure in a struct's field keeps its own calling convention.
struct HeldEvaluator {
    let evaluate: Evaluator

    init(_ evaluate: @escaping Evaluator) { self.evaluate = evaluate }
}

/// A type-checked expression compiled to nested closures over slot indices.
///
/// Evaluating is safe from several threads at once with distinct frames: the closures capture only
/// values fixed at compile time (other closures, constants, immutable in-memory lookup tables and
/// the `@Sendable` implementations of the registry). Everything a run changes (HMAC states,
/// caches, counters, tables loaded for the run) lives in the run's frames (`BoundCallSites`).
/// The one exception is a `CoverageRecorder` given to the compiler (mapping tests): its counters
/// are not thread-safe, so evaluate instrumented expressions from one thread. Closures cannot be
/// declared `Sendable` through the evaluator's typed-throws type without that exception, hence
/// `@unchecked Sendable`.
// Safe to share: immutable after compilation; run state lives in the frames (see above).
package struct CompiledExpression: @unchecked Sendable {
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
    /// When the expression is a bare identifier read as is: its frame slot (the evaluator returns
    /// `frame.storage[slotRead]`), so a hot loop may read the slot without calling the evaluator.
    let slotRead: Int?
    /// The call sites with per-run state of the compiler's table when this expression was
    /// compiled (bind them to evaluate the expression on its own: `EvaluationFrame(slotCount:callSites:)`).
    public let callSites: CallSites

    init(
        type: ValueType, source: String, referencedIdentifiers: [String], lookupsUsed: [String], functionsUsed: [String],
        branchCount: Int, constantValue: Value?, evaluator: @escaping Evaluator, callSites: CallSites = .none, slotRead: Int? = nil
    ) {
        self.slotRead = slotRead
        self.callSites = callSites
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
