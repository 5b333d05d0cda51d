import Foundation
import Testing

@testable import Harmonize

/// Runs split by subject (`run --shard i/N --run-id ID`), merged (`merge`), and pre-split
/// inputs (`split`), through the command line: the bundled SNDS, hospital and research packs as
/// 4 shards merged equal the unsplit run, table by table (order-independent), with the same
/// rejects and ledger totals; a 1-shard run gives the same ids.
@Suite(.serialized) struct ShardCLITests {
    static let key = String(repeating: "k", count: 40)

    /// A bundled pack: its mappings, input folder and extra options.
    struct Pack {
        var name: String
        var mappings: String
        var input: String
        var extra: [String]
    }

    static let packs = [
        Pack(
            name: "snds", mappings: "mappings/snds", input: "fixtures/snds/input",
            extra: ["--vocabulary", TestSupport.path("fixtures/vocabulary"), "--key-env", "HZ_SHARD_KEY", "--max-reject-rate", "1"]),
        Pack(
            name: "hospital", mappings: "mappings/hospital", input: "fixtures/hospital",
            extra: ["--key-env", "HZ_SHARD_KEY", "--keep-orphans", "--max-reject-rate", "1"]),
        Pack(name: "research", mappings: "mappings/research", input: "fixtures/research/input", extra: ["--max-reject-rate", "1"]),
    ]

    @discardableResult
    static func run(_ pack: Pack, input: String? = nil, output: String, _ more: [String] = []) throws -> TestSupport.CommandResult {
        let r = try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path(pack.mappings), "--input", input ?? TestSupport.path(pack.input), "--output", output,
                "--no-quality",
            ]
                + pack.extra + more,
            environment: ["HZ_SHARD_KEY": key])
        #expect(r.status == 0, "\(pack.name) \(more): \(r.stderr)")
        return r
    }

    static func merge(_ shards: [String], output: String) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(["merge", "--no-quality", "--output", output] + shards)
    }

    /// Every table of the output that is not bookkeeping, as sorted row texts.
    static func omopTables(_ path: String) throws -> [String: [String]] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        let names = try db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'harmonize_%'").map { $0[0].description }
        var out: [String: [String]] = [:]
        for t in names {
            out[t] = try db.query("SELECT * FROM \"\(t)\"").map { $0.map(\.description).joined(separator: "|") }.sorted()
        }
        return out
    }

    /// The rejects (everything but the run id and row order).
    static func rejects(_ path: String) throws -> [String] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        return try db.query("SELECT mapping, file, line, record, path, field, reason, rule, message FROM harmonize_reject").map {
            $0.map(\.description).joined(separator: "|")
        }.sorted()
    }

    /// Ledger totals per mapping, file and stage: read, written, rejected, filtered, excluded, grouped.
    static func ledger(_ path: String) throws -> [String: [Int]] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        var out: [String: [Int]] = [:]
        for r in try db.query("SELECT mapping, file, group_stage, read, written, rejected, filtered, excluded, grouped FROM harmonize_ledger") {
            let k = "\(r[0].description) \(r[1].description) \(r[2].description)"
            out[k] = r[3...].map { v in
                if case .int(let i) = v { return i }
                return -1
            }
        }
        return out
    }

    static func manifest(_ path: String) throws -> RunManifest {
        let db = try SQLiteConnection(path: path, readOnly: true)
        guard case .string(let json) = try db.scalar("SELECT manifest FROM harmonize_run") else {
            throw SQLiteError(code: 1, message: "no run", sql: nil)
        }
        return try JSONDecoder().decode(RunManifest.self, from: Data(json.utf8))
    }

    @Test(arguments: [0, 1, 2])
    func fourShardsMergedEqualTheUnsplitRun(packIndex: Int) throws {
        let pack = Self.packs[packIndex]
        let dir = TestSupport.temporaryDirectory("shards-\(pack.name)")
        try Self.run(pack, output: dir + "/single.sqlite")
        var shardFiles: [String] = []
        for i in 0..<4 {
            let out = dir + "/shard-\(i).sqlite"
            try Self.run(pack, output: out, ["--shard", "\(i)/4", "--run-id", "r-\(pack.name)"])
            shardFiles.append(out)
            // Each shard's books balance, records of the other shards counted apart.
            let m = try Self.manifest(out)
            #expect(m.shard == ShardSpec(index: i, count: 4))
            #expect(m.runID == "r-\(pack.name)")
            for e in m.ledger {
                #expect(e.balances, "\(e)")
                #expect(e.groupStage == true || e.otherShard != nil)
            }
        }
        // Every record is kept by exactly one shard.
        let single = try Self.manifest(dir + "/single.sqlite")
        let kept = try shardFiles.map { try Self.manifest($0) }.reduce(0) { $0 + $1.readCount - $1.otherShardCount }
        #expect(kept == single.readCount)
        let merged = try Self.merge(shardFiles.reversed(), output: dir + "/merged.sqlite")
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(merged.stderr.contains("merged from 4 shards"))
        let a = try Self.omopTables(dir + "/single.sqlite")
        let b = try Self.omopTables(dir + "/merged.sqlite")
        #expect(a.keys.sorted() == b.keys.sorted())
        #expect(a.values.reduce(0) { $0 + $1.count } > 10, "\(pack.name): the single run wrote rows")
        for (t, rows) in a { #expect(rows == b[t], "\(pack.name): table \(t) differs") }
        #expect(try Self.rejects(dir + "/single.sqlite") == Self.rejects(dir + "/merged.sqlite"))
        #expect(try Self.ledger(dir + "/single.sqlite") == Self.ledger(dir + "/merged.sqlite"))
        let m = try Self.manifest(dir + "/merged.sqlite")
        #expect(m.shard == nil)
        #expect(m.mergedShards?.map(\.shard.index) == [0, 1, 2, 3])
        #expect(m.readCount == single.readCount && m.rejectedCount == single.rejectedCount)
        #expect(m.tables == single.tables)
        // Vocabulary use of every mapping, also those shard 0 looked nothing up for.
        #expect(m.vocabularyUsage == single.vocabularyUsage)
    }

    @Test func oneShardGivesTheIdsOfTheUnsplitRun() throws {
        let pack = Self.packs[0]
        let dir = TestSupport.temporaryDirectory("shards-one")
        try Self.run(pack, output: dir + "/single.sqlite")
        try Self.run(pack, output: dir + "/one.sqlite", ["--shard", "0/1", "--run-id", "one"])
        #expect(try Self.omopTables(dir + "/single.sqlite") == Self.omopTables(dir + "/one.sqlite"))
        #expect(try Self.manifest(dir + "/one.sqlite").shard == ShardSpec(index: 0, count: 1))
    }

    @Test func autoTakesTheIndexFromTheSchedulersVariable() throws {
        let pack = Self.packs[2]
        let dir = TestSupport.temporaryDirectory("shards-auto")
        let r = try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path(pack.mappings), "--input", TestSupport.path(pack.input), "--output", dir + "/s.sqlite",
                "--no-quality", "--shard", "auto/3", "--run-id", "auto", "--json",
            ], environment: ["JOB_COMPLETION_INDEX": "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Self.manifest(dir + "/s.sqlite").shard == ShardSpec(index: 2, count: 3))
        // Without a variable, or without --run-id: a usage error.
        let none = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path(pack.mappings), "--input", TestSupport.path(pack.input), "--output", dir + "/t.sqlite",
            "--shard", "auto/3", "--run-id", "auto",
        ])
        #expect(none.status == 2)
        let noID = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path(pack.mappings), "--input", TestSupport.path(pack.input), "--output", dir + "/t.sqlite",
            "--shard", "1/3",
        ])
        #expect(noID.status == 2 && noID.stderr.contains("--run-id"))
    }

    @Test func mergeRefusesMissingDuplicateForeignAndUnshardedFiles() throws {
        let pack = Self.packs[2]
        let dir = TestSupport.temporaryDirectory("shards-refuse")
        var files: [String] = []
        for i in 0..<3 {
            try Self.run(pack, output: dir + "/s\(i).sqlite", ["--shard", "\(i)/3", "--run-id", "a"])
            files.append(dir + "/s\(i).sqlite")
        }
        try Self.run(pack, output: dir + "/other.sqlite", ["--shard", "1/3", "--run-id", "b"])
        try Self.run(pack, output: dir + "/plain.sqlite")
        let missing = try Self.merge([files[0], files[2]], output: dir + "/m.sqlite")
        #expect(missing.status == 2 && missing.stderr.contains("HZ7205") && missing.stderr.contains("1/3"), "\(missing.stderr)")
        let twice = try Self.merge(files + [files[1]], output: dir + "/m.sqlite")
        #expect(twice.status == 2 && twice.stderr.contains("HZ7205"), "\(twice.stderr)")
        let foreign = try Self.merge([files[0], dir + "/other.sqlite", files[2]], output: dir + "/m.sqlite")
        #expect(foreign.status == 2 && foreign.stderr.contains("HZ7204"), "\(foreign.stderr)")
        let plain = try Self.merge([dir + "/plain.sqlite"] + files, output: dir + "/m.sqlite")
        #expect(plain.status == 2 && plain.stderr.contains("HZ7203"), "\(plain.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/m.sqlite"), "nothing published")
        let ok = try Self.merge(files, output: dir + "/m.sqlite")
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    /// Rejects without their place (split files number their lines differently).
    static func rejectKinds(_ path: String) throws -> [String] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        return try db.query("SELECT mapping, file, field, reason, rule FROM harmonize_reject").map { $0.map(\.description).joined(separator: "|") }
            .sorted()
    }

    /// Per mapping, file and stage: written, rejected, filtered, excluded, grouped (not read: a
    /// split file holds fewer records).
    static func outcomes(_ path: String) throws -> [String: [Int]] {
        try ledger(path).mapValues { Array($0.dropFirst()) }
    }

    @Test(arguments: [0, 2])
    func splitFoldersGiveWhatShardsOfTheWholeInputGive(packIndex: Int) throws {
        let pack = Self.packs[packIndex]
        let dir = TestSupport.temporaryDirectory("split-\(pack.name)")
        let split = try TestSupport.runCLI(
            [
                "split", "--mappings", TestSupport.path(pack.mappings), "--input", TestSupport.path(pack.input), "--output", dir + "/split",
                "--shards", "4",
            ]
                + pack.extra.filter { $0 != "--max-reject-rate" && $0 != "1" },
            environment: ["HZ_SHARD_KEY": Self.key])
        #expect(split.status == 0, "\(split.stderr)")
        var whole: [String] = []
        var parts: [String] = []
        for i in 0..<4 {
            let a = dir + "/whole-\(i).sqlite"
            let b = dir + "/part-\(i).sqlite"
            try Self.run(pack, output: a, ["--shard", "\(i)/4", "--run-id", "w"])
            try Self.run(pack, input: dir + "/split/shard-\(i)", output: b, ["--shard", "\(i)/4", "--run-id", "p"])
            // cdm_source describes the run: its source_release_date is the newest input file's
            // day, and the split files were just written.
            var ta = try Self.omopTables(a)
            var tb = try Self.omopTables(b)
            #expect(
                ta.removeValue(forKey: "cdm_source")?.count == (i == 0 ? 1 : 0) && tb.removeValue(forKey: "cdm_source")?.count == (i == 0 ? 1 : 0))
            #expect(ta == tb, "\(pack.name) shard \(i): tables differ")
            #expect(try Self.rejectKinds(a) == Self.rejectKinds(b), "\(pack.name) shard \(i): rejects differ")
            #expect(try Self.outcomes(a) == Self.outcomes(b), "\(pack.name) shard \(i): ledgers differ")
            whole.append(a)
            parts.append(b)
        }
        // A split shard holds its own records (and the headers): fewer lines than the input.
        let inputBytes = try FileManager.default.contentsOfDirectory(atPath: TestSupport.path(pack.input)).reduce(0) { n, f in
            n + ((try FileManager.default.attributesOfItem(atPath: TestSupport.path(pack.input) + "/" + f)[.size] as? Int) ?? 0)
        }
        let shardBytes = try FileManager.default.contentsOfDirectory(atPath: dir + "/split/shard-1").reduce(0) { n, f in
            n + ((try FileManager.default.attributesOfItem(atPath: dir + "/split/shard-1/" + f)[.size] as? Int) ?? 0)
        }
        #expect(shardBytes < inputBytes / 2, "\(shardBytes) of \(inputBytes) bytes")
        #expect(try Self.merge(whole, output: dir + "/whole.sqlite").status == 0)
        #expect(try Self.merge(parts, output: dir + "/parts.sqlite").status == 0)
        // cdm_source, as above: the split files' day need not be the input's (a checkout made
        // another day, a run across midnight). One row each.
        var mergedWhole = try Self.omopTables(dir + "/whole.sqlite")
        var mergedParts = try Self.omopTables(dir + "/parts.sqlite")
        #expect(mergedWhole.removeValue(forKey: "cdm_source")?.count == 1 && mergedParts.removeValue(forKey: "cdm_source")?.count == 1)
        #expect(mergedWhole == mergedParts)
        #expect(try Self.ledger(dir + "/whole.sqlite") == Self.ledger(dir + "/parts.sqlite"), "merged ledgers (read included) equal")
    }

    @Test func splitRefusesSourcesItCannotSplit() throws {
        let pack = Self.packs[1]  // HL7 and XML
        let dir = TestSupport.temporaryDirectory("split-refused")
        let r = try TestSupport.runCLI(
            [
                "split", "--mappings", TestSupport.path(pack.mappings), "--input", TestSupport.path(pack.input), "--output", dir + "/s", "--shards",
                "2",
            ]
                + ["--key-env", "HZ_SHARD_KEY"],
            environment: ["HZ_SHARD_KEY": Self.key])
        #expect(r.status == 2 && r.stderr.contains("HZ7206"), "\(r.stderr)")
    }

    /// `row_id()` numbers records in their whole file, which every shard reads: the same ids
    /// split or not. `split` refuses it (the numbers would change in split files).
    @Test func rowIDWithoutArgumentsIsTheSameInShards() throws {
        let dir = TestSupport.temporaryDirectory("shards-rowid")
        var input = "k;y\n"
        for i in 0..<40 { input += "P\(i % 13);v\(i)\n" }
        TestSupport.write(input, to: dir + "/in/t.csv")
        TestSupport.write(
            """
            harmonize-model: 1
            name: t
            tables:
              - name: t
                columns: [{name: id, type: integer, required: true, primary_key: true}, {name: s, type: "varchar(64)"}]
            """, to: dir + "/model.yaml")
        TestSupport.write(
            "harmonize: 1\nid: rows\nmodel: model.yaml\nsource: {files: t.csv, subject: k, dialect: {delimiter: \";\"}}\ntarget: t\n"
                + "fields: {id: \"row_id()\", s: \"k & y\"}\n",
            to: dir + "/m.yaml")
        let base = ["--mappings", dir + "/m.yaml", "--input", dir + "/in", "--key-env", "HZ_SHARD_KEY", "--no-quality"]
        let env = ["HZ_SHARD_KEY": Self.key]
        #expect(try TestSupport.runCLI(["run"] + base + ["--output", dir + "/single.sqlite"], environment: env).status == 0)
        var files: [String] = []
        for i in 0..<3 {
            let r = try TestSupport.runCLI(
                ["run"] + base + ["--output", dir + "/s\(i).sqlite", "--shard", "\(i)/3", "--run-id", "ids"], environment: env)
            #expect(r.status == 0, "\(r.stderr)")
            files.append(dir + "/s\(i).sqlite")
        }
        #expect(try Self.merge(files, output: dir + "/merged.sqlite").status == 0)
        let single = try Self.omopTables(dir + "/single.sqlite")
        #expect(single["t"]?.count == 40)
        #expect(try Self.omopTables(dir + "/merged.sqlite") == single)
        let split = try TestSupport.runCLI(
            [
                "split", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--key-env", "HZ_SHARD_KEY", "--shards", "3", "--output",
                dir + "/split",
            ],
            environment: env)
        #expect(split.status == 2 && split.stderr.contains("HZ7206") && split.stderr.contains("row_id"), "\(split.stderr)")
    }
}
