public import Harmonize

/// The function library of a run: the engine's standard functions, the keyed pseudonym functions,
/// and the health-domain functions of this module.
public enum FunctionCatalog {
    /// Names of functions that need the pseudonymisation key.
    public static let keyedFunctions: Set<String> = ["pseudonym", "pseudonym_int", "date_shift", "row_id"]

    /// Names of the vocabulary functions (they need a vocabulary store: `--vocabulary FILE`).
    public static let vocabularyFunctions: Set<String> = FunctionRegistry.vocabularyFunctionNames

    /// The registry of the pack: `vocabulary` is the store the vocabulary functions look codes up
    /// in (nil: they type-check, but a run of plans calling them stops before reading). The key
    /// and the largest date shift are not part of the registry or of the plans: each run gives
    /// its own (`RunOptions.key`, `RunOptions.dateShiftDays`).
    public static func registry(vocabulary: VocabularyStore? = nil) -> FunctionRegistry {
        var r = FunctionRegistry.standard
        r.registerPseudonyms()
        r.registerDateShift()
        r.registerVocabulary(vocabulary)
        for f in GeneralisationFunctions.all { r.register(f) }
        for f in DomainFunctions.all { r.register(f) }
        return r
    }

    /// Whether a plan calls a keyed function anywhere.
    public static func needsKey(_ plan: MappingPlan) -> Bool {
        uses(plan, anyOf: keyedFunctions)
    }

    /// Whether a plan calls a vocabulary function anywhere.
    public static func needsVocabulary(_ plan: MappingPlan) -> Bool {
        uses(plan, anyOf: vocabularyFunctions)
    }

    /// Whether a plan calls one of `names` anywhere (lets, filters, columns, subject).
    public static func uses(_ plan: MappingPlan, anyOf names: Set<String>) -> Bool {
        plan.calls(anyOf: names)
    }
}
