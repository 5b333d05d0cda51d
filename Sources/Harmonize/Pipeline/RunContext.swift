import Foundation

/// Everything one run loads or counts, apart from its plans: the run's `RunEnvironment` (key,
/// HMAC states and caches, lookup tables loaded for the run), the vocabulary usage counters, and
/// each plan's call sites bound to them. Plans stay immutable and shareable; a context belongs to
/// one run and is used by one thread at a time.
final class RunContext {
    /// The services the run's call sites are bound to.
    let environment: RunEnvironment
    /// Codes looked up in vocabularies by this run (nil without a vocabulary store).
    let vocabularyUsage: VocabularyUsage?

    /// Creates the context of a run with these options.
    init(options: RunOptions) {
        environment = RunEnvironment()
        if let key = options.key {
            environment[RunKey.self] = RunKey(key: key, dateShiftDays: options.dateShiftDays)
        }
        if options.vocabulary != nil {
            let usage = VocabularyUsage()
            environment[VocabularyUsage.self] = usage
            vocabularyUsage = usage
        } else {
            vocabularyUsage = nil
        }
    }

    /// Loads a plan's lookup tables for this run and binds its call sites; fails, before any
    /// record is read, when a call cannot run (a keyed function without a key, a vocabulary
    /// function without a store, a lookup file that cannot be read). Each table keeps up to
    /// `lookupBudget` bytes in memory and the rest in `spillDirectory`.
    func bind(_ plan: MappingPlan, inputDirectory: String?, lookupBudget: Int, spillDirectory: String) throws(RunError) -> BoundCallSites {
        let directory = MappingPlanner.directory(of: plan.spec.file)
        for l in plan.lookups {
            let table = try l.load(
                path: l.path(mappingDirectory: directory, inputDirectory: inputDirectory), environment: environment, budget: lookupBudget,
                spillDirectory: spillDirectory)
            environment.loadedLookups.add(table, for: l)
            lookups.append((plan.id, l, table))
        }
        return try bindCallSites(plan)
    }

    /// The lookup tables loaded by `bind`, in load order, with their mapping.
    private(set) var lookups: [(mapping: String, declaration: CSVLookupTable, table: LoadedLookupTable)] = []

    /// Bytes the loaded lookup tables hold in memory (they stay loaded for the whole run).
    var lookupMemoryBytes: Int { lookups.reduce(0) { $0 + $1.table.memoryBytes } }

    /// The statistics of the loaded lookup tables, for the manifest.
    var lookupStatistics: [LookupStatistics] {
        lookups.map {
            LookupStatistics(
                mapping: $0.mapping, lookup: $0.declaration.spec.name.text, file: $0.declaration.spec.path.text, keys: $0.table.count,
                spilled: $0.table.isSpilled, found: $0.table.hits, missed: $0.table.misses)
        }
    }

    /// Frees the lookup tables (and removes their on-disk parts): at the end of the run, whether
    /// it succeeded or not.
    func close() {
        for l in lookups { l.table.close() }
    }

    /// What one worker of a parallel pass (`ParallelFilePass`) maps with: the plan's call sites
    /// bound to an environment of its own (the run's key; its own pseudonym caches and HMAC
    /// states, vocabulary usage counters and views of the run's lookup tables), so workers share
    /// nothing mutable; each of the `workers` caches its share of the run's pseudonyms. A lookup
    /// table partly on disk is read with the view's own buffers.
    func worker(for plan: MappingPlan, of workers: Int) throws(RunError) -> WorkerContext {
        let env = RunEnvironment()
        env[RunKey.self] = environment[RunKey.self]
        env[PseudonymCacheShare.self] = .of(workers: workers)
        let usage = vocabularyUsage == nil ? nil : VocabularyUsage()
        if let usage { env[VocabularyUsage.self] = usage }
        var views: [(shared: LoadedLookupTable, view: LoadedLookupTable)] = []
        if let loaded = environment[LoadedLookups.self] {
            let mine = env.loadedLookups
            for declaration in plan.lookups {
                let id = ObjectIdentifier(declaration)
                guard let table = loaded.tables[id] else { continue }
                let view = table.workerView()
                mine.tables[id] = view
                views.append((table, view))
            }
        }
        let callSites: BoundCallSites
        do {
            callSites = try plan.callSites.bind(env)
        } catch {
            throw RunError(.configuration, "mapping \(plan.id) cannot run: \(error.message)", code: .callCannotRun)
        }
        return WorkerContext(callSites: callSites, vocabularyUsage: usage, lookupViews: views)
    }

    /// Adds what a worker counted (lookups found and missed, vocabulary usage) to the run's counts.
    func absorb(_ worker: WorkerContext) {
        for v in worker.lookupViews { v.shared.absorb(v.view) }
        if let mine = vocabularyUsage, let theirs = worker.vocabularyUsage { mine.absorb(theirs) }
    }

    /// Binds a plan's call sites whose lookups were loaded already (mapping tests load theirs
    /// from a case's rows).
    func bindCallSites(_ plan: MappingPlan) throws(RunError) -> BoundCallSites {
        do {
            return try plan.callSites.bind(environment)
        } catch {
            throw RunError(.configuration, "mapping \(plan.id) cannot run: \(error.message)", code: .callCannotRun)
        }
    }
}

@available(*, unavailable)
extension RunContext: Sendable {}

/// One worker's side of a run (`RunContext.worker(for:)`): its bound call sites and the counters
/// merged into the run's when the plan is done.
struct WorkerContext {
    let callSites: BoundCallSites
    let vocabularyUsage: VocabularyUsage?
    let lookupViews: [(shared: LoadedLookupTable, view: LoadedLookupTable)]
}
