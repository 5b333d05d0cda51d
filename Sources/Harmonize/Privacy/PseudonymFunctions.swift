import Foundation

extension FunctionRegistry {
    /// Adds the keyed pseudonym functions:
    ///
    /// - `pseudonym(value, 'purpose')`: 64 hex digits of HMAC-SHA-256 under the purpose's sub-key;
    /// - `pseudonym_int(value, 'purpose')`: a non-negative 63-bit integer from the same HMAC (for
    ///   integer ids such as `person_id`).
    ///
    /// The purpose must be a literal so that each purpose gets its own sub-key once per run. The
    /// key is not part of the registry or of the plans: each run gives its own
    /// (`RunEnvironment.pseudonymKey`), and binding a plan that calls these functions to a run
    /// without a key fails before any record is read. No unkeyed hash function is offered for
    /// identifiers.
    public mutating func registerPseudonyms() {
        registerRowID()
        for (name, result) in [("pseudonym", ValueType.string), ("pseudonym_int", ValueType.integer)] {
            let asInteger = result == .integer
            var definition =
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
                        return .perRun { environment throws(EvaluationError) in
                            // Resolved once per run (the run's HMAC states and cache for the purpose).
                            let p = try environment.pseudonymizers(function: name).pseudonymizer(purpose: purpose)
                            return .unaryText(
                                { value throws(EvaluationError) in
                                    let text: String
                                    switch value {
                                    case .null: return .null
                                    // The identifier hashed where it is (no copy of the string).
                                    case .string(let s): return asInteger ? .int(p.integer(s)) : .string(p.pseudonym(s))
                                    case .date(let d): text = CivilDate(daysSinceEpoch: d).isoString
                                    default: text = value.description
                                    }
                                    return asInteger ? .int(p.integer(text)) : .string(p.pseudonym(text))
                                },
                                // A text built in a buffer (`concat` of fields): hashed as it is.
                                text: { u in asInteger ? .int(p.integer(utf8: u)) : .string(p.pseudonym(utf8: u)) },
                                // A text identifier read from a field: its cache slot, early.
                                prefetch: { value in if case .string(let s) = value { p.prefetch(s) } },
                                prefetchText: { u in p.prefetch(utf8: u) })
                        }
                    })
            // The same identifier and purpose give the same pseudonym for the whole run.
            definition.repeatable = true
            // A text field given as it is is hashed from the record's bytes (`text:` below).
            definition.readsTextArgument = true
            register(definition)
        }
    }
}

/// The pseudonymisation key of a run (a `RunEnvironment` service).
package struct RunKey {
    /// The key.
    public var key: PseudonymKey
    /// The largest `date_shift` in days (0: `date_shift` cannot run).
    public var dateShiftDays: Int
}

extension RunEnvironment {
    /// The run's pseudonymisation key (nil: keyed functions cannot run).
    public var pseudonymKey: PseudonymKey? {
        get { self[RunKey.self]?.key }
        set { self[RunKey.self] = newValue.map { RunKey(key: $0, dateShiftDays: self[RunKey.self]?.dateShiftDays ?? 0) } }
    }

    /// The largest `date_shift` of the run in days (0: `date_shift` cannot run; needs a key).
    public var dateShiftDays: Int {
        get { self[RunKey.self]?.dateShiftDays ?? 0 }
        set {
            if var k = self[RunKey.self] {
                k.dateShiftDays = newValue
                self[RunKey.self] = k
            }
        }
    }

    /// The run's pseudonymizers, one per purpose, shared by the run's call sites.
    func pseudonymizers(function: String) throws(EvaluationError) -> PseudonymizerCache {
        guard let key = pseudonymKey else {
            throw EvaluationError(reason: .expressionError, message: "\(function): no pseudonymisation key was given", function: function)
        }
        let share = self[PseudonymCacheShare.self]?.identifiers ?? PseudonymCacheShare.whole
        return try service(PseudonymizerCache.self) { PseudonymizerCache(key: key, cacheLimit: share) }
    }
}

/// How many identifiers each pseudonymizer of an environment caches (a `RunEnvironment`
/// service): the whole cache for a run, a share of it for each worker of a parallel pass, so that
/// memory does not grow with the number of workers.
struct PseudonymCacheShare {
    /// Identifiers per purpose.
    var identifiers: Int
    /// A run's cache per purpose (`Pseudonymizer`'s default).
    static let whole = 1 << 17
    /// One of `workers` workers' share (at least 4,096 identifiers).
    static func of(workers: Int) -> PseudonymCacheShare { PseudonymCacheShare(identifiers: max(1 << 12, whole / max(1, workers))) }
}

/// One `Pseudonymizer` per purpose for one run, created on first use. Owned by the run's
/// environment: never shared between runs or threads.
final class PseudonymizerCache {
    private let key: PseudonymKey
    private let cacheLimit: Int
    private var byPurpose: [String: Pseudonymizer] = [:]

    init(key: PseudonymKey, cacheLimit: Int = PseudonymCacheShare.whole) {
        self.key = key
        self.cacheLimit = cacheLimit
    }

    func pseudonymizer(purpose: String) -> Pseudonymizer {
        if let p = byPurpose[purpose] { return p }
        let p = Pseudonymizer(key: key, purpose: purpose, cacheLimit: cacheLimit)
        byPurpose[purpose] = p
        return p
    }
}

@available(*, unavailable)
extension PseudonymizerCache: Sendable {}
