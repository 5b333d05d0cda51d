import Foundation
import Testing

@testable import Harmonize

#if canImport(Glibc)
    import Glibc
#endif

/// Nothing writes into a published file, and nothing a killed run, a concurrent run, a full disk,
/// a read-only folder, a changing input or a special file does can publish or keep a wrong output
/// (issue 15, items 1 to 4), seen from the command line.
@Suite(.serialized) struct PublicationSafetyTests {
    static let mappings = TestSupport.path("mappings/research")
    static let input = TestSupport.path("fixtures/research/input")

    static func runArguments(_ out: String, input: String = input) -> [String] {
        ["run", "--mappings", mappings, "--input", input, "--output", out, "--no-progress"]
    }

    /// A copy of the research input folder.
    static func copyInput(to dir: String) throws -> String {
        let input = dir + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        for f in ["patients.csv", "mesures.csv", "questionnaire.csv"] {
            try FileManager.default.copyItem(atPath: Self.input + "/" + f, toPath: input + "/" + f)
        }
        return input
    }

    static func files(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    static func integrity(_ path: String) throws -> String {
        let db = try SQLiteConnection(path: path, readOnly: true)
        return try db.scalar("PRAGMA integrity_check").text ?? ""
    }

    @Test func qualityResultsAreStoredBeforePublicationAndTheOutputIsOwnerOnly() throws {
        let dir = TestSupport.temporaryDirectory("publish")
        let out = dir + "/o.sqlite"
        let r = try TestSupport.runCLI(Self.runArguments(out))
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM harmonize_quality WHERE run_id = (SELECT run_id FROM harmonize_run)").intValue ?? 0 > 0)
        #expect(Self.files(dir) == [".o.sqlite.lock", "o.sqlite"], "no staging file, no journal")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        let shared = try TestSupport.runCLI(Self.runArguments(out) + ["--output-mode", "640"])
        #expect(shared.status == 0, "\(shared.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int == 0o640)
        let bad = try TestSupport.runCLI(Self.runArguments(out) + ["--output-mode", "rw"])
        #expect(bad.status == 2)
    }

    /// The state a writer killed in the middle of a transaction leaves: a database file with
    /// some pages changed and the hot journal holding their old content.
    static func makeHotJournal(beside out: String, scratch: String) throws {
        try FileManager.default.copyItem(atPath: out, toPath: scratch)
        let db = try SQLiteConnection(path: scratch)
        try db.execute("PRAGMA journal_mode=DELETE; PRAGMA cache_size=2; BEGIN;")
        try db.execute("UPDATE harmonize_quality SET reason = printf('%.600c', 'x'); UPDATE measurement SET value_as_number = -1;")
        // The cache spilled: the file holds changed pages, the journal their old content.
        try FileManager.default.removeItem(atPath: out)
        try FileManager.default.copyItem(atPath: scratch, toPath: out)
        try FileManager.default.copyItem(atPath: scratch + "-journal", toPath: out + "-journal")
        try db.execute("ROLLBACK")
    }

    @Test func aStepFailingAfterPublicationNeverReportsSuccess() throws {
        let dir = TestSupport.temporaryDirectory("after-publication")
        let out = dir + "/o.sqlite"
        let events = dir + "/events.jsonl"
        let run = try CLIProcess(Self.runArguments(out) + ["--openlineage", events])
        // START is written; once the run reads, the events file becomes a folder: COMPLETE fails.
        let deadline = Date().addingTimeInterval(30)
        while !Self.files(dir).contains(where: { $0.hasPrefix(".o.sqlite.staging-") }), Date() < deadline, run.process.isRunning { usleep(500) }
        try FileManager.default.removeItem(atPath: events)
        try FileManager.default.createDirectory(atPath: events, withIntermediateDirectories: false)
        let (r, timedOut) = run.wait(timeout: 60)
        #expect(!timedOut)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("the output was published, but the OpenLineage COMPLETE event was not written"), "\(r.stderr)")
        #expect(!r.stderr.contains("succeeded"))
        #expect(try Self.integrity(out) == "ok")
    }

    @Test func aJournalLeftBesideTheOutputIsSettledBeforeTheRename() throws {
        let dir = TestSupport.temporaryDirectory("hot-journal")
        let out = dir + "/o.sqlite"
        #expect(try TestSupport.runCLI(Self.runArguments(out)).status == 0)
        try Self.makeHotJournal(beside: out, scratch: dir + "/scratch.sqlite")
        let journal = try #require(try FileManager.default.attributesOfItem(atPath: out + "-journal")[.size] as? Int)
        #expect(journal > 0)
        TestSupport.write(bytes: [UInt8](repeating: 7, count: 4096), to: out + "-wal")
        TestSupport.write(bytes: [UInt8](repeating: 7, count: 4096), to: out + "-shm")
        let r = try TestSupport.runCLI(Self.runArguments(out))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("readonly"))
        for side in ["-journal", "-wal", "-shm"] { #expect(!FileManager.default.fileExists(atPath: out + side), "\(side) removed") }
        #expect(try Self.integrity(out) == "ok")
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM measurement WHERE value_as_number = -1") == .int(0))
        #expect(try db.scalar("SELECT count(*) FROM measurement") == .int(28))
        #expect(try db.scalar("SELECT count(*) FROM harmonize_quality").intValue ?? 0 > 0)
    }

    @Test func stagingFilesOfKilledRunsAreRemovedByTheNextRun() throws {
        let dir = TestSupport.temporaryDirectory("stale-staging")
        let out = dir + "/o.sqlite"
        for name in [
            ".o.sqlite.staging-deadbeef", ".o.sqlite.staging-deadbeef-journal", ".o.sqlite.staging-1f2e", ".o.sqlite.staging-notes",
            ".p.sqlite.staging-beef",
        ] {
            TestSupport.write("stale", to: dir + "/" + name)
        }
        let r = try TestSupport.runCLI(Self.runArguments(out))
        #expect(r.status == 0, "\(r.stderr)")
        // Only the output's own staging files (hex nonce, optional journal suffix) go.
        #expect(Self.files(dir) == [".o.sqlite.lock", ".o.sqlite.staging-notes", ".p.sqlite.staging-beef", "o.sqlite"])
    }

    @Test func aSecondRunOnTheSameOutputExitsThreeAtOnce() throws {
        let dir = TestSupport.temporaryDirectory("locked")
        let out = dir + "/o.sqlite"
        #expect(try TestSupport.runCLI(Self.runArguments(out)).status == 0)
        let before = Self.bytes(out)
        // Another run holds the output's lock.
        let fd = open(dir + "/.o.sqlite.lock", O_RDWR)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        TestSupport.write("stale", to: dir + "/.o.sqlite.staging-abc")
        let (r, timedOut) = try CLIProcess.run(Self.runArguments(out), timeout: 30)
        #expect(!timedOut)
        #expect(r.status == 3)
        #expect(r.stderr.contains("another run is writing"), "\(r.stderr)")
        #expect(!r.stderr.contains("succeeded"))
        #expect(Self.bytes(out) == before)
        #expect(FileManager.default.fileExists(atPath: dir + "/.o.sqlite.staging-abc"), "the lock holder's files are not touched")
        // `quality` writes into the output: not while a run holds it.
        let (q, qTimedOut) = try CLIProcess.run(["quality", "--output", out], timeout: 30)
        #expect(!qTimedOut)
        #expect(q.status == 3)
        #expect(q.stderr.contains("another run is writing"), "\(q.stderr)")
        #expect(Self.bytes(out) == before)
        flock(fd, LOCK_UN)
        #expect(try TestSupport.runCLI(Self.runArguments(out)).status == 0)
        #expect(!FileManager.default.fileExists(atPath: dir + "/.o.sqlite.staging-abc"))
    }

    enum Special: String, CaseIterable, Sendable {
        case fifo, devZero, devUrandom
    }

    @Test(arguments: Special.allCases)
    func specialFilesAreRefusedByRunAndInspect(kind: Special) throws {
        let dir = TestSupport.temporaryDirectory("special")
        let input = try Self.copyInput(to: dir)
        let out = dir + "/o.sqlite"
        #expect(try TestSupport.runCLI(Self.runArguments(out, input: input)).status == 0)
        let before = Self.bytes(out)
        let target = input + "/mesures.csv"
        try FileManager.default.removeItem(atPath: target)
        switch kind {
        case .fifo: #expect(mkfifo(target, 0o600) == 0)
        case .devZero: #expect(symlink("/dev/zero", target) == 0)
        case .devUrandom: #expect(symlink("/dev/urandom", target) == 0)
        }
        // A run, and an incremental run (which hashes the inputs first), alike.
        for extra in [[], ["--incremental"]] {
            let (r, timedOut) = try CLIProcess.run(Self.runArguments(out, input: input) + extra, timeout: 30)
            #expect(!timedOut, "the run does not hang \(extra)")
            if kind == .fifo {
                #expect(r.status == 3)
                #expect(r.stderr.contains("mesures.csv") && r.stderr.contains("not a regular file"), "\(r.stderr)")
            } else {
                // A link to a device leads outside --input: refused before reading by path containment.
                #expect(r.status == 2)
                #expect(r.stderr.contains("mesures.csv") && r.stderr.contains("HZ1081"), "\(r.stderr)")
            }
        }
        #expect(Self.bytes(out) == before)
        #expect(Self.files(dir) == [".o.sqlite.lock", "in", "o.sqlite"])
        for format in [[], ["--format", "xml"], ["--format", "hl7v2"], ["--format", "csv"]] {
            let (i, inspectTimedOut) = try CLIProcess.run(["inspect", target] + format, timeout: 30)
            #expect(!inspectTimedOut, "inspect does not hang")
            #expect(i.status == 3)
            #expect(i.stderr.contains("not a regular file"))
        }
    }

    @Test func aFullFileSystemFailsTheRunAndKeepsThePreviousOutput() throws {
        let dir = TestSupport.temporaryDirectory("full")
        let out = dir + "/o.sqlite"
        #expect(try TestSupport.runCLI(Self.runArguments(out)).status == 0)
        let before = Self.bytes(out)
        // The research output is about 660 KB: any limit below it fails a write somewhere.
        for limit in [16, 200, 500] {
            let (r, timedOut) = try CLIProcess.run(Self.runArguments(out), timeout: 60, fileSizeLimitKB: limit)
            #expect(!timedOut)
            #expect(r.status == 3, "limit \(limit) KB: \(r.stderr)")
            #expect(!r.stderr.contains("succeeded"))
            #expect(Self.bytes(out) == before)
            #expect(Self.files(dir) == [".o.sqlite.lock", "o.sqlite"], "limit \(limit) KB")
        }
    }

    /// The CSV output on a full file system: the run fails with the I/O code and a message naming
    /// the file, leaves no staging folder and no output (before, `FileHandle.write` stopped the
    /// process with `SIGILL`, its staging folder left behind).
    @Test func aFullFileSystemFailsACSVRunCleanly() throws {
        let dir = TestSupport.temporaryDirectory("full-csv")
        let out = dir + "/csv"
        let (whole, _) = try CLIProcess.run(Self.runArguments(out) + ["--sink", "csv"], timeout: 60)
        #expect(whole.status == 0, "\(whole.stderr)")
        let tables = Self.files(out).filter { !$0.hasPrefix("_") }.compactMap { Self.bytes(out + "/" + $0)?.count }
        #expect(tables.max() ?? 0 > 1 << 10)
        #expect(Self.bytes(out + "/_manifest.json")?.count ?? 0 > 4 << 10)
        try FileManager.default.removeItem(atPath: out)
        // At 1 KB a table's file fails; at 4 KB a table's or the manifest's, whichever passes it first.
        for limit in [1, 4] {
            let (r, timedOut) = try CLIProcess.run(Self.runArguments(out) + ["--sink", "csv"], timeout: 60, fileSizeLimitKB: limit)
            #expect(!timedOut)
            #expect(r.status == 3, "limit \(limit) KB: \(r.stderr)")
            #expect(r.stderr.contains("cannot write the CSV output: write "), "\(r.stderr)")
            #expect(!r.stderr.contains("succeeded"))
            #expect(Self.files(dir).isEmpty, "limit \(limit) KB: \(Self.files(dir))")
        }
    }

    /// Results that cannot be written to standard output (a redirection to a full disk) fail the
    /// command with the I/O code and a message on standard error.
    @Test func resultsThatCannotBeWrittenFailWithThree() throws {
        let (r, timedOut) = try CLIProcess.run(["ddl"], timeout: 60, fileSizeLimitKB: 1)
        #expect(!timedOut)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("cannot write to standard output"), "\(r.stderr)")
    }

    @Test func aReadOnlyOutputFolderFailsWithThree() throws {
        let dir = TestSupport.temporaryDirectory("read-only")
        let folder = dir + "/out"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let out = folder + "/o.sqlite"
        #expect(try TestSupport.runCLI(Self.runArguments(out)).status == 0)
        let before = Self.bytes(out)
        // Permissions do not stop root: as root, a read-only bind mount of the folder.
        var mounted = false
        if geteuid() == 0 {
            let mount = try TestSupport.runShell("mount --bind '\(folder)' '\(folder)' && mount -o remount,bind,ro '\(folder)'")
            guard mount.status == 0 else {
                _ = try? TestSupport.runShell("umount '\(folder)'")
                Issue.record("cannot mount a read-only folder as root here: \(mount.stderr)")
                return
            }
            mounted = true
        } else {
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: folder)
        }
        defer {
            if mounted { _ = try? TestSupport.runShell("umount '\(folder)'") }
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder)
        }
        let (r, timedOut) = try CLIProcess.run(Self.runArguments(out), timeout: 60)
        #expect(!timedOut)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(!r.stderr.contains("succeeded"))
        #expect(Self.bytes(out) == before)
    }

    enum Change: String, CaseIterable, Sendable {
        case truncated, replaced, appended
    }

    /// A research input with a large `mesures.csv` (`rows` measurements), so that reading it
    /// takes long enough to change it in the middle.
    static func largeInput(_ dir: String, rows: Int) throws -> String {
        let input = try copyInput(to: dir)
        let head = try #require(
            String(data: try Data(contentsOf: URL(fileURLWithPath: input + "/mesures.csv")), encoding: .utf8)?.split(separator: "\n").first)
        var text = String(head) + "\n"
        text.reserveCapacity(rows * 48)
        for i in 1...rows { text += "\(i);P000\(i % 9 + 1);05/01/2020;08:30;POIDS;82,4;kg;;\n" }
        try Data(text.utf8).write(to: URL(fileURLWithPath: input + "/mesures.csv"))
        return input
    }

    @Test(arguments: Change.allCases)
    func anInputChangedDuringTheReadStopsTheRun(change: Change) throws {
        let dir = TestSupport.temporaryDirectory("changing")
        let input = try Self.largeInput(dir, rows: 20_000)
        let out = dir + "/o.sqlite"
        #expect(try TestSupport.runCLI(Self.runArguments(out)).status == 0)
        let before = Self.bytes(out)
        let target = input + "/mesures.csv"
        let run = try CLIProcess(Self.runArguments(out, input: input))
        // The staging file exists once the sink is open, just before the inputs are read.
        let deadline = Date().addingTimeInterval(30)
        while !Self.files(dir).contains(where: { $0.hasPrefix(".o.sqlite.staging-") }), Date() < deadline, run.process.isRunning { usleep(1_000) }
        usleep(50_000)  // the inputs are being read (20,000 records take seconds)
        switch change {
        case .truncated:
            #expect(truncate(target, 200_000) == 0)
        case .replaced:
            try FileManager.default.copyItem(atPath: target, toPath: dir + "/copy.csv")
            #expect(rename(dir + "/copy.csv", target) == 0)
        case .appended:
            let h = try #require(FileHandle(forWritingAtPath: target))
            try h.seekToEnd()
            try h.write(contentsOf: Data("999999999;P0001;05/01/2020;08:30;POIDS;82,4;kg;;\n".utf8))
            try h.close()
        }
        let (r, timedOut) = run.wait(timeout: 120)
        #expect(!timedOut)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("mesures.csv") && r.stderr.contains("changed"), "\(r.stderr)")
        #expect(!r.stderr.contains("succeeded"))
        #expect(Self.bytes(out) == before, "the previous output stays")
        #expect(Self.files(dir) == [".o.sqlite.lock", "in", "o.sqlite"])
    }
}

extension TestSupport {
    /// Runs a shell command line (`/bin/sh -c`).
    static func runShell(_ command: String) throws -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CommandResult(status: p.terminationStatus, stdout: "", stderr: String(decoding: e, as: UTF8.self))
    }
}
