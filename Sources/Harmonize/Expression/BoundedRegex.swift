/// A regular expression compiled once at compile time and matched in time linear in the text
/// (`LinearRegex`, a Pike VM: no pattern can backtrack): at most 256 characters, the syntax
/// `LinearRegex` supports (no back-references, look-arounds or flags), repetition counts of at
/// most `LinearRegex.maxRepetition`.
final class BoundedRegex: Sendable {
    static let maxLength = 256
    private let regex: LinearRegex
    let groupCount: Int
    /// For a pattern that is one run of an ASCII class (`[0-9]+`, `([A-Z0-9]+)`): the bytes of
    /// the class, so that matching scans UTF-8 bytes without the NFA (the first match of such a
    /// pattern is the leftmost longest run of class bytes, whatever the group).
    private let asciiRun: ASCIIClass?

    private init(_ regex: LinearRegex, asciiRun: ASCIIClass?) {
        self.regex = regex
        groupCount = regex.groupCount
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
                    let sameKind =
                        (c <= 57 && e <= 57) || (c >= 65 && c <= 90 && e >= 65 && e <= 90)
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
        if pattern.utf8.count > maxLength {
            throw FunctionDefinition.SpecializationError(argument: argument, message: "regular expression longer than \(maxLength) characters")
        }
        do {
            return BoundedRegex(try LinearRegex(pattern), asciiRun: ASCIIClass.run(of: pattern))
        } catch {
            throw FunctionDefinition.SpecializationError(argument: argument, message: "unsupported or invalid regular expression: \(error.message)")
        }
    }

    /// A reason to reject the pattern, or nil.
    static func check(_ pattern: String) -> String? {
        if pattern.utf8.count > maxLength { return "regular expression longer than \(maxLength) characters" }
        return LinearRegex.problem(pattern)
    }

    func matches(_ s: String) -> Bool {
        if let run = asciiRun {
            return s.withUTF8Bytes { run.firstRun($0) != nil }
        }
        return regex.matches(s)
    }

    /// The matcher's work on `s` when asked whether it matches (`LinearRegex.matchWork`; the
    /// bytes scanned for a pattern that is one run of an ASCII class).
    func matchWork(_ s: String) -> Int { asciiRun != nil ? s.utf8.count : regex.matchWork(s) }

    /// Instructions of the compiled program (1 for a run of an ASCII class).
    var programLength: Int { asciiRun != nil ? 1 : regex.programLength }

    func extract(_ s: String, group: Int) -> String? {
        if let run = asciiRun {
            // Group 0 and group 1 (when the pattern is a group) are the same text.
            return s.withUTF8Bytes { u in run.firstRun(u).map { String(decoding: UnsafeBufferPointer(rebasing: u[$0]), as: UTF8.self) } }
        }
        return regex.extract(s, group: group)
    }
}
