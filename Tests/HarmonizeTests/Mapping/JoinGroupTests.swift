import Foundation
import Synchronization
import Testing

@testable import Harmonize

/// Joins, grouping and derived tables, from the command line and from the parts.
@Suite(.serialized) struct JoinGroupTests {
    static let mappings = TestSupport.path("fixtures/engine/joins/mappings")
    static let input = TestSupport.path("fixtures/engine/joins/input")

    static func run(_ extra: [String] = [], output: String, input: String = input, mappings: String = mappings) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(
            ["run", "--mappings", mappings, "--input", input, "--output", output, "--no-quality", "--json", "--max-reject-rate", "1"] + extra)
    }

    static func rows(_ db: SQLiteConnection, _ sql: String) throws -> [[Value]] { try db.query(sql) }

    static func manifest(_ stdout: String) throws -> [String: Any] {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        return try #require(json["manifest"] as? [String: Any])
    }

    @Test func aJoinGivesEachRecordItsPartnersFieldsAndRejectsRecordsWithout() throws {
        let dir = TestSupport.temporaryDirectory("join")
        let r = try Self.run(output: dir + "/out.sqlite")
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: dir + "/out.sqlite", readOnly: true)
        #expect(
            try Self.rows(db, "SELECT drug_exposure_id, person_id, drug_exposure_start_date FROM drug_exposure ORDER BY 1") == [
                [.int(1), .int(1), .string("2020-02-01")], [.int(3), .int(2), .string("2020-02-03")], [.int(6), .int(3), .string("2020-02-06")],
            ])
        #expect(
            try Self.rows(db, "SELECT reason, rule, line, file FROM harmonize_reject WHERE mapping = 't.drugs'") == [
                [.string("join-missing"), .string("join.prs"), .int(5), .string("pha.csv")]
            ])
        let joins = try #require(try Self.manifest(r.stdout)["joins"] as? [[String: Any]])
        #expect(joins.count == 1)
        #expect(joins[0]["indexed"] as? Int == 7 && joins[0]["matched"] as? Int == 3 && joins[0]["missing"] as? Int == 1)
        #expect(joins[0]["spilled"] as? Bool == false)
        // The joined file is an input of the run, hashed like the others.
        let inputs = try #require(try Self.manifest(r.stdout)["inputs"] as? [[String: Any]])
        #expect(inputs.contains { $0["path"] as? String == "prs.csv" && ($0["sha256"] as? String)?.count == 64 })
    }

    @Test func groupingNetsCancellationsAndAccountsForRecordsAndGroups() throws {
        let dir = TestSupport.temporaryDirectory("group")
        let r = try Self.run(output: dir + "/out.sqlite")
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: dir + "/out.sqlite", readOnly: true)
        // B1's two lines net to zero (filtered group); B3's line 5 is for information (filtered record).
        #expect(
            try Self.rows(db, "SELECT visit_occurrence_id, person_id, visit_start_date FROM visit_occurrence ORDER BY 1") == [
                [.int(3), .int(2), .string("2020-02-03")], [.int(6), .int(3), .string("2020-02-06")], [.int(8), .int(9), .string("2020-02-06")],
            ])
        let ledger = try Self.rows(
            db,
            "SELECT file, read, written, rejected, filtered, excluded, grouped, group_stage FROM harmonize_ledger WHERE mapping = 't.visits' ORDER BY group_stage"
        )
        #expect(
            ledger == [
                [.string("prs.csv"), .int(7), .int(0), .int(0), .int(1), .int(0), .int(6), .int(0)],
                [.string("groups of prs.csv"), .int(4), .int(3), .int(0), .int(1), .int(0), .int(0), .int(1)],
            ])
        #expect(r.stdout.contains("\"records_read\" : 11"), "groups are not counted as records read")
    }

    @Test func aTinyMemoryBudgetMovesJoinsAndGroupsToDiskWithTheSameOutput() throws {
        let dir = TestSupport.temporaryDirectory("spill")
        let spill = dir + "/spill"
        try FileManager.default.createDirectory(atPath: spill, withIntermediateDirectories: true)
        let a = try Self.run(output: dir + "/memory.sqlite")
        let b = try Self.run(["--memory-budget", "1", "--spill-dir", spill], output: dir + "/disk.sqlite")
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(b.stderr.contains("warning: a --memory-budget under 128M") && !a.stderr.contains("warning"), "\(a.stderr) \(b.stderr)")
        let joins = try #require(try Self.manifest(b.stdout)["joins"] as? [[String: Any]])
        #expect(joins.first?["spilled"] as? Bool == true)
        let m = try SQLiteConnection(path: dir + "/memory.sqlite", readOnly: true)
        let d = try SQLiteConnection(path: dir + "/disk.sqlite", readOnly: true)
        for t in ["visit_occurrence", "drug_exposure", "observation_period"] {
            let q = "SELECT * FROM \(t) ORDER BY 1"
            #expect(try m.query(q) == d.query(q), "\(t)")
            #expect(try !m.query(q).isEmpty, "\(t)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: spill).isEmpty, "spill files are removed")
    }

    @Test func manyGroupsSpilledMergeToTheSameGroupsInTheSameOrder() throws {
        // 3000 records over 1000 groups, read in an order that interleaves them.
        let dir = TestSupport.temporaryDirectory("groups")
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        var csv = "id;g;q\n"
        for i in 0..<3000 { csv += "\(i);G\((i * 7) % 1000);\(i % 5 - 1)\n" }
        TestSupport.write(csv, to: dir + "/in/lines.csv")
        TestSupport.write(
            """
            harmonize: 1
            id: t.groups
            source:
              files: lines.csv
              dialect: {delimiter: ";"}
              schema: {fields: [{name: id, type: integer}, {name: g, type: string}, {name: q, type: integer}]}
            group:
              by: {g: g}
              aggregate: {total: "sum(q)", n: "count()", lo: "min(id)", hi: "max(id)", first_q: "first(q)", last_q: "last(q)"}
            target: observation
            fields:
              observation_id: lo
              person_id: n
              observation_concept_id: 0
              observation_date: "date('2020-01-01')"
              observation_type_concept_id: 32810
              value_as_number: total
              value_as_string: "g & ':' & hi & ':' & first_q & ':' & last_q"
            """, to: dir + "/g.yaml")
        let a = try Self.run(output: dir + "/a.sqlite", input: dir + "/in", mappings: dir + "/g.yaml")
        let b = try Self.run(["--memory-budget", "20K"], output: dir + "/b.sqlite", input: dir + "/in", mappings: dir + "/g.yaml")
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        let q = "SELECT observation_id, person_id, value_as_number, value_as_string FROM observation ORDER BY rowid"
        let ma = try SQLiteConnection(path: dir + "/a.sqlite", readOnly: true).query(q)
        let mb = try SQLiteConnection(path: dir + "/b.sqlite", readOnly: true).query(q)
        #expect(ma.count == 1000)
        #expect(ma == mb)
        // Group G7 holds records 1, 144*7+1… : check one group by hand: records i with 7i ≡ 7 (mod 1000).
        let members = (0..<3000).filter { ($0 * 7) % 1000 == 7 }
        let row = try #require(ma.first { $0[3] == .string("G7:\(members.last ?? 0):\(members[0] % 5 - 1):\((members.last ?? 0) % 5 - 1)") })
        #expect(row[0] == .int(members[0]) && row[1] == .int(members.count))
        #expect(row[2] == .double(Double(members.map { $0 % 5 - 1 }.reduce(0, +))))
    }

    @Test func aKeyOnTwoJoinedRowsRejectsItsRecordsAsAmbiguous() throws {
        let dir = TestSupport.temporaryDirectory("ambiguous")
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        TestSupport.write("nir;rang;sexe\nA;1;1\nT;1;2\nT;2;1\n", to: dir + "/in/ben.csv")
        TestSupport.write("stay;nir\n1;A\n2;T\n3;Z\n", to: dir + "/in/stays.csv")
        TestSupport.write(
            """
            harmonize: 1
            id: t.stays
            source: {files: stays.csv, dialect: {delimiter: ";"}}
            joins:
              - {name: ben, files: ben.csv, dialect: {delimiter: ";"}, on: {nir: nir}}
            target: visit_occurrence
            fields:
              visit_occurrence_id: "to_int(stay)"
              person_id: "to_int(ben.rang)"
              visit_concept_id: 9201
              visit_start_date: "date('2020-01-01')"
              visit_end_date: "date('2020-01-02')"
              visit_type_concept_id: 32810
            """, to: dir + "/m.yaml")
        let r = try Self.run(output: dir + "/out.sqlite", input: dir + "/in", mappings: dir + "/m.yaml")
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: dir + "/out.sqlite", readOnly: true)
        #expect(try db.query("SELECT visit_occurrence_id FROM visit_occurrence") == [[.int(1)]])
        #expect(
            try db.query("SELECT reason, line FROM harmonize_reject ORDER BY line") == [
                [.string("join-ambiguous"), .int(3)], [.string("join-missing"), .int(4)],
            ])
        #expect(!r.stdout.contains("\"T\""), "keys never reach the summary")
    }

    /// A joined file of 30k rows over thirty chunks, with rows failing their schema (an integer
    /// that is not one, a date with a stray byte), null keys and keys on two rows, indexed by one
    /// thread and by three encoding threads (`JoinLoadPipeline`), in memory, part on disk and
    /// all on disk: the same rows, rejects (in order) and join counts.
    @Test(arguments: ["1G", "800K", "1"])
    func encodingThreadsIndexAJoinedFileAsOneThreadDoes(budget: String) throws {
        let dir = TestSupport.temporaryDirectory("join-encoders")
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        var prs = Data("nir;rang;soin\n".utf8)
        for i in 0..<30_000 {
            let nir = i % 777 == 0 ? "" : i % 5_000 == 1 ? "N\(i - 1)" : "N\(i)"
            let rang = i % 1_000 == 3 ? "x" : String(i % 9)
            prs.append(contentsOf: Array("\(nir);\(rang);\(i % 28 + 1)/02/2021".utf8))
            if i % 3_333 == 5 { prs.append(0xFF) }
            prs.append(0x0A)
        }
        try prs.write(to: URL(fileURLWithPath: dir + "/in/prs.csv"))
        var stays = "stay;nir\n"
        // Every tenth key: five are on two rows (N5000…); four are missing, three of null-key rows
        // (N7770…) and one of a rejected row (N16670).
        for s in 0..<3_000 { stays += "\(s);N\(s * 10)\n" }
        TestSupport.write(stays, to: dir + "/in/stays.csv")
        TestSupport.write(
            """
            harmonize: 1
            id: t.encoders
            source: {files: stays.csv, dialect: {delimiter: ";"}}
            joins:
              - name: ben
                files: prs.csv
                dialect: {delimiter: ";"}
                schema:
                  fields:
                    - {name: nir, type: string}
                    - {name: rang, type: integer}
                    - {name: soin, type: date, format: "%d/%m/%Y"}
                on: {nir: nir}
            target: visit_occurrence
            fields:
              visit_occurrence_id: "to_int(stay)"
              person_id: "ben.rang + 1"
              visit_concept_id: 9201
              visit_start_date: ben.soin
              visit_end_date: ben.soin
              visit_type_concept_id: 32810
            """, to: dir + "/m.yaml")
        var outputs: [[[Value]]] = []
        var joins: [[String: Int]] = []
        for threads in ["1", "3"] {
            let out = dir + "/out-\(threads).sqlite"
            let r = try Self.run(["--threads", threads, "--memory-budget", budget], output: out, input: dir + "/in", mappings: dir + "/m.yaml")
            #expect(r.status == 0, "\(r.stderr)")
            let db = try SQLiteConnection(path: out, readOnly: true)
            outputs.append(
                try db.query("SELECT visit_occurrence_id, person_id, visit_start_date FROM visit_occurrence ORDER BY 1")
                    + db.query("SELECT file, line, reason, rule, field FROM harmonize_reject ORDER BY rowid"))
            let j = try #require(try Self.manifest(r.stdout)["joins"] as? [[String: Any]]).first ?? [:]
            var counts: [String: Int] = [:]
            for key in ["read", "indexed", "rejected", "nullKeys", "ambiguousKeys", "matched", "missing"] { counts[key] = j[key] as? Int }
            #expect(j["spilled"] as? Bool == (budget != "1G"))
            joins.append(counts)
        }
        #expect(outputs[0] == outputs[1])
        #expect(joins[0] == joins[1])
        // 30k rows read; 30 fail `rang` and 9 `soin` (one row both: rejected once), 39 null keys.
        #expect(joins[1]["read"] == 30_000 && joins[1]["rejected"] == 38 && joins[1]["nullKeys"] == 39, "\(joins[1])")
        #expect(joins[1]["ambiguousKeys"] == 5, "\(joins[1])")
        #expect(joins[1]["matched"] == 2_991 && joins[1]["missing"] == 4, "\(joins[1])")
        #expect(outputs[1].filter { $0.count == 5 && $0[2] == .string("join-ambiguous") }.count == 5)
    }

    /// A join's `where` leaves rows out of the index (a key filtered on one of its two rows is
    /// not ambiguous) and rejects the rows it fails on, with 1 thread and with 3 (such a join
    /// loads on the run's thread, whose calls the filter uses).
    @Test func aJoinsWhereFiltersAndRejectsItsRowsWhateverTheThreads() throws {
        let dir = TestSupport.temporaryDirectory("join-where")
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        TestSupport.write("nir;kind;z\nA;X;1\nB;Y;1\nC;X;0\nD;X;1\nA;Y;1\n", to: dir + "/in/ben.csv")
        TestSupport.write("stay;nir\n1;A\n2;B\n3;C\n4;D\n5;E\n", to: dir + "/in/stays.csv")
        TestSupport.write(
            """
            harmonize: 1
            id: t.where
            source: {files: stays.csv, dialect: {delimiter: ";"}}
            joins:
              - {name: ben, files: ben.csv, dialect: {delimiter: ";"}, where: "kind == 'X' and 10 / to_int(z) > 1", on: {nir: nir}}
            target: visit_occurrence
            fields:
              visit_occurrence_id: "to_int(stay)"
              person_id: "to_int(stay)"
              visit_concept_id: 9201
              visit_start_date: "date('2020-01-01')"
              visit_end_date: "date('2020-01-02')"
              visit_type_concept_id: 32810
            """, to: dir + "/m.yaml")
        for threads in ["1", "3"] {
            let out = dir + "/out-\(threads).sqlite"
            let r = try Self.run(["--threads", threads], output: out, input: dir + "/in", mappings: dir + "/m.yaml")
            #expect(r.status == 0, "\(r.stderr)")
            let db = try SQLiteConnection(path: out, readOnly: true)
            #expect(try db.query("SELECT visit_occurrence_id FROM visit_occurrence ORDER BY 1") == [[.int(1)], [.int(4)]])
            #expect(
                try db.query("SELECT file, line, reason, rule FROM harmonize_reject ORDER BY rowid") == [
                    [.string("ben.csv"), .int(4), .string("expression-error"), .string("join.ben.where")],
                    [.string("stays.csv"), .int(3), .string("join-missing"), .string("join.ben")],
                    [.string("stays.csv"), .int(4), .string("join-missing"), .string("join.ben")],
                    [.string("stays.csv"), .int(6), .string("join-missing"), .string("join.ben")],
                ])
            let j = try #require(try Self.manifest(r.stdout)["joins"] as? [[String: Any]]).first ?? [:]
            #expect(j["read"] as? Int == 5 && j["filtered"] as? Int == 2 && j["rejected"] as? Int == 1, "\(j)")
            #expect(j["indexed"] as? Int == 2 && j["ambiguousKeys"] as? Int == 0 && j["matched"] as? Int == 2, "\(j)")
        }
    }

    @Test func observationPeriodsSpanEachPersonsEvents() throws {
        let dir = TestSupport.temporaryDirectory("derive")
        let r = try Self.run(output: dir + "/out.sqlite")
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: dir + "/out.sqlite", readOnly: true)
        #expect(
            try db.query("SELECT * FROM observation_period ORDER BY 1") == [
                [.int(1), .int(1), .string("2020-02-01"), .string("2020-02-01"), .int(44_814_724)],
                [.int(2), .int(2), .string("2020-02-03"), .string("2020-02-03"), .int(44_814_724)],
                [.int(3), .int(3), .string("2020-02-06"), .string("2020-02-06"), .int(44_814_724)],
                [.int(9), .int(9), .string("2020-02-06"), .string("2020-02-06"), .int(44_814_724)],
            ])
        // A CSV output cannot read back its rows: the derivation is refused as a configuration error.
        let csv = try TestSupport.runCLI([
            "run", "--mappings", Self.mappings, "--input", Self.input, "--output", dir + "/csv", "--sink", "csv", "--no-quality",
        ])
        #expect(csv.status == 2, "\(csv.stderr)")
        #expect(csv.stderr.contains("observation_period"))
    }

    @Test func mappingTestsGiveJoinedRowsInline() throws {
        let r = try TestSupport.runCLI(["test", "--mappings", Self.mappings])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("2/2 cases passed"))
    }

    @Test func mistakesInJoinsAndGroupsAreReportedBeforeReading() throws {
        let dir = TestSupport.temporaryDirectory("joinerrors")
        TestSupport.write(
            """
            harmonize: 1
            id: t.bad
            source: {files: x.csv}
            joins:
              - name: prs
                files: prs.csv
                schema: {fields: [{name: k1, type: integer}, {name: soin, type: date}]}
                on: {k1: k1}
                on_mis: reject
            group:
              by: {k: k1}
              aggregate: {n: "median(x)"}
            target: observation
            fields:
              observation_id: k
              person_id: prs.sion
              observation_concept_id: 0
              observation_date: "date('2020-01-01')"
              observation_type_concept_id: 0
            """, to: dir + "/bad.yaml")
        let r = try TestSupport.runCLI(["check", "--mappings", dir + "/bad.yaml"])
        #expect(r.status == 2)
        #expect(
            r.stderr.contains("bad.yaml:9:5") && r.stderr.contains("unknown key 'on_mis'") && r.stderr.contains("did you mean 'on_miss'"),
            "\(r.stderr)")
        #expect(r.stderr.contains("unknown aggregate function 'median'"), "\(r.stderr)")
        TestSupport.write(
            """
            harmonize: 1
            id: t.bad2
            source: {files: x.csv}
            joins:
              - name: prs
                files: prs.csv
                schema: {fields: [{name: k1, type: integer}, {name: soin, type: date}]}
                on: {k1: k1}
            target: observation
            fields:
              observation_id: "to_int(k1)"
              person_id: 1
              observation_concept_id: 0
              observation_date: prs.sion
              observation_type_concept_id: 0
            """, to: dir + "/bad2.yaml")
        let r2 = try TestSupport.runCLI(["check", "--mappings", dir + "/bad2.yaml"])
        #expect(r2.status == 2)
        #expect(r2.stderr.contains("bad2.yaml:14") && r2.stderr.contains("prs.sion") && r2.stderr.contains("prs.soin"), "\(r2.stderr)")
    }

    @Test func twoRowsWithOneIdPublishNothing() throws {
        // Prestations 6 and 8 of the fixture become one id: two visits with visit_occurrence_id 6.
        let dir = TestSupport.temporaryDirectory("pkdup")
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        for f in ["pha.csv", "prs.csv"] {
            var text = try String(contentsOfFile: Self.input + "/" + f, encoding: .utf8)
            if f == "prs.csv" { text = text.replacingOccurrences(of: "8;A;B9", with: "6;A;B9") }
            TestSupport.write(text, to: dir + "/in/" + f)
        }
        let r = try Self.run(output: dir + "/out.sqlite", input: dir + "/in")
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("visit_occurrence") && r.stderr.contains("target-pk-duplicate"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.sqlite"))
    }

    /// Budgets: everything in memory; a part in memory and the rest on disk; everything on disk.
    @Test(arguments: [1 << 30, DiskHashTable.bufferBytes + 100_000, 4096])
    func theIndexFindsEveryKeyInMemoryAndOnDisk(budget: Int) throws {
        let dir = TestSupport.temporaryDirectory("index")
        let index = SpillingIndex(budget: budget, spillDirectory: dir)
        let n = 20_000
        // Every 7th payload is long (over the 256 bytes a disk lookup reads first).
        func payload(_ i: Int) -> [Value] { [.int(i), .string(i % 7 == 0 ? String(repeating: "x", count: 300 + i % 50) : "v\(i)")] }
        for i in 0..<n { try index.insert(key: Array("k\(i)".utf8), payload: ValueCodec.encode(payload(i))) }
        // Second rows for keys first seen early (in memory when the index spills) and late (on disk).
        for k in [42, 43, n - 5] { try index.insert(key: Array("k\(k)".utf8), payload: []) }
        try index.insert(key: Array("k\(n - 5)".utf8), payload: [])  // a third row: still one ambiguous key
        try index.insert(key: [], payload: ValueCodec.encode([.int(-1)]))  // the empty key is a key
        try index.finishLoading()
        #expect(index.isSpilled == (budget != 1 << 30))
        #expect(index.count == n + 1)
        #expect(index.ambiguousKeys == 3)
        for i in 0..<n where ![42, 43, n - 5].contains(i) {
            var got: [Value]?
            let found = try index.lookup(Array("k\(i)".utf8)) { got = ValueCodec.decode($0, count: 2) }
            guard found == .payload, got == payload(i) else {
                Issue.record("key k\(i) at budget \(budget): \(found), \(String(describing: got))")
                return
            }
        }
        for k in [42, 43, n - 5] { #expect(try index.lookup(Array("k\(k)".utf8)) { _ in } == .ambiguous) }
        var empty: [Value]?
        #expect(try index.lookup([]) { empty = ValueCodec.decode($0, count: 1) } == .payload && empty == [.int(-1)])
        for miss in ["nope", "k\(n)", "k-1", "k1 "] { #expect(try index.lookup(Array(miss.utf8)) { _ in } == .miss) }
        index.close()
        // The on-disk part is unlinked as soon as it is created: nothing is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    /// The workers of a parallel pass probe one index at once: every thread finds every key's
    /// payload, past the arena's first megabyte (copied once when the index outgrew it).
    @Test func threadsProbingOneIndexAtOnceFindEveryPayload() throws {
        let index = SpillingIndex(budget: 1 << 30, spillDirectory: TestSupport.temporaryDirectory("index-threads"))
        let n = 60_000
        @Sendable func payload(_ i: Int) -> [UInt8] { Array("p\(i)-\(String(repeating: "y", count: i % 13))".utf8) }
        for i in 0..<n { try index.insert(key: Array("key\(i)".utf8), payload: payload(i)) }
        try index.finishLoading()
        #expect(index.memoryBytes > 1 << 20)
        /// Read-only once loaded: what `ParallelFilePass` hands its workers.
        final class Shared: @unchecked Sendable {
            let index: SpillingIndex
            init(_ index: SpillingIndex) { self.index = index }
        }
        let shared = Shared(index)
        let wrong = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            var bad = 0
            for i in stride(from: t, to: n, by: 2) {
                var got: [UInt8] = []
                let found = (try? shared.index.lookup(Array("key\(i)".utf8)) { got = Array($0) }) ?? .miss
                if found != .payload || got != payload(i) { bad += 1 }
                if (try? shared.index.lookup(Array("nokey\(i)".utf8)) { _ in }) != .miss { bad += 1 }
            }
            wrong.withLock { $0 += bad }
        }
        #expect(wrong.withLock { $0 } == 0)
        index.close()
        #expect(index.memoryBytes == 0)
    }

    @Test func theBudgetLeavesTheEngineItsReserveAndSharesTheRest() {
        let mib = 1 << 20
        #expect(Pipeline.structureBudget(256 * mib, structures: 1) == 160 * mib)
        #expect(Pipeline.structureBudget(256 * mib, structures: 2) == 80 * mib)  // two joins, alive at once
        #expect(Pipeline.structureBudget(128 * mib, structures: 1) == 32 * mib)  // never less than a quarter
        #expect(Pipeline.structureBudget(1, structures: 1) == 0)
    }

    /// Spill files are unlinked at once and, on Linux, read without access-time updates.
    @Test func spillFilesAreUnlinkedAndReadWithoutAccessTimes() throws {
        let dir = TestSupport.temporaryDirectory("spill-noatime")
        let fd = try #require(FileOps.unlinkedTemporaryFile(in: dir, prefix: "harmonize-test", suffix: "idx"))
        defer { close(fd) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        #if os(Linux) && (arch(x86_64) || arch(arm64))
            #expect(fcntl(fd, F_GETFL) & 0o1_000_000 != 0, "O_NOATIME")
        #endif
    }

    @Test func anUnwritableSpillFolderIsAnError() throws {
        let index = SpillingIndex(budget: 0, spillDirectory: "/nonexistent/folder")
        #expect(throws: JoinIndexError.self) { try index.insert(key: [1], payload: [2]) }
    }

    @Test func keyBytesAreTheCanonicalTextsOfLookups() {
        let values: [Value] = [
            .int(0), .int(-12), .int(Int.max), .int(Int.min), .date(0), .date(-719_528), .date(19_000), .date(3_000_000), .string(" 0042 "),
            .double(12), .double(1.5), .bool(true), .dateTime(86_461),
        ]
        for v in values {
            let expected = Array((LoadedLookupTable.canonical(v) ?? "").utf8)
            #expect(ValueCodec.key([v]) == expected, "\(v)")
        }
        #expect(ValueCodec.key([.int(7), .string("A")]) == Array("7\u{1F}A".utf8))
        #expect(ValueCodec.key([.int(7), .null]) == nil)
    }

    /// Join keys are binary, but two keys are equal exactly when the canonical texts of their
    /// components are (an integer meets its text, a date its ISO text), whatever the types.
    @Test func joinKeysAreEqualExactlyWhenTheirCanonicalTextsAre() throws {
        let values: [Value] = [
            .int(0), .string("0"), .string("-0"), .string("00"), .string("+1"), .int(1), .string("1"), .string(" 1\t"), .double(1),
            .double(1.5), .string("1.5"), .int(-12), .string("-12"), .string("-012"), .int(Int.max), .string(String(Int.max)),
            .int(Int.min), .string(String(Int.min)), .string("9223372036854775808"), .string("-9223372036854775809"),
            .string("12345678901234567890123"), .date(0), .string("1970-01-01"), .string("1970-1-01"), .string("1970-01-01 "),
            .date(-719_528), .string("0000-01-01"), .date(-719_529), .string("-0001-12-31"), .date(2_932_896), .string("9999-12-31"),
            .date(2_932_897), .string("10000-01-01"), .string("2024-02-29"), .date(19_782), .string("2023-02-29"), .string("2024-13-01"),
            .string("2024-00-10"), .string("2024-01-00"), .dateTime(86_461), .string("1970-01-02T00:01:01"), .bool(true),
            .string("true"), .string(""), .string(" "), .string("a"), .string("a\u{1F}b"), .string("é"), .string("e\u{301}"), .string("-"),
            .string("\n7"),
        ]
        func joinKey(_ v: [Value]) -> [UInt8]? {
            var out: [UInt8] = [9]
            return ValueCodec.appendJoinKey(v, to: &out) ? out : nil
        }
        for a in values {
            for b in values {
                // Byte equality (Swift's `==` on strings would equate canonically equivalent ones).
                let same = LoadedLookupTable.canonical(a).map { Array($0.utf8) } == LoadedLookupTable.canonical(b).map { Array($0.utf8) }
                #expect((joinKey([a]) == joinKey([b])) == same, "\(a) and \(b)")
            }
        }
        #expect(ValueCodec.firstKeyDay == CivilDate(year: 0, month: 1, day: 1).daysSinceEpoch)
        #expect(ValueCodec.lastKeyDay == CivilDate(year: 9999, month: 12, day: 31).daysSinceEpoch)
        // Components carry their own lengths: a separator inside a text is not a boundary.
        #expect(joinKey([.string("a\u{1F}b")]) != joinKey([.string("a"), .string("b")]))
        #expect(joinKey([.string("ab"), .string("c")]) != joinKey([.string("a"), .string("bc")]))
        #expect(joinKey([.int(7), .string("7")]) == joinKey([.string("7"), .int(7)]))
        #expect(joinKey([.int(7), .null]) == nil && joinKey([.null]) == nil)
        // The nine DCIR keys of a claim line: binary, shorter than their texts.
        let dcir: [Value] = [.date(19_000), .date(19_001), .int(1), .int(12345), .int(1), .string("012345678"), .int(987_654_321), .int(1), .int(0)]
        let binary = try #require(joinKey(dcir))
        let text = try #require(ValueCodec.key(dcir))
        #expect(binary.count < text.count * 3 / 4)
    }

    /// A join key of several components is its components' keys one after the other, whatever
    /// their types and lengths (texts past the one-byte varint length, texts with blanks to
    /// trim, dates outside 0000–9999, numbers): the key is written into a buffer sized from the
    /// components, which must hold every one of them.
    @Test func aJoinKeyIsItsComponentsKeysOneAfterTheOther() throws {
        let long = String(repeating: "x", count: 300)
        let pool: [Value] = [
            .int(0), .int(-1), .int(Int.max), .int(Int.min), .string("01C593517"), .string("42"), .string(" 42 "), .string("\t"),
            .string(long), .string(" " + long + "\t"), .string("é" + long), .string("2024-02-29"), .date(19_000), .date(-719_529),
            .date(Int.max / 86_400), .double(1.5), .double(-1.234_567_890_123_456_7e-300), .bool(false), .dateTime(-1),
            .string("-9223372036854775809"),
        ]
        func joinKey(_ v: [Value]) -> [UInt8]? {
            var out: [UInt8] = [7, 7]
            return ValueCodec.appendJoinKey(v, to: &out) ? out : nil
        }
        var rng = SeededRandom(state: 13)
        for _ in 0..<2_000 {
            let parts = (0..<Int(rng.next() % 12)).map { _ in pool[Int(rng.next() % UInt64(pool.count))] }
            var joined: [UInt8] = []
            for p in parts { joined += try #require(joinKey([p])) }
            #expect(joinKey(parts) == joined, "\(parts)")
        }
        #expect(joinKey([.string(long), .null]) == nil)
        #expect(joinKey([]) == [])
    }

    @Test func qualifiedNamesAreOneIdentifier() {
        let tokens = Lexer.tokenize("prs.EXE_SOI_DTD + 1.5 and x.y")
        #expect(tokens.contains { if case .identifier("prs.EXE_SOI_DTD", false) = $0.kind { return true } else { return false } })
        #expect(tokens.contains { if case .identifier("x.y", false) = $0.kind { return true } else { return false } })
    }
}
