/// Argument extraction helpers shared by the built-ins. They accept the dynamic types allowed by
/// widening (integer as number, date as date-time) and throw a type error otherwise (only
/// reachable through `any`-typed inputs).
extension Builtins {
    @inline(__always)
    static func string(_ v: Value, _ fn: String) throws(EvaluationError) -> String {
        if case .string(let s) = v { return s }
        throw .type(expected: "string", found: v, in: fn)
    }

    @inline(__always)
    static func integer(_ v: Value, _ fn: String) throws(EvaluationError) -> Int {
        switch v {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: return Int(d)
        default: throw .type(expected: "integer", found: v, in: fn)
        }
    }

    @inline(__always)
    static func number(_ v: Value, _ fn: String) throws(EvaluationError) -> Double {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw .type(expected: "number", found: v, in: fn)
        }
    }

    @inline(__always)
    static func boolean(_ v: Value, _ fn: String) throws(EvaluationError) -> Bool {
        if case .bool(let b) = v { return b }
        throw .type(expected: "boolean", found: v, in: fn)
    }

    /// Days since the epoch of a date, or of the day of a date-time. Values far outside the
    /// calendar (beyond ±8 million years) are errors, so later arithmetic cannot overflow.
    @inline(__always)
    static func days(_ v: Value, _ fn: String) throws(EvaluationError) -> Int {
        let d: Int
        switch v {
        case .date(let x): d = x
        case .dateTime(let s): d = floorDiv(s, 86_400)
        default: throw .type(expected: "date", found: v, in: fn)
        }
        guard d > -3_000_000_000, d < 3_000_000_000 else { throw fail(fn, "date out of range") }
        return d
    }

    /// Seconds since the epoch of midnight of a date, with overflow checking.
    @inline(__always)
    static func midnight(_ days: Int, _ fn: String) throws(EvaluationError) -> Int {
        let (s, o) = days.multipliedReportingOverflow(by: 86_400)
        if o { throw fail(fn, "date out of range") }
        return s
    }

    @inline(__always)
    static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func fail(_ fn: String, _ message: String) -> EvaluationError {
        EvaluationError(reason: .expressionError, message: message, function: fn)
    }

    /// Type of the first non-null argument type among `types`, unified (int+number → number,
    /// date+datetime → datetime, anything with any → any); nil when incompatible.
    static func unify(_ types: [ValueType]) -> ValueType? {
        var result: ValueType = .null
        for t in types {
            guard let u = unify(result, t) else { return nil }
            result = u
        }
        return result
    }

    static func unify(_ a: ValueType, _ b: ValueType) -> ValueType? {
        if a == b { return a }
        if a == .null { return b }
        if b == .null { return a }
        if a == .any || b == .any { return .any }
        switch (a, b) {
        case (.integer, .number), (.number, .integer): return .number
        case (.date, .datetime), (.datetime, .date): return .datetime
        default: return nil
        }
    }
}
