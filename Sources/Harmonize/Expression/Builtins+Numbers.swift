/// Numeric functions.
extension Builtins {
    static func roundHalfAway(_ x: Double, _ digits: Int) throws(EvaluationError) -> Double {
        guard digits >= -15, digits <= 15 else { throw fail("round", "digits must be between -15 and 15") }
        var scale = 1.0
        for _ in 0..<abs(digits) { scale *= 10 }
        let r = digits >= 0 ? (x * scale).rounded(.toNearestOrAwayFromZero) / scale : (x / scale).rounded(.toNearestOrAwayFromZero) * scale
        return r
    }

    static func extremum(_ args: UnsafeBufferPointer<Value>, _ fn: String, wantMax: Bool) throws(EvaluationError) -> Value {
        var best: Value = .null
        var sawDouble = false
        for a in args where !a.isNull {
            if case .double = a { sawDouble = true }
            if best.isNull {
                best = a
                continue
            }
            let c = try Operators.compare(a, best, fn)
            if wantMax ? c > 0 : c < 0 { best = a }
        }
        if sawDouble, case .int(let i) = best { return .double(Double(i)) }
        return best
    }

    static func numericResult(_ types: [ValueType]) -> ValueType? {
        guard let u = unify(types) else { return nil }
        switch u {
        case .integer, .number, .any, .null: return u
        default: return nil
        }
    }

    static func comparableResult(_ types: [ValueType]) -> ValueType? {
        guard let u = unify(types) else { return nil }
        return u == .boolean ? nil : u
    }

    static let numbers: [FunctionDefinition] = [
        FunctionDefinition(
            name: "round", doc: "Rounds half away from zero, to `digits` decimals (default 0).",
            signatures: [
                Sig([.integer], returns: .integer),
                Sig([.number], returns: .number),
                Sig(
                    [.number, .integer], returns: .number,
                    implementation: .binary { x, d throws(EvaluationError) in
                        .double(try roundHalfAway(try number(x, "round"), try integer(d, "round")))
                    }),
            ],
            implementation: .unary { x throws(EvaluationError) in
                if case .int = x { return x }
                return .double(try roundHalfAway(try number(x, "round"), 0))
            }),
        FunctionDefinition(
            name: "floor", doc: "Largest integral value not greater than x.",
            signatures: [Sig([.integer], returns: .integer), Sig([.number], returns: .number)],
            implementation: .unary { x throws(EvaluationError) in
                if case .int = x { return x }
                return .double(try number(x, "floor").rounded(.down))
            }),
        FunctionDefinition(
            name: "ceil", doc: "Smallest integral value not less than x.",
            signatures: [Sig([.integer], returns: .integer), Sig([.number], returns: .number)],
            implementation: .unary { x throws(EvaluationError) in
                if case .int = x { return x }
                return .double(try number(x, "ceil").rounded(.up))
            }),
        FunctionDefinition(
            name: "abs", doc: "Absolute value.",
            signatures: [Sig([.integer], returns: .integer), Sig([.number], returns: .number)],
            implementation: .unary { x throws(EvaluationError) in
                if case .int(let i) = x {
                    guard i != Int.min else { throw fail("abs", "integer overflow") }
                    return .int(abs(i))
                }
                return .double(abs(try number(x, "abs")))
            }),
        FunctionDefinition(
            name: "min", doc: "Smallest non-null argument (numbers, strings or dates); null when all are null.",
            signatures: [Sig([.any], variadic: .any, minimumVariadic: 1, returns: .computed(comparableResult))],
            propagatesNull: false,
            implementation: .variadic { args throws(EvaluationError) in try extremum(args, "min", wantMax: false) }),
        FunctionDefinition(
            name: "max", doc: "Largest non-null argument (numbers, strings or dates); null when all are null.",
            signatures: [Sig([.any], variadic: .any, minimumVariadic: 1, returns: .computed(comparableResult))],
            propagatesNull: false,
            implementation: .variadic { args throws(EvaluationError) in try extremum(args, "max", wantMax: true) }),
        FunctionDefinition(
            name: "coalesce", doc: "First non-null argument.",
            signatures: [
                Sig(
                    [.any, .any], returns: .computed({ unify($0) }),
                    implementation: .binary { a, b in a.isNull ? b : a }),
                Sig(
                    [.any, .any, .any], returns: .computed({ unify($0) }),
                    implementation: .ternary { a, b, c in a.isNull ? (b.isNull ? c : b) : a }),
                Sig([.any], variadic: .any, returns: .computed({ unify($0) })),
            ],
            propagatesNull: false,
            implementation: .variadic { args in args.first(where: { !$0.isNull }) ?? .null }),
    ]
}
