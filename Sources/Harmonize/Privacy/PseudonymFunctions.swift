import Foundation

extension FunctionRegistry {
    /// Adds the keyed pseudonym functions, bound to `key`:
    ///
    /// - `pseudonym(value, 'purpose')`: 64 hex digits of HMAC-SHA-256 under the purpose's sub-key;
    /// - `pseudonym_int(value, 'purpose')`: a non-negative 63-bit integer from the same HMAC (for
    ///   integer ids such as `person_id`).
    ///
    /// The purpose must be a literal so that each purpose gets its own sub-key once, at compile time.
    /// Without a key the functions still type-check (so `check` works), but they fail at run time,
    /// and the CLI refuses to start a run that uses them without `--key-file` or `--key-env`.
    /// No unkeyed hash function is offered for identifiers.
    public mutating func registerPseudonyms(key: PseudonymKey?) {
        registerRowID(key: key)
        let cache = PseudonymizerCache(key: key)
        for (name, result) in [("pseudonym", ValueType.string), ("pseudonym_int", ValueType.integer)] {
            let asInteger = result == .integer
            register(
                FunctionDefinition(
                    name: name,
                    doc: asInteger
                        ? "A keyed pseudonym as a non-negative 63-bit integer (HMAC-SHA-256 under the purpose's sub-key)."
                        : "A keyed pseudonym: 64 hex digits of HMAC-SHA-256 under the purpose's sub-key.",
                    signatures: [.init([.any, .string], returns: result)],
                    requiresLiteralArguments: [1],
                    isPure: false,
                    implementation: .specialized { literals throws(FunctionDefinition.SpecializationError) in
                        guard literals.count > 1, case .string(let purpose)? = literals[1], !purpose.isEmpty else {
                            throw FunctionDefinition.SpecializationError(argument: 1, message: "the purpose must be a non-empty text literal")
                        }
                        // Resolved once here (not per call: a lock and a dictionary lookup).
                        let resolved = ResolvedPseudonymizer(value: cache.pseudonymizer(purpose: purpose))
                        return .unary { value throws(EvaluationError) in
                            guard let p = resolved.value else {
                                throw EvaluationError(reason: .expressionError, message: "\(name): no pseudonymisation key was given", function: name)
                            }
                            let text: String
                            switch value {
                            case .null: return .null
                            case .string(let s): text = s
                            case .date(let d): text = CivilDate(daysSinceEpoch: d).isoString
                            default: text = value.description
                            }
                            return asInteger ? .int(p.integer(text)) : .string(p.pseudonym(text))
                        }
                    }))
        }
    }
}

/// The pseudonymizer of one purpose, as captured by the evaluators of its calls. Unchecked for
/// the same reason as `PseudonymizerCache`: a run maps on one thread (the pseudonymizer, which
/// caches, was already shared by every call of the purpose through the cache).
private struct ResolvedPseudonymizer: @unchecked Sendable {
    let value: Pseudonymizer?
}

/// One `Pseudonymizer` per purpose, created on first use. A run maps on one thread; the lock only
/// guards against misuse from several.
final class PseudonymizerCache: @unchecked Sendable {
    private let key: PseudonymKey?
    private var byPurpose: [String: Pseudonymizer] = [:]
    private let lock = NSLock()

    init(key: PseudonymKey?) { self.key = key }

    func pseudonymizer(purpose: String) -> Pseudonymizer? {
        guard let key else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let p = byPurpose[purpose] { return p }
        let p = Pseudonymizer(key: key, purpose: purpose)
        byPurpose[purpose] = p
        return p
    }
}
