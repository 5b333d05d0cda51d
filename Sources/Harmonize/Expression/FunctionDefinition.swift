/// A function callable from expressions: its name, documentation, signatures and implementation.
///
/// Implementations receive only the arguments that are **not** compile-time literals required by
/// `requiresLiteralArguments` / `requiresLiteralTail` when the implementation is `.specialized`;
/// otherwise they receive every argument, in order.
package struct FunctionDefinition: Sendable {
    /// How the result type is known.
    public enum ResultType: Sendable {
        /// A fixed type.
        case fixed(ValueType)
        /// Computed from the argument types; nil means the combination is invalid.
        case computed(@Sendable ([ValueType]) -> ValueType?)
    }

    /// One accepted parameter list.
    public struct Signature: Sendable {
        /// Fixed parameters.
        public var parameters: [ValueType]
        /// Type of the variadic tail (zero or more extra arguments), if any.
        public var variadic: ValueType?
        /// Minimum number of variadic arguments.
        public var minimumVariadic: Int
        /// Result type.
        public var result: ResultType
        /// An implementation for this signature only (for example a two-argument form); nil uses the definition's.
        public var implementation: Implementation?

        /// Creates a signature.
        public init(
            _ parameters: [ValueType], variadic: ValueType? = nil, minimumVariadic: Int = 0, returns result: ResultType,
            implementation: Implementation? = nil
        ) {
            self.parameters = parameters
            self.variadic = variadic
            self.minimumVariadic = minimumVariadic
            self.result = result
            self.implementation = implementation
        }

        /// Creates a signature with a fixed result type.
        public init(
            _ parameters: [ValueType], variadic: ValueType? = nil, minimumVariadic: Int = 0, returns result: ValueType,
            implementation: Implementation? = nil
        ) {
            self.init(parameters, variadic: variadic, minimumVariadic: minimumVariadic, returns: .fixed(result), implementation: implementation)
        }

        func accepts(arity n: Int) -> Bool {
            if variadic != nil { return n >= parameters.count + minimumVariadic }
            return n == parameters.count
        }

        func parameterType(at i: Int) -> ValueType { i < parameters.count ? parameters[i] : (variadic ?? .any) }

        /// `(string, integer, integer...) -> string` style rendering for messages and docs.
        var rendered: String {
            var parts = parameters.map(\.rawValue)
            if let v = variadic { parts.append("\(v.rawValue)...") }
            let r: String
            switch result {
            case .fixed(let t): r = t.rawValue
            case .computed: r = "(depends on arguments)"
            }
            return "(" + parts.joined(separator: ", ") + ") -> " + r
        }
    }

    /// The code run for each call. Closures use typed throws and must not capture cell values in errors.
    public enum Implementation: Sendable {
        /// One argument.
        case unary(@Sendable (Value) throws(EvaluationError) -> Value)
        /// Two arguments.
        case binary(@Sendable (Value, Value) throws(EvaluationError) -> Value)
        /// Three arguments.
        case ternary(@Sendable (Value, Value, Value) throws(EvaluationError) -> Value)
        /// Any number of arguments, in a buffer valid during the call (on the stack: no array per
        /// call).
        case variadic(@Sendable (UnsafeBufferPointer<Value>) throws(EvaluationError) -> Value)
        /// Built once at compile time from the literal arguments (nil for non-literal positions);
        /// the returned implementation receives only the non-literal arguments. Throw
        /// `SpecializationError` for an invalid literal (bad pattern or format).
        case specialized(@Sendable ([Value?]) throws(SpecializationError) -> Implementation)
        /// A call that keeps per-run state (keyed HMAC states, caches, counters): the compiler
        /// gives the call a call site, and each run binds it once with its `RunEnvironment`
        /// (throw to refuse the run before any record is read, e.g. without a key). Nothing of
        /// one run is visible to another run of the same plan.
        case perRun(@Sendable (RunEnvironment) throws(EvaluationError) -> BoundImplementation)
    }

    /// A problem with a literal argument found at compile time (reported as HZ3007).
    public struct SpecializationError: Error, Sendable {
        /// Index of the offending argument.
        public var argument: Int
        /// What is wrong (never echoing data values; the literal comes from the mapping).
        public var message: String
        /// Creates the error.
        public init(argument: Int, message: String) {
            self.argument = argument
            self.message = message
        }
    }

    /// The name, matched case-insensitively (stored lower-case).
    public var name: String
    /// One-line documentation.
    public var doc: String
    /// Accepted signatures, tried in order (first by arity, then by argument types).
    public var signatures: [Signature]
    /// Indices of arguments that must be literals.
    public var requiresLiteralArguments: Set<Int>
    /// Whether every variadic argument must be a literal too.
    public var requiresLiteralTail: Bool
    /// Pure functions are evaluated at compile time when all arguments are constants.
    public var isPure: Bool
    /// When true (the default), a null argument yields null without calling the implementation.
    public var propagatesNull: Bool
    /// The implementation used when a signature has none.
    public var implementation: Implementation
    /// Whether a call is a lookup worth recording in row lineage (the vocabulary functions): with
    /// `run --lineage`, each call notes its literal first argument (the vocabulary), its other
    /// argument (the code) and its result (`LookupUse`). Only one-argument runtime forms are
    /// recorded.
    public var recordsLookups = false
    /// How a call's result is made of the canonical texts of its arguments, if it is: end to
    /// end with nulls skipped (`concat`), or joined by the first argument with nulls skipped
    /// (`concat_ws`). A keyed function taking that text builds it in a buffer from the arguments
    /// instead (`BoundImplementation.unaryText`).
    public var textOfParts: TextOfParts?

    /// How a function's result is made of its arguments' texts (`textOfParts`).
    public enum TextOfParts: Sendable {
        /// End to end, nulls skipped; never null (`concat`).
        case concatenated
        /// The arguments after the first joined by the first (a separator), nulls skipped; null
        /// when every part is null or the separator is (`concat_ws`).
        case separated
    }
    /// Whether the implementation receives, before its arguments, the record's context (the
    /// mapping id, and with no argument also the source file and record number: see
    /// `EvaluationFrame.recordContext(withLocation:)`); for `row_id`.
    public var readsRecordContext = false
    /// Whether the per-run implementation of a one-argument call takes that argument's text as
    /// UTF-8 bytes too (`BoundImplementation.unaryText`, the keyed pseudonyms): a call whose
    /// argument is a text field as it is then reads the record's bytes, and a field read by such
    /// calls alone is never made a `String` (`MappingPlan.textArgumentFields`).
    public var readsTextArgument = false
    /// For a pure function of one argument: what it gives for the text that UTF-8 `bytes` spell
    /// (the same as its implementation given that `.string`), read from the bytes. A call whose
    /// argument is a text field as it is then reads the record's bytes, and a field read by
    /// such calls alone is never made a `String` (`MappingPlan.textArgumentFields`); `to_int`.
    public var textImplementation: (@Sendable (UnsafeBufferPointer<UInt8>) throws(EvaluationError) -> Value)?
    /// Whether a call may be skipped when its arguments are those of a call made before in the
    /// same run, its earlier result taken instead: the same arguments give the same result for
    /// the whole run, and a call has nothing else anyone can see (no count, no note). True for
    /// pure functions (the default) and the keyed functions (`pseudonym`, `date_shift`); false
    /// for the vocabulary functions (they note the codes used) and `row_id` (it reads the
    /// record's place). An expression whose calls are all repeatable is evaluated again only
    /// when the values it reads change (`CompiledExpression.isRepeatable`).
    public var repeatable: Bool

    /// Creates a definition.
    public init(
        name: String, doc: String, signatures: [Signature], requiresLiteralArguments: Set<Int> = [],
        requiresLiteralTail: Bool = false, isPure: Bool = true, propagatesNull: Bool = true,
        implementation: Implementation, textOfParts: TextOfParts? = nil
    ) {
        self.name = name.lowercased()
        self.doc = doc
        self.signatures = signatures
        self.requiresLiteralArguments = requiresLiteralArguments
        self.requiresLiteralTail = requiresLiteralTail
        self.isPure = isPure
        self.repeatable = isPure
        self.propagatesNull = propagatesNull
        self.implementation = implementation
        self.textOfParts = textOfParts
    }

    func requiresLiteral(at index: Int, signature: Signature) -> Bool {
        if requiresLiteralArguments.contains(index) { return true }
        return requiresLiteralTail && index >= signature.parameters.count && signature.variadic != nil
    }
}
