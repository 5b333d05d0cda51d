/// The per-value constraints of one field, compiled once (bounds and enum values already in the
/// field's type). Checked in the order `enum`, `pattern`, `minimum`, `maximum`, `minLength`,
/// `maxLength`; the first failure names its rule.
final class ConstraintChecker: Sendable {
    let allowed: Set<Value>?
    /// Small enums: the allowed values in a list (faster than hashing), and for text fields the
    /// allowed UTF-8 bytes, compared with the cell bytes (only when the value is the cell text).
    let allowedList: [Value]?
    let allowedBytes: [[UInt8]]?
    let pattern: PatternMatcher?
    let minimum: Value?
    let maximum: Value?
    let minLength: Int?
    let maxLength: Int?

    init(
        allowed: Set<Value>?, pattern: PatternMatcher?, minimum: Value?, maximum: Value?, minLength: Int?,
        maxLength: Int?, enumOnBytes: Bool
    ) {
        if let allowed, allowed.count <= 16 {
            let list = Array(allowed)
            self.allowedList = list
            var bytes: [[UInt8]] = []
            for v in list { if case .string(let s) = v { bytes.append(Array(s.utf8)) } }
            self.allowedBytes = enumOnBytes && bytes.count == list.count ? bytes : nil
            self.allowed = nil
        } else {
            self.allowed = allowed
            self.allowedList = nil
            self.allowedBytes = nil
        }
        self.pattern = pattern
        self.minimum = minimum
        self.maximum = maximum
        self.minLength = minLength
        self.maxLength = maxLength
    }

    /// The name of the first rule that `value` (read from `bytes`) breaks, or nil.
    func failedRule(_ value: Value, bytes: UnsafeBufferPointer<UInt8>) -> String? {
        if let allowedBytes {
            if case .string = value {
                var found = false
                for a in allowedBytes where a.count == bytes.count {
                    if a.withUnsafeBufferPointer({ $0.elementsEqual(bytes) }) {
                        found = true
                        break
                    }
                }
                if !found { return "enum" }
            } else if let allowedList, !allowedList.contains(value) {
                return "enum"
            }
        } else if let allowedList {
            if !allowedList.contains(value) { return "enum" }
        } else if let allowed, !allowed.contains(value) {
            return "enum"
        }
        if let pattern {
            let text: String
            if case .string(let s) = value { text = s } else { text = String(decoding: bytes, as: UTF8.self) }
            if !pattern.matches(text) { return "pattern" }
        }
        if let minimum, let c = ConstraintChecker.compare(value, minimum), c < 0 { return "minimum" }
        if let maximum, let c = ConstraintChecker.compare(value, maximum), c > 0 { return "maximum" }
        if minLength != nil || maxLength != nil {
            let length = ConstraintChecker.scalarCount(bytes)
            if let minLength, length < minLength { return "minLength" }
            if let maxLength, length > maxLength { return "maxLength" }
        }
        return nil
    }

    /// Every rule that `value` (read from `bytes`) breaks, in checking order (the failure path
    /// only: the row loop calls `failedRule`, which stops at the first).
    func failedRules(_ value: Value, bytes: UnsafeBufferPointer<UInt8>) -> [String] {
        var rules: [String] = []
        var enumFails = false
        if let allowedBytes, case .string = value {
            enumFails = !allowedBytes.contains { a in a.count == bytes.count && a.withUnsafeBufferPointer { $0.elementsEqual(bytes) } }
        } else if let allowedList {
            enumFails = !allowedList.contains(value)
        } else if let allowed {
            enumFails = !allowed.contains(value)
        }
        if enumFails { rules.append("enum") }
        if let pattern {
            let text: String
            if case .string(let s) = value { text = s } else { text = String(decoding: bytes, as: UTF8.self) }
            if !pattern.matches(text) { rules.append("pattern") }
        }
        if let minimum, let c = ConstraintChecker.compare(value, minimum), c < 0 { rules.append("minimum") }
        if let maximum, let c = ConstraintChecker.compare(value, maximum), c > 0 { rules.append("maximum") }
        if minLength != nil || maxLength != nil {
            let length = ConstraintChecker.scalarCount(bytes)
            if let minLength, length < minLength { rules.append("minLength") }
            if let maxLength, length > maxLength { rules.append("maxLength") }
        }
        return rules
    }

    /// The number of Unicode scalars in valid UTF-8 bytes (bytes that are not continuation bytes).
    static func scalarCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        for b in bytes where b & 0xC0 != 0x80 { count += 1 }
        return count
    }

    /// -1, 0 or 1 for two values of comparable types (integers and numbers mix); nil otherwise.
    static func compare(_ a: Value, _ b: Value) -> Int? {
        func sign<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x > y ? 1 : 0) }
        switch (a, b) {
        case (.int(let x), .int(let y)): return sign(x, y)
        case (.double(let x), .double(let y)): return sign(x, y)
        case (.int(let x), .double(let y)): return sign(Double(x), y)
        case (.double(let x), .int(let y)): return sign(x, Double(y))
        case (.date(let x), .date(let y)): return sign(x, y)
        case (.dateTime(let x), .dateTime(let y)): return sign(x, y)
        case (.date(let x), .dateTime(let y)): return sign(x * 86_400, y)
        case (.dateTime(let x), .date(let y)): return sign(x, y * 86_400)
        case (.string(let x), .string(let y)): return sign(x, y)
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (x ? 1 : -1)
        default: return nil
        }
    }
}
