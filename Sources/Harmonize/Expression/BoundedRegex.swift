import Foundation

/// A regular expression compiled once at compile time, with guards against catastrophic
/// backtracking: at most 256 characters, no back-references, and no group containing an
/// unbounded quantifier or an alternation that is itself repeated without bound (`(a+)+`,
/// `(a*)*`, `(a|aa)+`, `(x|y+){2,}`).
final class BoundedRegex: @unchecked Sendable {
    static let maxLength = 256
    private let regex: NSRegularExpression
    let groupCount: Int

    private init(_ regex: NSRegularExpression) {
        self.regex = regex
        groupCount = regex.numberOfCaptureGroups
    }

    /// Validates and compiles a literal pattern.
    static func make(_ literal: Value?, argument: Int) throws(FunctionDefinition.SpecializationError) -> BoundedRegex {
        guard case .string(let pattern)? = literal else {
            throw FunctionDefinition.SpecializationError(argument: argument, message: "pattern must be a string literal")
        }
        if let problem = check(pattern) { throw FunctionDefinition.SpecializationError(argument: argument, message: problem) }
        do {
            return BoundedRegex(try NSRegularExpression(pattern: pattern, options: []))
        } catch {
            throw FunctionDefinition.SpecializationError(argument: argument, message: "invalid regular expression")
        }
    }

    /// A reason to reject the pattern, or nil.
    static func check(_ pattern: String) -> String? {
        let b = Array(pattern.utf8)
        if b.count > maxLength { return "regular expression longer than \(maxLength) characters" }
        // Stack of "group contains an unbounded quantifier".
        var stack: [Bool] = []
        var i = 0
        var lastGroupUnbounded = false
        var inClass = false
        func unboundedAt(_ j: Int) -> Bool {
            guard j < b.count else { return false }
            if b[j] == UInt8(ascii: "*") || b[j] == UInt8(ascii: "+") { return true }
            if b[j] == UInt8(ascii: "{") {
                var k = j + 1
                while k < b.count, b[k] >= 0x30, b[k] <= 0x39 { k += 1 }
                if k < b.count, b[k] == UInt8(ascii: ",") { return k + 1 < b.count && b[k + 1] == UInt8(ascii: "}") }
            }
            return false
        }
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\\") {
                if i + 1 < b.count, b[i + 1] >= 0x31, b[i + 1] <= 0x39 { return "back-references are not allowed" }
                if i + 1 < b.count, b[i + 1] == UInt8(ascii: "k") { return "back-references are not allowed" }
                i += 2
                lastGroupUnbounded = false
                if unboundedAt(i), !stack.isEmpty { stack[stack.count - 1] = true }
                continue
            }
            if inClass {
                if c == UInt8(ascii: "]") {
                    inClass = false
                    if unboundedAt(i + 1), !stack.isEmpty { stack[stack.count - 1] = true }
                }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "["): inClass = true
            case UInt8(ascii: "("): stack.append(false)
            case UInt8(ascii: "|"): if !stack.isEmpty { stack[stack.count - 1] = true }
            case UInt8(ascii: ")"):
                let inner = stack.popLast() ?? false
                if inner && unboundedAt(i + 1) {
                    return "a repeated group containing a quantifier or an alternation, such as (a+)+ or (a|aa)+, is not allowed"
                }
                lastGroupUnbounded = inner || unboundedAt(i + 1)
                if lastGroupUnbounded, !stack.isEmpty { stack[stack.count - 1] = true }
                i += 1
                continue
            default:
                if unboundedAt(i + 1), c != UInt8(ascii: ")"), !stack.isEmpty { stack[stack.count - 1] = true }
            }
            i += 1
        }
        _ = lastGroupUnbounded
        return nil
    }

    func matches(_ s: String) -> Bool {
        let ns = s as NSString
        return regex.firstMatch(in: s, options: [], range: NSRange(location: 0, length: ns.length)) != nil
    }

    func extract(_ s: String, group: Int) -> String? {
        let ns = s as NSString
        guard let m = regex.firstMatch(in: s, options: [], range: NSRange(location: 0, length: ns.length)) else { return nil }
        let r = m.range(at: group)
        guard r.location != NSNotFound else { return nil }
        return ns.substring(with: r)
    }
}
