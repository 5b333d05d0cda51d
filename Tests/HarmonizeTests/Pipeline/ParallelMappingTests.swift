import Crypto
import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// `run --threads N` (issue 13): the records of a file are mapped by N workers in chunks, and the
/// output is the same for any N: every OMOP table row for row in the order it was stored, the
/// rejects, the ledger, the row and vocabulary lineage, the unmapped codes and the counts, on the
/// bundled SNDS, hospital and research fixtures (chunks of 3 records, so that every file of the
/// fixtures is cut into several chunks and the workers interleave).
@Suite(.serialized) struct ParallelMappingTests {
    struct Fixture: Sendable, CustomStringConvertible {
        var label: String
        var mappings: String
        var input: String
        var extra: [String]
        var description: String { label }
    }

    static let fixtures = [
        Fixture(
            label: "snds", mappings: "mappings/snds", input: "fixtures/snds/input",
            extra: ["--vocabulary", TestSupport.path("fixtures/vocabulary"), "--max-reject-rate", "1"]),
        Fixture(label: "hospital", mappings: "mappings/hospital", input: "fixtures/hospital", extra: ["--keep-orphans", "--max-reject-rate", "1"]),
        Fixture(label: "research", mappings: "mappings/research", input: "fixtures/research/input", extra: ["--max-reject-rate", "1"]),
    ]
    static let environment = ["HZ_PAR_KEY": String(repeating: "p", count: 32)]

    /// A path of the repository, or an absolute one as it is.
    static func path(_ p: String) -> String { p.hasPrefix("/") ? p : TestSupport.path(p) }

    /// A run of `fixture` with `threads` workers into `output`.
    static func run(_ f: Fixture, threads: Int, output: String, chunk: Int = 3) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(
            [
                "run", "--mappings", Self.path(f.mappings), "--input", Self.path(f.input), "--output", output, "--run-id",
                "parallel-\(f.label)", "--key-env", "HZ_PAR_KEY", "--lineage", "--no-progress", "--no-quality", "--threads", String(threads),
                "--chunk-records", String(chunk),
            ] + f.extra, environment: environment)
    }

    /// Every table of an output in the order its rows were stored (rowid): the OMOP tables, the
    /// rejects, the files and mappings. Lineage rows are written with their table's batch, and
    /// batches of different tables may reach the sink in another order: they are compared in
    /// their order within each table, and the vocabulary entries they point to (numbered as
    /// first met) sorted. The run's own row (its times) is left out.
    static func dump(_ path: String) throws -> [String: [[Value]]] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        var out: [String: [[Value]]] = [:]
        let tables = try db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name").compactMap {
            $0.first?.text
        }
        for t in tables where t != "harmonize_run" {
            let n = try db.query("PRAGMA table_info(\"\(t)\")").count
            let all = (1...max(1, n)).map(String.init).joined(separator: ", ")
            let order = t == "harmonize_lineage" ? "table_id, rowid" : t.hasPrefix("harmonize_lineage") ? all : "rowid"
            out[t] = try db.query("SELECT * FROM \"\(t)\" ORDER BY " + order)
        }
        return out
    }

    static func manifest(_ path: String) throws -> RunManifest {
        let db = try SQLiteConnection(path: path, readOnly: true)
        let json = try db.scalar("SELECT manifest FROM harmonize_run").text ?? ""
        return try JSONDecoder().decode(RunManifest.self, from: Data(json.utf8))
    }

    /// Runs of `fixture` with 1, 2 and 4 workers into `dir`: each output's dump and manifest.
    static func runs(_ f: Fixture, in dir: String) throws -> (dumps: [Int: [String: [[Value]]]], manifests: [Int: RunManifest]) {
        var dumps: [Int: [String: [[Value]]]] = [:]
        var manifests: [Int: RunManifest] = [:]
        for n in [1, 2, 4] {
            let output = dir + "/t\(n).sqlite"
            let r = try Self.run(f, threads: n, output: output)
            #expect(r.status == 0 || r.status == 1, "\(n) threads: \(r.stderr)")
            dumps[n] = try Self.dump(output)
            manifests[n] = try Self.manifest(output)
        }
        return (dumps, manifests)
    }

    @Test(arguments: fixtures)
    func theOutputIsTheSameForOneTwoAndFourWorkers(_ f: Fixture) throws {
        let dir = TestSupport.temporaryDirectory("parallel-\(f.label)")
        let (dumps, manifests) = try Self.runs(f, in: dir)
        let one = try #require(dumps[1])
        #expect(one.values.contains { !$0.isEmpty })
        #expect(manifests[1]?.parallel == nil, "one thread: no file is mapped by workers")
        for n in [2, 4] {
            let d = try #require(dumps[n])
            #expect(d.keys.sorted() == one.keys.sorted())
            for t in one.keys.sorted() { #expect(d[t] == one[t], "\(f.label), \(n) threads: \(t) differs from one thread") }
            let m = try #require(manifests[n])
            let base = try #require(manifests[1])
            #expect(m.ledger == base.ledger, "\(f.label), \(n) threads: ledger")
            #expect(m.tables == base.tables, "\(f.label), \(n) threads: table counts")
            #expect(m.joins == base.joins, "\(f.label), \(n) threads: join statistics")
            #expect(m.lookups == base.lookups, "\(f.label), \(n) threads: lookup statistics")
            #expect(m.vocabularyUsage == base.vocabularyUsage, "\(f.label), \(n) threads: vocabulary usage")
            // The workers did map: files were cut into chunks, each mapped by one of n workers.
            let passes = m.parallel ?? []
            #expect(!passes.isEmpty && passes.allSatisfy { $0.workers == n }, "\(f.label): \(passes)")
            #expect(passes.contains { $0.chunks > 1 }, "\(f.label): \(passes)")
        }
    }

    /// A mapping over several files (the research measurements cut in four, one of them without
    /// records): the workers go from one file to the next without waiting for the last chunks
    /// of the one before, and the output, the ledger (one entry per file, in the files' order,
    /// each with its own counts) and the lineage are those of one thread.
    @Test func theFilesOfAMappingGoThroughTheSameWorkersOneAfterAnother() throws {
        let dir = TestSupport.temporaryDirectory("parallel-files")
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: dir + "/m", withIntermediateDirectories: true)
        for f in ["patients.csv", "questionnaire.csv"] {
            try fm.copyItem(atPath: TestSupport.path("fixtures/research/input/" + f), toPath: dir + "/in/" + f)
        }
        let lines = try String(contentsOfFile: TestSupport.path("fixtures/research/input/mesures.csv"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let header = lines[0]
        let rows = Array(lines.dropFirst())
        let parts = [Array(rows[0..<11]), [], Array(rows[11..<20]), Array(rows[20...])]
        for (k, part) in parts.enumerated() {
            TestSupport.write(([header] + part).joined(separator: "\n") + "\n", to: dir + "/in/mesures_\(k).csv")
        }
        try fm.copyItem(atPath: TestSupport.path("mappings/research/concepts.csv"), toPath: dir + "/m/concepts.csv")
        for name in ["patients", "measurements", "questionnaire"] {
            var text = try String(contentsOfFile: TestSupport.path("mappings/research/\(name).yaml"), encoding: .utf8)
            text = text.replacingOccurrences(of: "  files: mesures.csv", with: "  files: \"mesures_*.csv\"")
            text = text.replacingOccurrences(of: "../../fixtures/", with: TestSupport.path("fixtures") + "/")
            TestSupport.write(text, to: dir + "/m/\(name).yaml")
        }
        let f = Fixture(label: "files", mappings: dir + "/m", input: dir + "/in", extra: ["--max-reject-rate", "1"])
        let (dumps, manifests) = try Self.runs(f, in: dir)
        let base = try #require(manifests[1])
        // Each file's digest and size, taken when the file is mapped (its reader then let go).
        for n in [1, 2, 4] {
            for k in 0..<4 {
                let name = "mesures_\(k).csv"
                let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/in/" + name))
                let entry = manifests[n]?.inputs.first { $0.path == name }
                #expect(entry?.sha256 == SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined(), "\(n) threads: \(name)")
                #expect(entry?.bytes == Int64(data.count), "\(n) threads: \(name)")
            }
        }
        let measured = base.ledger.filter { $0.mapping == "research.measurements" }
        #expect(measured.map(\.file) == (0..<4).map { "mesures_\($0).csv" })
        #expect(measured.map(\.read) == parts.map(\.count))
        #expect(try #require(dumps[1]?["measurement"]).count > 20)
        for n in [2, 4] {
            for t in try #require(dumps[1]).keys.sorted() { #expect(dumps[n]?[t] == dumps[1]?[t], "\(n) threads: \(t) differs from one thread") }
            let m = try #require(manifests[n])
            #expect(m.ledger == base.ledger, "\(n) threads: ledger")
            #expect(m.tables == base.tables, "\(n) threads: table counts")
            let passes = (m.parallel ?? []).filter { $0.mapping == "research.measurements" }
            #expect(passes.map(\.file) == (0..<4).map { "mesures_\($0).csv" } && passes.allSatisfy { $0.workers == n }, "\(passes)")
            #expect(passes.map(\.chunks) == parts.map { ($0.count + 2) / 3 }, "\(passes)")
        }
    }

    /// A sink that fails at its `failAt`-th batch; counts the batches it was handed.
    final class FailingSink: Sink {
        let failAt: Int
        var writes = 0
        var aborted = false
        /// The largest value of the batches' first column (the records' ids in `parts`).
        var largestID = 0
        init(failAt: Int) { self.failAt = failAt }
        func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {}
        func write(_ batch: RowBatch) throws(SinkError) {
            writes += 1
            for r in 0..<batch.rowCount { if case .int(let id) = batch.values[r * batch.columnCount] { largestID = max(largestID, id) } }
            if writes == failAt { throw SinkError("disk full (test)") }
        }
        func writeRejects(_ rejects: [RunReject]) throws(SinkError) {}
        var supportsUpdates: Bool { true }
        func finish(run: RunManifest) throws(SinkError) {}
        func abort() { aborted = true }
    }

    /// A mapping over `files` files of `records` records (`part_K.csv`) into `dir`, and the
    /// options of a run with two workers and chunks of 2 records.
    static func parts(_ files: Int, records: Int, in dir: String) throws -> (MappingPlan, RunOptions) {
        for k in 0..<files {
            TestSupport.write("id;v\n" + (1...records).map { "\(k * records + $0);\($0)\n" }.joined(), to: dir + "/in/part_\(k).csv")
        }
        TestSupport.write(
            """
            harmonize: 1
            id: t.parts
            source: {files: "part_*.csv", dialect: {delimiter: ";"}, schema: {fields: [{name: id, type: integer}, {name: v, type: integer}]}}
            target: observation
            fields:
              observation_id: id
              person_id: 1
              observation_concept_id: 0
              observation_date: "date('2020-01-01')"
              observation_type_concept_id: 32810
              value_as_number: v
            """, to: dir + "/m.yaml")
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plan = try MappingPlanner.plan(MappingLoader.load(path: dir + "/m.yaml"), context: context)
        var options = RunOptions(inputDirectory: dir + "/in")
        options.holdsBackOrphans = false
        options.threads = 2
        options.chunkRecords = 2
        return (plan, options)
    }

    /// The sink fails while chunks of two files are in flight (six files of 20 records, chunks of
    /// 2, a batch a chunk, two workers: the 20th batch is the second file's last chunk, the
    /// third file's first chunks read by then): the run stops with the sink's error, nothing more
    /// reaches the sink, the workers stop (the test would hang otherwise) and the sink is aborted.
    @Test func aSinkFailureWhileFilesAreInFlightStopsTheRun() throws {
        let (plan, options) = try Self.parts(6, records: 20, in: TestSupport.temporaryDirectory("parallel-files-failure"))
        let sink = FailingSink(failAt: 20)
        #expect(throws: RunError.self) { try Pipeline(plans: [plan], options: options).run(into: sink) }
        #expect(sink.writes == 20, "nothing reaches the sink after its failure")
        #expect(sink.aborted)
        // The same run with a sink that does not fail maps every file.
        let whole = FailingSink(failAt: -1)
        let m = try Pipeline(plans: [plan], options: options).run(into: whole)
        #expect(m.ledger.map(\.read) == Array(repeating: 20, count: 6))
        #expect(whole.writes == 60, "a batch a chunk")
    }

    /// A later file that cannot be read (here a header naming a column twice) while the chunks
    /// of the file before it are in flight: the run stops with the file's error, naming it;
    /// nothing of it or of the files after it reaches the sink (the chunks of the file before it
    /// still in flight may or may not be forwarded: the run is aborted), the workers stop (the
    /// test would hang otherwise) and the sink is aborted.
    @Test func aFileThatCannotBeReadWhileTheFileBeforeItIsInFlightStopsTheRun() throws {
        let dir = TestSupport.temporaryDirectory("parallel-files-read-error")
        let (plan, options) = try Self.parts(6, records: 20, in: dir)
        TestSupport.write("id;id\n1;2\n", to: dir + "/in/part_2.csv")
        let sink = FailingSink(failAt: -1)
        let error = try #require(throws: RunError.self) { try Pipeline(plans: [plan], options: options).run(into: sink) }
        #expect(error.message.contains("part_2.csv"), "\(error.message)")
        #expect(sink.largestID <= 40 && sink.writes <= 20, "nothing of part_2.csv or the files after it reaches the sink")
        // At most 2 × 2 chunks are in flight when the reader opens part_2.csv: 16 of the first
        // two files' 20 batches were forwarded by then.
        #expect(sink.writes >= 16 && sink.largestID >= 32, "\(sink.writes) batches, ids up to \(sink.largestID)")
        #expect(sink.aborted)
    }

    /// With workers, each file reports progress from its first chunk on (every eighth of its
    /// chunks), small files too: six files of four chunks each.
    @Test func everyFileReportsItsProgress() throws {
        let (plan, options) = try Self.parts(6, records: 8, in: TestSupport.temporaryDirectory("parallel-files-progress"))
        let pipeline = Pipeline(plans: [plan], options: options)
        var files: [String] = []
        pipeline.onProgress = { p in if files.last != p.file { files.append(p.file) } }
        _ = try pipeline.run(into: FailingSink(failAt: -1))
        #expect(files == (0..<6).map { "part_\($0).csv" })
    }

    /// `--threads` takes 1 to 64 or `auto`; anything else is a usage error (exit 2), before
    /// anything is read.
    @Test(arguments: ["0", "65", "two", ""])
    func aWrongThreadCountIsAUsageError(_ value: String) throws {
        let dir = TestSupport.temporaryDirectory("parallel-usage")
        let f = Self.fixtures[2]
        let r = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path(f.mappings), "--input", TestSupport.path(f.input), "--output", dir + "/o.sqlite",
            "--threads", value, "--no-progress",
        ])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("--threads is a number from 1 to 64, or auto"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/o.sqlite"))
    }

    /// HL7 v2 and XML mappings, and mappings that join, take `RunOptions.heavyMappingThreads`
    /// workers (`--threads auto`: the cores, where the others get the cores less the writer's),
    /// flat delimited text `threads`; the rows are the same.
    @Test func heavyMappingsTakeTheirOwnWorkerCount() throws {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plans = try ["oru-measurement", "his-visit"].map { name in
            try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("mappings/hospital/\(name).yaml")), context: context)
        }
        func run(heavyMappingThreads: Int?) throws -> (RunManifest, [[Value]]) {
            let dir = TestSupport.temporaryDirectory("parallel-parsed")
            var options = RunOptions.keyed(TestSupport.path("fixtures/hospital"))
            options.holdsBackOrphans = false
            options.threads = 1
            options.heavyMappingThreads = heavyMappingThreads
            options.chunkRecords = 1
            let m = try Pipeline(plans: plans, options: options).run(into: SQLiteSink(outputPath: dir + "/o.sqlite"))
            let db = try SQLiteConnection(path: dir + "/o.sqlite", readOnly: true)
            return (m, try db.query("SELECT * FROM measurement ORDER BY rowid") + db.query("SELECT * FROM visit_occurrence ORDER BY rowid"))
        }
        let (one, rowsOne) = try run(heavyMappingThreads: nil)
        #expect(one.parallel == nil)
        let (two, rowsTwo) = try run(heavyMappingThreads: 2)
        #expect(two.parallel?.map(\.mapping) == ["hospital.oru_measurement", "hospital.his_visit"])
        #expect(two.parallel?.map(\.workers) == [2, 2])
        #expect(rowsTwo == rowsOne)
        #expect(!rowsOne.isEmpty)
        // Delimited text keeps `threads`.
        let research = try FileManager.default.contentsOfDirectory(atPath: TestSupport.path("mappings/research")).filter { $0.hasSuffix(".yaml") }
            .sorted().map { name in
                try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("mappings/research/" + name)), context: context)
            }
        var options = RunOptions.keyed(TestSupport.path("fixtures/research/input"))
        options.threads = 1
        options.heavyMappingThreads = 2
        let dir = TestSupport.temporaryDirectory("parallel-delimited")
        let m = try Pipeline(plans: research, options: options).run(into: SQLiteSink(outputPath: dir + "/o.sqlite"))
        #expect(m.parallel == nil)
        // Delimited text that joins another file takes them.
        let drugs = try MappingPlanner.plan(MappingLoader.load(path: TestSupport.path("fixtures/engine/joins/mappings/drugs.yaml")), context: context)
        func runJoin(heavyMappingThreads: Int?) throws -> (RunManifest, [[Value]]) {
            var options = RunOptions.keyed(TestSupport.path("fixtures/engine/joins/input"))
            options.threads = 1
            options.heavyMappingThreads = heavyMappingThreads
            options.chunkRecords = 1
            let dir = TestSupport.temporaryDirectory("parallel-join")
            let m = try Pipeline(plans: [drugs], options: options).run(into: SQLiteSink(outputPath: dir + "/o.sqlite"))
            return (m, try SQLiteConnection(path: dir + "/o.sqlite", readOnly: true).query("SELECT * FROM drug_exposure ORDER BY rowid"))
        }
        let (joinOne, joinRowsOne) = try runJoin(heavyMappingThreads: nil)
        let (joinTwo, joinRowsTwo) = try runJoin(heavyMappingThreads: 2)
        #expect(joinOne.parallel == nil)
        #expect(joinTwo.parallel?.map(\.mapping) == ["t.drugs"] && joinTwo.parallel?.map(\.workers) == [2])
        #expect(joinRowsTwo == joinRowsOne && !joinRowsOne.isEmpty)
        #expect(joinTwo.joins == joinOne.joins)
        // The CLI's default (`auto`): the HL7 mapping gets the cores, writing SQLite.
        let auto = TestSupport.temporaryDirectory("parallel-parsed-auto")
        let r = try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("mappings/hospital/oru-measurement.yaml"), "--input", TestSupport.path("fixtures/hospital"),
                "--output", auto + "/o.sqlite", "--key-env", "HZ_PAR_KEY", "--keep-orphans", "--no-progress", "--no-quality",
            ], environment: Self.environment)
        #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
        let cores = min(64, ProcessInfo.processInfo.activeProcessorCount)
        #expect(try Self.manifest(auto + "/o.sqlite").parallel?.first?.workers == (cores > 1 ? cores : nil))
    }

    /// Where the rows go nowhere, the reading thread keeps up to four chunks per worker in
    /// flight, and two once they hold more than the run lets them; where they are kept for a
    /// sink, two. It waits at those counts, never before.
    @Test func chunksInFlightAreBoundedByCountAndBytes() {
        let cap = 1_000
        func waits(_ inFlight: Int, _ held: Int, workers: Int = 2, rowsKept: Bool = false) -> Bool {
            ParallelFilePass.waits(inFlight: inFlight, held: held, workers: workers, heldBytes: cap, rowsKept: rowsKept)
        }
        // Two workers: up to eight chunks while they hold little, four once they hold more.
        for n in 0..<8 { #expect(!waits(n, cap), "\(n) chunks") }
        #expect(waits(8, 0) && waits(9, 0) && waits(8, cap))
        for n in 0..<4 { #expect(!waits(n, 100 * cap), "\(n) chunks over the bytes") }
        for n in 4..<8 { #expect(waits(n, cap + 1), "\(n) chunks over the bytes") }
        // Rows kept for a sink: four, whatever they hold.
        for n in 0..<4 { #expect(!waits(n, 100 * cap, rowsKept: true), "\(n) chunks of rows") }
        for n in 4..<9 { #expect(waits(n, 0, rowsKept: true), "\(n) chunks of rows") }
        // One worker: four, then two; eight workers: thirty-two, then sixteen.
        #expect(!waits(3, 0, workers: 1) && waits(4, 0, workers: 1) && !waits(1, cap + 1, workers: 1) && waits(2, cap + 1, workers: 1))
        #expect(!waits(31, cap, workers: 8) && waits(32, 0, workers: 8) && !waits(15, cap + 1, workers: 8) && waits(16, cap + 1, workers: 8))
        // No workers counts as one.
        #expect(!waits(3, 0, workers: 0) && waits(4, 0, workers: 0) && waits(2, 0, workers: 0, rowsKept: true))
    }

    /// Mappings that fold records into groups, or deduplicate HL7 messages, are mapped on one
    /// thread (their records depend on each other); the others of the same run by workers.
    @Test func groupingAndDeduplicatingMappingsStayOnOneThread() throws {
        let dir = TestSupport.temporaryDirectory("parallel-sequential")
        let f = Self.fixtures[0]
        let output = dir + "/out.sqlite"
        let r = try Self.run(f, threads: 2, output: output)
        #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
        let m = try Self.manifest(output)
        let parallel = Set((m.parallel ?? []).map(\.mapping))
        let grouping = try Set(
            FileManager.default.contentsOfDirectory(atPath: TestSupport.path(f.mappings)).filter { $0.hasSuffix(".yaml") }.compactMap {
                name -> String? in
                let text = try String(contentsOfFile: TestSupport.path(f.mappings) + "/" + name, encoding: .utf8)
                guard text.contains("\ngroup:") else { return nil }
                return text.split(separator: "\n").first { $0.hasPrefix("id:") }.map { $0.dropFirst(3).trimmingCharacters(in: .whitespaces) }
            })
        #expect(!parallel.isEmpty)
        #expect(parallel.isDisjoint(with: grouping), "grouping mappings \(grouping) were mapped by workers")
    }

    /// A lookup table over its share of the memory budget (partly on disk) is read by every
    /// worker with buffers of its own, as one in memory: the lookups' hits and misses are those
    /// of one thread, and the output is the same in the three cases.
    @Test func aLookupTableOnDiskIsReadByEveryWorker() throws {
        let dir = TestSupport.temporaryDirectory("parallel-spilled")
        LookupSpillTests.fixture(dir)
        let spill = dir + "/spill"
        try FileManager.default.createDirectory(atPath: spill, withIntermediateDirectories: true)
        func run(_ threads: Int, budget: String) throws -> (RunManifest, [String: [[Value]]]) {
            let output = dir + "/t\(threads)-\(budget).sqlite"
            let r = try LookupSpillTests.run(
                dir, output: output,
                ["--threads", String(threads), "--chunk-records", "7", "--memory-budget", budget, "--spill-dir", spill, "--run-id", "spilled"])
            #expect(r.status == 0, "\(r.stderr)")
            return (try Self.manifest(output), try Self.dump(output))
        }
        let (one, c) = try run(1, budget: "256M")
        let (inMemory, a) = try run(2, budget: "256M")
        #expect(inMemory.parallel?.first?.workers == 2, "in memory: mapped by workers")
        #expect(inMemory.lookups == one.lookups, "hits and misses: \(String(describing: inMemory.lookups))")
        let (onDisk, b) = try run(2, budget: "1")
        #expect(onDisk.lookups?.allSatisfy(\.spilled) == true, "the tables moved to disk: \(String(describing: onDisk.lookups))")
        #expect(onDisk.parallel?.first?.workers == 2, "on disk: mapped by workers too")
        #expect(onDisk.lookups?.map { [$0.found, $0.missed] } == one.lookups?.map { [$0.found, $0.missed] })
        #expect(a == c && b == c)
        #expect((c["observation"]?.count ?? 0) > 100)
    }
}
