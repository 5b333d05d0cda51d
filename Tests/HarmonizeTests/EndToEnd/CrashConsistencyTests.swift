import Foundation
import Testing

@testable import Harmonize

#if canImport(Glibc)
    import Glibc
#endif

/// A run killed with SIGKILL at any point (reading, loading, indexing, the quality checks,
/// publication) never leaves a wrong output: the output is absent, the previous one or the new
/// complete one, it passes `PRAGMA integrity_check`, no journal is ever left beside it, and a
/// clean run afterwards gives the same output as an uninterrupted run and removes every staging
/// file (issue 15, items 1 and 2). `Scripts/crash_loop.py` runs the same loop for longer.
@Suite(.serialized) struct CrashConsistencyTests {
    static func arguments(_ out: String) -> [String] {
        [
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"), "--output", out,
            "--no-progress",
        ]
    }

    /// What a run's output holds, without run ids and times: every table the mappings write, the
    /// ledger and the data-quality results.
    static func content(_ path: String) throws -> [String: [[Value]]] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        var out: [String: [[Value]]] = [:]
        for table in ["person", "measurement", "observation", "observation_period"] {
            out[table] = try db.query("SELECT * FROM \(table) ORDER BY 1")
        }
        out["ledger"] = try db.query("SELECT mapping, file, read, written, rejected, filtered FROM harmonize_ledger ORDER BY 1, 2")
        out["quality"] = try db.query("SELECT check_id, status, rows_checked, rows_violating FROM harmonize_quality ORDER BY 1")
        return out
    }

    static func runID(_ path: String) -> String? {
        guard FileManager.default.fileExists(atPath: path), let db = try? SQLiteConnection(path: path, readOnly: true) else { return nil }
        return (try? db.scalar("SELECT run_id FROM harmonize_run"))?.text
    }

    /// Where the killed run was, judged from what it left: its staging file (with a journal: the
    /// quality results were being stored; with quality results: publishing), or a new output.
    static func phase(dir: String, out: String, runBefore: String?) -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        if runID(out) != runBefore { return "published" }
        guard let staging = names.first(where: { $0.hasPrefix(".o.sqlite.staging-") && !$0.hasSuffix("-journal") }) else { return "starting" }
        if names.contains(staging + "-journal") { return "quality" }
        guard let db = try? SQLiteConnection(path: dir + "/" + staging, readOnly: true),
            let tables = try? db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap({ $0.first?.text })
        else { return "loading" }
        if tables.contains("harmonize_quality") { return "publishing" }
        if (try? db.scalar("SELECT count(*) FROM harmonize_run"))?.intValue ?? 0 > 0 { return "indexing or quality" }
        return "loading"
    }

    @Test func runsKilledAtThirtyTwoPointsNeverLeaveAWrongOutput() throws {
        let dir = TestSupport.temporaryDirectory("crash")
        let reference = TestSupport.temporaryDirectory("crash-reference") + "/o.sqlite"
        let started = Date()
        let (ref, _) = try CLIProcess.run(Self.arguments(reference), timeout: 120)
        let duration = Date().timeIntervalSince(started)
        #expect(ref.status == 0, "\(ref.stderr)")
        let expected = try Self.content(reference)
        let out = dir + "/o.sqlite"
        let points = 32
        var phases: [String: Int] = [:]
        for i in 0..<points {
            // Spread over the whole run, and a little past its usual end.
            let delay = duration * (0.02 + 1.08 * Double(i) / Double(points - 1)) + Double.random(in: 0...0.01)
            let before = Self.runID(out)
            let run = try CLIProcess(Self.arguments(out))
            usleep(useconds_t(delay * 1_000_000))
            run.kill()
            _ = run.wait(timeout: 60)
            phases[Self.phase(dir: dir, out: out, runBefore: before), default: 0] += 1
            #expect(!FileManager.default.fileExists(atPath: out + "-journal"), "kill \(i): nothing ever writes into the published file")
            #expect(!FileManager.default.fileExists(atPath: out + "-wal"))
            if FileManager.default.fileExists(atPath: out) {
                let db = try SQLiteConnection(path: out, readOnly: true)
                #expect(try db.scalar("PRAGMA integrity_check") == .string("ok"), "kill \(i) after \(delay) s")
                #expect(try Self.content(out) == expected, "kill \(i): the output is a complete run's")
            }
        }
        let clean = try TestSupport.runCLI(Self.arguments(out))
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(try Self.content(out) == expected)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(left == [".o.sqlite.lock", "o.sqlite"], "no staging file or journal after a clean run")
        let summary = phases.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("crash consistency: \(points) kills over \(String(format: "%.2f", duration)) s runs: \(summary)")
    }
}
