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
    /// function without a store, a lookup file that cannot be read).
    func bind(_ plan: MappingPlan, inputDirectory: String?) throws(RunError) -> BoundCallSites {
        let directory = MappingPlanner.directory(of: plan.spec.file)
        for l in plan.lookups {
            let table = try l.load(path: l.path(mappingDirectory: directory, inputDirectory: inputDirectory), environment: environment)
            environment.loadedLookups.add(table, for: l)
        }
        return try bindCallSites(plan)
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
