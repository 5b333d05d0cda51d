/// The set of functions an expression may call. A value: start from `standard` and `register`
/// domain functions (vocabulary helpers, keyed pseudonyms…) before compiling.
public struct FunctionRegistry: Sendable {
    private var functions: [String: FunctionDefinition] = [:]

    /// An empty registry.
    public init() {}

    /// Adds or replaces a function (by case-insensitive name).
    package mutating func register(_ function: FunctionDefinition) { functions[function.name] = function }

    /// The function with that name (case-insensitive), or nil.
    package func function(named name: String) -> FunctionDefinition? { functions[name.lowercased()] }

    /// Every function name, sorted.
    public var names: [String] { functions.keys.sorted() }

    /// The built-in library: strings, numbers, conversions and dates (see docs/mapping-language.md).
    public static let standard: FunctionRegistry = {
        var r = FunctionRegistry()
        for f in Builtins.strings + Builtins.numbers + Builtins.conversions + Builtins.dates { r.register(f) }
        return r
    }()
}

/// Namespace for the built-in function definitions (split by concern across files).
enum Builtins {}
