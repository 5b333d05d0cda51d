import Foundation

/// The files of a mapping mapped by several workers (`run --threads N`, `RunOptions.threads`):
/// one after another through the same workers (`Files`), or one file whose records were partly
/// mapped during an earlier mapping's parse (`run(executor:session:…)`, `EarlyXMLMapping`).
///
/// The calling thread reads the file and copies the bytes of the fields the mapping reads into
/// chunks of records (`RecordChunk`); each worker maps whole chunks with an executor of its own
/// (its frames, batches, join key buffers, and call sites bound to an environment of its own:
/// pseudonym caches, HMAC states, lookup views, vocabulary counters), collecting the chunk's
/// batches and rejects instead of sending them; the calling thread hands each chunk's batches
/// and rejects to the sink in the file's order, through the mapping's own executor. The sink
/// thus receives the same rows, rejects and lineage, in the same order, as from one thread: the
/// output does not depend on the number of workers. At most `2 × workers` chunks are in flight
/// (`4 × workers` when the rows go nowhere, while they hold little: `waits`), so memory stays
/// bounded whatever the file's size.
///
/// Only mappings that map each record on its own take this path (no `group:`, no
/// `deduplicate:`, no `split` routing; join indexes and lookup tables, in memory or partly on
/// disk, are shared read-only);
/// `Pipeline.runPlan` maps the others on the calling thread.
final class ParallelFilePass {
    /// One worker: its executor, the reader it maps chunks from, and where its output goes.
    final class Worker {
        let executor: MappingExecutor
        let output: ChunkOutput
        let context: WorkerContext

        init(executor: MappingExecutor, output: ChunkOutput, context: WorkerContext) {
            self.executor = executor
            self.output = output
            self.context = context
        }
    }

    /// Where a worker's executor sends its batches and rejects: the chunk being mapped.
    final class ChunkOutput {
        var chunk: RecordChunk?
    }

    /// The chunks waiting for a worker, and those mapped, waiting to be forwarded. A chunk is
    /// touched by one thread at a time (the reader fills it, then one worker maps it, then the
    /// reader forwards its output), handed over under the lock.
    // Safe to share: every mutable member (the chunks waiting and done, the flags, the bytes
    // held) is used with `condition` locked.
    fileprivate final class Queue: @unchecked Sendable {
        let condition = NSCondition()
        var pending: [RecordChunk] = []
        var done: [Int: RecordChunk] = [:]
        var closed = false
        var cancelled = false
        /// Bytes the chunks not yet forwarded hold (`Session.heldBytes`).
        var heldBytes = 0
    }

    // Safe to share: each box is used by its own worker thread only, once `Session.init` started it.
    fileprivate final class WorkerBox: @unchecked Sendable {
        let worker: Worker
        let reader: ChunkReader
        let fileIndex: Int32
        let filePath: String
        init(worker: Worker, reader: ChunkReader, fileIndex: Int32, filePath: String) {
            self.worker = worker
            self.reader = reader
            self.fileIndex = fileIndex
            self.filePath = filePath
        }
    }

    /// Whether `executor`'s mapping can be mapped by workers: records are independent of each
    /// other (no grouping, no duplicate filter, no split routing).
    static func accepts(_ executor: MappingExecutor) -> Bool {
        executor.plan.group == nil && executor.duplicates == nil && executor.routing == nil && executor.groupStore == nil
    }

    /// Workers started over one file, and the chunks handed to them (in sequence order). A
    /// session is driven by one thread (the reader's); its workers map chunks as they come. The
    /// chunks mapped wait in the session until `run` forwards them: a later mapping's records
    /// can be mapped while an earlier mapping parses the file (`EarlyXMLMapping`), and
    /// forwarded when that mapping's turn comes.
    final class Session {
        let workers: [Worker]
        let names: [String]
        fileprivate let queue = Queue()
        private var finished: [DispatchSemaphore] = []
        /// Chunks handed to the workers, and chunks forwarded (both in sequence order).
        fileprivate(set) var submitted = 0
        fileprivate var next = 0
        private var closed = false

        /// Starts `workers` on the records of file `fileIndex` (`filePath`), fields `names`;
        /// `holds`: the chunks mapped wait a while until `run` forwards them (their executors
        /// keep no rows: `MappingExecutor.keepsRows`), and the workers yield to the run's other
        /// threads (Linux nice 5).
        init(workers: [Worker], names: [String], fileIndex: Int32, filePath: String, holds: Bool = false) {
            self.workers = workers
            self.names = names
            let queue = self.queue
            for w in workers {
                let box = WorkerBox(worker: w, reader: ChunkReader(names: names), fileIndex: fileIndex, filePath: filePath)
                let done = DispatchSemaphore(value: 0)
                finished.append(done)
                NamedThread.start("harmonize-map", stackSize: 1 << 23) {
                    if holds { ParallelFilePass.lowerThreadPriority() }
                    ParallelFilePass.work(box, queue)
                    done.signal()
                }
            }
        }

        deinit { close() }

        /// Hands `chunk` (the next in sequence) to the workers.
        func submit(_ chunk: RecordChunk) {
            queue.condition.lock()
            queue.pending.append(chunk)
            queue.heldBytes += chunk.heldBytes
            queue.condition.broadcast()
            queue.condition.unlock()
            submitted += 1
        }

        /// Waits while `limit` chunks or more wait for a worker (none is waited for once cancelled).
        func waitWhilePending(atLeast limit: Int) {
            queue.condition.lock()
            while queue.pending.count >= limit && !queue.cancelled && !queue.closed { queue.condition.wait() }
            queue.condition.unlock()
        }

        /// Bytes the chunks not yet forwarded hold (their fields, then their output: an estimate).
        var heldBytes: Int {
            queue.condition.lock()
            defer { queue.condition.unlock() }
            return queue.heldBytes
        }

        /// The next chunk in sequence once mapped, taken from the queue (waiting for it while
        /// `mustWait`, called with the queue locked, says so); nil when every chunk handed out
        /// was taken, or when the next is not mapped and `mustWait` says not to wait.
        fileprivate func takeNext(waitingWhile mustWait: () -> Bool) -> RecordChunk? {
            guard next < submitted else { return nil }
            queue.condition.lock()
            while queue.done[next] == nil && mustWait() { queue.condition.wait() }
            let c = queue.done.removeValue(forKey: next)
            if let c { queue.heldBytes -= c.heldBytes }
            queue.condition.unlock()
            if c != nil { next += 1 }
            return c
        }

        /// Chunks not mapped yet are dropped (their workers map nothing more).
        func cancel() {
            queue.condition.lock()
            queue.cancelled = true
            queue.condition.unlock()
        }

        /// Stops the workers once the chunks handed to them are done, and waits for them.
        func close() {
            guard !closed else { return }
            closed = true
            queue.condition.lock()
            queue.closed = true
            queue.condition.broadcast()
            queue.condition.unlock()
            for f in finished { f.wait() }
        }
    }

    /// Whether the reading thread waits, with `inFlight` chunks handed out and not yet forwarded
    /// that hold `held` bytes. Where the rows go nowhere (`rowsKept` false: `--sink none`), at
    /// `4 × workers` chunks, or at `2 × workers` once they hold more than `heldBytes`: chunks are
    /// forwarded in order, and with two in flight per worker a worker done early waited for the
    /// oldest chunk to be mapped by another, and the reading thread with it (head-of-line
    /// blocking; four: 0.84× the wall time, bench/README.md). Where the rows are kept for a sink,
    /// at `2 × workers`: the sink's thread bounds those runs, and more chunks would only wait
    /// there, holding their rows (the join benchmark's peak RSS grew 6 MB at four).
    static func waits(inFlight: Int, held: Int, workers: Int, heldBytes: Int, rowsKept: Bool) -> Bool {
        let w = max(1, workers)
        if rowsKept { return inFlight >= 2 * w }
        return inFlight >= 4 * w || (inFlight >= 2 * w && held > heldBytes)
    }

    /// Forwards the chunks `session` holds (mapped before this call, in order), then maps the
    /// rest of the file from `reader` (whose first record follows `recordsBefore` records) with
    /// the session's workers, and forwards it. Returns the file's ledger and the number of chunks.
    static func run<Reader: RecordReader>(
        executor: MappingExecutor, session: Session, reader: Reader, recordsBefore: Int, filePath: String, chunkRecords: Int,
        heldBytes: Int, progress: (Int64) -> Void
    ) throws(RunError) -> (ledger: RunManifest.LedgerEntry, chunks: Int) {
        let plan = executor.plan
        let columns = try bind(reader, session.names, plan)
        let queue = session.queue
        var ledger = RunManifest.LedgerEntry(mapping: plan.id, file: filePath, read: 0, written: 0, rejected: 0, filtered: 0, excluded: 0)
        let workerCount = session.workers.count
        let rowsKept = executor.keepsRows

        /// Forwards finished chunks in order; waits for the next one while `mustWait` says so.
        func forward(waitingWhile mustWait: () -> Bool) throws(RunError) {
            while let c = session.takeNext(waitingWhile: mustWait) {
                try emit(c, executor)
                if let l = c.ledger { ledger.add(l) }
                if c.sequence & 7 == 0 { progress(c.bytesRead) }
            }
        }
        do throws(RunError) {
            // The records read so far (`.record` events): a chunk's records are numbered on.
            var records = recordsBefore
            var ended = false
            while !ended {
                let chunk = RecordChunk(sequence: session.submitted, fieldCount: columns.count, recordsBefore: records, capacity: chunkRecords)
                do {
                    ended = try chunk.fill(from: reader, columns: columns, limit: chunkRecords, records: &records)
                } catch {
                    throw RunError.readFailure(error, file: filePath)
                }
                if chunk.count > 0 {
                    session.submit(chunk)
                    // Keep few chunks in flight (`waits`): memory stays bounded. Called with the
                    // queue locked: its bytes are read as they are.
                    try forward {
                        waits(
                            inFlight: session.submitted - session.next, held: queue.heldBytes, workers: workerCount, heldBytes: heldBytes,
                            rowsKept: rowsKept)
                    }
                }
            }
            try forward { true }
        } catch {
            session.cancel()
            throw error
        }
        return (settled(ledger, executor), session.submitted)
    }

    /// The files of one mapping mapped by the same workers, one after another, without a pause
    /// at each file's end: the reading thread goes on to the next file while the workers map the
    /// last chunks of the one before (which a pass per file waited for, one worker idle), and
    /// the workers' threads are started once. The chunks carry their file; they are forwarded in
    /// order, file after file, so the sink receives what a pass per file would have sent. A
    /// file is done, in order, once its last chunk was forwarded (`done`: its ledger, the bytes
    /// its reader read, its number of chunks).
    final class Files {
        /// A file read or being read: its counts so far, and its last chunk once read.
        private struct FileState {
            var ledger: RunManifest.LedgerEntry
            let path: String
            /// The sequence number of the file's last chunk (of the chunk before it for a file
            /// without records), once the file is read.
            var lastSequence: Int?
            var bytesRead: Int64 = 0
            var chunks = 0
            /// Chunks forwarded (progress is reported every eighth, from the file's first).
            var forwarded = 0
        }

        private let executor: MappingExecutor
        private let session: Session
        private let chunkRecords: Int
        private let heldBytes: Int
        private var files: [FileState] = []
        /// Files done (reported to `done`), the first ones.
        private var finished = 0
        /// Whether every chunk handed out was forwarded (`finish`): a pass closed before that
        /// (the run failed elsewhere, opening a file say) drops the chunks not yet mapped.
        private var completed = false

        /// Starts `workers` for `executor`'s mapping.
        init(executor: MappingExecutor, workers: [Worker], chunkRecords: Int, heldBytes: Int) {
            self.executor = executor
            self.chunkRecords = chunkRecords
            self.heldBytes = heldBytes
            session = Session(workers: workers, names: executor.plan.readFieldNames, fileIndex: -1, filePath: "")
        }

        deinit { close() }

        /// Reads file `fileIndex` (`filePath`) from `reader` into chunks for the workers,
        /// forwarding the chunks mapped meanwhile (and the files they finish).
        func read(
            _ reader: any RecordReader, fileIndex: Int32, filePath: String, progress: (String, Int64) -> Void,
            done: (RunManifest.LedgerEntry, Int64, Int) throws(RunError) -> Void
        ) throws(RunError) {
            do throws(RunError) {
                // The CSV reader by its type (its chunks' fill is specialized for it), any other opened.
                if let csv = reader as? DelimitedReader {
                    try fill(csv, fileIndex: fileIndex, filePath: filePath, progress: progress, done: done)
                } else {
                    try fill(reader, fileIndex: fileIndex, filePath: filePath, progress: progress, done: done)
                }
            } catch {
                session.cancel()
                throw error
            }
        }

        private func fill<R: RecordReader>(
            _ reader: R, fileIndex: Int32, filePath: String, progress: (String, Int64) -> Void,
            done: (RunManifest.LedgerEntry, Int64, Int) throws(RunError) -> Void
        ) throws(RunError) {
            let plan = executor.plan
            let columns = try ParallelFilePass.bind(reader, session.names, plan)
            let ordinal = files.count
            files.append(
                FileState(
                    ledger: RunManifest.LedgerEntry(mapping: plan.id, file: filePath, read: 0, written: 0, rejected: 0, filtered: 0, excluded: 0),
                    path: filePath))
            let workerCount = session.workers.count
            let rowsKept = executor.keepsRows
            var records = 0
            var ended = false
            while !ended {
                let chunk = RecordChunk(sequence: session.submitted, fieldCount: columns.count, recordsBefore: records, capacity: chunkRecords)
                chunk.file = (fileIndex, filePath, ordinal)
                do {
                    ended = try chunk.fill(from: reader, columns: columns, limit: chunkRecords, records: &records)
                } catch {
                    throw RunError.readFailure(error, file: filePath)
                }
                guard chunk.count > 0 else { continue }
                session.submit(chunk)
                files[ordinal].chunks += 1
                let queue = session.queue
                let heldBytes = heldBytes
                try forward(progress: progress, done: done) {
                    ParallelFilePass.waits(
                        inFlight: session.submitted - session.next, held: queue.heldBytes, workers: workerCount, heldBytes: heldBytes,
                        rowsKept: rowsKept)
                }
            }
            files[ordinal].lastSequence = session.submitted - 1
            files[ordinal].bytesRead = reader.bytesRead
            try finishFiles(done)
        }

        /// Forwards every chunk handed out and reports the files not yet done (the workers wait
        /// for the next file).
        func drain(progress: (String, Int64) -> Void, done: (RunManifest.LedgerEntry, Int64, Int) throws(RunError) -> Void) throws(RunError) {
            do throws(RunError) {
                try forward(progress: progress, done: done) { true }
            } catch {
                session.cancel()
                throw error
            }
        }

        /// Forwards every chunk handed out and reports the files not yet done; then stops the
        /// workers.
        func finish(progress: (String, Int64) -> Void, done: (RunManifest.LedgerEntry, Int64, Int) throws(RunError) -> Void) throws(RunError) {
            try drain(progress: progress, done: done)
            completed = true
            close()
        }

        /// Stops the workers and waits for them: once the chunks handed to them are done after
        /// `finish`; before it, the chunks not yet mapped are dropped (their output would go
        /// nowhere).
        func close() {
            if !completed { session.cancel() }
            session.close()
        }

        /// Forwards finished chunks in order, waiting for the next one while `mustWait` says
        /// so; reports the files done.
        private func forward(
            progress: (String, Int64) -> Void, done: (RunManifest.LedgerEntry, Int64, Int) throws(RunError) -> Void,
            waitingWhile mustWait: () -> Bool
        ) throws(RunError) {
            while let c = session.takeNext(waitingWhile: mustWait) {
                try emit(c, executor)
                let o = c.file?.ordinal ?? 0
                if let l = c.ledger { files[o].ledger.add(l) }
                if files[o].forwarded & 7 == 0 { progress(files[o].path, c.bytesRead) }
                files[o].forwarded += 1
                try finishFiles(done)
            }
        }

        /// Reports, in order, the files read whose every chunk was forwarded.
        private func finishFiles(_ done: (RunManifest.LedgerEntry, Int64, Int) throws(RunError) -> Void) throws(RunError) {
            while finished < files.count, let last = files[finished].lastSequence, last < session.next {
                let f = files[finished]
                finished += 1
                try done(ParallelFilePass.settled(f.ledger, executor), f.bytesRead, f.chunks)
            }
        }
    }

    /// A file's ledger summed from its chunks', with the counts a one-thread pass always gives
    /// (records for other shards when sharding, unrouted records with lineage) at 0 when no
    /// chunk had any (`MappingExecutor.run`).
    fileprivate static func settled(_ ledger: RunManifest.LedgerEntry, _ executor: MappingExecutor) -> RunManifest.LedgerEntry {
        var ledger = ledger
        if executor.sharding != nil { ledger.otherShard = ledger.otherShard ?? 0 }
        if executor.recordsLineage, ledger.unrouted == nil { ledger.unrouted = 0 }
        return ledger
    }

    /// The columns of `reader` that hold the fields `names` (read by `plan`'s mapping).
    fileprivate static func bind<R: RecordReader>(_ reader: R, _ names: [String], _ plan: MappingPlan) throws(RunError) -> [Int] {
        do {
            return try reader.bind(fields: names)
        } catch {
            throw RunError(.configuration, "mapping \(plan.id) cannot read its fields: \(error.description)")
        }
    }

    /// Hands a mapped chunk's batches and rejects to the sink through `executor`, in the order
    /// the chunk's mapping sent them (its failure, if it failed).
    fileprivate static func emit(_ c: RecordChunk, _ executor: MappingExecutor) throws(RunError) {
        if let failure = c.failure { throw failure }
        for item in c.items {
            switch item {
            case .rows(let b): try executor.emitBatch(b)
            case .rejects(let r): try executor.emitRejectList(r)
            }
        }
        c.items = []
    }

    /// Makes the calling thread yield to the process's other threads (nice 5, Linux: a nice
    /// value is a thread's own there, and `who` 0 names the calling thread). Best effort: a
    /// refusal leaves the thread as it was.
    static func lowerThreadPriority() {
        #if os(Linux)
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 5)
        #endif
    }

    /// A worker thread: maps chunks until the queue is closed and empty.
    fileprivate static func work(_ box: WorkerBox, _ queue: Queue) {
        while true {
            queue.condition.lock()
            while queue.pending.isEmpty && !queue.closed { queue.condition.wait() }
            if queue.pending.isEmpty {
                queue.condition.unlock()
                return
            }
            let chunk = queue.pending.removeFirst()
            let cancelled = queue.cancelled
            queue.condition.unlock()
            let input = chunk.heldBytes
            if !cancelled { map(chunk, box) }
            queue.condition.lock()
            queue.heldBytes += chunk.heldBytes - input
            queue.done[chunk.sequence] = chunk
            queue.condition.broadcast()
            queue.condition.unlock()
        }
    }

    /// Maps one chunk: its rows and rejects are kept in the chunk, in order, with its ledger.
    private static func map(_ chunk: RecordChunk, _ box: WorkerBox) {
        let executor = box.worker.executor
        box.reader.reset(chunk)
        box.worker.output.chunk = chunk
        defer { box.worker.output.chunk = nil }
        do throws(RunError) {
            chunk.ledger = try executor.run(
                reader: box.reader, fileIndex: chunk.file?.index ?? box.fileIndex, filePath: chunk.file?.path ?? box.filePath,
                recordsBefore: chunk.recordsBefore, progress: { _ in })
            try executor.flushAll()
        } catch {
            chunk.failure = error
        }
        chunk.release()
    }
}

@available(*, unavailable)
extension ParallelFilePass: Sendable {}

@available(*, unavailable)
extension ParallelFilePass.Session: Sendable {}

extension RunManifest.LedgerEntry {
    /// Adds the counts of another entry of the same mapping and file (a chunk's).
    mutating func add(_ o: RunManifest.LedgerEntry) {
        read += o.read
        written += o.written
        rejected += o.rejected
        filtered += o.filtered
        excluded += o.excluded
        grouped += o.grouped
        if let n = o.otherShard { otherShard = (otherShard ?? 0) + n }
        if let n = o.duplicate { duplicate = (duplicate ?? 0) + n }
        if let n = o.unrouted { unrouted = (unrouted ?? 0) + n }
    }
}
