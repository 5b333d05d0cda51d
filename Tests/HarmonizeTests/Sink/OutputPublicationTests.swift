import Foundation
import Testing

@testable import Harmonize

/// The SQLite sink's publication: one writer per output, stale staging files removed, files
/// created owner-only, the `beforePublish` step writing into the staging database, never into a
/// published file (issue 15, items 1 and 2).
@Suite struct OutputPublicationTests {
    static func files(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    @Test func beforePublishWritesIntoTheStagingDatabaseBeforeTheRename() throws {
        let dir = TestSupport.temporaryDirectory("before-publish")
        let out = dir + "/out.sqlite"
        let sink = SQLiteSink(outputPath: out)
        var seen: String?
        sink.beforePublish = { staging throws(SinkError) in
            seen = staging
            #expect(!FileManager.default.fileExists(atPath: out), "not published yet")
            do {
                let db = try SQLiteConnection(path: staging)
                #expect(try db.scalar("SELECT count(*) FROM item") == .int(2), "every row is committed")
                try db.execute("CREATE TABLE checked(n INTEGER); INSERT INTO checked VALUES (2);")
            } catch {
                throw SinkError("\(error)")
            }
        }
        try sink.open(tables: [SQLiteSinkTests.table], run: SQLiteSinkTests.manifest())
        try sink.write(SQLiteSinkTests.batch([(1, "a"), (2, "b")]))
        try sink.finish(run: SQLiteSinkTests.manifest())
        #expect(seen?.hasPrefix(dir + "/.out.sqlite.staging-") == true)
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.scalar("SELECT n FROM checked") == .int(2))
        #expect(Self.files(dir) == [".out.sqlite.lock", "out.sqlite"])
        #expect(try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int == 0o600)
    }

    @Test func aFailingBeforePublishPublishesNothing() throws {
        let dir = TestSupport.temporaryDirectory("before-publish-fails")
        let out = dir + "/out.sqlite"
        TestSupport.write("previous", to: out)
        let sink = SQLiteSink(outputPath: out)
        sink.beforePublish = { _ throws(SinkError) in throw SinkError("quality results could not be stored") }
        try sink.open(tables: [SQLiteSinkTests.table], run: SQLiteSinkTests.manifest())
        try sink.write(SQLiteSinkTests.batch([(1, "a")]))
        let error = #expect(throws: SinkError.self) { try sink.finish(run: SQLiteSinkTests.manifest()) }
        #expect(error?.message == "quality results could not be stored")
        #expect(FileManager.default.contents(atPath: out) == Data("previous".utf8))
        #expect(Self.files(dir) == [".out.sqlite.lock", "out.sqlite"])
        // The lock was released: the next run can write the output.
        let next = SQLiteSink(outputPath: out)
        try next.open(tables: [SQLiteSinkTests.table], run: SQLiteSinkTests.manifest())
        next.abort()
    }

    @Test func oneWriterPerOutputAndStaleStagingFilesRemoved() throws {
        let dir = TestSupport.temporaryDirectory("one-writer")
        let out = dir + "/out.sqlite"
        TestSupport.write("stale", to: dir + "/.out.sqlite.staging-0badc0de")
        TestSupport.write("stale", to: dir + "/.out.sqlite.staging-0badc0de-journal")
        let first = SQLiteSink(outputPath: out)
        first.fileMode = 0o640
        try first.open(tables: [SQLiteSinkTests.table], run: SQLiteSinkTests.manifest())
        #expect(!Self.files(dir).contains(".out.sqlite.staging-0badc0de"))
        #expect(!Self.files(dir).contains(".out.sqlite.staging-0badc0de-journal"))
        let second = SQLiteSink(outputPath: out)
        let error = #expect(throws: SinkError.self) { try second.open(tables: [SQLiteSinkTests.table], run: SQLiteSinkTests.manifest()) }
        #expect(error?.isIO == true)
        #expect(error?.message.contains("another run is writing") == true)
        #expect(throws: SinkError.self) { try OutputLock.withLock(output: out) {} }
        #expect(Self.files(dir).filter { $0.contains("staging") }.count == 1, "the first run's staging file is untouched")
        try first.write(SQLiteSinkTests.batch([(1, "a")]))
        try first.finish(run: SQLiteSinkTests.manifest())
        #expect(try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int == 0o640)
        try OutputLock.withLock(output: out) {}
    }
}
