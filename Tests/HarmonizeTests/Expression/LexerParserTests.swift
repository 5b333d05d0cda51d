import Testing

@testable import Harmonize

/// Renders a syntax tree as an S-expression.
func sexpr(_ n: ExpressionNode) -> String {
    switch n {
    case .literal(let v, _):
        if case .string(let s) = v { return "'\(s)'" }
        return v.isNull ? "null" : v.description
    case .identifier(let name, _): return name
    case .unary(let op, let x, _): return "(\(op.rawValue) \(sexpr(x)))"
    case .binary(let op, let l, let r, _): return "(\(op.rawValue) \(sexpr(l)) \(sexpr(r)))"
    case .call(let name, let args, _): return "(\(name)" + args.map { " " + sexpr($0) }.joined() + ")"
    case .conditional(let c, let t, let e, _): return "(if \(sexpr(c)) \(sexpr(t)) \(e.map(sexpr) ?? "-"))"
    case .caseWhen(let s, let bs, let o, _):
        return "(case \(s.map(sexpr) ?? "-")" + bs.map { " [\(sexpr($0.0)) \(sexpr($0.1))]" }.joined() + " \(o.map(sexpr) ?? "-"))"
    case .inList(let x, let items, let negated, _):
        return "(\(negated ? "notin" : "in") \(sexpr(x))" + items.map { " " + sexpr($0) }.joined() + ")"
    case .isNull(let x, let negated, _): return "(\(negated ? "isnotnull" : "isnull") \(sexpr(x)))"
    }
}

@Suite struct ExpressionLexerTests {
    static let cases: [(String, [String])] = [
        ("42 3.5 1e3", ["int 42", "num 3.5", "num 1000.0"]),
        ("'a\\'b' \"c\\n\"", ["str a'b", "str c\n"]),
        ("abc `PID-5.1` AND Or", ["id abc", "qid PID-5.1", "kw and", "kw or"]),
        (
            "= == <> != <= >= < > ?? & || && !",
            ["sym ==", "sym ==", "sym !=", "sym !=", "sym <=", "sym >=", "sym <", "sym >", "sym ??", "sym &", "kw or", "kw and", "kw not"]
        ),
        ("'abc", ["invalid unterminated string literal"]),
        ("a # b", ["id a", "invalid unexpected character '#'"]),
        ("12abc", ["invalid malformed number"]),
        ("'\\q'", ["invalid unknown escape sequence in string literal"]),
        ("99999999999999999999", ["invalid integer literal too large"]),
    ]

    @Test(arguments: cases)
    func tokens(_ input: String, _ expected: [String]) {
        let rendered: [String] = Lexer.tokenize(input).compactMap { t in
            switch t.kind {
            case .integer(let i): return "int \(i)"
            case .number(let d): return "num \(d)"
            case .string(let s): return "str \(s)"
            case .identifier(let n, let q): return (q ? "qid " : "id ") + n
            case .keyword(let k): return "kw \(k)"
            case .symbol(let s): return "sym \(s)"
            case .invalid(let m): return "invalid \(m)"
            case .endOfInput: return nil
            }
        }
        #expect(rendered == expected)
    }

    @Test func rangesAreByteOffsets() {
        let t = Lexer.tokenize("ab  'é'")
        #expect(t[0].range == SourceRange(start: 0, end: 2))
        #expect(t[1].range == SourceRange(start: 4, end: 8))
    }
}

@Suite struct ExpressionParserTests {
    static let cases: [(String, String)] = [
        ("1 + 2 * 3", "(+ 1 (* 2 3))"),
        ("1 - 2 - 3", "(- (- 1 2) 3)"),
        ("-a * b", "(* (- a) b)"),
        ("a & b + c", "(& a (+ b c))"),
        ("a = b & c", "(== a (& b c))"),
        ("not a = b", "(not (== a b))"),
        ("not a and b", "(and (not a) b)"),
        ("a or b and c", "(or a (and b c))"),
        ("a ?? b ?? c", "(?? a (?? b c))"),
        ("a ?? b or c", "(?? a (or b c))"),
        ("a in (1, 2) and b", "(and (in a 1 2) b)"),
        ("a not in ('x')", "(notin a 'x')"),
        ("a is not null or b is null", "(or (isnotnull a) (isnull b))"),
        ("f(a, g(b), 1 + 2)", "(f a (g b) (+ 1 2))"),
        ("now()", "(now)"),
        ("if a then 1 else if b then 2 else 3", "(if a 1 (if b 2 3))"),
        ("if a then 1", "(if a 1 -)"),
        ("case x when 1 then 'a' when 2 then 'b' else 'c' end", "(case x [1 'a'] [2 'b'] 'c')"),
        ("case when a then 1 end", "(case - [a 1] -)"),
        ("(a + b) * c", "(* (+ a b) c)"),
        ("`my field` <> 'x'", "(!= my field 'x')"),
        ("a || b && !c", "(or a (and b (not c)))"),
    ]

    @Test(arguments: cases)
    func precedence(_ input: String, _ expected: String) throws {
        let node = try Parser.parse(input).get()
        #expect(sexpr(node) == expected)
    }

    static let errors: [(String, String)] = [
        ("1 +", "expected a value, a name, a function call or '(', found end of expression"),
        ("f(a", "expected ')', found end of expression"),
        ("a b", "expected an operator or end of expression, found identifier 'b'"),
        ("if a 1", "expected 'then', found a number"),
        ("case x else 1 end", "expected 'when', found 'else'"),
        ("a is 1", "expected 'null', found a number"),
    ]

    @Test(arguments: errors)
    func syntaxErrors(_ input: String, _ message: String) {
        guard case .failure(let e) = Parser.parse(input) else {
            Issue.record("parsed")
            return
        }
        #expect(e.message == message)
    }

    @Test func deepNestingIsASyntaxErrorNotACrash() {
        let text = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        guard case .failure(let e) = Parser.parse(text) else {
            Issue.record("parsed")
            return
        }
        #expect(e.message == "expression nested too deeply")
    }
}
