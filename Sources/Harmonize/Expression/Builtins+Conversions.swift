/// Conversion functions.
extension Builtins {
    static func toInt(_ v: Value) throws(EvaluationError) -> Value {
        switch v {
        case .int: return v
        case .double(let d):
            guard d.isFinite, abs(d) < 9.2e18 else { throw fail("to_int", "number out of integer range") }
            return .int(Int(d.rounded(.towardZero)))
        case .bool(let b): return .int(b ? 1 : 0)
        case .string(let s):
            if let i = plainInteger(s) { return .int(i) }
            let t = trimmed(s, leading: true, trailing: true)
            var digits = Substring(t)
            if digits.first == "+" { digits = digits.dropFirst() }
            guard let i = Int(digits), !digits.isEmpty, digits.first != "+" else {
                throw fail("to_int", "text is not an integer")
            }
            return .int(i)
        default: throw .type(expected: "string or number", found: v, in: "to_int")
        }
    }

    /// `toInt` of the text that UTF-8 `u` spell: the plain integers (`plainInteger(utf8:)`) read
    /// from the bytes, anything else as `toInt` of the string.
    static func toInt(utf8 u: UnsafeBufferPointer<UInt8>) throws(EvaluationError) -> Value {
        if let i = plainInteger(utf8: u) { return .int(i) }
        return try toInt(.string(String(decoding: u, as: UTF8.self)))
    }

    /// The integer of text that is only an optional sign and 1 to 18 ASCII digits (no overflow
    /// possible), read from its UTF-8 bytes; nil for anything else, which takes the general path
    /// (trimming, `Int(_:)`) with the same results. Most source codes are such text (`to_int` of a
    /// 4-digit code took 6 % of a claims run through `Substring` and `Int(_:)`).
    @inline(__always)
    static func plainInteger(_ s: String) -> Int? {
        s.utf8.withContiguousStorageIfAvailable { plainInteger(utf8: $0) } ?? nil
    }

    /// `plainInteger` of the text that UTF-8 `u` spell.
    @inline(__always)
    static func plainInteger(utf8 u: UnsafeBufferPointer<UInt8>) -> Int? {
        var k = 0
        var negative = false
        if let first = u.first, first == 45 || first == 43 {
            negative = first == 45
            k = 1
        }
        let digits = u.count - k
        guard digits >= 1, digits <= 18 else { return nil }
        var v = 0
        while k < u.count {
            let d = Int(u[k] &- 48)
            guard d >= 0, d < 10 else { return nil }
            v = v &* 10 &+ d
            k += 1
        }
        return negative ? -v : v
    }

    static func toDecimal(_ v: Value, decimalChar: Character, fn: String) throws(EvaluationError) -> Value {
        switch v {
        case .int(let i): return .double(Double(i))
        case .double: return v
        case .string(let s):
            var t = trimmed(s, leading: true, trailing: true)
            if decimalChar != "." {
                guard !t.contains(".") else { throw fail(fn, "text is not a number") }
                t = String(t.map { $0 == decimalChar ? "." : $0 })
            }
            // Only plain decimal notation: optional sign, digits, optional fraction, optional exponent.
            // (Checked on the UTF-8 bytes: the only ASCII characters that are numbers are 0-9.)
            let ok = !t.isEmpty && t.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == 43 || $0 == 45 || $0 == 46 || $0 == 101 || $0 == 69 }
            guard ok, let d = Double(t), d.isFinite else { throw fail(fn, "text is not a number") }
            return .double(d)
        default: throw .type(expected: "string or number", found: v, in: fn)
        }
    }

    static func decimalDefinition(_ name: String) -> FunctionDefinition {
        FunctionDefinition(
            name: name,
            doc: "Converts text (trimmed) or a number to a number; the optional literal decimal character replaces '.'.",
            signatures: [Sig([.any], returns: .number), Sig([.any, .string], returns: .number)],
            requiresLiteralArguments: [1],
            implementation: .specialized { lits throws(FunctionDefinition.SpecializationError) in
                var ch: Character = "."
                if lits.count > 1 {
                    guard case .string(let s)? = lits[1], s.count == 1, let c = s.first, c != "-", c != "+", !c.isNumber else {
                        throw FunctionDefinition.SpecializationError(argument: 1, message: "decimal character must be one non-digit character")
                    }
                    ch = c
                }
                let decimal = ch
                return .unary { v throws(EvaluationError) in try toDecimal(v, decimalChar: decimal, fn: name) }
            })
    }

    static let conversions: [FunctionDefinition] = [
        FunctionDefinition(
            name: "to_string", doc: "Canonical text of any value (ISO dates, shortest doubles, true/false).",
            signatures: [Sig([.any], returns: .string)],
            implementation: .unary { v in
                if case .string = v { return v }
                return .string(v.description)
            }),
        {
            var d = FunctionDefinition(
                name: "to_int", doc: "Converts trimmed decimal text, a number (truncated toward zero) or a boolean (0/1) to an integer.",
                signatures: [Sig([.any], returns: .integer)],
                implementation: .unary { v throws(EvaluationError) in try toInt(v) })
            d.textImplementation = { u throws(EvaluationError) in try toInt(utf8: u) }
            return d
        }(),
        decimalDefinition("to_decimal"),
        decimalDefinition("to_number"),
        FunctionDefinition(
            name: "to_bool",
            doc: "Converts true/false/t/f/yes/no/y/n/1/0 (case-insensitive, trimmed) or the integers 0/1 to a boolean.",
            signatures: [Sig([.any], returns: .boolean)],
            implementation: .unary { v throws(EvaluationError) in
                switch v {
                case .bool: return v
                case .int(let i):
                    guard i == 0 || i == 1 else { throw fail("to_bool", "integer is not 0 or 1") }
                    return .bool(i == 1)
                case .string(let s):
                    switch trimmed(s, leading: true, trailing: true).lowercased() {
                    case "true", "t", "yes", "y", "1": return .bool(true)
                    case "false", "f", "no", "n", "0": return .bool(false)
                    default: throw fail("to_bool", "text is not a boolean")
                    }
                default: throw .type(expected: "string, integer or boolean", found: v, in: "to_bool")
                }
            }),
    ]
}
