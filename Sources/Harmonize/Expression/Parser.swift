/// A syntax error: what was expected, at which token.
struct SyntaxError: Error, Sendable {
    var message: String
    var range: SourceRange
}

/// Hand-written precedence-climbing parser for the expression language.
///
/// Precedence, lowest first: `??` (right-associative), `or`, `and`, prefix `not`, comparisons and
/// `in` / `is null`, `&`, `+ -`, `* / %`, prefix `-`, then calls, literals and parentheses.
struct Parser {
    private var tokens: [Token]
    private var index = 0
    /// Bounds nesting so that hostile input cannot overflow the stack.
    private var depth = 0
    static let maxDepth = 256

    init(_ text: String) { tokens = Lexer.tokenize(text) }

    /// Parses a whole expression or returns the first syntax error.
    static func parse(_ text: String) -> Result<ExpressionNode, SyntaxError> {
        var p = Parser(text)
        do {
            let node = try p.parseExpression(minPrecedence: 0)
            guard case .endOfInput = p.current.kind else {
                throw p.unexpected("an operator or end of expression")
            }
            return .success(node)
        } catch let e as SyntaxError {
            return .failure(e)
        } catch {
            return .failure(SyntaxError(message: "syntax error", range: SourceRange(start: 0, end: 0)))
        }
    }

    private var current: Token { tokens[min(index, tokens.count - 1)] }
    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    private func unexpected(_ expected: String) -> SyntaxError {
        if case .invalid(let m) = current.kind { return SyntaxError(message: m, range: current.range) }
        return SyntaxError(message: "expected \(expected), found \(current.display)", range: current.range)
    }

    private func isKeyword(_ k: String, _ t: Token? = nil) -> Bool {
        if case .keyword(let w) = (t ?? current).kind { return w == k }
        return false
    }
    private func isSymbol(_ s: String) -> Bool {
        if case .symbol(let w) = current.kind { return w == s }
        return false
    }
    private mutating func expectKeyword(_ k: String) throws(SyntaxError) {
        guard isKeyword(k) else { throw unexpected("'\(k)'") }
        advance()
    }
    private mutating func expectSymbol(_ s: String) throws(SyntaxError) {
        guard isSymbol(s) else { throw unexpected("'\(s)'") }
        advance()
    }

    // Precedence levels.
    private static let pCoalesce = 1, pOr = 2, pAnd = 3, pNot = 4, pCompare = 5, pConcat = 6, pAdd = 7, pMul = 8, pUnary = 9

    private func infix(_ t: Token) -> (ExpressionNode.BinaryOperator, Int)? {
        switch t.kind {
        case .keyword("or"): return (.or, Parser.pOr)
        case .keyword("and"): return (.and, Parser.pAnd)
        case .symbol(let s):
            switch s {
            case "??": return (.coalesce, Parser.pCoalesce)
            case "==": return (.equal, Parser.pCompare)
            case "!=": return (.notEqual, Parser.pCompare)
            case "<": return (.less, Parser.pCompare)
            case "<=": return (.lessOrEqual, Parser.pCompare)
            case ">": return (.greater, Parser.pCompare)
            case ">=": return (.greaterOrEqual, Parser.pCompare)
            case "&": return (.concat, Parser.pConcat)
            case "+": return (.add, Parser.pAdd)
            case "-": return (.subtract, Parser.pAdd)
            case "*": return (.multiply, Parser.pMul)
            case "/": return (.divide, Parser.pMul)
            case "%": return (.remainder, Parser.pMul)
            default: return nil
            }
        default: return nil
        }
    }

    private mutating func parseExpression(minPrecedence: Int) throws(SyntaxError) -> ExpressionNode {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Parser.maxDepth else { throw SyntaxError(message: "expression nested too deeply", range: current.range) }
        var lhs = try parsePrefix()
        var chain = 0
        while true {
            let t = current
            // Left-associative chains deepen the tree too; bound them with the nesting depth.
            chain += 1
            guard depth + chain <= Parser.maxDepth else {
                throw SyntaxError(message: "expression nested too deeply", range: current.range)
            }
            // Postfix comparison forms: in, not in, is [not] null.
            if Parser.pCompare >= minPrecedence {
                if isKeyword("in") {
                    advance()
                    lhs = .inList(lhs, try parseList(), negated: false, t.range)
                    continue
                }
                if isKeyword("not"), index + 1 < tokens.count, isKeyword("in", tokens[index + 1]) {
                    advance()
                    advance()
                    lhs = .inList(lhs, try parseList(), negated: true, t.range)
                    continue
                }
                if isKeyword("is") {
                    advance()
                    var negated = false
                    if isKeyword("not") {
                        negated = true
                        advance()
                    }
                    try expectKeyword("null")
                    lhs = .isNull(lhs, negated: negated, t.range)
                    continue
                }
            }
            guard let (op, prec) = infix(t), prec >= minPrecedence else { return lhs }
            advance()
            let rhs = try parseExpression(minPrecedence: op == .coalesce ? prec : prec + 1)
            lhs = .binary(op, lhs, rhs, t.range)
        }
    }

    private mutating func parseList() throws(SyntaxError) -> [ExpressionNode] {
        try expectSymbol("(")
        var items: [ExpressionNode] = []
        repeat {
            if !items.isEmpty { advance() }
            items.append(try parseExpression(minPrecedence: 0))
        } while isSymbol(",")
        try expectSymbol(")")
        return items
    }

    private mutating func parsePrefix() throws(SyntaxError) -> ExpressionNode {
        let t = current
        if isKeyword("not") {
            advance()
            return .unary(.not, try parseExpression(minPrecedence: Parser.pNot), t.range)
        }
        if isSymbol("-") {
            advance()
            let operand = try parseExpression(minPrecedence: Parser.pUnary)
            return .unary(.negate, operand, t.range)
        }
        return try parsePrimary()
    }

    private mutating func parsePrimary() throws(SyntaxError) -> ExpressionNode {
        let t = current
        switch t.kind {
        case .integer(let i):
            advance()
            return .literal(.int(i), t.range)
        case .number(let d):
            advance()
            return .literal(.double(d), t.range)
        case .string(let s):
            advance()
            return .literal(.string(s), t.range)
        case .keyword("null"):
            advance()
            return .literal(.null, t.range)
        case .keyword("true"):
            advance()
            return .literal(.bool(true), t.range)
        case .keyword("false"):
            advance()
            return .literal(.bool(false), t.range)
        case .keyword("if"): return try parseIf()
        case .keyword("case"): return try parseCase()
        case .symbol("("):
            advance()
            let inner = try parseExpression(minPrecedence: 0)
            try expectSymbol(")")
            return inner
        case .identifier(let name, let quoted):
            advance()
            if !quoted, isSymbol("(") {
                advance()
                var args: [ExpressionNode] = []
                if !isSymbol(")") {
                    repeat {
                        if !args.isEmpty { advance() }
                        args.append(try parseExpression(minPrecedence: 0))
                    } while isSymbol(",")
                }
                try expectSymbol(")")
                return .call(name, args, t.range)
            }
            return .identifier(name, t.range)
        default:
            throw unexpected("a value, a name, a function call or '('")
        }
    }

    private mutating func parseIf() throws(SyntaxError) -> ExpressionNode {
        let start = current.range
        advance()
        let cond = try parseExpression(minPrecedence: 0)
        try expectKeyword("then")
        let then = try parseExpression(minPrecedence: 0)
        var otherwise: ExpressionNode?
        if isKeyword("else") {
            advance()
            otherwise = try parseExpression(minPrecedence: 0)
        }
        return .conditional(cond, then, otherwise, start)
    }

    private mutating func parseCase() throws(SyntaxError) -> ExpressionNode {
        let start = current.range
        advance()
        var subject: ExpressionNode?
        if !isKeyword("when") { subject = try parseExpression(minPrecedence: 0) }
        var branches: [(ExpressionNode, ExpressionNode, SourceRange)] = []
        while isKeyword("when") {
            let whenStart = current.range.start
            advance()
            let w = try parseExpression(minPrecedence: 0)
            let whenEnd = tokens[max(0, index - 1)].range.end
            try expectKeyword("then")
            let r = try parseExpression(minPrecedence: 0)
            branches.append((w, r, SourceRange(start: whenStart, end: whenEnd)))
        }
        if branches.isEmpty { throw unexpected("'when'") }
        var otherwise: ExpressionNode?
        if isKeyword("else") {
            advance()
            otherwise = try parseExpression(minPrecedence: 0)
        }
        try expectKeyword("end")
        return .caseWhen(subject: subject, branches: branches, otherwise: otherwise, start)
    }
}
