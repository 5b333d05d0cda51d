import Foundation
import Testing

@testable import Harmonize

/// The engine's threads carry their names for the system (`top -H`, `ps -L`, `perf`,
/// `/proc/PID/task/TID/comm`), where Foundation's `Thread.name` alone left every thread with the
/// program's name.
@Suite struct NamedThreadTests {
    /// A sink that notes the system name of the thread that writes its batches, and the names
    /// of the process's threads at that moment.
    final class ThreadNoting: Sink {
        var writerName: String?
        var threadNames: [String] = []
        func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {}
        func write(_ batch: RowBatch) throws(SinkError) {
            writerName = NamedThreadTests.currentSystemName()
            threadNames = NamedThreadTests.systemThreadNames()
        }
        func writeRejects(_ rejects: [RunReject]) throws(SinkError) {}
        var supportsUpdates: Bool { true }
        func finish(run: RunManifest) throws(SinkError) {}
        func abort() {}
    }

    /// The calling thread's name as the system shows it (nil where it cannot be read).
    static func currentSystemName() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8) else { return nil }
        return text.trimmingCharacters(in: .newlines)
    }

    /// The names of this process's threads as the system shows them.
    static func systemThreadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The writer of a pipelined sink runs on `harmonize-sink`, seen from inside (the thread's
    /// own name) and as the system lists the process's threads (`/proc/self/task/*/comm`).
    @Test func thePipelinedSinksWriterIsNamedForTheSystem() throws {
        #if os(Linux)
            let inner = ThreadNoting()
            let sink = PipelinedSink(inner, capacity: 1)
            try sink.open(tables: [SQLiteSinkTests.table], run: SQLiteSinkTests.manifest())
            try sink.write(SQLiteSinkTests.batch([(1, "a")]))
            _ = try sink.writeCounts()  // the queue drained: the batch was written
            #expect(inner.writerName == "harmonize-sink")
            #expect(inner.threadNames.contains("harmonize-sink"), "\(inner.threadNames)")
            sink.abort()
        #endif
    }

    /// A name longer than the system keeps is cut to its first fifteen bytes; the thread runs
    /// its work under it.
    @Test func aLongNameIsCutToWhatTheSystemKeeps() {
        #if os(Linux)
            let seen = NameBox()
            let done = DispatchSemaphore(value: 0)
            NamedThread.start("harmonize-a-rather-long-name", stackSize: 1 << 20) {
                seen.value = NamedThreadTests.currentSystemName()
                done.signal()
            }
            done.wait()
            #expect(seen.value == "harmonize-a-rat")
            #expect(NamedThread.systemNameBytes == 15)
        #endif
    }

    // Safe to share: written by the thread before it signals, read after the wait.
    final class NameBox: @unchecked Sendable {
        var value: String?
    }
}
