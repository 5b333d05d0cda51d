/// What one run gives the function calls that keep state: the pseudonymisation key, the HMAC pad
/// states and caches derived from it, the vocabulary usage counters, the lookup tables loaded for
/// the run.
///
/// A compiled plan never holds run state: a function whose calls need some declares a per-run
/// implementation (`FunctionDefinition.Implementation.perRun`), the compiler gives each such call
/// a call-site index (`CallSites`), and each run binds the call sites against its own
/// environment (`CallSites.bind(_:)`), so two runs of one plan (different keys, concurrent) share
/// nothing mutable. An environment belongs to one run and is used by one thread at a time.
///
/// Services are stored by type: a function library adds its own (`environment[MyService.self]`),
/// so the engine's core knows nothing of keys or vocabularies.
package final class RunEnvironment {
    private var services: [ObjectIdentifier: Any] = [:]

    /// Creates an empty environment.
    public init() {}

    /// The service of that type, if the run provides one.
    public subscript<Service>(_ type: Service.Type) -> Service? {
        get { services[ObjectIdentifier(type)] as? Service }
        set { services[ObjectIdentifier(type)] = newValue }
    }

    /// The service of that type, created by `make` on first use (shared by the run's call sites).
    public func service<Service>(_ type: Service.Type, make: () throws(EvaluationError) -> Service) throws(EvaluationError) -> Service {
        if let s = services[ObjectIdentifier(type)] as? Service { return s }
        let s = try make()
        services[ObjectIdentifier(type)] = s
        return s
    }
}

@available(*, unavailable)
extension RunEnvironment: Sendable {}

/// A call site's implementation for one run: it may capture that run's state (HMAC states,
/// caches, counters), so it is not `Sendable` and lives in the run's evaluation frames.
package enum BoundImplementation {
    /// One argument.
    case unary((Value) throws(EvaluationError) -> Value)
    /// One argument, with what to do as soon as that argument is known: a call whose argument
    /// is a source field gets `prefetch` called when the field is decoded, before the record's
    /// expressions run (`BoundCallSites.prefetches`; keyed pseudonyms bring their cache slot in).
    case unaryPrefetching((Value) throws(EvaluationError) -> Value, prefetch: (Value) -> Void)
    /// As `unaryPrefetching`, and `text` takes the argument's UTF-8 bytes when the call builds
    /// its text argument in a buffer (`concat(…)` of fields and literals,
    /// `TypedEvaluator.textParts`: `pseudonym_int(concat(a, '/', b), …)` hashes the parts
    /// without making a string). `text` gives for those bytes what the first closure gives for
    /// the `.string` they spell; and when the argument is a text field as it is, read only by
    /// such calls (`MappingPlan.textArgumentFields`), `text` takes the record's bytes and
    /// `prefetchText` is called with them (`prefetch` with a value otherwise).
    case unaryText(
        (Value) throws(EvaluationError) -> Value, text: (UnsafeBufferPointer<UInt8>) throws(EvaluationError) -> Value,
        prefetch: (Value) -> Void, prefetchText: ((UnsafeBufferPointer<UInt8>) -> Void)? = nil)
    /// Two arguments.
    case binary((Value, Value) throws(EvaluationError) -> Value)
    /// Three arguments.
    case ternary((Value, Value, Value) throws(EvaluationError) -> Value)
    /// Any number of arguments, in a buffer valid during the call.
    case variadic((UnsafeBufferPointer<Value>) throws(EvaluationError) -> Value)
    /// A lookup table loaded for the run (`lookup('name', key…)` on a table read from a file).
    case lookup(any LookupTable)
}

/// Collects, while a mapping is compiled, the call sites whose functions keep per-run state.
/// Share one table between the compilers of one mapping; the plan keeps its `snapshot`.
package final class CallSiteTable {
    /// Binds one call site to a run.
    public typealias Binder = @Sendable (RunEnvironment) throws(EvaluationError) -> BoundImplementation

    private var binders: [(name: String, bind: Binder)] = []
    private var hints: [(slot: Int, site: Int)] = []

    /// Creates an empty table.
    public init() {}

    /// Adds a call site; returns its index.
    func add(name: String, _ bind: @escaping Binder) -> Int {
        binders.append((name, bind))
        return binders.count - 1
    }

    /// Notes that call site `site`'s only argument is the frame's slot `slot` read as it is.
    func addHint(slot: Int, site: Int) { hints.append((slot, site)) }

    /// The call sites collected so far.
    public var snapshot: CallSites { CallSites(binders: binders, hints: hints) }
}

@available(*, unavailable)
extension CallSiteTable: Sendable {}

/// The call sites of a plan whose functions keep per-run state (immutable).
package struct CallSites: Sendable {
    let binders: [(name: String, bind: CallSiteTable.Binder)]
    /// Call sites whose only argument is a slot read as it is (`CallSiteTable.addHint`).
    var hints: [(slot: Int, site: Int)] = []

    /// No call site.
    public static let none = CallSites(binders: [])

    /// The number of call sites.
    public var count: Int { binders.count }

    /// Binds every call site to `environment`: what frames of that run evaluate with.
    /// - Throws: the first call site that cannot run (a keyed function without a key, say).
    public func bind(_ environment: RunEnvironment) throws(EvaluationError) -> BoundCallSites {
        var list = ContiguousArray<BoundImplementation>()
        list.reserveCapacity(binders.count)
        for b in binders { list.append(try b.bind(environment)) }
        var prefetches: [BoundCallSites.Prefetch] = []
        for h in hints where h.site < list.count {
            switch list[h.site] {
            case .unaryPrefetching(_, let prefetch): prefetches.append(.init(slot: h.slot, prefetch: prefetch))
            case .unaryText(_, _, let prefetch, let text): prefetches.append(.init(slot: h.slot, prefetch: prefetch, text: text))
            default: break
            }
        }
        return BoundCallSites(implementations: list, prefetches: prefetches)
    }
}

/// A plan's call sites bound to one run (`CallSites.bind(_:)`); give it to each frame of the run.
package final class BoundCallSites {
    /// What to call with a slot's value as soon as it is known. A class, not a tuple: a closure
    /// in an array's tuple goes through two reabstraction thunks per call (`EvaluatorList`); and
    /// called through an uncounted reference (`RecordStages`), its closure is called without
    /// counting a reference to its context, which a struct copied out of an array did per call.
    final class Prefetch {
        let slot: Int
        let prefetch: (Value) -> Void
        /// The same for the slot's text given as bytes (`EvaluationFrame.spans`); nil: none.
        let text: ((UnsafeBufferPointer<UInt8>) -> Void)?

        init(slot: Int, prefetch: @escaping (Value) -> Void, text: ((UnsafeBufferPointer<UInt8>) -> Void)? = nil) {
            self.slot = slot
            self.prefetch = prefetch
            self.text = text
        }
    }

    let implementations: ContiguousArray<BoundImplementation>
    /// What to call with a slot's value as soon as it is known (`BoundImplementation.unaryPrefetching`,
    /// `.unaryText`).
    let prefetches: [Prefetch]

    init(implementations: ContiguousArray<BoundImplementation>, prefetches: [Prefetch] = []) {
        self.implementations = implementations
        self.prefetches = prefetches
    }

    /// Nothing bound (plans without stateful calls).
    public static func empty() -> BoundCallSites { BoundCallSites(implementations: []) }
}

@available(*, unavailable)
extension BoundCallSites: Sendable {}

@available(*, unavailable)
extension BoundCallSites.Prefetch: Sendable {}
