/// A regular expression matched in time linear in the text: a Thompson NFA run as a Pike VM
/// (one pass over the text, every thread advanced in lock step, at most one thread per program
/// step), so no pattern can backtrack.
///
/// The syntax is the subset of ICU's (`NSRegularExpression`) that such a machine can match:
/// literals, `.`, classes `[…]` with ranges and negation, `\d \w \s \D \W \S`, `\t \n \r \f \e
/// \a \xhh \x{h…} \uhhhh`, escaped punctuation, anchors `^ $ \A \z \Z`, groups `(…)`, `(?:…)`,
/// `(?<name>…)`, alternation, and the quantifiers `* + ? {m} {m,} {m,n}` and their lazy forms.
/// Counts above `maxRepetition` and programs longer than `maxProgram` steps are refused at
/// compile time; back-references, look-arounds, flags, `\b`, `\p{…}` and nested classes are
/// refused as unsupported.
///
/// Semantics follow ICU's: leftmost-first (the match a backtracking engine finds first), `.`
/// matches any character but the line terminators U+000A–U+000D, U+0085, U+2028, U+2029, `$`
/// also matches before a final line terminator, `\d \w \s` are the Unicode classes. The text is
/// read as UTF-8, one Unicode scalar per step; offsets are byte offsets.
struct LinearRegex: Sendable {
    /// Longest program accepted (counted in instructions, after repetitions are expanded).
    static let maxProgram = 4000

    enum Instruction: Sendable {
        case char(UInt32)
        case any
        case set(Int)
        case assert(Assertion)
        case split(Int, Int)  // prefer the first
        case jump(Int)
        case save(Int)
        /// Records the position where an iteration of a loop whose body can match empty starts
        /// (in register n).
        case mark(Int)
        /// End of such an iteration: when it matched empty (the position is register n's), the
        /// loop ends (go to the second target), as ICU does; otherwise go on (to the first).
        case loopEnd(Int, Int, Int)
        case match
    }

    let program: [Instruction]
    let sets: [CharSet]
    /// Capture groups (group 0, the whole match, not counted).
    let groupCount: Int
    /// Registers of the empty-iteration checks (after the capture slots).
    let registerCount: Int
    /// The program as flat arrays (kind, first and second operand) for the machine.
    let kinds: [Int]
    let operandA: [Int]
    let operandB: [Int]
    /// ASCII bytes every match contains (literals outside any optional part, at most 8): a text
    /// without one of them cannot match, which is decided by a scan.
    let requiredBytes: [UInt8]
    /// ASCII membership of each set (low and high 64 bits).
    let setLow: [UInt64]
    let setHigh: [UInt64]

    /// Compiles `pattern`, or throws a message saying what is unsupported or wrong.
    ///
    /// With `wholeText`, the pattern must match the whole text (`\A(?:pattern)\z`).
    init(_ pattern: String, wholeText: Bool = false) throws(SyntaxError) {
        var parser = Parser(pattern)
        var tree = try parser.parse()
        if wholeText { tree = .concat([.assert(.start), .group(tree, capture: nil), .assert(.end)]) }
        var b = Builder()
        b.emit(.save(0))
        try b.compile(tree)
        b.emit(.save(1))
        b.emit(.match)
        program = b.program
        sets = b.sets
        groupCount = parser.groups
        registerCount = b.registers
        var required: [UInt8] = []
        Self.required(tree, into: &required)
        requiredBytes = Array(required.prefix(8))
        var k: [Int] = []
        var a: [Int] = []
        var c: [Int] = []
        for i in program {
            switch i {
            case .char(let x):
                k.append(0)
                a.append(Int(x))
                c.append(0)
            case .any:
                k.append(1)
                a.append(0)
                c.append(0)
            case .set(let x):
                k.append(2)
                a.append(x)
                c.append(0)
            case .assert(let x):
                k.append(3)
                switch x {
                case .start: a.append(0)
                case .endOrFinalNewline: a.append(1)
                case .end: a.append(2)
                }
                c.append(0)
            case .split(let x, let y):
                k.append(4)
                a.append(x)
                c.append(y)
            case .jump(let x):
                k.append(5)
                a.append(x)
                c.append(0)
            case .save(let x):
                k.append(6)
                a.append(x)
                c.append(0)
            case .mark(let x):
                k.append(7)
                a.append(x)
                c.append(0)
            case .loopEnd(let r, let x, let y):
                k.append(8)
                a.append(x)
                c.append(y)
                k[k.count - 1] = 8 | (r << 4)
            case .match:
                k.append(9)
                a.append(0)
                c.append(0)
            }
        }
        kinds = k
        operandA = a
        operandB = c
        setLow = sets.map(\.ascii.0)
        setHigh = sets.map(\.ascii.1)
    }

    /// The reason `pattern` cannot be compiled, or nil.
    static func problem(_ pattern: String) -> String? {
        do {
            _ = try LinearRegex(pattern)
            return nil
        } catch {
            return error.message
        }
    }

    struct Builder {
        var program: [Instruction] = []
        var sets: [CharSet] = []
        var registers = 0

        /// Whether `n` can match the empty text.
        static func nullable(_ n: Node) -> Bool {
            switch n {
            case .empty, .assert: return true
            case .char, .any, .set: return false
            case .group(let inner, _): return nullable(inner)
            case .concat(let items): return items.allSatisfy(nullable)
            case .alternation(let branches): return branches.contains(where: nullable)
            case .repetition(let inner, let min, _, _): return min == 0 || nullable(inner)
            }
        }

        mutating func emit(_ i: Instruction) {
            program.append(i)
        }

        mutating func compile(_ n: Node) throws(SyntaxError) {
            if program.count > LinearRegex.maxProgram {
                throw SyntaxError(
                    message: "the expression is too large once its repetitions are expanded (more than \(LinearRegex.maxProgram) steps)")
            }
            switch n {
            case .empty: break
            case .char(let c): emit(.char(c))
            case .any: emit(.any)
            case .set(let s):
                sets.append(s)
                emit(.set(sets.count - 1))
            case .assert(let a): emit(.assert(a))
            case .group(let inner, let capture):
                if let capture { emit(.save(2 * capture)) }
                try compile(inner)
                if let capture { emit(.save(2 * capture + 1)) }
            case .concat(let items):
                for item in items { try compile(item) }
            case .alternation(let branches):
                // split L1, next; L1: a; jump end; next: split L2, … ; last branch.
                var jumps: [Int] = []
                for (k, branch) in branches.enumerated() {
                    if k < branches.count - 1 {
                        let split = program.count
                        emit(.split(split + 1, 0))
                        try compile(branch)
                        jumps.append(program.count)
                        emit(.jump(0))
                        program[split] = .split(split + 1, program.count)
                    } else {
                        try compile(branch)
                    }
                }
                for j in jumps { program[j] = .jump(program.count) }
            case .repetition(let inner, let min, let max, let greedy):
                for _ in 0..<min { try compile(inner) }
                // A body that can match empty ends its loop after an empty iteration (ICU).
                let nullable = Self.nullable(inner)
                if let max {
                    // (x(x(x)?)?)? for the optional copies: every skip goes to the end.
                    var splits: [Int] = []
                    var checks: [Int] = []
                    for _ in min..<max {
                        splits.append(program.count)
                        emit(.split(0, 0))
                        if nullable {
                            registers += 1
                            emit(.mark(registers - 1))
                        }
                        try compile(inner)
                        if nullable {
                            checks.append(program.count)
                            emit(.loopEnd(registers - 1, 0, 0))
                        }
                    }
                    let end = program.count
                    for s in splits { program[s] = greedy ? .split(s + 1, end) : .split(end, s + 1) }
                    for c in checks {
                        if case .loopEnd(let r, _, _) = program[c] { program[c] = .loopEnd(r, c + 1, end) }
                    }
                } else {
                    // L: split body, end; body: x; jump L.
                    let l = program.count
                    emit(.split(0, 0))
                    var register = -1
                    if nullable {
                        registers += 1
                        register = registers - 1
                        emit(.mark(register))
                    }
                    try compile(inner)
                    let check = program.count
                    emit(nullable ? .loopEnd(register, l, 0) : .jump(l))
                    let end = program.count
                    program[l] = greedy ? .split(l + 1, end) : .split(end, l + 1)
                    if nullable { program[check] = .loopEnd(register, l, end) }
                }
            }
            if program.count > LinearRegex.maxProgram {
                throw SyntaxError(
                    message: "the expression is too large once its repetitions are expanded (more than \(LinearRegex.maxProgram) steps)")
            }
        }
    }

    /// Whether `pattern` repeats a group that can match empty (`(a*)+`): there, in rare nested
    /// cases, what a capture group holds may differ from ICU (the match itself does not).
    static func repeatsNullableGroup(_ pattern: String) -> Bool {
        var parser = Parser(pattern)
        let tree: Node
        do {
            tree = try parser.parse()
        } catch {
            return false  // not a pattern at all: compiling it reports the error
        }
        func walk(_ n: Node) -> Bool {
            switch n {
            case .repetition(let inner, _, let max, _):
                return (max != 1 && Builder.nullable(inner)) || walk(inner)
            case .group(let inner, _): return walk(inner)
            case .concat(let items), .alternation(let items): return items.contains(where: walk)
            default: return false
            }
        }
        return walk(tree)
    }

    /// Adds to `out` ASCII bytes every match of `n` contains.
    static func required(_ n: Node, into out: inout [UInt8]) {
        switch n {
        case .char(let c):
            if c < 128, !out.contains(UInt8(c)) { out.append(UInt8(c)) }
        case .group(let inner, _): required(inner, into: &out)
        case .concat(let items):
            for item in items { required(item, into: &out) }
        case .alternation(let branches):
            // Only the bytes every branch requires.
            var common: [UInt8]?
            for b in branches {
                var r: [UInt8] = []
                required(b, into: &r)
                common = common.map { c in c.filter(r.contains) } ?? r
            }
            for c in common ?? [] where !out.contains(c) { out.append(c) }
        case .repetition(let inner, let min, _, _):
            if min >= 1 { required(inner, into: &out) }
        case .empty, .any, .set, .assert: break
        }
    }

    // MARK: Character classes (ICU's definitions)

    static func isDigit(_ c: UInt32) -> Bool {
        if c < 128 { return c >= 48 && c <= 57 }
        return Unicode.Scalar(c)?.properties.generalCategory == .decimalNumber
    }

    static func isWord(_ c: UInt32) -> Bool {
        if c < 128 { return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
        if c == 0x200C || c == 0x200D { return true }
        guard let s = Unicode.Scalar(c) else { return false }
        let p = s.properties
        if p.isAlphabetic { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    static func isSpace(_ c: UInt32) -> Bool {
        if c < 128 { return c == 32 || (c >= 9 && c <= 13) }
        return Unicode.Scalar(c)?.properties.isWhitespace ?? false
    }

    @inline(__always)
    static func isLineTerminator(_ c: UInt32) -> Bool {
        (c >= 10 && c <= 13) || c == 0x85 || c == 0x2028 || c == 0x2029
    }
}
