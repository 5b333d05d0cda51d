import Testing

@testable import Harmonize

/// Vocabulary lookups go through their environment's cache: a code found there takes no lock on
/// the store (shared by the workers of a parallel pass); the results are the store's.
@Suite struct VocabularyCodeCacheTests {
    struct NotBound: Error {}

    /// `name('CIM10', code)` bound to `environment`, as a run (or a worker) binds its call sites.
    static func bound(_ name: String, store: VocabularyStore, environment: RunEnvironment) throws -> (Value) throws(EvaluationError) -> Value {
        var registry = FunctionRegistry()
        registry.registerVocabulary(store)
        let definition = try #require(registry.function(named: name))
        guard case .specialized(let specialize) = definition.implementation, case .perRun(let bind) = try specialize([.string("CIM10"), nil]),
            case .unary(let call) = try bind(environment)
        else { throw NotBound() }
        return call
    }

    @Test func aCodeIsAskedOfTheStoreOncePerEnvironmentAndGivesTheStoresAnswer() throws {
        let store = try VocabularyStore(path: VocabularyStoreTests.fixtureStore)
        let codes = ["I10", "Z72.0", "Z13.3", "K92.2", "E78.0", "E119", "NOPE"]
        let expected = try codes.map { try store.resolve(vocabulary: "CIM10", code: $0) }
        let askedBefore = store.resolutionsAsked
        // Two environments (the run's and a worker's), two call sites of the vocabulary in each.
        var asked: [Int] = []
        for _ in 0..<2 {
            let environment = RunEnvironment()
            let standard = try Self.bound("standard_concept_id", store: store, environment: environment)
            let domain = try Self.bound("standard_domain", store: store, environment: environment)
            let source = try Self.bound("source_concept_id", store: store, environment: environment)
            let before = store.resolutionsAsked
            for round in 0..<50 {
                for (code, r) in zip(codes, expected) {
                    #expect(try standard(.string(code)) == (r.standardConceptID.map(Value.int) ?? .null), "round \(round), \(code)")
                    #expect(try domain(.string(code)) == (r.standard.map { Value.string($0.domain) } ?? .null))
                    #expect(try source(.string(code)) == (r.sourceConceptID.map(Value.int) ?? .null))
                }
            }
            #expect(try standard(.null) == .null)
            asked.append(store.resolutionsAsked - before)
        }
        // Each environment asks the store for each distinct code once (1,050 calls each).
        #expect(asked == [codes.count, codes.count])
        #expect(store.resolutionsAsked - askedBefore == 2 * codes.count)
    }

    @Test func aFullCacheStartsAgainAndKeepsGivingTheStoresAnswer() throws {
        let store = try VocabularyStore(path: VocabularyStoreTests.fixtureStore)
        let cache = VocabularyCodeCache(store: store, vocabulary: "CIM10")
        let before = store.resolutionsAsked
        for i in 0..<(VocabularyCodeCache.limit + 10) { _ = try cache.resolve("X\(i)") }
        #expect(store.resolutionsAsked - before == VocabularyCodeCache.limit + 10)
        #expect(try cache.resolve("I10").standardConceptID == 320128)
        #expect(try cache.resolve("I10") == store.resolve(vocabulary: "CIM10", code: "I10"))
    }
}
