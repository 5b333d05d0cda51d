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
        typealias Body = @Sendable (VocabularyStore, VocabularyUsage?, String, String) throws(EvaluationError) -> Value
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
                        return .unary { code throws(EvaluationError) in
                            guard let text = codeText(code) else { return .null }
                            return try body(store, usage, vocabulary, text)
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
                store, _, vocabulary, code throws(EvaluationError) in
                try store.resolving(vocabulary: vocabulary, code: code).sourceConceptID.map(Value.int) ?? .null
            })
        register(
            coded(
                "standard_concept_id",
                "The standard concept a code maps to ('Maps to'; a standard code maps to itself; lowest concept_id when several); null when unmapped.",
                returns: .integer
            ) { store, usage, vocabulary, code throws(EvaluationError) in
                let r = try store.resolving(vocabulary: vocabulary, code: code)
                usage?.note(vocabulary: vocabulary, code: code, mapped: r.standardConceptID != nil)
                return r.standardConceptID.map(Value.int) ?? .null
            })
        register(
            coded("standard_domain", "The domain_id of the standard concept a code maps to; null when unmapped.", returns: .string) {
                store, usage, vocabulary, code throws(EvaluationError) in
                let r = try store.resolving(vocabulary: vocabulary, code: code)
                usage?.note(vocabulary: vocabulary, code: code, mapped: r.standardConceptID != nil)
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
