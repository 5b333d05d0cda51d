import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Lookup tables count in `--memory-budget`: past their share they move to an on-disk hash
/// table, with the same output, nothing left behind, and a read failure that stops the run.
@Suite(.serialized) struct LookupSpillTests {
    /// A mapping with a large one-key lookup (`big`, 20,010 rows) and a small two-key lookup
    /// (`pair`, misses rejected), written to `dir` with its lookup files and a source of
    /// `records` records under `dir/in`. `duplicateIDs` gives every row the same id (the run
    /// then fails after mapping: `target-pk-duplicate`).
    static func fixture(_ dir: String, records: Int = 400, duplicateIDs: Bool = false) {
        try? FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        var big = "code;concept_id\n"
        for i in 0..<20_000 {
            // K19995's first row does not decode: its later row wins.
            big += "K\(i);\(i == 19_995 ? "x" : String(i * 3))\n"
        }
        big += " K20000 ;60000\n"  // keys are trimmed
        big += "K5;-1\nK19990;-1\n"  // repeated keys (early: in memory, late: on disk): the first row wins
        big += "K19995;7\n"
        for i in 20_001..<20_008 { big += "K\(i);\(i)\n" }
        TestSupport.write(big, to: dir + "/big.csv")
        TestSupport.write("a;b;label\n1;X;one-x\n1;Y;one-y\n2;X;two-x\n2;X;dup\n", to: dir + "/pair.csv")
        var src = "id;code;a;b\n"
        for i in 0..<records {
            let code: String
            switch i % 10 {
            case 0: code = "K\((i * 7919) % 20_010)"  // hits and a few misses past K20007
            case 1: code = "NOPE\(i)"  // a miss
            case 2: code = ""  // a null key
            case 3: code = ["K5", "K19990", "K19995", "K20000", " K7 "][(i / 10) % 5]
            default: code = "K\((i * 104_729) % 20_000)"
            }
            // The records with the special codes (odd i) find their pair (1, Y): they are written.
            src += "\(duplicateIDs ? 1 : i + 1);\(code);\(i % 10 == 3 ? 1 : i % 3);\(["X", "Y"][i % 2])\n"
        }
        TestSupport.write(src, to: dir + "/in/src.csv")
        TestSupport.write(
            """
            harmonize: 1
            id: t.lookups
            source:
              files: src.csv
              dialect: {delimiter: ";"}
              schema: {fields: [{name: id, type: integer}, {name: code, type: string}, {name: a, type: integer}, {name: b, type: string}]}
            lookups:
              big:
                file: big.csv
                dialect: {delimiter: ";"}
                key: code
                value: concept_id
                type: integer
              pair:
                file: pair.csv
                dialect: {delimiter: ";"}
                key: [a, b]
                value: label
                on_miss: reject
            target: observation
            fields:
              observation_id: id
              person_id: 1
              observation_concept_id: "lookup('big', code) ?? 0"
              observation_date: "date('2020-01-01')"
              observation_type_concept_id: 32810
              value_as_number: "lookup('big', code)"
              value_as_string: "lookup('pair', a, b)"
            """, to: dir + "/m.yaml")
    }

    static func run(_ dir: String, output: String, _ extra: [String] = []) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(
            [
                "run", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--output", output, "--no-quality", "--json", "--lineage",
                "--max-reject-rate", "1",
            ] + extra)
    }

    static func lookups(_ stdout: String) throws -> [[String: Any]] {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        let manifest = try #require(json["manifest"] as? [String: Any])
        return try #require(manifest["lookups"] as? [[String: Any]])
    }

    /// Every table of the output, every row, without the columns that differ from run to run
    /// (run id, times).
    static func content(_ path: String) throws -> [String: [[Value]]] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        var out: [String: [[Value]]] = [:]
        for row in try db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1") {
            guard let table = row.first?.text, table != "harmonize_run" else { continue }
            let columns = try db.query("SELECT name FROM pragma_table_info('\(table)')").compactMap { $0.first?.text }
                .filter { !["run_id", "started_at", "finished_at"].contains($0) }
            let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
            out[table] = try db.query("SELECT \(list) FROM \"\(table)\" ORDER BY \(list)")
        }
        return out
    }

    /// Budgets: everything on disk (`1`), and a part in memory with the rest on disk (`33M`: a
    /// quarter of it shared by the two tables, 128 KiB of arena each past the disk buffers).
    @Test(arguments: ["1", "33M"])
    func aLookupOnDiskGivesTheSameOutputAsInMemory(budget: String) throws {
        let dir = TestSupport.temporaryDirectory("lookup-spill")
        Self.fixture(dir)
        let spill = dir + "/spill"
        try FileManager.default.createDirectory(atPath: spill, withIntermediateDirectories: true)
        let a = try Self.run(dir, output: dir + "/memory.sqlite")
        let b = try Self.run(dir, output: dir + "/disk.sqlite", ["--memory-budget", budget, "--spill-dir", spill])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        let inMemory = try Self.lookups(a.stdout)
        let onDisk = try Self.lookups(b.stdout)
        #expect(inMemory.map { $0["spilled"] as? Bool } == [false, false])
        #expect(onDisk.first { $0["lookup"] as? String == "big" }?["spilled"] as? Bool == true)
        #expect(inMemory.first { $0["lookup"] as? String == "big" }?["keys"] as? Int == 20_008)
        for (m, d) in zip(inMemory, onDisk) {
            for k in ["keys", "found", "missed", "lookup", "mapping"] { #expect("\(m[k] ?? "")" == "\(d[k] ?? "")", "\(k)") }
        }
        let expected = try Self.content(dir + "/memory.sqlite")
        let got = try Self.content(dir + "/disk.sqlite")
        #expect(Set(expected.keys) == Set(got.keys))
        for (table, rows) in expected { #expect(got[table] == rows, "\(table)") }
        #expect(try #require(expected["observation"]).count > 100)
        #expect(try #require(expected["harmonize_lineage"]).count > 100)
        // What must not change: the first row that decodes wins, keys are trimmed, misses are null.
        let db = try SQLiteConnection(path: dir + "/disk.sqlite", readOnly: true)
        // Source ids 4, 14, 24, 34, 44 carry K5, K19990, K19995, K20000 and ' K7 '.
        let special = try db.query("SELECT value_as_number FROM observation WHERE observation_id IN (4, 14, 24, 34, 44) ORDER BY observation_id")
        #expect(special.map { $0[0].description } == ["15", "59970", "7", "60000", "21"])
        // The two-key lookup: each written row carries its (a, b) pair's label, the first of a
        // repeated pair; the other records were rejected.
        let pairs = try db.query("SELECT value_as_string, count(*) FROM observation GROUP BY 1 ORDER BY 1")
        #expect(pairs.map { $0[0] } == [.string("one-x"), .string("one-y"), .string("two-x")])
        #expect(try db.scalar("SELECT count(*) FROM observation WHERE observation_id % 2 = 0 AND value_as_string <> 'one-y'").intValue == 0)
        #expect(try db.scalar("SELECT count(*) FROM harmonize_reject WHERE reason = 'lookup-miss'").intValue ?? 0 > 0)
        #expect(try db.scalar("SELECT count(*) FROM observation WHERE value_as_number IS NULL").intValue ?? 0 > 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: spill).isEmpty, "spill files are removed")
    }

    @Test func theSummarySaysWhichLookupSpilled() throws {
        let dir = TestSupport.temporaryDirectory("lookup-spill-summary")
        Self.fixture(dir, records: 50)
        let r = try TestSupport.runCLI(
            [
                "run", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--output", dir + "/out.sqlite", "--no-quality", "--max-reject-rate",
                "1",
                "--memory-budget", "1", "--no-progress",
            ])
        #expect(r.status == 0, "\(r.stderr)")
        // The summary goes to standard error (standard output is for --json).
        #expect(
            r.stderr.contains("lookup t.lookups/big: 20008 keys") && r.stderr.contains("(table on disk: over its share of the memory budget)"),
            "\(r.stderr)")
        #expect(r.stderr.contains("bounds the lookup tables"), "\(r.stderr)")
    }

    @Test func lookupTablesShareTheBudgetWithTheJoinsAndLeaveThemWhatTheyDoNotUse() throws {
        let dir = TestSupport.temporaryDirectory("lookup-budget")
        Self.fixture(dir, records: 1)
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plan = try MappingPlanner.plan(MappingLoader.load(path: dir + "/m.yaml"), context: context)
        let mib = 1 << 20
        #expect(Pipeline.lookupBudget(256 * mib, plans: [plan]) == 80 * mib)  // two tables, no join: half of 160 MiB each
        #expect(Pipeline.lookupBudget(128 * mib, plans: [plan]) == 16 * mib)  // half of a quarter
        // The joins share what the tables hold less.
        #expect(Pipeline.structureBudget(256 * mib, structures: 2, lookupBytes: 60 * mib) == 50 * mib)
        #expect(Pipeline.structureBudget(256 * mib, structures: 1, lookupBytes: 200 * mib) == 0)
    }

    @Test func aFailedRunLeavesNoSpillFile() throws {
        let dir = TestSupport.temporaryDirectory("lookup-spill-fail")
        Self.fixture(dir, duplicateIDs: true)
        let spill = dir + "/spill"
        try FileManager.default.createDirectory(atPath: spill, withIntermediateDirectories: true)
        let r = try Self.run(dir, output: dir + "/out.sqlite", ["--memory-budget", "1", "--spill-dir", spill])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("target-pk-duplicate"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.sqlite"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: spill).isEmpty, "spill files are removed")
    }

    #if os(Linux)
        /// The descriptor of the open (unlinked) spill file of a lookup table under `folder`.
        static func spillDescriptor(under folder: String) -> Int32? {
            let folder = URL(fileURLWithPath: folder).resolvingSymlinksInPath().path
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            for name in fds {
                guard let fd = Int32(name), let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + name)
                else { continue }
                if target.hasPrefix(folder + "/harmonize-lookup-") { return fd }
            }
            return nil
        }

        @Test func aSpillFileThatCannotBeReadStopsTheRunWithAnIOError() throws {
            let dir = TestSupport.temporaryDirectory("lookup-spill-eio")
            Self.fixture(dir, records: 20_000)
            let spill = dir + "/spill"
            try FileManager.default.createDirectory(atPath: spill, withIntermediateDirectories: true)
            let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
            let plan = try MappingPlanner.plan(MappingLoader.load(path: dir + "/m.yaml"), context: context)
            var options = RunOptions(inputDirectory: dir + "/in")
            options.memoryBudget = 1
            options.spillDirectory = spill
            let pipeline = Pipeline(plans: [plan], options: options)
            var damaged = false
            // Part way through the source, the spill file starts failing every read (EISDIR).
            pipeline.onProgress = { _ in
                guard !damaged, let fd = Self.spillDescriptor(under: spill) else { return }
                let directory = open(dir, O_RDONLY | O_DIRECTORY)
                damaged = dup2(directory, fd) == fd
                close(directory)
            }
            let out = dir + "/out.sqlite"
            do {
                _ = try pipeline.run(into: SQLiteSink(outputPath: out))
                Issue.record("the run succeeded")
            } catch {
                #expect(error.exitCode == 3, "\(error)")
                #expect(error.code == .runResourceFailed, "\(error)")
                // Both tables are on disk at this budget: the damaged file is one of them.
                #expect(
                    error.message.contains("lookup 'big' cannot be read") || error.message.contains("lookup 'pair' cannot be read"),
                    "\(error.message)")
                #expect(error.message.contains("cannot read the on-disk lookup table"), "\(error.message)")
                #expect(!error.message.contains("K1"), "no key in the message")
            }
            #expect(damaged, "the spill file was found and damaged")
            #expect(!FileManager.default.fileExists(atPath: out), "nothing published")
        }
    #endif

    /// Text keys with nothing to trim are looked up from their own bytes; the others through the
    /// key buffer (canonical text): same values, and each lookup counted once.
    @Test(arguments: [0, 64 << 20])
    func textKeysLookedUpInPlaceGiveTheCanonicalTextsValues(budget: Int) throws {
        let dir = TestSupport.temporaryDirectory("lookup-in-place")
        let index = SpillingIndex(budget: budget, spillDirectory: dir, keepsFirst: true, filePrefix: "harmonize-lookup", label: "lookup table")
        let long = "A-KEY-LONGER-THAN-FIFTEEN-BYTES-É"
        for (k, v) in [("7", 70), ("K7", 7), ("", 0), (long, 33), ("K 8", 8)] {
            try index.insert(key: Array(k.utf8), payload: ValueCodec.encode([.int(v)]))
        }
        try index.finishLoading()
        let table = LoadedLookupTable(name: "t", keyCount: 1, valueType: .integer, missIsFatal: false, index: index)
        #expect(table.isSpilled == (budget == 0))
        #expect(table.value(forKey: .string("K7")) == .int(7))
        #expect(table.value(forKey: .string(" K7\t")) == .int(7), "trimmed like the canonical text")
        #expect(table.value(forKey: .string("K 8")) == .int(8))
        #expect(table.value(forKey: .string(long)) == .int(33))
        #expect(table.value(forKey: .string(String(long.dropLast()))) == nil)
        #expect(table.value(forKey: .int(7)) == .int(70), "an integer key matches its decimal text")
        #expect(table.value(forKey: .string("7")) == .int(70))
        #expect(table.value(forKey: .string("")) == .int(0))
        #expect(table.value(forKey: .string("k7")) == nil, "no case folding")
        #expect(table.value(forKey: .null) == nil)
        #expect(table.hits == 7 && table.misses == 2, "hits \(table.hits), misses \(table.misses)")
        table.close()
    }

    /// Short text keys looked up again come from the table's recent lookups (`findRecent`): the
    /// index's values and misses whatever the order, keys that differ only by length (a
    /// trailing NUL), past their eighth byte, or in a long key's last byte, and each lookup
    /// counted once.
    @Test(arguments: [0, 64 << 20])
    func keysLookedUpAgainGiveTheIndexsValuesAndCounts(budget: Int) throws {
        let dir = TestSupport.temporaryDirectory("lookup-recent")
        let index = SpillingIndex(budget: budget, spillDirectory: dir, keepsFirst: true, filePrefix: "harmonize-lookup", label: "lookup table")
        var expected: [String: Int] = [:]
        var keys: [String] = []
        for i in 0..<6_000 {
            // Lengths 1 to 17 bytes: one word, two words, and past what the recent lookups hold.
            let key = String(String(i * 7_919, radix: 36).uppercased().reversed()) + String(repeating: "X", count: i % 13)
            keys.append(key)
            if i % 5 != 0 { expected[key] = i }
        }
        // Pairs that share their entry of the recent lookups: the same packed words (a trailing
        // NUL), the same first word (a second word that hashes alike), then long keys.
        func slot(_ key: String) -> Int {
            let (low, high) = Array(key.utf8).withUnsafeBufferPointer { LoadedLookupTable.packed($0) }
            return LoadedLookupTable.recentSlot(low, high, bits: LoadedLookupTable.maxRecentBits)
        }
        let twin = try #require((1..<1_000_000).lazy.map { "ABCDEFGH\(10_000_000 + $0)" }.first { slot($0) == slot("ABCDEFGH10000000") })
        keys += ["A", "A\u{0}", "ABCDEFGH10000000", twin, "ABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOQ", "ABCDEFGHIJKLMNOPQ", "ABCDEFGHIJKLMNOPR"]
        #expect(slot("A") == slot("A\u{0}"))
        for (k, key) in keys.suffix(8).enumerated() where k % 2 == 0 { expected[key] = 100_000 + k }
        for key in keys { if let v = expected[key] { try index.insert(key: Array(key.utf8), payload: ValueCodec.encode([.int(v)])) } }
        try index.finishLoading()
        let table = LoadedLookupTable(name: "t", keyCount: 1, valueType: .integer, missIsFatal: false, index: index)
        #expect(table.isSpilled == (budget == 0))
        var rng = SystemRandomNumberGenerator()
        var hits = 0
        for n in 0..<60_000 {
            // Runs of one key, then keys at random: entries reused, replaced and found again.
            let key = n % 7 == 0 ? keys[(n / 7) % keys.count] : keys[Int.random(in: 0..<keys.count, using: &rng)]
            let want = expected[key].map(Value.int)
            let got = table.value(forKey: .string(key))
            #expect(got == want, "key \(key.debugDescription)")
            if got != want { break }
            if want != nil { hits += 1 }
        }
        // Each pair's key found, then its twin looked up in the same entry.
        let twins = Array(keys.suffix(8))
        for p in stride(from: 0, to: twins.count, by: 2) {
            for key in [twins[p + 1], twins[p], twins[p + 1], twins[p]] {
                let want = expected[key].map(Value.int)
                #expect(table.value(forKey: .string(key)) == want, "key \(key.debugDescription)")
                if want != nil { hits += 1 }
            }
        }
        #expect(table.hits == hits && table.misses == 60_016 - hits, "hits \(table.hits) of \(hits), misses \(table.misses)")
        table.close()
    }

    @Test func aDamagedTableReportsAReadFailureNeverAMiss() throws {
        let dir = TestSupport.temporaryDirectory("lookup-damaged")
        let index = SpillingIndex(budget: 0, spillDirectory: dir, keepsFirst: true, filePrefix: "harmonize-lookup", label: "lookup table")
        for i in 0..<100 { try index.insert(key: Array("K\(i)".utf8), payload: ValueCodec.encode([.int(i)])) }
        try index.insert(key: Array("K1".utf8), payload: ValueCodec.encode([.int(-1)]))
        try index.finishLoading()
        let table = LoadedLookupTable(name: "t", keyCount: 1, valueType: .integer, missIsFatal: false, index: index)
        #expect(table.isSpilled && table.count == 100)
        #expect(table.value(forKey: .string("K1")) == .int(1), "the first row of a key wins on disk too")
        #expect(table.value(forKey: .int(7)) == nil && table.readFailure == nil, "a miss is a miss")
        let disk = try #require(index.diskTable)
        #expect(ftruncate(disk.fd, 0) == 0)
        #expect(table.value(forKey: .string("K2")) == nil)
        #expect(table.readFailure != nil, "a file cut short is a read failure")
        #expect(table.value(forKey: .string("K1")) == nil, "and stays one")
        #expect(table.hits == 1 && table.misses == 1)
        table.close()
    }
}
