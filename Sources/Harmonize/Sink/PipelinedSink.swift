import Foundation

/// Runs a sink on its own thread behind a bounded queue, so parsing and mapping (the caller's
/// thread) overlap with writing (the sink's thread). At most `capacity` batches wait in the queue:
/// memory stays bounded whatever the input size.
///
/// The wrapped sink is used only from the writer thread after `open`. The first error the writer
/// meets is kept and rethrown by the next `write` or by `finish`.
package final class PipelinedSink: Sink {
    private enum Message: Sendable {
        case rows(RowBatch)
        case rejects([RunReject])
        case unmapped([UnmappedCode])
        case derive(Derivation, Bool, DeriveReply)
        /// Work on the wrapped sink, on the writer thread after the queued batches (orphans).
        case perform(@Sendable (any Sink) -> Void, DeriveReply)
    }

    /// Where the writer thread leaves the result of a derivation for the caller. Safe to share:
    /// the writer sets `result` before signalling `done`, the caller reads it after waiting.
    // Safe to share: `result` is written before `done` is signalled and read after the wait.
    private final class DeriveReply: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var result: Result<Int, SinkError> = .success(0)
    }

    /// The queue between the mapping thread and the writer. Safe to share: every mutable member
    /// is read and written with `condition` locked.
    // Safe to share: every mutable member is used with `condition` locked.
    private final class Channel: @unchecked Sendable {
        let condition = NSCondition()
        var queue: [Message] = []
        var closed = false
        var failure: SinkError?
        let capacity: Int
        init(capacity: Int) { self.capacity = capacity }
    }

    /// Holds the non-Sendable sink for the writer thread.
    // Safe to share: only the writer thread touches the sink after `open`.
    private final class SinkBox: @unchecked Sendable {
        let sink: any Sink
        init(_ sink: any Sink) { self.sink = sink }
    }

    private let box: SinkBox
    private let channel: Channel
    /// Whether the writer thread was started (and not yet waited for).
    private var started = false
    private let done = DispatchSemaphore(value: 0)

    /// Wraps `sink`; `capacity` batches may wait in the queue.
    public init(_ sink: any Sink, capacity: Int = 4) {
        self.box = SinkBox(sink)
        self.channel = Channel(capacity: max(1, capacity))
    }

    /// Passes the columns left null to the wrapped sink (before `open`, on the calling thread).
    public func noteColumnsLeftNull(_ columns: [String: Set<String>]) {
        box.sink.noteColumnsLeftNull(columns)
    }

    /// Opens the wrapped sink on the caller's thread, then starts the writer thread.
    public func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {
        try box.sink.open(tables: tables, run: run)
        let channel = self.channel
        let box = self.box
        let done = self.done
        started = true
        NamedThread.start("harmonize-sink", stackSize: 1 << 22) {
            while true {
                channel.condition.lock()
                while channel.queue.isEmpty && !channel.closed { channel.condition.wait() }
                if channel.queue.isEmpty && channel.closed {
                    channel.condition.unlock()
                    break
                }
                // The queue holds at most `capacity` messages: removing the first is cheap, and a
                // consumed batch is released as soon as it is written.
                let message = channel.queue.removeFirst()
                let failed = channel.failure != nil
                channel.condition.broadcast()
                channel.condition.unlock()
                if failed {
                    if case .derive(_, _, let reply) = message {
                        reply.result = .failure(SinkError("the output failed before the derivation"))
                        reply.done.signal()
                    }
                    if case .perform(_, let reply) = message {
                        reply.result = .failure(SinkError("the output failed before this step"))
                        reply.done.signal()
                    }
                    continue
                }
                do throws(SinkError) {
                    switch message {
                    case .rows(let b): try box.sink.write(b)
                    case .rejects(let r): try box.sink.writeRejects(r)
                    case .unmapped(let u): try box.sink.writeUnmapped(u)
                    case .derive(let d, let person, let reply):
                        do throws(SinkError) {
                            reply.result = .success(try box.sink.derive(d, personTable: person))
                        } catch {
                            reply.result = .failure(error)
                        }
                        reply.done.signal()
                    case .perform(let work, let reply):
                        work(box.sink)
                        reply.done.signal()
                    }
                } catch {
                    channel.condition.lock()
                    channel.failure = error
                    channel.condition.broadcast()
                    channel.condition.unlock()
                }
            }
            done.signal()
        }
    }

    private func enqueue(_ m: Message) throws(SinkError) {
        channel.condition.lock()
        defer { channel.condition.unlock() }
        while channel.queue.count >= channel.capacity && channel.failure == nil {
            channel.condition.wait()
        }
        if let f = channel.failure { throw f }
        channel.queue.append(m)
        channel.condition.broadcast()
    }

    /// Queues a batch (blocks while the queue is full).
    public func write(_ batch: RowBatch) throws(SinkError) { try enqueue(.rows(batch)) }

    /// Queues rejects.
    public func writeRejects(_ rejects: [RunReject]) throws(SinkError) { try enqueue(.rejects(rejects)) }

    /// Queues the unmapped codes.
    public func writeUnmapped(_ codes: [UnmappedCode]) throws(SinkError) { try enqueue(.unmapped(codes)) }

    /// Runs the derivation on the writer thread, after the batches queued before it.
    public func derive(_ derivation: Derivation, personTable: Bool) throws(SinkError) -> Int {
        let reply = DeriveReply()
        try enqueue(.derive(derivation, personTable, reply))
        reply.done.wait()
        return try reply.result.get()
    }

    private func drain() -> SinkError? {
        channel.condition.lock()
        channel.closed = true
        channel.condition.broadcast()
        channel.condition.unlock()
        if started {
            done.wait()
            started = false
        }
        return channel.failure
    }

    /// Whether the wrapped sink can update rows.
    public var supportsUpdates: Bool { box.sink.supportsUpdates }
    /// The wrapped sink's.
    public var discardsRows: Bool { box.sink.discardsRows }

    /// Waits for the queue to drain (no row may be written afterwards), then asks the wrapped sink.
    public func writeCounts() throws(SinkError) -> [Int: TableWriteCount] {
        if let f = drain() { throw f }
        return try box.sink.writeCounts()
    }

    /// Waits for the queue to drain, then finishes the wrapped sink.
    public func finish(run: RunManifest) throws(SinkError) {
        if let f = drain() {
            box.sink.abort()
            throw f
        }
        try box.sink.finish(run: run)
    }

    /// Stops the writer and aborts the wrapped sink.
    public func abort() {
        _ = drain()
        box.sink.abort()
    }
}

@available(*, unavailable)
extension PipelinedSink: Sendable {}

extension PipelinedSink: OrphanCapableSink {
    /// Runs `work` on the writer thread after the batches queued before it.
    private func perform<T: Sendable>(_ work: @escaping @Sendable (any Sink) throws(SinkError) -> T) throws(SinkError) -> T {
        let reply = DeriveReply()
        let result = ResultBox<T>()
        try enqueue(
            .perform(
                { sink in
                    do throws(SinkError) {
                        result.value = .success(try work(sink))
                    } catch {
                        result.value = .failure(error)
                    }
                }, reply))
        reply.done.wait()
        if case .failure(let e) = reply.result { throw e }
        guard let value = result.value else { throw SinkError("the output did not answer") }
        return try value.get()
    }

    /// Asks the wrapped sink, when it can find orphans; otherwise none.
    public func orphans(_ rule: ForeignKey) throws(SinkError) -> [OrphanRow] {
        try perform { sink throws(SinkError) in try (sink as? OrphanCapableSink)?.orphans(rule) ?? [] }
    }

    /// Asks the wrapped sink to delete the rows.
    public func remove(_ rows: [OrphanRow]) throws(SinkError) {
        try perform { sink throws(SinkError) in try (sink as? OrphanCapableSink)?.remove(rows) }
    }
}

extension PipelinedSink: ReusingSink {
    /// Asks the wrapped sink, after the batches queued before; refuses when it cannot.
    public func reuse(_ reuse: OutputReuse) throws(SinkError) -> [Int: Int] {
        try perform { sink throws(SinkError) in
            guard let s = sink as? ReusingSink else { throw SinkError("this output cannot take over an earlier run's rows", isIO: false) }
            return try s.reuse(reuse)
        }
    }
}

/// A result handed from the writer thread to the caller (who waits on the reply's semaphore).
/// Safe to share (`@unchecked`): written once before the semaphore signals, read only after it.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    var value: Result<T, SinkError>?
}
