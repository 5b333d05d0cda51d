/// The syntax tree and parser of `LinearRegex`: the subset of ICU syntax (the syntax of
/// `NSRegularExpression`) that a Thompson NFA can match in linear time.
extension LinearRegex {
    /// A set of scalars: ranges and class escapes, possibly negated.
    struct CharSet: Sendable {
        enum Item: Sendable {
            case range(UInt32, UInt32)
            case digit(Bool)  // \d (true: negated, \D)
            case word(Bool)
            case space(Bool)
        }

        var items: [Item] = []
        var negated = false
        /// Membership of the ASCII scalars, precomputed.
        var ascii: (UInt64, UInt64) = (0, 0)

        mutating func finish() {
            var lo: UInt64 = 0
            var hi: UInt64 = 0
            for c in 0..<128 where slowContains(UInt32(c)) {
                if c < 64 { lo |= 1 << UInt64(c) } else { hi |= 1 << UInt64(c - 64) }
            }
            ascii = (lo, hi)
        }

        @inline(__always)
        func contains(_ c: UInt32) -> Bool {
            if c < 64 { return ascii.0 & (1 << UInt64(c)) != 0 }
            if c < 128 { return ascii.1 & (1 << UInt64(c - 64)) != 0 }
            return slowContains(c)
        }

        func slowContains(_ c: UInt32) -> Bool {
            var found = false
            for item in items {
                switch item {
                case .range(let a, let b): found = c >= a && c <= b
                case .digit(let n): found = LinearRegex.isDigit(c) != n
                case .word(let n): found = LinearRegex.isWord(c) != n
                case .space(let n): found = LinearRegex.isSpace(c) != n
                }
                if found { break }
            }
            return found != negated
        }
    }

    /// Zero-width assertions.
    enum Assertion: Sendable {
        /// `^`, `\A`: the start of the text.
        case start
        /// `$`, `\Z`: the end, or before a final line terminator.
        case endOrFinalNewline
        /// `\z`: the very end.
        case end
    }

    indirect enum Node {
        case empty
        case char(UInt32)
        case any
        case set(CharSet)
        case assert(Assertion)
        case group(Node, capture: Int?)
        case concat([Node])
        case alternation([Node])
        case repetition(Node, min: Int, max: Int?, greedy: Bool)
    }

    /// A syntax error or an unsupported construct, with the character offset in the pattern.
    struct SyntaxError: Error {
        var message: String
    }

    /// Largest `{m,n}` count accepted.
    static let maxRepetition = 1000

    struct Parser {
        let s: [UInt32]
        var i = 0
        var groups = 0

        init(_ pattern: String) { s = pattern.unicodeScalars.map(\.value) }

        static func char(_ c: Character) -> UInt32 { c.unicodeScalars.first?.value ?? 0 }

        var atEnd: Bool { i >= s.count }
        func peek(_ c: Character) -> Bool { i < s.count && s[i] == Self.char(c) }

        mutating func parse() throws(SyntaxError) -> Node {
            let n = try alternation()
            if !atEnd { throw SyntaxError(message: "unbalanced ')'") }
            return n
        }

        mutating func alternation() throws(SyntaxError) -> Node {
            var branches = [try concatenation()]
            while peek("|") {
                i += 1
                branches.append(try concatenation())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        mutating func concatenation() throws(SyntaxError) -> Node {
            var items: [Node] = []
            while !atEnd, !peek("|"), !peek(")") {
                var atom = try self.atom()
                if let q = try quantifier() {
                    if case .assert = atom { throw SyntaxError(message: "a quantifier after an anchor") }
                    atom = .repetition(atom, min: q.min, max: q.max, greedy: q.greedy)
                    if !atEnd, "*+?{".unicodeScalars.contains(where: { $0.value == s[i] }) {
                        throw SyntaxError(message: "possessive or repeated quantifiers are not supported")
                    }
                }
                items.append(atom)
            }
            return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .concat(items))
        }

        mutating func number() -> Int? {
            var n = 0
            var digits = 0
            while i < s.count, s[i] >= 48, s[i] <= 57 {
                n = min(n * 10 + Int(s[i] - 48), 1_000_000)
                digits += 1
                i += 1
            }
            return digits == 0 ? nil : n
        }

        mutating func quantifier() throws(SyntaxError) -> (min: Int, max: Int?, greedy: Bool)? {
            guard !atEnd else { return nil }
            var q: (min: Int, max: Int?)
            switch s[i] {
            case Self.char("*"): q = (0, nil)
            case Self.char("+"): q = (1, nil)
            case Self.char("?"): q = (0, 1)
            case Self.char("{"):
                i += 1
                guard let m = number() else { throw SyntaxError(message: "a '{' that is not a repetition count {m}, {m,} or {m,n}") }
                var mx: Int? = m
                if peek(",") {
                    i += 1
                    mx = number()
                }
                guard peek("}") else { throw SyntaxError(message: "a '{' that is not a repetition count {m}, {m,} or {m,n}") }
                if let mx, mx < m { throw SyntaxError(message: "a repetition count {m,n} with n < m") }
                if m > maxRepetition || (mx ?? 0) > maxRepetition {
                    throw SyntaxError(message: "a repetition count above \(maxRepetition)")
                }
                q = (m, mx)
            default: return nil
            }
            i += 1
            var greedy = true
            if peek("?") {
                greedy = false
                i += 1
            }
            return (q.min, q.max, greedy)
        }

        mutating func atom() throws(SyntaxError) -> Node {
            let c = s[i]
            i += 1
            switch c {
            case Self.char("("):
                var capture: Int?
                if peek("?") {
                    if i + 1 < s.count, s[i + 1] == Self.char(":") {
                        i += 2
                    } else if i + 2 < s.count, s[i + 1] == Self.char("<"), s[i + 2] != Self.char("="), s[i + 2] != Self.char("!") {
                        // A named group captures like a numbered one.
                        i += 2
                        while i < s.count, s[i] != Self.char(">") { i += 1 }
                        guard i < s.count else { throw SyntaxError(message: "an unterminated group name") }
                        i += 1
                        groups += 1
                        capture = groups
                    } else {
                        throw SyntaxError(message: "look-arounds, flags and other '(?' groups are not supported")
                    }
                } else {
                    groups += 1
                    capture = groups
                }
                let inner = try alternation()
                guard peek(")") else { throw SyntaxError(message: "a '(' without its ')'") }
                i += 1
                return .group(inner, capture: capture)
            case Self.char(")"): throw SyntaxError(message: "unbalanced ')'")
            case Self.char("*"), Self.char("+"), Self.char("?"), Self.char("{"):
                throw SyntaxError(message: "a quantifier with nothing to repeat")
            case Self.char("."): return .any
            case Self.char("^"): return .assert(.start)
            case Self.char("$"): return .assert(.endOrFinalNewline)
            case Self.char("["): return .set(try set())
            case Self.char("\\"): return try escape(inSet: false)
            default: return .char(c)
            }
        }

        mutating func hex(digits count: Int?) throws(SyntaxError) -> UInt32 {
            var v: UInt32 = 0
            var n = 0
            let braced = count == nil
            if braced {
                guard peek("{") else { throw SyntaxError(message: "a malformed \\x escape") }
                i += 1
            }
            while i < s.count, count.map({ n < $0 }) ?? true {
                let c = s[i]
                let d: UInt32
                switch c {
                case 48...57: d = c - 48
                case 65...70: d = c - 55
                case 97...102: d = c - 87
                default:
                    guard braced, c == Self.char("}") else { throw SyntaxError(message: "a malformed hexadecimal escape") }
                    i += 1
                    guard n > 0, v <= 0x10FFFF else { throw SyntaxError(message: "a malformed hexadecimal escape") }
                    return v
                }
                v = v &* 16 &+ d
                if v > 0x10FFFF { throw SyntaxError(message: "a malformed hexadecimal escape") }
                n += 1
                i += 1
            }
            guard !braced, n == count else { throw SyntaxError(message: "a malformed hexadecimal escape") }
            return v
        }

        /// After a backslash.
        mutating func escape(inSet: Bool) throws(SyntaxError) -> Node {
            guard !atEnd else { throw SyntaxError(message: "a trailing backslash") }
            let c = s[i]
            i += 1
            switch c {
            case Self.char("d"), Self.char("D"):
                return .set(Self.single(.digit(c == Self.char("D"))))
            case Self.char("w"), Self.char("W"):
                return .set(Self.single(.word(c == Self.char("W"))))
            case Self.char("s"), Self.char("S"):
                return .set(Self.single(.space(c == Self.char("S"))))
            case Self.char("t"): return .char(9)
            case Self.char("n"): return .char(10)
            case Self.char("r"): return .char(13)
            case Self.char("f"): return .char(12)
            case Self.char("e"): return .char(27)
            case Self.char("a"): return .char(7)
            case Self.char("x"):
                return .char(try hex(digits: peek("{") ? nil : 2))
            case Self.char("u"): return .char(try hex(digits: 4))
            case Self.char("U"): return .char(try hex(digits: 8))
            case Self.char("A") where !inSet: return .assert(.start)
            case Self.char("z") where !inSet: return .assert(.end)
            case Self.char("Z") where !inSet: return .assert(.endOrFinalNewline)
            case 49...57, Self.char("k"): throw SyntaxError(message: "back-references are not allowed")
            default:
                // Any other ASCII letter or digit is a class or an assertion the matcher lacks
                // (\b, \p{…}, \Q…\E, …); punctuation and non-ASCII characters stand for themselves.
                if c < 128, (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) {
                    throw SyntaxError(message: "the escape '\\\(Character(Unicode.Scalar(UInt8(c))))' is not supported")
                }
                return .char(c)
            }
        }

        static func single(_ item: CharSet.Item) -> CharSet {
            var set = CharSet(items: [item])
            set.finish()
            return set
        }

        /// After `[`.
        mutating func set() throws(SyntaxError) -> CharSet {
            var set = CharSet()
            if peek("^") {
                set.negated = true
                i += 1
            }
            if peek("]") { throw SyntaxError(message: "an empty '[]' or a ']' first in a class (escape it as '\\]')") }
            while true {
                guard !atEnd else { throw SyntaxError(message: "a '[' without its ']'") }
                var c = s[i]
                if c == Self.char("]") {
                    i += 1
                    break
                }
                if c == Self.char("[") {
                    throw SyntaxError(message: "nested classes and POSIX classes ('[' inside '[…]') are not supported; escape it as '\\['")
                }
                if c == Self.char("&"), i + 1 < s.count, s[i + 1] == Self.char("&") {
                    throw SyntaxError(message: "class intersections ('&&') are not supported")
                }
                i += 1
                if c == Self.char("\\") {
                    let e = try escape(inSet: true)
                    switch e {
                    case .char(let x): c = x
                    case .set(let inner):
                        set.items += inner.items
                        if peek("-"), i + 1 < s.count, s[i + 1] != Self.char("]") { throw SyntaxError(message: "a range from a class escape") }
                        continue
                    default: throw SyntaxError(message: "an assertion inside a class")
                    }
                }
                // A range a-b (a '-' before ']' is a literal).
                if peek("-"), i + 1 < s.count, s[i + 1] != Self.char("]") {
                    i += 1
                    var e = s[i]
                    i += 1
                    if e == Self.char("[") { throw SyntaxError(message: "nested classes are not supported") }
                    if e == Self.char("\\") {
                        guard case .char(let x) = try escape(inSet: true) else { throw SyntaxError(message: "a range to a class escape") }
                        e = x
                    }
                    guard c <= e else { throw SyntaxError(message: "a range [b-a] out of order") }
                    set.items.append(.range(c, e))
                } else {
                    set.items.append(.range(c, c))
                }
            }
            set.finish()
            return set
        }
    }
}
