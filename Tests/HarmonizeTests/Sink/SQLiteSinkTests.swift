import Foundation
import Testing

@testable import Harmonize

@Suite struct SQLiteSinkTests {
    static let table = TargetTable(
        name: "item",
        columns: [
            TargetColumn(name: "item_id", type: .integer, isRequired: true, isPrimaryKey: true),
            TargetColumn(name: "label", type: .varchar(nil)),
            TargetColumn(name: "seen", type: .date),
            TargetColumn(name: "amount", type: .float),
        ])

    static func manifest() -> RunManifest {
        RunManifest(
            runID: "run-1", engineVersion: "test", startedAt: "t0", finishedAt: "t1", status: "succeeded", model: "tiny 1",
            parameters: ["sink": "sqlite"], mappings: [.init(id: "m", version: "1", sha256: "abc", file: "m.yaml")],
            inputs: [.init(path: "in.csv", sha256: "def", bytes: 10, records: 2)],
            ledger: [.init(mapping: "m", file: "in.csv", read: 3, written: 2, rejected: 1, filtered: 0, excluded: 0)],
            tables: [.init(table: "item", rows: 2)])
    }

    static func batch(_ rows: [(Int, String?)]) -> RowBatch {
        var b = RowBatch(table: 0, columnCount: 4)
        for (id, label) in rows {
            b.values += [.int(id), label.map(Value.string) ?? .null, .date(CivilDate(year: 2024, month: 2, day: 29).daysSinceEpoch), .double(1.5)]
            b.lineage.append(RowLineage(mapping: 0, file: 0, line: id + 1, record: id))
        }
        return b
    }

    /// The staging file is written back while rows arrive (every `writebackRows` rows), through a
    /// descriptor of its own that neither publication nor abort leaves open.
    @Test(arguments: [false, true])
    func theStagingFileIsWrittenBackWhileRowsArrive(aborts: Bool) throws {
        let dir = TestSupport.temporaryDirectory("sink-writeback")
        let out = dir + "/out.sqlite"
        /// Descriptors of this process open on the staging file (other tests run meanwhile: only
        /// this test's folder counts).
        func stagingDescriptors() -> Int {
            let fds: [String]
            do { fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") } catch { return 0 }
            return fds.filter { fd in
                let target: String
                do { target = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd) } catch { return false }
                return target.hasPrefix(dir + "/.out.sqlite.staging-")
            }.count
        }
        do {
            let sink = SQLiteSink(outputPath: out)
            try sink.open(tables: [Self.table], run: Self.manifest())
            let rows = SQLiteSink.writebackRows * 2 + 30_000  // two requests: at 140,000 and 280,000 rows
            var id = 0
            while id < rows {
                var b = RowBatch(table: 0, columnCount: 4)
                for _ in 0..<min(10_000, rows - id) {
                    id += 1
                    b.values += [.int(id), .string("row \(id)"), .null, .double(Double(id))]
                }
                try sink.write(b)
            }
            #if os(Linux)
                #expect(sink.writebacksStarted == 2)
                #expect(stagingDescriptors() == 2, "SQLite's and the sink's own")
            #endif
            if aborts {
                sink.abort()
                #expect(!FileManager.default.fileExists(atPath: out))
            } else {
                try sink.finish(run: Self.manifest())
                let db = try SQLiteConnection(path: out, readOnly: true)
                #expect(try db.scalar("SELECT count(*) FROM item") == .int(rows))
                #expect(try db.scalar("SELECT sum(item_id = amount) FROM item") == .int(rows))
            }
        }
        #if os(Linux)
            #expect(stagingDescriptors() == 0, "no descriptor left open on the staging file")
        #endif
    }

    @Test(arguments: [false, true])
    func publishesAtomicallyAndStoresTheRun(pipelined: Bool) throws {
        let dir = TestSupport.temporaryDirectory("sink")
        let out = dir + "/out.sqlite"
        let inner = SQLiteSink(outputPath: out, recordsLineage: true)
        let sink: any Sink = pipelined ? PipelinedSink(inner, capacity: 1) : inner
        try sink.open(tables: [Self.table], run: Self.manifest())
        try sink.write(Self.batch([(1, "a"), (2, nil)]))
        try sink.write(Self.batch([(3, "c,\"d\"")]))
        try sink.writeRejects([
            RunReject(
                reject: Reject(
                    reason: .typeError, location: SourceLocation(file: "in.csv", line: 4, record: 3), field: "x", mapping: "m", rule: "type",
                    message: "field x fails its schema rule 'type'"), mapping: 0, file: 0)
        ])
        #expect(!FileManager.default.fileExists(atPath: out), "nothing is visible before finish")
        try sink.finish(run: Self.manifest())
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(
            try db.query("SELECT item_id, label, seen, amount FROM item ORDER BY item_id") == [
                [.int(1), .string("a"), .string("2024-02-29"), .double(1.5)],
                [.int(2), .null, .string("2024-02-29"), .double(1.5)],
                [.int(3), .string("c,\"d\""), .string("2024-02-29"), .double(1.5)],
            ])
        #expect(try db.scalar("SELECT reason || ':' || field || ':' || line FROM harmonize_reject") == .string("type-error:x:4"))
        #expect(try db.scalar("SELECT run_id FROM harmonize_reject") == .string("run-1"))
        #expect(try db.scalar("SELECT status FROM harmonize_run") == .string("succeeded"))
        #expect(try db.scalar("PRAGMA page_size") == .int(SQLiteSink.pageSize), "a new output's pages are 16 KiB")
        #expect(try db.scalar("SELECT rejected FROM harmonize_ledger") == .int(1))
        #expect(try db.scalar("SELECT sha256 FROM harmonize_run_input") == .string("def"))
        #expect(try db.scalar("SELECT count(*) FROM harmonize_lineage WHERE line = row_id + 1") == .int(3))
        #expect(try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'pk_item'") == .int(1))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("staging") }
        #expect(leftovers.isEmpty)
    }

    /// The partial index of a nullable foreign key that no mapping of the run writes is created
    /// with its table (empty, each row checked as it is inserted); the other indexes after the
    /// load. Should a row carry a value after all, the index still holds it.
    @Test func indexesOfColumnsLeftNullAreCreatedWithTheTable() throws {
        let table = TargetTable(
            name: "event",
            columns: [
                TargetColumn(name: "event_id", type: .integer, isRequired: true, isPrimaryKey: true),
                TargetColumn(name: "person_id", type: .integer, isRequired: true, foreignKey: ForeignKey(table: "person", column: "person_id")),
                TargetColumn(name: "visit_id", type: .integer, foreignKey: ForeignKey(table: "visit", column: "visit_id")),
                TargetColumn(name: "provider_id", type: .integer, foreignKey: ForeignKey(table: "provider", column: "provider_id")),
                TargetColumn(name: "label", type: .varchar(nil)),
            ])
        let dir = TestSupport.temporaryDirectory("sink-left-null")
        let sink = SQLiteSink(outputPath: dir + "/out.sqlite")
        // person_id is required (its index is not partial), label has no index: only provider_id's comes early.
        sink.noteColumnsLeftNull(["event": ["provider_id", "person_id", "label"], "other": ["visit_id"]])
        try sink.open(tables: [table], run: Self.manifest())
        #expect(try sink.indexNames(of: "event") == ["idx_event_provider_id"])
        var b = RowBatch(table: 0, columnCount: 5)
        for id in 1...1000 {
            b.values += [.int(id), .int(id % 10), id % 3 == 0 ? .int(id) : .null, id == 500 ? .int(7) : .null, .null]
            b.lineage.append(RowLineage(mapping: 0, file: 0, line: id + 1, record: id))
        }
        try sink.write(b)
        try sink.finish(run: Self.manifest())
        let db = try SQLiteConnection(path: dir + "/out.sqlite", readOnly: true)
        #expect(
            try db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event' ORDER BY name").map { $0[0] } == [
                .string("idx_event_person_id"), .string("idx_event_provider_id"), .string("idx_event_visit_id"), .string("pk_event"),
            ])
        #expect(try db.scalar("SELECT count(*) FROM event INDEXED BY idx_event_provider_id WHERE provider_id = 7") == .int(1))
        #expect(try db.scalar("SELECT count(*) FROM event INDEXED BY idx_event_visit_id WHERE visit_id > 0") == .int(333))
        #expect(try db.scalar("PRAGMA integrity_check") == .string("ok"))
    }

    /// A batch is inserted `rowsPerInsert` rows per statement, the rest one by one: the same rows
    /// in the batch's order (rowids follow it), each with its lineage, whatever the batch's size.
    @Test(arguments: [1, 63, 64, 65, 129, 200])
    func rowsAreInsertedManyPerStatement(rows: Int) throws {
        #expect(SQLiteSink.rowsPerInsert(columns: Self.table.columns.count, parameterLimit: 32_766) == 64)
        #expect(SQLiteSink.rowsPerInsert(columns: 1000, parameterLimit: 32_766) == 32)
        #expect(SQLiteSink.rowsPerInsert(columns: 40_000, parameterLimit: 32_766) == 1)
        #expect(SQLiteSink.rowsPerInsert(columns: 30, parameterLimit: 999) == 33, "SQLite before 3.32")
        #expect(try SQLiteConnection(path: ":memory:").parameterLimit >= 999)
        let dir = TestSupport.temporaryDirectory("sink-multi-row")
        let sink = SQLiteSink(outputPath: dir + "/out.sqlite", recordsLineage: true)
        try sink.open(tables: [Self.table], run: Self.manifest())
        let spec = (1...rows).map { i in (i * 7 % 1009, i % 3 == 0 ? nil : "label \(i)") }
        try sink.write(Self.batch(spec))
        try sink.finish(run: Self.manifest())
        let db = try SQLiteConnection(path: dir + "/out.sqlite", readOnly: true)
        let expected: [[Value]] = spec.enumerated().map { k, r in
            [.int(k + 1), .int(r.0), r.1.map(Value.string) ?? .null, .string("2024-02-29"), .double(1.5)]
        }
        #expect(try db.query("SELECT rowid, item_id, label, seen, amount FROM item ORDER BY rowid") == expected)
        #expect(try db.query("SELECT row_id, line FROM harmonize_lineage ORDER BY rowid") == spec.map { [.int($0.0), .int($0.0 + 1)] })
    }

    /// SQLite keeps a 2 MiB page cache while rows are appended, 8 MiB once rows update others
    /// (keyed upserts land anywhere in the key's index) and for the indexes built at the end.
    @Test func thePageCacheGrowsForUpdatesOnly() throws {
        let dir = TestSupport.temporaryDirectory("sink-cache")
        let sink = SQLiteSink(outputPath: dir + "/out.sqlite")
        try sink.open(tables: [Self.table], run: Self.manifest())
        try sink.write(Self.batch([(1, "a"), (2, nil)]))
        #expect(try sink.pageCacheKiB() == SQLiteSink.smallCacheKiB)
        var update = Self.batch([(2, "b")])
        update.conflict = .update(columns: [1])
        try sink.write(update)
        #expect(try sink.pageCacheKiB() == SQLiteSink.largeCacheKiB)
        try sink.finish(run: Self.manifest())
        let db = try SQLiteConnection(path: dir + "/out.sqlite", readOnly: true)
        #expect(try db.query("SELECT item_id, label FROM item ORDER BY item_id") == [[.int(1), .string("a")], [.int(2), .string("b")]])
    }

    /// Batches that update nothing on a conflict (`update: []`) into a new output are appended
    /// and the key's index is built when the table is settled, the rows that repeat a key removed
    /// (the first kept): the same rows in the same order, counts and lineage as upserts, whether
    /// the table is next read at the end or rows that update (or plain rows) come after them; the
    /// page cache stays small while they are appended.
    @Test(arguments: ["end", "update", "insert"])
    func batchesThatUpdateNothingDeferTheKeyIndex(_ then: String) throws {
        struct Outcome: Equatable {
            var rows: [[Value]]
            var lineage: Value
            var inserted: Int
            var updated: Int
            var keyIndex: Value
        }
        func run(defers: Bool) throws -> (outcome: Outcome, smallCache: Bool) {
            let dir = TestSupport.temporaryDirectory("sink-deferred")
            let sink = SQLiteSink(outputPath: dir + "/out.sqlite", recordsLineage: true)
            sink.defersKeyIndexes = defers
            try sink.open(tables: [Self.table], run: Self.manifest())
            var first = Self.batch([(3, "a"), (1, "b"), (3, "c")])
            first.conflict = .update(columns: [])
            try sink.write(first)
            var second = Self.batch([(1, "d"), (2, "e"), (4, nil)])
            second.conflict = .update(columns: [])
            try sink.write(second)
            let small = try sink.pageCacheKiB() == SQLiteSink.smallCacheKiB
            if then == "update" {
                var u = Self.batch([(2, "f"), (5, "g")])
                u.conflict = .update(columns: [1])
                try sink.write(u)
            } else if then == "insert" {
                try sink.write(Self.batch([(6, "h")]))
            }
            let counts = try #require(try sink.writeCounts()[0])
            try sink.finish(run: Self.manifest())
            let db = try SQLiteConnection(path: dir + "/out.sqlite", readOnly: true)
            return (
                Outcome(
                    rows: try db.query("SELECT item_id, label FROM item ORDER BY rowid"),
                    lineage: try db.scalar("SELECT count(*) FROM harmonize_lineage"),
                    inserted: counts.inserted, updated: counts.updated,
                    keyIndex: try db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'pk_item'")),
                small
            )
        }
        let deferred = try run(defers: true)
        let upserts = try run(defers: false)
        #expect(deferred.outcome == upserts.outcome, "\(then)")
        let kept: [[Value]] = [
            [.int(3), .string("a")], [.int(1), .string("b")], [.int(2), .string(then == "update" ? "f" : "e")], [.int(4), .null],
        ]
        let more: [[Value]] = then == "update" ? [[.int(5), .string("g")]] : then == "insert" ? [[.int(6), .string("h")]] : []
        #expect(deferred.outcome.rows == kept + more)
        #expect(deferred.outcome.keyIndex == .int(1))
        #expect(deferred.outcome.updated == (then == "update" ? 3 : 2))
        #expect(deferred.smallCache && !upserts.smallCache)
    }

    @Test func abortLeavesThePreviousOutputUntouched() throws {
        let dir = TestSupport.temporaryDirectory("abort")
        let out = dir + "/out.sqlite"
        let first = SQLiteSink(outputPath: out)
        try first.open(tables: [Self.table], run: Self.manifest())
        try first.write(Self.batch([(1, "kept")]))
        try first.finish(run: Self.manifest())

        let second = PipelinedSink(SQLiteSink(outputPath: out))
        try second.open(tables: [Self.table], run: Self.manifest())
        try second.write(Self.batch([(7, "lost")]))
        second.abort()
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.query("SELECT item_id, label FROM item") == [[.int(1), .string("kept")]])
        // The lock file stays beside the output (removing it would let two runs lock two files).
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0 != "out.sqlite" && $0 != ".out.sqlite.lock" }
        #expect(leftovers.isEmpty)
    }

    @Test func writerErrorsSurfaceOnTheCallersThread() throws {
        let dir = TestSupport.temporaryDirectory("fail")
        let sink = PipelinedSink(SQLiteSink(outputPath: dir + "/out.sqlite"), capacity: 1)
        try sink.open(tables: [Self.table], run: Self.manifest())
        var bad = RowBatch(table: 0, columnCount: 4)
        bad.values = [.null, .null, .null, .null]  // item_id is NOT NULL
        var failed = false
        do {
            for _ in 0..<4 { try sink.write(bad) }
            try sink.finish(run: Self.manifest())
        } catch {
            failed = true
            #expect(error.message.contains("item"))
        }
        #expect(failed)
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.sqlite"))
    }

    @Test func csvSinkWritesOneSortedFilePerTable() throws {
        let dir = TestSupport.temporaryDirectory("csvsink")
        let sink = CSVSink(outputPath: dir + "/out", canonicalSort: true)
        try sink.open(tables: [Self.table], run: Self.manifest())
        try sink.write(Self.batch([(3, "c,\"d\""), (1, "a")]))
        try sink.write(Self.batch([(2, nil)]))
        try sink.finish(run: Self.manifest())
        let text = try String(contentsOfFile: dir + "/out/item.csv", encoding: .utf8)
        #expect(text == "item_id,label,seen,amount\n1,a,2024-02-29,1.5\n2,,2024-02-29,1.5\n3,\"c,\"\"d\"\"\",2024-02-29,1.5\n")
        #expect(FileManager.default.fileExists(atPath: dir + "/out/_manifest.json"))
    }
}
