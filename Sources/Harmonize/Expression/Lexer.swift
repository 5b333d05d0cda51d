/// Splits expression text into tokens, working on UTF-8 bytes.
struct Lexer {
    /// Reserved words; matched case-insensitively.
    static let keywords: Set<String> = [
        "and", "or", "not", "if", "then", "else", "case", "when", "end", "in", "is", "null", "true", "false",
    ]

    private let bytes: [UInt8]
    private var pos = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    /// All tokens, ending with `.endOfInput` or stopping after the first `.invalid` token.
    static func tokenize(_ text: String) -> [Token] {
        var lexer = Lexer(text)
        var out: [Token] = []
        while true {
            let t = lexer.next()
            out.append(t)
            switch t.kind {
            case .endOfInput, .invalid: return out
            default: continue
            }
        }
    }

    private static func isIdentStart(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
    }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    mutating func next() -> Token {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x09 || bytes[pos] == 0x0A || bytes[pos] == 0x0D {
            pos += 1
        }
        let start = pos
        guard pos < bytes.count else { return Token(kind: .endOfInput, range: SourceRange(start: pos, end: pos)) }
        let b = bytes[pos]
        func tok(_ k: Token.Kind) -> Token { Token(kind: k, range: SourceRange(start: start, end: pos)) }

        if Lexer.isIdentStart(b) {
            while pos < bytes.count, Lexer.isIdentStart(bytes[pos]) || Lexer.isDigit(bytes[pos]) { pos += 1 }
            // A qualified name `join.FIELD` (a field of a joined record) is one identifier.
            var qualified = false
            while pos + 1 < bytes.count, bytes[pos] == 0x2E, Lexer.isIdentStart(bytes[pos + 1]) {
                qualified = true
                pos += 2
                while pos < bytes.count, Lexer.isIdentStart(bytes[pos]) || Lexer.isDigit(bytes[pos]) { pos += 1 }
            }
            let word = String(decoding: bytes[start..<pos], as: UTF8.self)
            let lower = word.lowercased()
            if !qualified, Lexer.keywords.contains(lower) { return tok(.keyword(lower)) }
            return tok(.identifier(word, quoted: false))
        }
        if Lexer.isDigit(b) { return lexNumber(start) }
        if b == 0x27 || b == 0x22 { return lexString(start, quote: b) }
        if b == 0x60 {  // back-quoted name
            pos += 1
            let nameStart = pos
            while pos < bytes.count, bytes[pos] != 0x60, bytes[pos] != 0x0A { pos += 1 }
            guard pos < bytes.count, bytes[pos] == 0x60 else { return tok(.invalid("unterminated back-quoted name")) }
            let name = String(decoding: bytes[nameStart..<pos], as: UTF8.self)
            pos += 1
            if name.isEmpty { return tok(.invalid("empty back-quoted name")) }
            return tok(.identifier(name, quoted: true))
        }
        pos += 1
        let n: UInt8 = pos < bytes.count ? bytes[pos] : 0
        switch b {
        case UInt8(ascii: "("): return tok(.symbol("("))
        case UInt8(ascii: ")"): return tok(.symbol(")"))
        case UInt8(ascii: ","): return tok(.symbol(","))
        case UInt8(ascii: "+"): return tok(.symbol("+"))
        case UInt8(ascii: "-"): return tok(.symbol("-"))
        case UInt8(ascii: "*"): return tok(.symbol("*"))
        case UInt8(ascii: "/"): return tok(.symbol("/"))
        case UInt8(ascii: "%"): return tok(.symbol("%"))
        case UInt8(ascii: "&"):
            if n == UInt8(ascii: "&") {
                pos += 1
                return tok(.keyword("and"))
            }
            return tok(.symbol("&"))
        case UInt8(ascii: "|"):
            if n == UInt8(ascii: "|") {
                pos += 1
                return tok(.keyword("or"))
            }
            return tok(.invalid("unexpected character '|' (use '||' or 'or')"))
        case UInt8(ascii: "?"):
            if n == UInt8(ascii: "?") {
                pos += 1
                return tok(.symbol("??"))
            }
            return tok(.invalid("unexpected character '?' (use '??')"))
        case UInt8(ascii: "="):
            if n == UInt8(ascii: "=") { pos += 1 }
            return tok(.symbol("=="))
        case UInt8(ascii: "!"):
            if n == UInt8(ascii: "=") {
                pos += 1
                return tok(.symbol("!="))
            }
            return tok(.keyword("not"))
        case UInt8(ascii: "<"):
            if n == UInt8(ascii: "=") {
                pos += 1
                return tok(.symbol("<="))
            }
            if n == UInt8(ascii: ">") {
                pos += 1
                return tok(.symbol("!="))
            }
            return tok(.symbol("<"))
        case UInt8(ascii: ">"):
            if n == UInt8(ascii: "=") {
                pos += 1
                return tok(.symbol(">="))
            }
            return tok(.symbol(">"))
        default:
            // Skip the rest of a multi-byte scalar so the range covers one character.
            while pos < bytes.count, bytes[pos] & 0xC0 == 0x80 { pos += 1 }
            if b < 0x80 { return tok(.invalid("unexpected character '\(Character(Unicode.Scalar(b)))'")) }
            return tok(.invalid("unexpected non-ASCII character"))
        }
    }

    private mutating func lexNumber(_ start: Int) -> Token {
        while pos < bytes.count, Lexer.isDigit(bytes[pos]) { pos += 1 }
        var isDouble = false
        if pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "."), Lexer.isDigit(bytes[pos + 1]) {
            isDouble = true
            pos += 1
            while pos < bytes.count, Lexer.isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            var p = pos + 1
            if p < bytes.count, bytes[p] == UInt8(ascii: "+") || bytes[p] == UInt8(ascii: "-") { p += 1 }
            if p < bytes.count, Lexer.isDigit(bytes[p]) {
                isDouble = true
                pos = p
                while pos < bytes.count, Lexer.isDigit(bytes[pos]) { pos += 1 }
            }
        }
        let range = SourceRange(start: start, end: pos)
        if pos < bytes.count, Lexer.isIdentStart(bytes[pos]) {
            return Token(kind: .invalid("malformed number"), range: range)
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if isDouble {
            guard let d = Double(text), d.isFinite else { return Token(kind: .invalid("malformed number"), range: range) }
            return Token(kind: .number(d), range: range)
        }
        guard let i = Int(text) else { return Token(kind: .invalid("integer literal too large"), range: range) }
        return Token(kind: .integer(i), range: range)
    }

    private mutating func lexString(_ start: Int, quote: UInt8) -> Token {
        pos += 1
        var out: [UInt8] = []
        while pos < bytes.count {
            let c = bytes[pos]
            if c == quote {
                pos += 1
                return Token(kind: .string(String(decoding: out, as: UTF8.self)), range: SourceRange(start: start, end: pos))
            }
            if c == UInt8(ascii: "\\") {
                guard pos + 1 < bytes.count else { break }
                let e = bytes[pos + 1]
                switch e {
                case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                default:
                    let r = SourceRange(start: pos, end: pos + 2)
                    pos += 2
                    return Token(kind: .invalid("unknown escape sequence in string literal"), range: r)
                }
                pos += 2
                continue
            }
            out.append(c)
            pos += 1
        }
        return Token(kind: .invalid("unterminated string literal"), range: SourceRange(start: start, end: pos))
    }
}
