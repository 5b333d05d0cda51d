/// A half-open range of UTF-8 byte offsets in the expression text.
struct SourceRange: Sendable, Hashable {
    /// Offset of the first byte.
    var start: Int
    /// Offset one past the last byte.
    var end: Int
}

/// One lexical token of the expression language.
struct Token: Sendable, Hashable {
    /// The token kinds.
    enum Kind: Sendable, Hashable {
        case integer(Int)
        case number(Double)
        case string(String)
        /// A plain identifier (case preserved) or a back-quoted name.
        case identifier(String, quoted: Bool)
        /// A keyword, lower-cased (`and`, `if`, `null`…).
        case keyword(String)
        /// An operator or punctuation, normalised (`=` is `==`, `<>` is `!=`, `||` is `or`, `&&` is `and`, `!` is `not`).
        case symbol(String)
        case endOfInput
        /// A lexical error; the message names what is wrong.
        case invalid(String)
    }

    var kind: Kind
    var range: SourceRange

    /// A short description for "expected X, found Y" messages (never the content of a string literal).
    var display: String {
        switch kind {
        case .integer, .number: return "a number"
        case .string: return "a string literal"
        case .identifier(let n, _): return "identifier '\(n)'"
        case .keyword(let k): return "'\(k)'"
        case .symbol(let s): return "'\(s)'"
        case .endOfInput: return "end of expression"
        case .invalid(let m): return m
        }
    }
}
