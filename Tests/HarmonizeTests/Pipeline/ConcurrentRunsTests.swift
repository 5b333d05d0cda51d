import Dispatch
import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// Plans are immutable and hold no run state (keys, HMAC states, caches, lookup rows, join
/// indexes, vocabulary counts live in each run's `RunContext`): two pipelines of the same plans,
/// run at the same time in one process under different keys, give exactly what two sequential
/// runs give.
@Suite struct ConcurrentRunsTests {
    /// Results of the concurrent runs, written from two threads (each writes its own slot under the lock).
    final class Slots: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int: Result<String, any Error>] = [:]
        func set(_ i: Int, _ r: Result<String, any Error>) {
            lock.lock()
            values[i] = r
            lock.unlock()
        }
        func get(_ i: Int) throws -> String {
            lock.lock()
            defer { lock.unlock() }
            guard let r = values[i] else { throw RunError(.io, "run \(i) gave no result") }
            return try r.get()
        }
    }

    /// Every table of the output (rows sorted), the rejects and the books of one run.
    static func run(_ plans: [MappingPlan], input: String, key: PseudonymKey, vocabulary: VocabularyStore?, label: String) throws -> String {
        let dir = TestSupport.temporaryDirectory(label)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = RunOptions(inputDirectory: input)
        options.key = key
        options.vocabulary = vocabulary
        let manifest = try Pipeline(plans: plans, options: options).run(into: PipelinedSink(SQLiteSink(outputPath: dir + "/out.sqlite")))
        let db = try SQLiteConnection(path: dir + "/out.sqlite", readOnly: true)
        var text = ""
        for t in manifest.tables.map(\.table).sorted() {
            text += "## \(t)\n" + (try SNDSExampleTests.dump(db, t))
        }
        let rejects = try db.query("SELECT mapping, reason, field, line FROM harmonize_reject").map { $0.map(\.description).joined(separator: ",") }
            .sorted()
        text += "## rejects\n" + rejects.joined(separator: "\n") + "\n"
        text +=
            "## ledger\n"
            + manifest.ledger.map { "\($0.mapping) \($0.file) \($0.read)=\($0.written)+\($0.rejected)+\($0.filtered)+\($0.excluded)+\($0.grouped)" }
            .joined(separator: "\n")
        text += "\n## vocabulary\n" + (manifest.vocabularyUsage ?? []).map { "\($0)" }.joined(separator: "\n")
        return text
    }

    static func sequentialEqualsConcurrent(_ plans: [MappingPlan], input: String, vocabulary: VocabularyStore?, label: String) throws {
        let keys = [PseudonymKey.mappingTests, try PseudonymKey(bytes: Array(repeating: 0x5A, count: 40))]
        let sequential = try keys.enumerated().map { i, k in try run(plans, input: input, key: k, vocabulary: vocabulary, label: "\(label)-seq\(i)") }
        #expect(sequential[0] != sequential[1], "different keys give different person ids")
        let slots = Slots()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            slots.set(i, Result { try run(plans, input: input, key: keys[i], vocabulary: vocabulary, label: "\(label)-conc\(i)") })
        }
        for i in 0..<2 {
            let concurrent = try slots.get(i)
            #expect(concurrent == sequential[i], "run \(i) under its key is the same alone and beside the other")
        }
    }

    @Test func theSNDSPackRunsTwiceAtOnceUnderTwoKeys() throws {
        let vocabulary = try VocabularyStore(path: TestSupport.path("fixtures/vocabulary"))
        try Self.sequentialEqualsConcurrent(
            try SNDSExampleTests.plans(), input: TestSupport.path("fixtures/snds/input"), vocabulary: vocabulary, label: "concurrent-snds")
    }

    @Test func theHospitalMappingsRunTwiceAtOnceUnderTwoKeys() throws {
        try Self.sequentialEqualsConcurrent(
            try HospitalExampleTests.plans(), input: TestSupport.path("fixtures/hospital"), vocabulary: nil, label: "concurrent-hospital")
    }
}
