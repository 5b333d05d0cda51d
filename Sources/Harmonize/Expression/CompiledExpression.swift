/// The evaluator closure type: reads slots from the frame, returns a value or throws.
typealias Evaluator = (EvaluationFrame) throws(EvaluationError) -> Value

/// A closure held by an object of its own, to be called through an `UnretainedEvaluator`.
final class EvaluatorBox {
    let evaluate: Evaluator

    init(_ evaluate: @escaping Evaluator) { self.evaluate = evaluate }
}

/// An evaluator called without counting a reference to its closure: an uncounted reference to
/// its `EvaluatorBox`, copied and called without touching any reference count. It is valid as
/// long as its box is alive: whoever keeps one keeps its box beside it (`EvaluatorList`,
/// `MappingExecutor.TargetProgram`, `RecordStages`).
///
/// A closure loaded from an array, an array's struct or an enum's payload to be called counts a
/// reference to its context for the call (25 counts per record on the diagnoses, a `uprobe` on
/// `swift_retain`), and the contexts are the plan's: shared by the run's workers, whose atomic
/// counts then contend for the same cache lines. A closure read from a box's `let` through an
/// uncounted reference is called as it is.
struct UnretainedEvaluator {
    private let box: Unmanaged<EvaluatorBox>

    /// A reference to `box`, which the caller keeps alive as long as the reference is used.
    init(_ box: EvaluatorBox) { self.box = .passUnretained(box) }

    /// Evaluates on `frame`.
    @inline(__always)
    func evaluate(_ frame: EvaluationFrame) throws(EvaluationError) -> Value {
        var failure: EvaluationError?
        let v: Value = box._withUnsafeGuaranteedRef { b in
            do throws(EvaluationError) {
                return try b.evaluate(frame)
            } catch {
                failure = error
                return .null
            }
        }
        if let failure { throw failure }
        return v
    }
}

/// Evaluators kept in an array (a call's arguments, a `case`'s arms, a lookup's keys), called
/// by position without counting references (`UnretainedEvaluator`).
///
/// A closure that is itself an array's element (or a tuple's that is) is kept at the array's
/// generic abstraction: Swift wraps it in a reabstraction thunk on its way in and in another on
/// its way out, for good, so that each call went through two more calls and passed its `Value`
/// through memory (the thunks were on a fifth of the diagnoses' samples, `perf`). Held by a box,
/// a closure keeps its own calling convention.
struct EvaluatorList {
    /// Keeps the boxes alive (as long as the list).
    private let boxes: [EvaluatorBox]
    private let references: [UnretainedEvaluator]

    /// The evaluators of `items`, in order.
    init<S: Sequence>(_ items: S, _ evaluator: (S.Element) -> EvaluatorBox) {
        boxes = items.map(evaluator)
        references = boxes.map(UnretainedEvaluator.init)
    }

    var count: Int { references.count }

    /// The closure at `i` (for a closure capturing it as it is).
    func closure(_ i: Int) -> Evaluator { boxes[i].evaluate }

    /// Evaluates the evaluator at `i` on `frame`.
    @inline(__always)
    func evaluate(_ i: Int, _ frame: EvaluationFrame) throws(EvaluationError) -> Value {
        try references[i].evaluate(frame)
    }
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
    /// The frame slots the expression reads (its identifiers'), in order of first appearance.
    public let slotsRead: [Int]
    /// Whether evaluating the expression again on the same values of `slotsRead` gives the same
    /// value with nothing else to see: every function it calls is `repeatable` (no vocabulary
    /// function, no `row_id`, no `lookup`), and it counts no branch coverage. The row loop then
    /// takes the previous record's value when the slots read hold the same values
    /// (`RuleMemos`).
    public let isRepeatable: Bool
    /// The slots of `slotsRead` read as values somewhere in the expression: all of them but
    /// those read only as the bare text argument of calls taking bytes
    /// (`FunctionDefinition.readsTextArgument`), which read the record's bytes when the row
    /// loop gives them (`MappingPlan.textArgumentFields`).
    let valueReadSlots: [Int]
    /// The slots read at least once as such a text argument.
    let textArgumentSlots: [Int]

    init(
        type: ValueType, source: String, referencedIdentifiers: [String], lookupsUsed: [String], functionsUsed: [String],
        branchCount: Int, constantValue: Value?, evaluator: @escaping Evaluator, callSites: CallSites = .none, slotRead: Int? = nil,
        slotsRead: [Int] = [], isRepeatable: Bool = false, valueReadSlots: [Int]? = nil, textArgumentSlots: [Int] = []
    ) {
        self.slotRead = slotRead
        self.slotsRead = slotsRead
        // Without the compiler's count, every slot read is a value read.
        self.valueReadSlots = valueReadSlots ?? slotsRead
        self.textArgumentSlots = textArgumentSlots
        self.isRepeatable = isRepeatable
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
