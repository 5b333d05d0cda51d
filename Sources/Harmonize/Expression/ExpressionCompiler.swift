/// Parses, type-checks and compiles expressions against a scope, a function registry and the
/// lookup tables of a mapping.
///
/// Diagnostic codes: HZ3001 syntax error, HZ3002 unknown identifier, HZ3003 unknown function,
/// HZ3004 wrong number of arguments, HZ3005 type mismatch, HZ3006 argument must be a literal,
/// HZ3007 invalid pattern or format, HZ3008 unknown lookup, HZ3009 constant expression fails.
package struct ExpressionCompiler {
    /// The callable functions.
    public let functions: FunctionRegistry
    /// The identifiers in scope.
    public let scope: any ExpressionScope
    /// The lookup tables, if the mapping declares any.
    public let lookups: (any LookupResolver)?
    /// When set, `if`/`case` branches are instrumented to count hits.
    public let coverage: CoverageRecorder?
    /// Where calls that keep per-run state get their call site (share one table between the
    /// compilers of one mapping: frames of a run are bound with the plan's whole table).
    public let callSites: CallSiteTable

    /// Creates a compiler.
    public init(
        functions: FunctionRegistry, scope: any ExpressionScope, lookups: (any LookupResolver)?,
        coverage: CoverageRecorder? = nil, callSites: CallSiteTable = CallSiteTable()
    ) {
        self.functions = functions
        self.scope = scope
        self.lookups = lookups
        self.coverage = coverage
        self.callSites = callSites
    }

    /// Parses and type-checks one expression. `file`, `line`, `column` locate the first character
    /// of the expression text in the mapping file, so diagnostics report file:line:column of the
    /// exact token. Newlines inside the text advance the line; characters on continuation lines
    /// are counted from `continuationColumn` (the column where a YAML block scalar's content starts;
    /// 1 by default). Columns count Unicode scalars. Every problem is collected (after the first
    /// syntax error, parsing stops).
    ///
    /// When `expected` is given, the result must be assignable to it; integer results are widened
    /// to number and date results to date-time, and `any` results are checked at run time.
    public func compile(
        _ text: String, file: String?, line: Int, column: Int, expected: ValueType?, continuationColumn: Int = 1
    ) -> Result<CompiledExpression, DiagnosticsError> {
        let ctx = CompilationContext(
            text: text, file: file, line: line, column: column, continuationColumn: continuationColumn, compiler: self)
        let root: ExpressionNode
        switch Parser.parse(text) {
        case .success(let n): root = n
        case .failure(let e):
            ctx.error("HZ3001", "syntax error: \(e.message)", e.range)
            return .failure(DiagnosticsError(ctx.diagnostics))
        }
        var result = ctx.gen(root)
        // A bare identifier that needs no conversion reads its slot: callers may read it directly.
        var slotRead: Int?
        if case .identifier(let name, _) = root, !result.poisoned, let b = scope.binding(for: name),
            expected == nil || expected == .any || result.type == expected || result.type == .null
        {
            slotRead = b.slot
        }
        if let expected, !result.poisoned {
            result = ctx.coerce(result, to: expected, SourceRange(start: root.startOffset, end: root.range.end))
        }
        if !ctx.diagnostics.isEmpty { return .failure(DiagnosticsError(ctx.diagnostics)) }
        let eval: Evaluator
        if let c = result.constant {
            eval = { _ throws(EvaluationError) in c }
        } else {
            eval = result.eval
        }
        let slotsRead = ctx.identifiers.compactMap { scope.binding(for: $0)?.slot }
        let valueReads = slotsRead.filter { (ctx.slotReads[$0] ?? 0) > (ctx.textArgumentReads[$0] ?? 0) }
        let textReads = slotsRead.filter { (ctx.textArgumentReads[$0] ?? 0) > 0 }
        let repeatable =
            coverage == nil
            && ctx.functionNames.allSatisfy { name in
                functions.function(named: name).map { $0.repeatable && !$0.readsRecordContext } ?? false
            }
        return .success(
            CompiledExpression(
                type: result.type, source: text, referencedIdentifiers: ctx.identifiers, lookupsUsed: ctx.lookupNames,
                functionsUsed: ctx.functionNames, branchCount: ctx.branchCount, constantValue: result.constant,
                evaluator: eval, callSites: callSites.snapshot, slotRead: result.constant == nil ? slotRead : nil, slotsRead: slotsRead,
                isRepeatable: repeatable, valueReadSlots: valueReads, textArgumentSlots: textReads))
    }
}

/// A compiled sub-expression.
struct TypedEvaluator {
    var type: ValueType
    var eval: Evaluator
    /// Set when the sub-expression is a compile-time constant.
    var constant: Value?
    /// Set after an error, to suppress cascading diagnostics.
    var poisoned = false
    /// Set for a `concat` of literals and names read as they are: the parts a keyed call
    /// builds its text from in a buffer (`CompilationContext.invokeBoundText`).
    var textParts: TextParts?

    static func constant(_ v: Value) -> TypedEvaluator {
        TypedEvaluator(type: v.type, eval: { _ throws(EvaluationError) in v }, constant: v)
    }

    static var poison: TypedEvaluator {
        TypedEvaluator(
            type: .any, eval: { _ throws(EvaluationError) in throw EvaluationError(message: "expression did not compile") },
            constant: nil, poisoned: true)
    }
}

/// The parts of a text built end to end: the arguments of `concat(a, '/', b)` (null parts
/// skipped) or the operands of a chain `'MCO|' & a & '|' & b` (a null part makes the text
/// null). Evaluated part by part into one buffer: a keyed call takes the bytes
/// (`BoundImplementation.unaryText`) without a string being made, and a chain of `&` makes one
/// string rather than one per operator. Each part is a literal's canonical text, the value of a
/// frame slot (a field or a `let` value, read as the expression reads it), or a sub-expression;
/// every part is evaluated once, in order, as the call or the operators would.
final class TextParts {
    /// What a null part does.
    enum Nulls {
        /// Adds nothing (`concat`).
        case skipped
        /// Makes the text null (`&`); the parts after it are evaluated all the same.
        case nullify
    }

    /// One part, as compiled.
    enum Part {
        case literal([UInt8])
        case slot(Int)
        case evaluator(Evaluator)
    }

    /// Texts up to this length are built on the stack.
    static let stackBytes = 512
    let nulls: Nulls
    /// The parts as compiled (a chain of `&` takes those of its operands).
    let parts: [Part]
    /// Per part: its slot (≥ 0), -1 for a literal (its bytes at `starts`, `counts` in
    /// `literal`), or -2 for a sub-expression (the next of `evaluators`). In buffers of its own:
    /// read per call without counting references to arrays.
    private let kinds: UnsafeMutablePointer<Int>
    private let starts: UnsafeMutablePointer<Int>
    private let counts: UnsafeMutablePointer<Int>
    private let literal: UnsafeMutablePointer<UInt8>
    private let evaluators: EvaluatorList
    let count: Int

    /// Whether non-null parts are joined by a separator (`concat_ws`, its bytes in
    /// `separatorBytes`): then a text with no non-null part is null.
    private let separated: Bool
    private let separatorBytes: UnsafeMutablePointer<UInt8>
    private let separatorCount: Int

    init(nulls: Nulls, parts: [Part], separator: [UInt8]? = nil) {
        self.nulls = nulls
        self.parts = parts
        separated = separator != nil
        separatorCount = separator?.count ?? 0
        separatorBytes = .allocate(capacity: max(1, separatorCount))
        if let separator { separatorBytes.initialize(from: separator, count: separator.count) }
        count = parts.count
        kinds = .allocate(capacity: max(1, count))
        starts = .allocate(capacity: max(1, count))
        counts = .allocate(capacity: max(1, count))
        var bytes: [UInt8] = []
        var boxes: [EvaluatorBox] = []
        for (i, p) in parts.enumerated() {
            switch p {
            case .literal(let b):
                (kinds + i).initialize(to: -1)
                (starts + i).initialize(to: bytes.count)
                (counts + i).initialize(to: b.count)
                bytes += b
            case .slot(let slot):
                (kinds + i).initialize(to: slot)
                (starts + i).initialize(to: 0)
                (counts + i).initialize(to: 0)
            case .evaluator(let e):
                (kinds + i).initialize(to: -2)
                (starts + i).initialize(to: boxes.count)
                (counts + i).initialize(to: 0)
                boxes.append(EvaluatorBox(e))
            }
        }
        literal = .allocate(capacity: max(1, bytes.count))
        literal.initialize(from: bytes, count: bytes.count)
        evaluators = EvaluatorList(boxes) { $0 }
    }

    deinit {
        kinds.deallocate()
        starts.deallocate()
        counts.deallocate()
        literal.deallocate()
        separatorBytes.deallocate()
    }

    /// The part of a sub-expression: its constant's text, its slot when it is a name of
    /// `scope` read as it is, else its evaluator. Nil for a null constant under `.skipped`.
    static func part(_ e: TypedEvaluator, node: ExpressionNode?, scope: any ExpressionScope, nulls: Nulls) -> Part? {
        if let c = e.constant {
            if c.isNull && nulls == .skipped { return nil }
            if !c.isNull { return .literal(Array(c.description.utf8)) }
        }
        if case .identifier(let name, _)? = node, let b = scope.binding(for: name) { return .slot(b.slot) }
        return .evaluator(e.eval)
    }

    /// The parts of `concat` or `concat_ws` (`way`) with arguments `args` (compiled from
    /// `nodes`); nil for a `concat_ws` whose separator is not a literal text.
    static func of(
        _ way: FunctionDefinition.TextOfParts, _ args: [TypedEvaluator], nodes: [ExpressionNode], scope: any ExpressionScope
    ) -> TextParts? {
        switch way {
        case .concatenated:
            return TextParts(nulls: .skipped, parts: args.indices.compactMap { part(args[$0], node: nodes[$0], scope: scope, nulls: .skipped) })
        case .separated:
            guard let sep = args.first?.constant, !sep.isNull else { return nil }
            let parts = args.indices.dropFirst().compactMap { part(args[$0], node: nodes[$0], scope: scope, nulls: .skipped) }
            return TextParts(nulls: .skipped, parts: parts, separator: Array(sep.description.utf8))
        }
    }

    /// The parts of `a & b` (compiled from `nodes`): an operand that is itself a chain of `&`
    /// gives its parts.
    static func ampersand(
        _ a: TypedEvaluator, _ b: TypedEvaluator, nodes: (ExpressionNode, ExpressionNode)?, scope: any ExpressionScope
    ) -> TextParts {
        var parts: [Part] = []
        for (e, node) in [(a, nodes?.0), (b, nodes?.1)] {
            if let t = e.textParts, t.nulls == .nullify {
                parts += t.parts
            } else if let p = part(e, node: node, scope: scope, nulls: .nullify) {
                parts.append(p)
            }
        }
        return TextParts(nulls: .nullify, parts: parts)
    }

    /// Evaluates the parts on `f`, in order, and calls `body` with the text's UTF-8 bytes, or
    /// with nil when the text is null (a null part of a chain of `&`). A part's error is thrown
    /// as it is.
    @inline(__always)
    func withText<R>(_ f: EvaluationFrame, _ body: (UnsafeBufferPointer<UInt8>?) throws(EvaluationError) -> R) throws(EvaluationError) -> R {
        var failure: EvaluationError?
        let result: R? = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.stackBytes) { stack -> R? in
            guard let base = stack.baseAddress else { return nil }
            var text = TextBuffer(stack: base, capacity: Self.stackBytes)
            defer { text.free() }
            var isNull = false
            // With a separator: whether a part was written (the next one is preceded by it).
            var written = false
            let sep = UnsafeBufferPointer(start: separatorBytes, count: separatorCount)
            /// Before a non-null part: the separator, when it follows another.
            @inline(__always) func separate(_ text: inout TextBuffer) {
                guard separated else { return }
                if written { text.append(sep) }
                written = true
            }
            for i in 0..<count {
                let kind = kinds[i]
                if kind >= 0 {
                    guard kind < f.count else {
                        failure = EvaluationError(message: "frame has no slot \(kind)", function: "concat")
                        return nil
                    }
                    // Read in place: the slot's string is not copied out of the frame.
                    switch f.storage[kind] {
                    case .string(let s):
                        separate(&text)
                        s.withUTF8Bytes { text.append($0) }
                    case .null:
                        if nulls == .nullify { isNull = true }
                    case let v:
                        separate(&text)
                        text.append(v.description)
                    }
                } else if kind == -1 {
                    separate(&text)
                    text.append(UnsafeBufferPointer(start: literal + starts[i], count: counts[i]))
                } else {
                    let v: Value
                    do throws(EvaluationError) {
                        v = try evaluators.evaluate(starts[i], f)
                    } catch {
                        failure = error
                        return nil
                    }
                    switch v {
                    case .string(let s):
                        separate(&text)
                        s.withUTF8Bytes { text.append($0) }
                    case .null:
                        if nulls == .nullify { isNull = true }
                    default:
                        separate(&text)
                        text.append(v.description)
                    }
                }
            }
            if separated && !written { isNull = true }
            do throws(EvaluationError) {
                return try body(isNull ? nil : text.bytes)
            } catch {
                failure = error
                return nil
            }
        }
        if let failure { throw failure }
        guard let result else { throw EvaluationError(message: "no buffer for a text", function: "concat") }
        return result
    }

    /// The text as a value (null when a part of a chain of `&` is).
    func value(_ f: EvaluationFrame) throws(EvaluationError) -> Value {
        try withText(f) { u in u.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null }
    }
}

@available(*, unavailable)
extension TextParts: Sendable {}

/// The bytes of a text being built: on the stack, moved to the heap past its capacity.
private struct TextBuffer {
    private var out: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var heap: UnsafeMutablePointer<UInt8>?
    private var count = 0

    init(stack: UnsafeMutablePointer<UInt8>, capacity: Int) {
        out = stack
        self.capacity = capacity
    }

    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: out, count: count) }

    @inline(__always)
    mutating func append(_ u: UnsafeBufferPointer<UInt8>) {
        guard let from = u.baseAddress else { return }
        let c = u.count
        if count + c > capacity { grow(count + c) }
        (out + count).update(from: from, count: c)
        count += c
    }

    mutating func append(_ s: String) {
        s.withUTF8Bytes { append($0) }
    }

    @inline(never)
    private mutating func grow(_ needed: Int) {
        var n = capacity * 2
        while n < needed { n *= 2 }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
        p.update(from: out, count: count)
        heap?.deallocate()
        heap = p
        out = p
        capacity = n
    }

    /// Frees the heap's bytes, if any.
    func free() { heap?.deallocate() }
}

/// The arms of a `case` with a subject whose `when`s are all literals.
struct LiteralArms {
    let whens: [Value]
    /// The results, when every one is a literal too (else each arm's evaluator gives it).
    let results: [Value]?

    /// The arms of `whens` and `results`; nil when a `when` is not a literal.
    init?(whens: [TypedEvaluator], results: [TypedEvaluator]) {
        var w: [Value] = []
        for e in whens {
            guard let c = e.constant else { return nil }
            w.append(c)
        }
        self.whens = w
        var r: [Value] = []
        for e in results {
            guard let c = e.constant else {
                self.results = nil
                return
            }
            r.append(c)
        }
        self.results = r
    }

    /// The first arm whose literal equals `subject` (as `=` compares), nil when none does.
    @inline(__always)
    func arm(of subject: Value) throws(EvaluationError) -> Int? {
        for i in whens.indices {
            if case .bool(true) = try Operators.equal(subject, whens[i], "case") { return i }
        }
        return nil
    }
}

/// Mutable state of one compilation.
final class CompilationContext {
    let text: String
    let bytes: [UInt8]
    let file: String?
    let line: Int
    let column: Int
    let continuationColumn: Int
    let compiler: ExpressionCompiler
    var diagnostics: [Diagnostic] = []
    var identifiers: [String] = []
    /// Per slot, how many times the expression reads it (each identifier compiled), and how
    /// many of those reads are the bare text argument of a call taking bytes
    /// (`FunctionDefinition.readsTextArgument`): `CompiledExpression.valueReadSlots`.
    var slotReads: [Int: Int] = [:]
    var textArgumentReads: [Int: Int] = [:]
    var lookupNames: [String] = []
    var functionNames: [String] = []
    var branchCount = 0

    init(text: String, file: String?, line: Int, column: Int, continuationColumn: Int, compiler: ExpressionCompiler) {
        self.text = text
        bytes = Array(text.utf8)
        self.file = file
        self.line = line
        self.column = column
        self.continuationColumn = continuationColumn
        self.compiler = compiler
    }

    // MARK: Locations and diagnostics

    func position(_ offset: Int) -> (line: Int, column: Int) {
        var l = line
        var c = column
        var i = 0
        let end = min(offset, bytes.count)
        while i < end {
            if bytes[i] == 0x0A {
                l += 1
                c = continuationColumn
            } else if bytes[i] & 0xC0 != 0x80 {
                c += 1
            }
            i += 1
        }
        return (l, c)
    }

    func error(_ code: String, _ message: String, _ range: SourceRange, notes: [String] = []) {
        let p = position(range.start)
        diagnostics.append(Diagnostic(code: code, message: message, file: file, line: p.line, column: p.column, notes: notes))
    }

    func slice(_ r: SourceRange) -> String {
        String(decoding: bytes[max(0, r.start)..<min(bytes.count, r.end)], as: UTF8.self)
    }

    func note(_ name: String, _ candidates: [String]) -> [String] {
        guard let s = Suggestion.closest(to: name, in: candidates) else { return [] }
        return ["did you mean '\(s)'?"]
    }

    private func remember(_ list: inout [String], _ name: String) {
        if !list.contains(name) { list.append(name) }
    }

    // MARK: Type helpers

    static func isNumeric(_ t: ValueType) -> Bool { t == .integer || t == .number || t == .any || t == .null }

    static func comparable(_ a: ValueType, _ b: ValueType) -> Bool {
        if a == .any || b == .any || a == .null || b == .null { return true }
        return Builtins.unify(a, b) != nil
    }

    @inline(__always)
    static func truth(_ v: Value, _ what: String) throws(EvaluationError) -> Bool {
        switch v {
        case .bool(let b): return b
        case .null: return false
        default: throw EvaluationError(message: "condition is \(v.type.rawValue), not boolean", function: what)
        }
    }

    /// Checks assignability to `expected` and inserts widening or run-time checks.
    func coerce(_ r: TypedEvaluator, to expected: ValueType, _ range: SourceRange) -> TypedEvaluator {
        guard r.type.isAssignable(to: expected) else {
            error("HZ3005", "type mismatch: expected \(expected.rawValue), found \(r.type.rawValue)", range)
            return .poison
        }
        if expected == .any || r.type == expected || r.type == .null { return r }
        let inner = r.eval
        var out = r
        out.type = expected
        out.textParts = nil
        let convert: @Sendable (Value) throws(EvaluationError) -> Value = { v throws(EvaluationError) in
            switch (v, expected) {
            case (.null, _): return v
            case (.int(let i), .number): return .double(Double(i))
            case (.date(let d), .datetime): return .dateTime(try Builtins.midnight(d, "expression"))
            default:
                guard v.type == expected else {
                    throw EvaluationError(message: "result is \(v.type.rawValue), expected \(expected.rawValue)", function: "expression")
                }
                return v
            }
        }
        if let c = r.constant {
            do { out.constant = try convert(c) } catch { return r }
            let v = out.constant ?? .null
            out.eval = { _ throws(EvaluationError) in v }
            return out
        }
        out.eval = { f throws(EvaluationError) in try convert(try inner(f)) }
        return out
    }

    /// Folds a sub-expression whose operands are all constant.
    func fold(_ r: TypedEvaluator, _ operands: [TypedEvaluator], _ range: SourceRange, pure: Bool = true) -> TypedEvaluator {
        guard pure, operands.allSatisfy({ $0.constant != nil }) else { return r }
        do {
            let v = try r.eval(EvaluationFrame(slotCount: 0))
            var out = TypedEvaluator.constant(v)
            if v.isNull { out.type = r.type }
            return out
        } catch {
            self.error("HZ3009", "constant expression fails: \(error.description)", range)
            return .poison
        }
    }

    // MARK: Code generation

    func gen(_ node: ExpressionNode) -> TypedEvaluator {
        switch node {
        case .literal(let v, _):
            return .constant(v)

        case .identifier(let name, let range):
            guard let b = compiler.scope.binding(for: name) else {
                error("HZ3002", "unknown identifier '\(name)'", range, notes: note(name, compiler.scope.knownIdentifiers))
                return .poison
            }
            remember(&identifiers, name)
            let slot = b.slot
            slotReads[slot, default: 0] += 1
            return TypedEvaluator(
                type: b.type,
                eval: { f throws(EvaluationError) in
                    // One access to the frame's array; a short frame is a caller bug, reported not trapped.
                    guard slot < f.count else { throw EvaluationError(message: "frame has no slot \(slot)", function: name) }
                    return f.storage[slot]
                })

        case .unary(let op, let operand, let range):
            return genUnary(op, gen(operand), range)

        case .binary(let op, let l, let r, let range):
            return genBinary(op, gen(l), gen(r), range, nodes: (l, r))

        case .isNull(let x, let negated, let range):
            let a = gen(x)
            if a.poisoned { return .poison }
            let e = a.eval
            let r = TypedEvaluator(type: .boolean, eval: { f throws(EvaluationError) in .bool(try e(f).isNull != negated) })
            return fold(r, [a], range)

        case .inList(let x, let items, let negated, let range):
            return genIn(gen(x), items.map { ($0.range, gen($0)) }, negated: negated, range)

        case .conditional(let c, let t, let e, let range):
            return genIf(c, t, e, range)

        case .caseWhen(let subject, let branches, let otherwise, let range):
            return genCase(subject, branches, otherwise, range)

        case .call(let name, let args, let range):
            return genCall(name, args, range)
        }
    }

    private func genUnary(_ op: ExpressionNode.UnaryOperator, _ a: TypedEvaluator, _ range: SourceRange) -> TypedEvaluator {
        if a.poisoned { return .poison }
        let e = a.eval
        switch op {
        case .negate:
            guard CompilationContext.isNumeric(a.type) else {
                error("HZ3005", "type mismatch: '-' expects a number, found \(a.type.rawValue)", range)
                return .poison
            }
            let r = TypedEvaluator(
                type: a.type == .null ? .integer : a.type,
                eval: { f throws(EvaluationError) in
                    switch try e(f) {
                    case .null: return .null
                    case .int(let i):
                        guard i != Int.min else { throw EvaluationError(message: "integer overflow", function: "-") }
                        return .int(-i)
                    case .double(let d): return .double(-d)
                    case let v: throw EvaluationError.type(expected: "number", found: v, in: "-")
                    }
                })
            return fold(r, [a], range)
        case .not:
            guard a.type.isAssignable(to: .boolean) else {
                error("HZ3005", "type mismatch: 'not' expects boolean, found \(a.type.rawValue)", range)
                return .poison
            }
            let r = TypedEvaluator(
                type: .boolean,
                eval: { f throws(EvaluationError) in
                    switch try e(f) {
                    case .null: return .null
                    case .bool(let b): return .bool(!b)
                    case let v: throw EvaluationError.type(expected: "boolean", found: v, in: "not")
                    }
                })
            return fold(r, [a], range)
        }
    }

    private func genBinary(
        _ op: ExpressionNode.BinaryOperator, _ a: TypedEvaluator, _ b: TypedEvaluator, _ range: SourceRange,
        nodes: (ExpressionNode, ExpressionNode)? = nil
    )
        -> TypedEvaluator
    {
        if a.poisoned || b.poisoned { return .poison }
        let l = a.eval
        let r = b.eval
        let opName = op.rawValue
        switch op {
        case .coalesce:
            guard let t = Builtins.unify(a.type, b.type) else {
                error("HZ3005", "type mismatch: '??' operands are \(a.type.rawValue) and \(b.type.rawValue)", range)
                return .poison
            }
            let la = widen(a, to: t)
            let rb = widen(b, to: t)
            if let c = la.constant { return c.isNull ? TypedEvaluator(type: t, eval: rb.eval, constant: rb.constant) : .constant(c) }
            let wl = la.eval
            let wr = rb.eval
            return TypedEvaluator(
                type: t,
                eval: { f throws(EvaluationError) in
                    let x = try wl(f)
                    return x.isNull ? try wr(f) : x
                })

        case .and, .or:
            for (x, side) in [(a, "left"), (b, "right")] where !x.type.isAssignable(to: .boolean) {
                error("HZ3005", "type mismatch: '\(opName)' expects boolean operands, the \(side) one is \(x.type.rawValue)", range)
                return .poison
            }
            let isAnd = op == .and
            let res = TypedEvaluator(
                type: .boolean,
                eval: { f throws(EvaluationError) in
                    let x = try l(f)
                    if case .bool(let bx) = x, bx != isAnd { return x }  // false and … / true or …
                    if !x.isNull, x.type != .boolean { throw EvaluationError.type(expected: "boolean", found: x, in: opName) }
                    let y = try r(f)
                    switch y {
                    case .bool(let by): if by != isAnd { return y }
                    case .null: break
                    default: throw EvaluationError.type(expected: "boolean", found: y, in: opName)
                    }
                    return x.isNull || y.isNull ? .null : .bool(isAnd)
                })
            return fold(res, [a, b], range)

        case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual:
            guard CompilationContext.comparable(a.type, b.type) else {
                error("HZ3005", "type mismatch: cannot compare \(a.type.rawValue) with \(b.type.rawValue)", range)
                return .poison
            }
            let res: TypedEvaluator
            switch op {
            case .equal, .notEqual:
                let neg = op == .notEqual
                res = TypedEvaluator(
                    type: .boolean,
                    eval: { f throws(EvaluationError) in
                        let x = try l(f)
                        let y = try r(f)
                        let v = try Operators.equal(x, y, opName)
                        if neg, case .bool(let bv) = v { return .bool(!bv) }
                        return v
                    })
            default:
                let test: @Sendable (Int) -> Bool
                switch op {
                case .less: test = { $0 < 0 }
                case .lessOrEqual: test = { $0 <= 0 }
                case .greater: test = { $0 > 0 }
                default: test = { $0 >= 0 }
                }
                res = TypedEvaluator(
                    type: .boolean,
                    eval: { f throws(EvaluationError) in
                        let x = try l(f)
                        let y = try r(f)
                        if x.isNull || y.isNull { return .null }
                        return .bool(test(try Operators.compare(x, y, opName)))
                    })
            }
            return fold(res, [a, b], range)

        case .concat:
            var res = TypedEvaluator(
                type: .string,
                eval: { f throws(EvaluationError) in
                    let x = try l(f)
                    let y = try r(f)
                    if case .string(let s) = x, case .string(let t) = y { return .string(s + t) }
                    if x.isNull || y.isNull { return .null }
                    return .string(x.description + y.description)
                })
            res = fold(res, [a, b], range)
            guard res.constant == nil else { return res }
            let parts = TextParts.ampersand(a, b, nodes: nodes, scope: compiler.scope)
            if parts.count > 2 {
                // A chain: its text made once, not a string per operator.
                res.eval = { f throws(EvaluationError) in try parts.value(f) }
            }
            res.textParts = parts
            return res

        case .add, .subtract, .multiply, .divide, .remainder:
            guard CompilationContext.isNumeric(a.type), CompilationContext.isNumeric(b.type) else {
                var message = "type mismatch: '\(opName)' expects numbers, found \(a.type.rawValue) and \(b.type.rawValue)"
                if [.date, .datetime].contains(a.type) { message += " (use add_days, add_months or days_between for dates)" }
                if a.type == .string || b.type == .string, op == .add { message += " (use '&' to concatenate text)" }
                error("HZ3005", message, range)
                return .poison
            }
            let ta = a.type == .null ? ValueType.integer : a.type
            let tb = b.type == .null ? ValueType.integer : b.type
            let t: ValueType
            if op == .divide || ta == .number || tb == .number {
                t = .number
            } else if ta == .integer && tb == .integer {
                t = .integer
            } else {
                t = .any
            }
            let res: TypedEvaluator
            switch op {
            case .add, .subtract, .multiply:
                // Integer fast path without the generic operator dispatch.
                let intOp: (Int, Int) -> (partialValue: Int, overflow: Bool) =
                    op == .add
                    ? { $0.addingReportingOverflow($1) }
                    : op == .subtract ? { $0.subtractingReportingOverflow($1) } : { $0.multipliedReportingOverflow(by: $1) }
                res = TypedEvaluator(
                    type: t,
                    eval: { f throws(EvaluationError) in
                        let x = try l(f)
                        let y = try r(f)
                        if case .int(let i) = x, case .int(let j) = y {
                            let (v, o) = intOp(i, j)
                            if o { throw EvaluationError(message: "integer overflow", function: opName) }
                            return .int(v)
                        }
                        if x.isNull || y.isNull { return .null }
                        return try Operators.arithmetic(op, x, y)
                    })
            default:
                res = TypedEvaluator(
                    type: t,
                    eval: { f throws(EvaluationError) in
                        let x = try l(f)
                        let y = try r(f)
                        if x.isNull || y.isNull { return .null }
                        return try Operators.arithmetic(op, x, y)
                    })
            }
            return fold(res, [a, b], range)
        }
    }

    private func genIn(_ a: TypedEvaluator, _ items: [(SourceRange, TypedEvaluator)], negated: Bool, _ range: SourceRange)
        -> TypedEvaluator
    {
        if a.poisoned || items.contains(where: { $0.1.poisoned }) { return .poison }
        var ok = true
        for (r, it) in items where !CompilationContext.comparable(a.type, it.type) {
            error("HZ3005", "type mismatch: cannot compare \(a.type.rawValue) with \(it.type.rawValue) in list", r)
            ok = false
        }
        if !ok { return .poison }
        let subject = a.eval
        let constants = items.compactMap(\.1.constant)
        if constants.count == items.count {
            // A list of literals (the usual `code in ('A', 'B')`): compared with the values
            // themselves, with no call of an item's closure (a retain and a release each).
            let listHasNull = constants.contains { $0.isNull }
            let values = constants.filter { !$0.isNull }
            let res = TypedEvaluator(
                type: .boolean,
                eval: { f throws(EvaluationError) in
                    let x = try subject(f)
                    if x.isNull { return .null }
                    for y in values {
                        if case .bool(true) = try Operators.equal(x, y, "in") { return .bool(!negated) }
                    }
                    return listHasNull ? .null : .bool(negated)
                })
            return fold(res, [a] + items.map(\.1), range)
        }
        let evals = EvaluatorList(items) { EvaluatorBox($0.1.eval) }
        let res = TypedEvaluator(
            type: .boolean,
            eval: { f throws(EvaluationError) in
                let x = try subject(f)
                if x.isNull { return .null }
                var sawNull = false
                for i in 0..<evals.count {
                    let y = try evals.evaluate(i, f)
                    if y.isNull {
                        sawNull = true
                        continue
                    }
                    if case .bool(true) = try Operators.equal(x, y, "in") { return .bool(!negated) }
                }
                return sawNull ? .null : .bool(negated)
            })
        return fold(res, [a] + items.map(\.1), range)
    }

    private func branchLocation(_ range: SourceRange, _ index: Int, _ label: String, at: SourceRange? = nil) -> Int? {
        guard let rec = compiler.coverage else { return nil }
        let p = position((at ?? range).start)
        let id = "\(file ?? "<expression>"):\(line):\(column)@\(range.start):\(index)"
        return rec.register(CoverageRecorder.Branch(id: id, label: label, file: file, line: p.line, column: p.column))
    }

    private func genIf(_ cNode: ExpressionNode, _ tNode: ExpressionNode, _ eNode: ExpressionNode?, _ range: SourceRange)
        -> TypedEvaluator
    {
        let c = gen(cNode)
        let t = gen(tNode)
        let e = eNode.map { gen($0) } ?? .constant(.null)
        branchCount += 2
        if c.poisoned || t.poisoned || e.poisoned { return .poison }
        guard c.type.isAssignable(to: .boolean) else {
            error("HZ3005", "type mismatch: 'if' condition must be boolean, found \(c.type.rawValue)", cNode.range)
            return .poison
        }
        guard let type = Builtins.unify(t.type, e.type) else {
            error("HZ3005", "type mismatch: 'if' branches are \(t.type.rawValue) and \(e.type.rawValue)", range)
            return .poison
        }
        let tw = widen(t, to: type)
        let ew = widen(e, to: type)
        let ce = c.eval
        let te = tw.eval
        let ee = ew.eval
        if let rec = compiler.coverage, let iThen = branchLocation(range, 0, "then"),
            let iElse = branchLocation(range, 1, eNode == nil ? "else (implicit)" : "else")
        {
            return TypedEvaluator(
                type: type,
                eval: { f throws(EvaluationError) in
                    if try CompilationContext.truth(try ce(f), "if") {
                        rec.hit(iThen)
                        return try te(f)
                    }
                    rec.hit(iElse)
                    return try ee(f)
                })
        }
        if let cv = c.constant {
            let chosen = (try? CompilationContext.truth(cv, "if")) == true ? tw : ew
            var out = chosen
            out.type = type
            return out
        }
        return TypedEvaluator(
            type: type,
            eval: { f throws(EvaluationError) in
                try CompilationContext.truth(try ce(f), "if") ? try te(f) : try ee(f)
            })
    }

    /// Converts run-time integers to numbers (dates to date-times) when the static type is number
    /// (date-time), for functions whose result type is computed from mixed argument types.
    private func widenValues(_ r: TypedEvaluator) -> TypedEvaluator {
        guard r.type == .number || r.type == .datetime else { return r }
        let inner = r.eval
        var out = r
        out.textParts = nil
        out.eval = { f throws(EvaluationError) in
            switch try inner(f) {
            case .int(let i): return .double(Double(i))
            case .date(let d): return .dateTime(try Builtins.midnight(d, "expression"))
            case let v: return v
            }
        }
        return out
    }

    /// Widens integer branches to number and date branches to date-time when the unified type requires it.
    private func widen(_ r: TypedEvaluator, to type: ValueType) -> TypedEvaluator {
        guard r.type != type, type == .number || type == .datetime else { return r }
        return coerce(r, to: type, SourceRange(start: 0, end: 0))
    }

    private func genCase(
        _ subjectNode: ExpressionNode?, _ branches: [(ExpressionNode, ExpressionNode, SourceRange)], _ otherwise: ExpressionNode?,
        _ range: SourceRange
    ) -> TypedEvaluator {
        let subject = subjectNode.map { gen($0) }
        let whens = branches.map { gen($0.0) }
        let results = branches.map { gen($0.1) }
        let other = otherwise.map { gen($0) } ?? .constant(.null)
        branchCount += branches.count + 1
        var failed = (subject?.poisoned ?? false) || whens.contains { $0.poisoned } || results.contains { $0.poisoned } || other.poisoned
        if failed { return .poison }
        for (i, w) in whens.enumerated() {
            if let s = subject {
                if !CompilationContext.comparable(s.type, w.type) {
                    error("HZ3005", "type mismatch: cannot compare \(s.type.rawValue) with \(w.type.rawValue) in 'when'", branches[i].0.range)
                    failed = true
                }
            } else if !w.type.isAssignable(to: .boolean) {
                error("HZ3005", "type mismatch: 'when' condition must be boolean, found \(w.type.rawValue)", branches[i].0.range)
                failed = true
            }
        }
        guard let type = Builtins.unify(results.map(\.type) + [other.type]) else {
            error(
                "HZ3005",
                "type mismatch: 'case' results have incompatible types (\(Set(results.map(\.type.rawValue) + [other.type.rawValue]).sorted().joined(separator: ", ")))",
                range)
            return .poison
        }
        if failed { return .poison }
        let whenEvals = EvaluatorList(whens) { EvaluatorBox($0.eval) }
        let resultEvals = EvaluatorList(results) { EvaluatorBox(widen($0, to: type).eval) }
        let otherEval = widen(other, to: type).eval
        let subjectEval = subject?.eval
        var counters: [Int]? = nil
        if compiler.coverage != nil {
            var ids: [Int] = []
            for (i, b) in branches.enumerated() {
                if let k = branchLocation(range, i, slice(b.2), at: b.2) { ids.append(k) }
            }
            if let k = branchLocation(range, branches.count, otherwise == nil ? "else (implicit)" : "else") { ids.append(k) }
            counters = ids
        }
        let rec = compiler.coverage
        let n = whenEvals.count
        if let subjectEval, counters == nil, let arms = LiteralArms(whens: whens, results: results.map { widen($0, to: type) }) {
            // `case x when 'A' then 1 when 'B' then 2 …` (code lists): the subject is compared
            // with the literals as they are, and a literal result returned, without calling an
            // evaluator per arm (each call counted a reference to its closure).
            return TypedEvaluator(
                type: type,
                eval: { f throws(EvaluationError) in
                    let s = try subjectEval(f)
                    if !s.isNull, let i = try arms.arm(of: s) {
                        if let r = arms.results { return r[i] }
                        return try resultEvals.evaluate(i, f)
                    }
                    return try otherEval(f)
                })
        }
        return TypedEvaluator(
            type: type,
            eval: { f throws(EvaluationError) in
                if let subjectEval {
                    let s = try subjectEval(f)
                    if !s.isNull {
                        for i in 0..<n {
                            let w = try whenEvals.evaluate(i, f)
                            if case .bool(true) = try Operators.equal(s, w, "case") {
                                if let rec, let counters { rec.hit(counters[i]) }
                                return try resultEvals.evaluate(i, f)
                            }
                        }
                    }
                } else {
                    for i in 0..<n where try CompilationContext.truth(try whenEvals.evaluate(i, f), "case") {
                        if let rec, let counters { rec.hit(counters[i]) }
                        return try resultEvals.evaluate(i, f)
                    }
                }
                if let rec, let counters { rec.hit(counters[n]) }
                return try otherEval(f)
            })
    }

    // MARK: Calls

    private func genCall(_ rawName: String, _ argNodes: [ExpressionNode], _ range: SourceRange) -> TypedEvaluator {
        let name = rawName.lowercased()
        let found = compiler.functions.function(named: name)
        if found != nil || name == "lookup" { remember(&functionNames, name) }
        let args = argNodes.map { gen($0) }
        guard let def = found else {
            if name == "lookup" { return genLookup(args, argNodes, range) }
            error("HZ3003", "unknown function '\(rawName)'", range, notes: note(rawName, compiler.functions.names + ["lookup"]))
            return .poison
        }
        let candidates = def.signatures.filter { $0.accepts(arity: args.count) }
        guard !candidates.isEmpty else {
            let forms = def.signatures.map { name + $0.rendered }.joined(separator: "; ")
            error(
                "HZ3004", "wrong number of arguments: '\(name)' does not take \(args.count) argument\(args.count == 1 ? "" : "s")", range,
                notes: ["expected \(forms)"])
            return .poison
        }
        if args.contains(where: { $0.poisoned }) { return .poison }
        let types = args.map(\.type)
        let matching = candidates.filter { sig in types.indices.allSatisfy { types[$0].isAssignable(to: sig.parameterType(at: $0)) } }
        guard let sig = matching.first else {
            let sig = candidates[0]
            for i in types.indices where !types[i].isAssignable(to: sig.parameterType(at: i)) {
                error(
                    "HZ3005",
                    "type mismatch: argument \(i + 1) of '\(name)' expects \(sig.parameterType(at: i).rawValue), found \(types[i].rawValue)",
                    argNodes[i].range)
                break
            }
            return .poison
        }
        // Result type; with `any` arguments several signatures may match.
        func resultType(_ s: FunctionDefinition.Signature) -> ValueType? {
            switch s.result {
            case .fixed(let t): return t
            case .computed(let f): return f(types)
            }
        }
        guard var type = resultType(sig) else {
            error("HZ3005", "type mismatch: incompatible argument types for '\(name)' (\(types.map(\.rawValue).joined(separator: ", ")))", range)
            return .poison
        }
        if matching.count > 1, types.contains(.any) {
            for other in matching.dropFirst() {
                // Different result types depending on the run-time type: only `any` is truthful.
                if resultType(other) != type { type = .any }
            }
        }
        // Literal arguments.
        var literalIndices: [Int] = []
        var ok = true
        for i in args.indices where def.requiresLiteral(at: i, signature: sig) {
            literalIndices.append(i)
            if args[i].constant == nil {
                error("HZ3006", "argument \(i + 1) of '\(name)' must be a literal", argNodes[i].range)
                ok = false
            }
        }
        if !ok { return .poison }
        var impl = sig.implementation ?? def.implementation
        var runtimeArgs = args
        if case .specialized(let make) = impl {
            let lits: [Value?] = args.indices.map { literalIndices.contains($0) ? args[$0].constant : nil }
            do {
                impl = try make(lits)
            } catch {
                let at = error.argument < argNodes.count ? argNodes[error.argument].range : range
                self.error("HZ3007", "invalid argument \(error.argument + 1) of '\(name)': \(error.message)", at)
                return .poison
            }
            runtimeArgs = args.indices.filter { !literalIndices.contains($0) }.map { args[$0] }
        }
        let traced: String?
        if def.recordsLookups, runtimeArgs.count == 1 {
            if let i = literalIndices.first, case .string(let source)? = args[i].constant { traced = source } else { traced = "" }
        } else {
            traced = nil
        }
        var argBoxes = runtimeArgs.map { EvaluatorBox($0.eval) }
        if def.readsRecordContext { argBoxes.insert(EvaluatorBox(EvaluationFrame.contextEvaluator(withLocation: args.isEmpty)), at: 0) }
        let argEvals = EvaluatorList(argBoxes) { $0 }
        if case .perRun(let bind) = impl {
            // Per-run state: the call reads its run's implementation from the frame. Such a call
            // is never folded at compile time (its result depends on the run).
            let site = compiler.callSites.add(name: name, bind)
            if runtimeArgs.count == 1, !def.readsRecordContext, let i = args.indices.first(where: { !literalIndices.contains($0) }),
                case .identifier(let id, _) = argNodes[i], let b = compiler.scope.binding(for: id)
            {
                // The argument is a field or a named value as it is: the run may act on it early.
                compiler.callSites.addHint(slot: b.slot, site: site)
            }
            let eval: Evaluator
            if def.readsTextArgument, runtimeArgs.count == 1, !def.readsRecordContext, traced == nil,
                let i = args.indices.first(where: { !literalIndices.contains($0) }), case .identifier(let id, _) = argNodes[i],
                let b = compiler.scope.binding(for: id), b.type == .string
            {
                // A text field or named value as it is: the record's bytes when the row loop
                // gives them (`EvaluationFrame.spans`), else the slot's value.
                textArgumentReads[b.slot, default: 0] += 1
                eval = CompilationContext.invokeBoundSlotText(site: site, slot: b.slot, argEvals, name: name, propagatesNull: def.propagatesNull)
            } else if runtimeArgs.count == 1, !def.readsRecordContext, traced == nil, let parts = runtimeArgs[0].textParts {
                // The argument is a `concat` of fields and literals: built in a buffer when the
                // run's implementation takes text.
                eval = CompilationContext.invokeBoundText(site: site, parts: parts, argEvals, name: name, propagatesNull: def.propagatesNull)
            } else {
                eval = CompilationContext.invokeBound(site: site, argEvals, name: name, propagatesNull: def.propagatesNull, tracedSource: traced)
            }
            var res = TypedEvaluator(type: type, eval: eval)
            if case .computed = sig.result { res = widenValues(res) }
            return res
        }
        guard var eval = CompilationContext.invoke(impl, argEvals, name: name, propagatesNull: def.propagatesNull, tracedSource: traced)
        else {
            error("HZ3004", "function '\(name)' has no implementation for \(runtimeArgs.count) argument(s)", range)
            return .poison
        }
        if let text = def.textImplementation, case .unary = impl, runtimeArgs.count == 1, literalIndices.isEmpty, traced == nil,
            case .identifier(let id, _) = argNodes[0], let b = compiler.scope.binding(for: id), b.type == .string
        {
            // A text field or named value as it is: the record's bytes when the row loop gives
            // them (`EvaluationFrame.spans`), else the slot's value.
            textArgumentReads[b.slot, default: 0] += 1
            eval = CompilationContext.invokeSlotText(slot: b.slot, text, general: eval, name: name)
        }
        var res = TypedEvaluator(type: type, eval: eval)
        if case .computed = sig.result { res = widenValues(res) }
        res = fold(res, runtimeArgs, range, pure: def.isPure)
        if res.constant?.isNull == true { res.type = type }
        if let way = def.textOfParts, res.constant == nil { res.textParts = TextParts.of(way, args, nodes: argNodes, scope: compiler.scope) }
        return res
    }

    /// Wraps an implementation into an evaluator, with null propagation and error attribution.
    static func invoke(
        _ impl: FunctionDefinition.Implementation, _ args: EvaluatorList, name: String, propagatesNull: Bool, tracedSource: String? = nil
    ) -> Evaluator? {
        @inline(__always) func named(_ e: EvaluationError) -> EvaluationError {
            var e = e
            if e.function == nil { e.function = name }
            return e
        }
        switch (impl, args.count) {
        case (.unary(let fn), 1) where tracedSource != nil:
            // A lookup worth recording in row lineage: the frame's trace, when set, notes it.
            let a0 = args.closure(0)
            let site = LookupUse.Site(function: name, source: tracedSource ?? "")
            return { f throws(EvaluationError) in
                let x = try a0(f)
                if propagatesNull, x.isNull { return .null }
                let r: Value
                do throws(EvaluationError) { r = try fn(x) } catch { throw named(error) }
                if let t = f.lookupTrace { t.note(site, x, r) }
                return r
            }
        case (.unary(let fn), 1):
            let a0 = args.closure(0)
            return { f throws(EvaluationError) in
                let x = try a0(f)
                if propagatesNull, x.isNull { return .null }
                do throws(EvaluationError) { return try fn(x) } catch { throw named(error) }
            }
        case (.binary(let fn), 2):
            let a0 = args.closure(0)
            let a1 = args.closure(1)
            return { f throws(EvaluationError) in
                let x = try a0(f)
                let y = try a1(f)
                if propagatesNull, x.isNull || y.isNull { return .null }
                do throws(EvaluationError) { return try fn(x, y) } catch { throw named(error) }
            }
        case (.ternary(let fn), 3):
            let a0 = args.closure(0)
            let a1 = args.closure(1)
            let a2 = args.closure(2)
            return { f throws(EvaluationError) in
                let x = try a0(f)
                let y = try a1(f)
                let z = try a2(f)
                if propagatesNull, x.isNull || y.isNull || z.isNull { return .null }
                do throws(EvaluationError) { return try fn(x, y, z) } catch { throw named(error) }
            }
        case (.variadic(let fn), _):
            return { f throws(EvaluationError) in try callVariadic(args, f, propagatesNull: propagatesNull, fn, named: named) }
        default:
            return nil
        }
    }

    /// Evaluates `args` into a buffer on the stack and calls `fn` with it (no array per call):
    /// null when an argument is null and `propagatesNull`; an argument's error as it is, the
    /// function's through `named`.
    @inline(__always)
    static func callVariadic(
        _ args: EvaluatorList, _ f: EvaluationFrame, propagatesNull: Bool, _ fn: (UnsafeBufferPointer<Value>) throws(EvaluationError) -> Value,
        named: (EvaluationError) -> EvaluationError
    ) throws(EvaluationError) -> Value {
        var failure: EvaluationError?
        let result: Value = withUnsafeTemporaryAllocation(of: Value.self, capacity: max(1, args.count)) { buf in
            var k = 0
            defer { _ = UnsafeMutableBufferPointer(rebasing: buf[0..<k]).deinitialize() }
            for i in 0..<args.count {
                let v: Value
                do throws(EvaluationError) {
                    v = try args.evaluate(i, f)
                } catch {
                    failure = error
                    return .null
                }
                if propagatesNull, v.isNull { return .null }
                buf.initializeElement(at: k, to: v)
                k += 1
            }
            do throws(EvaluationError) {
                return try fn(UnsafeBufferPointer(rebasing: buf[0..<k]))
            } catch {
                failure = named(error)
                return .null
            }
        }
        if let failure { throw failure }
        return result
    }

    /// Calls `fn` with the first `count` (at most three) of `a`, `b`, `c` in a buffer on the stack.
    @inline(__always)
    static func withThree(
        _ a: Value, _ b: Value, _ c: Value, count: Int, _ fn: (UnsafeBufferPointer<Value>) throws(EvaluationError) -> Value
    ) throws(EvaluationError) -> Value {
        var failure: EvaluationError?
        let result: Value = withUnsafeTemporaryAllocation(of: Value.self, capacity: 3) { buf in
            buf.initializeElement(at: 0, to: a)
            buf.initializeElement(at: 1, to: b)
            buf.initializeElement(at: 2, to: c)
            defer { _ = buf.deinitialize() }
            do throws(EvaluationError) {
                return try fn(UnsafeBufferPointer(rebasing: buf[0..<min(3, count)]))
            } catch {
                failure = error
                return .null
            }
        }
        if let failure { throw failure }
        return result
    }

    /// The evaluator of a call with per-run state: the implementation is the frame's bound one
    /// for `site`, with null propagation and error attribution as `invoke`.
    static func invokeBound(site: Int, _ args: EvaluatorList, name: String, propagatesNull: Bool, tracedSource: String?) -> Evaluator {
        @inline(__always) func named(_ e: EvaluationError) -> EvaluationError {
            var e = e
            if e.function == nil { e.function = name }
            return e
        }
        let unbound = EvaluationError(
            reason: .expressionError, message: "\(name): the call is not bound to a run (evaluate with a frame bound to the plan's call sites)",
            function: name)
        let arity = EvaluationError(
            reason: .expressionError, message: "\(name): the run's implementation does not take \(args.count) argument(s)", function: name)
        let traceSite = tracedSource.map { LookupUse.Site(function: name, source: $0) }
        return { f throws(EvaluationError) in
            // More than three arguments: only a variadic implementation takes them (the others,
            // the common case, are not looked at twice per call).
            if args.count > 3, let bound = f.boundImplementation(site) {
                var variadic: ((UnsafeBufferPointer<Value>) throws(EvaluationError) -> Value)?
                bound._withUnsafeGuaranteedRef { if $0.kind == .variadic { variadic = $0.variadic } }
                if let variadic { return try callVariadic(args, f, propagatesNull: propagatesNull, variadic, named: named) }
            }
            var a = Value.null
            var b = Value.null
            var c = Value.null
            for k in 0..<args.count {
                let v = try args.evaluate(k, f)
                if propagatesNull, v.isNull { return .null }
                switch k {
                case 0: a = v
                case 1: b = v
                case 2: c = v
                default: break
                }
            }
            guard let bound = f.boundImplementation(site) else { throw unbound }
            // Called through the frame's box, uncounted: no reference count per call.
            var failure: EvaluationError?
            let r: Value = bound._withUnsafeGuaranteedRef { box in
                do throws(EvaluationError) {
                    switch (box.kind, args.count) {
                    case (.unary, 1): return try box.unary(a)
                    case (.binary, 2): return try box.binary(a, b)
                    case (.ternary, 3): return try box.ternary(a, b, c)
                    case (.variadic, let n) where n <= 3:
                        // Up to three arguments, already evaluated: passed from the stack.
                        return try withThree(a, b, c, count: n, box.variadic)
                    default: throw arity
                    }
                } catch {
                    failure = error
                    return .null
                }
            }
            if let failure { throw named(failure) }
            if let traceSite, args.count == 1, let t = f.lookupTrace { t.note(traceSite, a, r) }
            return r
        }
    }

    /// The evaluator of a call with per-run state whose one argument is a text built from
    /// parts (`concat(…)`, a chain of `&`: `TextParts`): the parts are written end to end into
    /// a buffer and, when the run's implementation takes text (`BoundImplementation.unaryText`),
    /// handed over as bytes, without a string; otherwise as the string they make. Null
    /// propagation and error attribution as `invokeBound`.
    static func invokeBoundText(site: Int, parts: TextParts, _ args: EvaluatorList, name: String, propagatesNull: Bool) -> Evaluator {
        let general = invokeBound(site: site, args, name: name, propagatesNull: propagatesNull, tracedSource: nil)
        return { f throws(EvaluationError) in
            // Not bound: the general path says so, as for any call.
            guard let bound = f.boundImplementation(site) else { return try general(f) }
            var unary = false
            bound._withUnsafeGuaranteedRef { unary = $0.kind == .unary }
            // An implementation of another shape: the general path reports it.
            guard unary else { return try general(f) }
            return try parts.withText(f) { u throws(EvaluationError) in
                if u == nil && propagatesNull { return .null }
                return try callUnary(bound, text: u, name: name)
            }
        }
    }

    /// Calls the one-argument implementation in `bound` (of kind `.unary`) with a text given as
    /// UTF-8 bytes: as they are when it takes text (`BoundImplementation.unaryText`), else as the
    /// string they spell; nil: null. Through the frame's box, uncounted (as `invokeBound`); an
    /// error without a function is attributed to `name`.
    @inline(__always)
    static func callUnary(_ bound: Unmanaged<BoundBox>, text u: UnsafeBufferPointer<UInt8>?, name: String) throws(EvaluationError) -> Value {
        var failure: EvaluationError?
        let r: Value = bound._withUnsafeGuaranteedRef { box in
            do throws(EvaluationError) {
                guard let u else { return try box.unary(.null) }
                if box.takesText { return try box.text(u) }
                return try box.unary(.string(String(decoding: u, as: UTF8.self)))
            } catch {
                failure = error
                return .null
            }
        }
        if var failure {
            if failure.function == nil { failure.function = name }
            throw failure
        }
        return r
    }

    /// The evaluator of a call with per-run state whose one argument is the text in `slot`
    /// read as it is: when the row loop gave the record's bytes for the slot
    /// (`EvaluationFrame.spans`), they are handed over as they are to an implementation taking
    /// text (`BoundImplementation.unaryText`), or as the string they spell to another; without
    /// bytes the slot holds the value, and the call is `invokeBound`'s.
    static func invokeBoundSlotText(site: Int, slot: Int, _ args: EvaluatorList, name: String, propagatesNull: Bool) -> Evaluator {
        let general = invokeBound(site: site, args, name: name, propagatesNull: propagatesNull, tracedSource: nil)
        return { f throws(EvaluationError) in
            guard let u = f.textBytes(slot), let bound = f.boundImplementation(site) else { return try general(f) }
            var unary = false
            bound._withUnsafeGuaranteedRef { unary = $0.kind == .unary }
            guard unary else {
                // An implementation of another shape: the general path, given the value in the slot.
                f.storage[slot] = .string(String(decoding: u, as: UTF8.self))
                f.spans[slot] = TextSpan()
                return try general(f)
            }
            return try callUnary(bound, text: u, name: name)
        }
    }

    /// The evaluator of a pure call whose one argument is the text in `slot` read as it is:
    /// `text` of the record's bytes when the row loop gave them (`EvaluationFrame.spans`), else
    /// `general` (the call on the slot's value). Errors are attributed as `invoke`'s.
    static func invokeSlotText(
        slot: Int, _ text: @escaping @Sendable (UnsafeBufferPointer<UInt8>) throws(EvaluationError) -> Value, general: @escaping Evaluator,
        name: String
    ) -> Evaluator {
        { f throws(EvaluationError) in
            guard let u = f.textBytes(slot) else { return try general(f) }
            do throws(EvaluationError) {
                return try text(u)
            } catch {
                var e = error
                if e.function == nil { e.function = name }
                throw e
            }
        }
    }

    /// The slot of a lookup's one key when it is a text field or named value as it is (its
    /// read counted as a text argument's: `textArgumentReads`), else -1.
    private func textKeySlot(_ argNodes: [ExpressionNode]) -> Int {
        guard argNodes.count == 2, case .identifier(let id, _) = argNodes[1], let b = compiler.scope.binding(for: id), b.type == .string
        else { return -1 }
        textArgumentReads[b.slot, default: 0] += 1
        return b.slot
    }

    private func genLookup(_ args: [TypedEvaluator], _ argNodes: [ExpressionNode], _ range: SourceRange) -> TypedEvaluator {
        guard args.count >= 2 else {
            error("HZ3004", "wrong number of arguments: 'lookup' takes a table name and at least one key", range)
            return .poison
        }
        guard case .string(let tableName)? = args[0].constant else {
            error("HZ3006", "argument 1 of 'lookup' must be a literal table name", argNodes[0].range)
            return .poison
        }
        guard let shape = compiler.lookups?.lookupTable(named: tableName) else {
            let names = compiler.lookups?.lookupNames ?? []
            error("HZ3008", "unknown lookup '\(tableName)'", argNodes[0].range, notes: note(tableName, names))
            return .poison
        }
        remember(&lookupNames, tableName)
        let table = shape
        let keys = Array(args.dropFirst())
        guard keys.count == table.keyCount else {
            error(
                "HZ3004",
                "wrong number of arguments: lookup '\(tableName)' has \(table.keyCount) key column\(table.keyCount == 1 ? "" : "s"), found \(keys.count) key\(keys.count == 1 ? "" : "s")",
                range)
            return .poison
        }
        if keys.contains(where: { $0.poisoned }) { return .poison }
        let fatal = table.missIsFatal
        let miss = EvaluationError(reason: .lookupMiss, message: "no entry in lookup '\(tableName)'", function: "lookup")
        let site = LookupUse.Site(function: "lookup", source: tableName)
        if let declared = shape as? any RunLoadedLookup {
            // A table read from a file when the run starts: the run's copy is a call site.
            let index = compiler.callSites.add(name: "lookup", declared.binder())
            let evals = EvaluatorList(keys) { EvaluatorBox($0.eval) }
            let unbound = EvaluationError(reason: .expressionError, message: "lookup '\(tableName)' is not loaded for this run", function: "lookup")
            /// The run's table bound to the call site, or the run's failure.
            @inline(__always)
            func boundTable(_ f: EvaluationFrame) throws(EvaluationError) -> any LookupTable {
                var table: (any LookupTable)?
                f.boundImplementation(index)?._withUnsafeGuaranteedRef { table = $0.lookup }
                guard let loaded = table else { throw unbound }
                return loaded
            }
            /// Throws the run's failure when nothing was found because the table cannot be read.
            @inline(__always)
            func checkReadable(_ v: Value?, _ loaded: any LookupTable) throws(EvaluationError) {
                if v == nil, let failing = loaded as? any FailableLookupTable, let why = failing.readFailure {
                    // Not a miss: the table cannot be read (its on-disk part), for this record and every later one.
                    throw .runFailure("lookup '\(tableName)' cannot be read: \(why)", function: "lookup")
                }
            }
            if evals.count == 1 {
                // A text field or named value as the key, as it is: the record's bytes when the
                // row loop gives them (`EvaluationFrame.spans`).
                let textSlot = textKeySlot(argNodes)
                return TypedEvaluator(
                    type: table.valueType,
                    eval: { f throws(EvaluationError) in
                        let u = f.textBytes(textSlot)
                        let k0 = u == nil ? try evals.evaluate(0, f) : .null
                        if u == nil && k0.isNull { return .null }
                        let loaded = try boundTable(f)
                        let v = u.map { loaded.value(forText: $0) } ?? loaded.value(forKey: k0)
                        try checkReadable(v, loaded)
                        if let t = f.lookupTrace { t.note(site, u.map { .string(String(decoding: $0, as: UTF8.self)) } ?? k0, v ?? .null) }
                        if let v { return v }
                        if fatal { throw miss }
                        return .null
                    })
            }
            // Several keys: evaluated into a buffer on the stack, no array a lookup.
            return TypedEvaluator(
                type: table.valueType,
                eval: { f throws(EvaluationError) in
                    try CompilationContext.callVariadic(
                        evals, f, propagatesNull: true,
                        { ks throws(EvaluationError) in
                            let loaded = try boundTable(f)
                            let v = loaded.value(forKeys: ks)
                            try checkReadable(v, loaded)
                            if let t = f.lookupTrace { t.note(site, keys: Array(ks), v ?? .null) }
                            if let v { return v }
                            if fatal { throw miss }
                            return .null
                        }, named: { $0 })
                })
        }
        guard let table = shape as? any LookupTable else {
            error("HZ3008", "lookup '\(tableName)' has no rows to read", argNodes[0].range)
            return .poison
        }
        if keys.count == 1 {
            let k0 = keys[0].eval
            let textSlot = textKeySlot(argNodes)
            return TypedEvaluator(
                type: table.valueType,
                eval: { f throws(EvaluationError) in
                    // The record's bytes of a text key as it is (`EvaluationFrame.spans`), else its value.
                    let k: Value
                    if let u = f.textBytes(textSlot) { k = .string(String(decoding: u, as: UTF8.self)) } else { k = try k0(f) }
                    if k.isNull { return .null }
                    let v = table.value(forKey: k)
                    if let t = f.lookupTrace { t.note(site, k, v ?? .null) }
                    if let v { return v }
                    if fatal { throw miss }
                    return .null
                })
        }
        let evals = EvaluatorList(keys) { EvaluatorBox($0.eval) }
        // Several keys: evaluated into a buffer on the stack, no array a lookup.
        return TypedEvaluator(
            type: table.valueType,
            eval: { f throws(EvaluationError) in
                try CompilationContext.callVariadic(
                    evals, f, propagatesNull: true,
                    { ks throws(EvaluationError) in
                        let v = table.value(forKeys: ks)
                        if let t = f.lookupTrace { t.note(site, keys: Array(ks), v ?? .null) }
                        if let v { return v }
                        if fatal { throw miss }
                        return .null
                    }, named: { $0 })
            })
    }
}
