/// The syntax tree of one expression. Every node keeps the source range of the token that
/// best locates it (the operator for binary nodes, the name for calls and identifiers).
indirect enum ExpressionNode: Sendable {
    /// Prefix operators.
    enum UnaryOperator: String, Sendable { case negate = "-", not }
    /// Infix operators.
    enum BinaryOperator: String, Sendable {
        case coalesce = "??", or, and
        case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
        case concat = "&", add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
    }

    case literal(Value, SourceRange)
    case identifier(String, SourceRange)
    case unary(UnaryOperator, ExpressionNode, SourceRange)
    case binary(BinaryOperator, ExpressionNode, ExpressionNode, SourceRange)
    /// `name(args)`; the range covers the name.
    case call(String, [ExpressionNode], SourceRange)
    /// `if c then a else b`; `else` may be absent.
    case conditional(ExpressionNode, ExpressionNode, ExpressionNode?, SourceRange)
    /// `case [subject] when v then r ... [else e] end`; each branch keeps the range of its `when` keyword and value.
    case caseWhen(subject: ExpressionNode?, branches: [(ExpressionNode, ExpressionNode, SourceRange)], otherwise: ExpressionNode?, SourceRange)
    /// `x [not] in (a, b, c)`.
    case inList(ExpressionNode, [ExpressionNode], negated: Bool, SourceRange)
    /// `x is [not] null`.
    case isNull(ExpressionNode, negated: Bool, SourceRange)

    /// Offset of the first byte of the whole sub-expression (its leftmost token).
    var startOffset: Int {
        switch self {
        case .binary(_, let l, _, let r): return min(l.startOffset, r.start)
        case .inList(let x, _, _, let r), .isNull(let x, _, let r): return min(x.startOffset, r.start)
        default: return range.start
        }
    }

    /// The node's source range.
    var range: SourceRange {
        switch self {
        case .literal(_, let r), .identifier(_, let r), .unary(_, _, let r), .binary(_, _, _, let r), .call(_, _, let r),
            .conditional(_, _, _, let r), .caseWhen(_, _, _, let r), .inList(_, _, _, let r), .isNull(_, _, let r):
            return r
        }
    }
}
