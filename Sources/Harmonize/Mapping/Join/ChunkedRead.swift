import Foundation

/// A file read on a thread of its own into chunks of records (`RecordChunk`: the bytes of the
/// bound fields, each record's location, the reader's rejects in their places), handed to the
/// calling thread in the file's order. Reading the input and splitting it into fields then runs
/// beside what the calling thread does with the records: `JoinRuntime.load` decodes them and
/// inserts them into the join index meanwhile.
///
/// At most `depth` chunks wait for the calling thread, each closed past `chunkBytes` bytes of
/// fields (1 MiB by default: a few MiB in flight, whatever the file's size or its rows' width;
/// the engine's own share of `--memory-budget` holds them). The reader belongs to the reading thread from `init` until `finish` returns
/// (which stops the thread if it still runs and waits for it); the calling thread must not touch
/// it in between.
final class ChunkedRead {
    // Safe to share: every mutable member is used with `condition` locked, and the reader only by the reading thread until `finish` has waited for it.
    private final class State: @unchecked Sendable {
        let condition = NSCondition()
        let reader: any RecordReader
        var ready: [RecordChunk] = []
        var ended = false
        var failure: (any Error)?
        var cancelled = false

        init(reader: any RecordReader) { self.reader = reader }
    }

    private let state: State
    private let done = DispatchSemaphore(value: 0)
    private var finished = false

    /// Starts reading `reader`, whose fields at `columns` go into chunks of `chunkRecords`
    /// records (fewer past `chunkBytes` bytes of fields).
    init(reader: any RecordReader, columns: [Int], chunkRecords: Int = 4096, chunkBytes: Int = 1 << 20, depth: Int = 4) {
        let state = State(reader: reader)
        self.state = state
        let done = self.done
        let size = max(1, chunkRecords)
        let bytes = max(1, chunkBytes)
        let limit = max(1, depth)
        NamedThread.start("harmonize-read", stackSize: 1 << 23) {
            Self.read(state, columns: columns, chunkRecords: size, chunkBytes: bytes, depth: limit)
            done.signal()
        }
    }

    deinit { finish() }

    /// The next chunk in the file's order, nil after the last one. An error of the reader is
    /// thrown once the chunks read before it have been taken.
    func next() throws -> RecordChunk? {
        let s = state
        s.condition.lock()
        defer { s.condition.unlock() }
        while s.ready.isEmpty && !s.ended { s.condition.wait() }
        if !s.ready.isEmpty {
            let chunk = s.ready.removeFirst()
            s.condition.broadcast()
            return chunk
        }
        if let f = s.failure {
            s.failure = nil
            throw f
        }
        return nil
    }

    /// Stops the reading thread if it still runs, and waits for it: the reader is the caller's
    /// again (its `bytesRead`, its hash).
    func finish() {
        guard !finished else { return }
        finished = true
        let s = state
        s.condition.lock()
        s.cancelled = true
        s.condition.broadcast()
        s.condition.unlock()
        done.wait()
    }

    /// The reading thread: fills chunks until the end of the file, an error, or `finish`.
    private static func read(_ s: State, columns: [Int], chunkRecords: Int, chunkBytes: Int, depth: Int) {
        let reader = s.reader
        var records = 0
        var sequence = 0
        while true {
            let chunk = RecordChunk(sequence: sequence, fieldCount: columns.count, recordsBefore: records, capacity: chunkRecords)
            var ended = false
            var failure: (any Error)?
            do {
                ended = try chunk.fill(from: reader, columns: columns, limit: chunkRecords, bytes: chunkBytes, records: &records)
            } catch {
                failure = error
            }
            s.condition.lock()
            while s.ready.count >= depth && !s.cancelled { s.condition.wait() }
            if s.cancelled {
                s.condition.unlock()
                return
            }
            if chunk.count > 0 { s.ready.append(chunk) }
            if ended || failure != nil {
                s.ended = true
                s.failure = failure
            }
            s.condition.broadcast()
            s.condition.unlock()
            if ended || failure != nil { return }
            sequence += 1
        }
    }
}

@available(*, unavailable)
extension ChunkedRead: Sendable {}
