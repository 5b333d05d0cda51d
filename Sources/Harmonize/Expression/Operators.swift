/// Run-time semantics of the operators. Null handling is done by the compiled closures; these
/// functions receive non-null operands.
enum Operators {
    /// Three-way comparison of two non-null values of comparable types.
    static func compare(_ a: Value, _ b: Value, _ op: String) throws(EvaluationError) -> Int {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.string(let x), .string(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.date(let x), .date(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.dateTime(let x), .dateTime(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.date(let x), .dateTime(let y)): return compareDayAndTime(x, y)
        case (.dateTime(let x), .date(let y)): return -compareDayAndTime(y, x)
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (!x ? -1 : 1)
        case (.int, .double), (.double, .int), (.double, .double):
            let x = numeric(a)
            let y = numeric(b)
            if x.isNaN || y.isNaN { throw EvaluationError(message: "cannot compare NaN", function: op) }
            return x < y ? -1 : (x == y ? 0 : 1)
        default:
            throw EvaluationError(message: "cannot compare \(a.type.rawValue) with \(b.type.rawValue)", function: op)
        }
    }

    /// Compares midnight of day `d` with date-time `s` without multiplying (no overflow).
    private static func compareDayAndTime(_ d: Int, _ s: Int) -> Int {
        let sd = Builtins.floorDiv(s, 86_400)
        if d != sd { return d < sd ? -1 : 1 }
        return s - sd * 86_400 == 0 ? 0 : -1
    }

    @inline(__always) static func numeric(_ v: Value) -> Double {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return .nan
        }
    }

    /// Equality with widening; null operands give null.
    static func equal(_ a: Value, _ b: Value, _ op: String) throws(EvaluationError) -> Value {
        if a.isNull || b.isNull { return .null }
        switch (a, b) {
        case (.string(let x), .string(let y)): return .bool(x == y)
        case (.int(let x), .int(let y)): return .bool(x == y)
        default: return .bool(try compare(a, b, op) == 0)
        }
    }

    static func arithmetic(_ op: ExpressionNode.BinaryOperator, _ a: Value, _ b: Value) throws(EvaluationError) -> Value {
        let name = op.rawValue
        if case .int(let x) = a, case .int(let y) = b {
            let r: (Int, Bool)
            switch op {
            case .add: r = x.addingReportingOverflow(y)
            case .subtract: r = x.subtractingReportingOverflow(y)
            case .multiply: r = x.multipliedReportingOverflow(by: y)
            case .remainder:
                guard y != 0 else { throw EvaluationError(message: "division by zero", function: name) }
                r = x.remainderReportingOverflow(dividingBy: y)
            case .divide:
                guard y != 0 else { throw EvaluationError(message: "division by zero", function: name) }
                return .double(Double(x) / Double(y))
            default: throw EvaluationError(message: "not an arithmetic operator", function: name)
            }
            if r.1 { throw EvaluationError(message: "integer overflow", function: name) }
            return .int(r.0)
        }
        switch (a, b) {
        case (.int, .double), (.double, .int), (.double, .double): break
        default:
            throw EvaluationError(message: "cannot apply to \(a.type.rawValue) and \(b.type.rawValue)", function: name)
        }
        let x = numeric(a)
        let y = numeric(b)
        let r: Double
        switch op {
        case .add: r = x + y
        case .subtract: r = x - y
        case .multiply: r = x * y
        case .divide:
            guard y != 0 else { throw EvaluationError(message: "division by zero", function: name) }
            r = x / y
        case .remainder:
            guard y != 0 else { throw EvaluationError(message: "division by zero", function: name) }
            r = x.truncatingRemainder(dividingBy: y)
        default: throw EvaluationError(message: "not an arithmetic operator", function: name)
        }
        guard r.isFinite else { throw EvaluationError(message: "numeric overflow", function: name) }
        return .double(r)
    }
}
