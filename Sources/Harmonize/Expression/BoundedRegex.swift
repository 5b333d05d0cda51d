import Foundation

/// A regular expression compiled once at compile time, with guards against catastrophic
/// backtracking: at most 256 characters, no back-references, and no group containing an
/// unbounded quantifier or an alternation that is itself repeated without bound (`(a+)+`,
/// `(a*)*`, `(a|aa)+`, `(x|y+){2,}`).
final class BoundedRegex: @unchecked Sendable {
    static let maxLength = 256
    private let regex: NSRegularExpression
    let groupCount: Int
    /// For a pattern that is one run of an ASCII class (`[0-9]+`, `([A-Z0-9]+)`): the bytes of
    /// the class, so that matching scans UTF-8 bytes without `NSRegularExpression` (the first
    /// match of such a pattern is the leftmost longest run of class bytes, whatever the group).
    private let asciiRun: ASCIIClass?

    private init(_ regex: NSRegularExpression, asciiRun: ASCIIClass?) {
        self.regex = regex
        groupCount = regex.numberOfCaptureGroups
        self.asciiRun = asciiRun
    }

    /// A set of ASCII bytes (a 128-bit mask).
    struct ASCIIClass {
        var low: UInt64 = 0
        var high: UInt64 = 0

        mutating func insert(_ b: UInt8) {
            if b < 64 { low |= 1 << UInt64(b) } else { high |= 1 << UInt64(b - 64) }
        }

        @inline(__always)
        func contains(_ b: UInt8) -> Bool {
            b < 64 ? low & (1 << UInt64(b)) != 0 : b < 128 && high & (1 << UInt64(b - 64)) != 0
        }

        /// The class of `[…]+` or `([…]+)`, when the brackets hold only ASCII letters, digits and
        /// ranges between them (no negation, no escape); nil for any other pattern.
        static func run(of pattern: String) -> ASCIIClass? {
            var b = Array(pattern.utf8)[...]
            if b.first == UInt8(ascii: "("), b.last == UInt8(ascii: ")") { b = b.dropFirst().dropLast() }
            guard b.count >= 4, b.first == UInt8(ascii: "["), b.last == UInt8(ascii: "+"),
                b[b.endIndex - 2] == UInt8(ascii: "]")
            else { return nil }
            let body = Array(b.dropFirst().dropLast(2))
            func plain(_ c: UInt8) -> Bool {
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
            }
            guard !body.isEmpty else { return nil }
            var set = ASCIIClass()
            var i = 0
            while i < body.count {
                let c = body[i]
                guard plain(c) else { return nil }
                if i + 2 < body.count, body[i + 1] == UInt8(ascii: "-") {
                    let e = body[i + 2]
                    // Ranges within one kind (digits, upper case, lower case) only.
                    let sameKind = (c <= 57 && e <= 57) || (c >= 65 && c <= 90 && e >= 65 && e <= 90)
                        || (c >= 97 && e >= 97)
                    guard plain(e), sameKind, c <= e else { return nil }
                    for x in c...e { set.insert(x) }
                    i += 3
                } else {
                    set.insert(c)
                    i += 1
                }
            }
            return set
        }

        /// The byte range of the first run of class bytes in `u`, if any.
        @inline(__always)
        func firstRun(_ u: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
            var i = 0
            let n = u.count
            while i < n, !contains(u[i]) { i += 1 }
            guard i < n else { return nil }
            var j = i + 1
            while j < n, contains(u[j]) { j += 1 }
            return i..<j
        }
    }

    /// Validates and compiles a literal pattern.
    static func make(_ literal: Value?, argument: Int) throws(FunctionDefinition.SpecializationError) -> BoundedRegex {
        guard case .string(let pattern)? = literal else {
            throw FunctionDefinition.SpecializationError(argument: argument, message: "pattern must be a string literal")
        }
        if let problem = check(pattern) { throw FunctionDefinition.SpecializationError(argument: argument, message: problem) }
        do {
            return BoundedRegex(try NSRegularExpression(pattern: pattern, options: []), asciiRun: ASCIIClass.run(of: pattern))
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
        if let run = asciiRun {
            var s = s
            return s.withUTF8 { run.firstRun($0) != nil }
        }
        let ns = s as NSString
        return regex.firstMatch(in: s, options: [], range: NSRange(location: 0, length: ns.length)) != nil
    }

    func extract(_ s: String, group: Int) -> String? {
        if let run = asciiRun {
            // Group 0 and group 1 (when the pattern is a group) are the same text.
            var s = s
            return s.withUTF8 { u in run.firstRun(u).map { String(decoding: UnsafeBufferPointer(rebasing: u[$0]), as: UTF8.self) } }
        }
        let ns = s as NSString
        guard let m = regex.firstMatch(in: s, options: [], range: NSRange(location: 0, length: ns.length)) else { return nil }
        let r = m.range(at: group)
        guard r.location != NSNotFound else { return nil }
        return ns.substring(with: r)
    }
}
