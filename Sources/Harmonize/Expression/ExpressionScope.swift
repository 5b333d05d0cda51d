/// Resolves the identifiers an expression may use (source fields, derived variables) to slots.
package protocol ExpressionScope {
    /// The binding of an identifier, or nil when it is unknown (case-sensitive).
    func binding(for identifier: String) -> ExpressionBinding?
    /// Every known identifier, for did-you-mean suggestions.
    var knownIdentifiers: [String] { get }
}

/// Where an identifier's value lives in an `EvaluationFrame`, and its static type.
package struct ExpressionBinding: Sendable, Hashable {
    /// Index into `EvaluationFrame.slots`.
    public var slot: Int
    /// Static type; `.any` values are checked at run time.
    public var type: ValueType

    /// Creates a binding.
    public init(slot: Int, type: ValueType) {
        self.slot = slot
        self.type = type
    }
}

/// A simple scope over a fixed list of names; slot `i` is the `i`-th name.
package struct StaticExpressionScope: ExpressionScope, Sendable {
    private var bindings: [String: ExpressionBinding]
    /// The names in slot order.
    public let knownIdentifiers: [String]

    /// Creates a scope; slots are assigned in order.
    public init(_ fields: [(name: String, type: ValueType)]) {
        var b: [String: ExpressionBinding] = [:]
        for (i, f) in fields.enumerated() where b[f.name] == nil { b[f.name] = ExpressionBinding(slot: i, type: f.type) }
        bindings = b
        knownIdentifiers = fields.map(\.name)
    }

    /// Looks up a name.
    public func binding(for identifier: String) -> ExpressionBinding? { bindings[identifier] }
}
