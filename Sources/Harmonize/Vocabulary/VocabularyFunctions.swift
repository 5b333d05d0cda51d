extension FunctionRegistry {
    /// Names of the vocabulary functions (a run that calls one needs a store).
    public static let vocabularyFunctionNames: Set<String> = ["source_concept_id", "standard_concept_id", "standard_domain", "concept_domain"]

    /// Adds the vocabulary functions, bound to `store`:
    ///
    /// | function | result |
    /// | --- | --- |
    /// | `source_concept_id('VOCAB', code)` | the concept id of `code` in vocabulary `VOCAB`, null if none |
    /// | `standard_concept_id('VOCAB', code)` | the standard concept `code` maps to (`Maps to`; a standard code maps to itself), null when unmapped |
    /// | `standard_domain('VOCAB', code)` | the `domain_id` of that standard concept, null when unmapped |
    /// | `concept_domain(concept_id)` | the `domain_id` of a concept, null if unknown |
    ///
    /// The vocabulary id must be a literal (so `check` can verify it against the store and the run
    /// can report unmapped codes per vocabulary). Codes are matched exactly as given (no trimming or
    /// case folding; CIM-10 codes carry their dot: `cim10_dotted(code)`). `standard_concept_id` and
    /// `standard_domain` count each looked-up code in the run's `VocabularyUsage` (a
    /// `RunEnvironment` service; not counted when the run has none).
    ///
    /// Without a store the functions type-check (so `check` works), but binding a plan that calls
    /// them to a run fails before any record is read.
    public mutating func registerVocabulary(_ store: VocabularyStore?) {
        @Sendable func codeText(_ v: Value) -> String? {
            switch v {
            case .null: return nil
            case .string(let s): return s.isEmpty ? nil : s
            default: return v.description
            }
        }
        @Sendable func missing(_ name: String) -> EvaluationError {
            EvaluationError(reason: .expressionError, message: "\(name): no vocabulary store was given (--vocabulary FILE)", function: name)
        }
        typealias Body = @Sendable (VocabularyCodeCache, VocabularyUsage?, String) throws(EvaluationError) -> Value
        func coded(_ name: String, _ doc: String, returns: ValueType, _ body: @escaping Body) -> FunctionDefinition {
            var d = FunctionDefinition(
                name: name, doc: doc, signatures: [.init([.string, .any], returns: returns)], requiresLiteralArguments: [0], isPure: false,
                implementation: .specialized { literals throws(FunctionDefinition.SpecializationError) in
                    guard case .string(let vocabulary)? = literals.first ?? nil, !vocabulary.isEmpty else {
                        throw FunctionDefinition.SpecializationError(argument: 0, message: "the vocabulary id must be a non-empty text literal")
                    }
                    if let store, !store.knows(vocabulary: vocabulary) {
                        let hint = Suggestion.closest(to: vocabulary, in: store.vocabularyIDs()).map { " (did you mean '\($0)'?)" } ?? ""
                        throw FunctionDefinition.SpecializationError(
                            argument: 0, message: "vocabulary '\(vocabulary)' is not in the vocabulary store\(hint)")
                    }
                    return .perRun { environment throws(EvaluationError) in
                        guard let store else { throw missing(name) }
                        let usage = environment[VocabularyUsage.self]
                        // The environment's (the run's or a worker's) cache of this vocabulary's codes.
                        let codes = try environment.service(VocabularyCodeCaches.self) { VocabularyCodeCaches() }
                            .cache(store: store, vocabulary: vocabulary)
                        return .unary { code throws(EvaluationError) in
                            guard let text = codeText(code) else { return .null }
                            return try body(codes, usage, text)
                        }
                    }
                })
            d.recordsLookups = true
            return d
        }
        register(
            coded(
                "source_concept_id", "The concept id of a code in a vocabulary (literal vocabulary id); null if the vocabulary has no such code.",
                returns: .integer
            ) {
                codes, _, code throws(EvaluationError) in
                try codes.resolve(code).sourceConceptID.map(Value.int) ?? .null
            })
        register(
            coded(
                "standard_concept_id",
                "The standard concept a code maps to ('Maps to'; a standard code maps to itself; lowest concept_id when several); null when unmapped.",
                returns: .integer
            ) { codes, usage, code throws(EvaluationError) in
                let r = try codes.resolve(code)
                usage?.note(vocabulary: codes.vocabulary, code: code, mapped: r.standardConceptID != nil)
                return r.standardConceptID.map(Value.int) ?? .null
            })
        register(
            coded("standard_domain", "The domain_id of the standard concept a code maps to; null when unmapped.", returns: .string) {
                codes, usage, code throws(EvaluationError) in
                let r = try codes.resolve(code)
                usage?.note(vocabulary: codes.vocabulary, code: code, mapped: r.standardConceptID != nil)
                guard let d = r.standard?.domain, !d.isEmpty else { return .null }
                return .string(d)
            })
        var conceptDomain = FunctionDefinition(
            name: "concept_domain", doc: "The domain_id of a concept; null if the store has no such concept.",
            signatures: [.init([.integer], returns: .string)], isPure: false,
            implementation: .perRun { _ throws(EvaluationError) in
                guard let store else { throw missing("concept_domain") }
                return .unary { id throws(EvaluationError) in
                    guard case .int(let i) = id else { return .null }
                    guard let d = try store.conceptChecked(id: i)?.domain, !d.isEmpty else { return .null }
                    return .string(d)
                }
            })
        conceptDomain.recordsLookups = true
        register(conceptDomain)
    }
}

/// The code resolutions of one vocabulary that one run environment (the run's, or one worker's
/// in a parallel pass) has looked up. A code found here takes no lock: the store's own cache is
/// shared by every worker, behind the store's lock, and is asked only on a miss. Bounded (cleared
/// when `limit` codes are held), like the store's cache. Owned by one environment, used by one
/// thread.
final class VocabularyCodeCache {
    /// The vocabulary id (a literal of the mapping).
    let vocabulary: String
    private let store: VocabularyStore
    private var resolutions: [String: CodeResolution] = [:]
    /// Codes held at most per vocabulary and environment.
    static let limit = 1 << 14

    init(store: VocabularyStore, vocabulary: String) {
        self.store = store
        self.vocabulary = vocabulary
    }

    /// What `code` resolves to (the store's rules: `VocabularyStore`).
    /// - Throws: `EvaluationError` (`runFailure`) when the store cannot be read.
    func resolve(_ code: String) throws(EvaluationError) -> CodeResolution {
        if let hit = resolutions[code] { return hit }
        let r = try store.resolving(vocabulary: vocabulary, code: code)
        if resolutions.count >= Self.limit { resolutions.removeAll(keepingCapacity: true) }
        resolutions[code] = r
        return r
    }
}

/// An environment's `VocabularyCodeCache`s, one per store and vocabulary (a `RunEnvironment`
/// service): call sites of one vocabulary share theirs.
final class VocabularyCodeCaches {
    private struct Key: Hashable {
        var store: ObjectIdentifier
        var vocabulary: String
    }

    private var caches: [Key: VocabularyCodeCache] = [:]

    func cache(store: VocabularyStore, vocabulary: String) -> VocabularyCodeCache {
        let key = Key(store: ObjectIdentifier(store), vocabulary: vocabulary)
        if let c = caches[key] { return c }
        let c = VocabularyCodeCache(store: store, vocabulary: vocabulary)
        caches[key] = c
        return c
    }
}

@available(*, unavailable)
extension VocabularyCodeCache: Sendable {}

@available(*, unavailable)
extension VocabularyCodeCaches: Sendable {}
