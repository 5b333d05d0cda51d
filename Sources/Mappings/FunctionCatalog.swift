public import Harmonize

/// The function library of a run: the engine's standard functions, the keyed pseudonym functions,
/// and the health-domain functions of this module.
public enum FunctionCatalog {
    /// Names of functions that need the pseudonymisation key.
    public static let keyedFunctions: Set<String> = ["pseudonym", "pseudonym_int"]

    /// The registry for a run with (or without) a key.
    public static func registry(key: PseudonymKey?) -> FunctionRegistry {
        var r = FunctionRegistry.standard
        r.registerPseudonyms(key: key)
        for f in DomainFunctions.all { r.register(f) }
        return r
    }

    /// Whether a plan calls a keyed function anywhere.
    public static func needsKey(_ plan: MappingPlan) -> Bool {
        var expressions: [CompiledExpression] = plan.lets.map(\.expression)
        if let f = plan.filter { expressions.append(f) }
        for t in plan.targets {
            expressions.append(contentsOf: t.columns.compactMap { $0 })
            if let f = t.filter { expressions.append(f) }
        }
        return expressions.contains { !keyedFunctions.isDisjoint(with: $0.functionsUsed) }
    }
}
