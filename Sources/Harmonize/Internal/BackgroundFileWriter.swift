import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Appends bytes to a file on a thread of its own, so that the thread producing them does not
/// wait for the file system: `submit` copies the bytes into one of `depth` buffers of `slotBytes`
/// (waiting while all are full), the thread writes them in order from `offset` on, and `finish`
/// waits until every buffer is written and tells whether every write succeeded. Memory: `depth` ×
/// `slotBytes` (1 MiB by default), whatever is written. The thread starts with the first
/// `submit`. Used by one producing thread.
///
/// The XML spill (`XMLRecordSpill`) writes through it: its `pwrite`s took 6 % of the reading
/// thread of a shared parse (`perf`, 100k HIS stays), a copy into a buffer costs a fifth of that.
final class BackgroundFileWriter {
    // Slot `k` and its length are written by the submitting thread only between `free.wait()`
    // and `filled.signal()`, and read by the writing thread only between `filled.wait()` and
    // `free.signal()`; `failure` is written by the writing thread before `done.signal()` and read
    // after `done.wait()`. Safe to share: the three semaphores order every access, as above.
    private final class Ring: @unchecked Sendable {
        let fd: Int32
        let offset: Int
        let slots: [UnsafeMutableRawPointer]
        var lengths: [Int]
        let slotBytes: Int
        /// The `errno` of the first write that failed (0: none), or -1 when the file ended short.
        var failure: Int32 = 0
        let free: DispatchSemaphore
        let filled = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)

        init(fd: Int32, offset: Int, depth: Int, slotBytes: Int) {
            self.fd = fd
            self.offset = offset
            self.slotBytes = slotBytes
            slots = (0..<depth).map { _ in UnsafeMutableRawPointer.allocate(byteCount: slotBytes, alignment: 64) }
            lengths = Array(repeating: 0, count: depth)
            free = DispatchSemaphore(value: depth)
        }

        deinit { for s in slots { s.deallocate() } }
    }

    private let fd: Int32
    private let offset: Int
    private let slotBytes: Int
    private let depth: Int
    private var ring: Ring?
    private var next = 0
    /// The slot being filled, and its bytes so far (submitted when full, or by `finish`).
    private var filling = 0
    private var finished: Bool?

    /// A writer appending to `fd` from byte `offset` on (the file is not closed by the writer).
    init(fd: Int32, offset: Int = 0, slotBytes: Int = 1 << 18, depth: Int = 4) {
        self.fd = fd
        self.offset = offset
        self.slotBytes = max(1, slotBytes)
        self.depth = max(1, depth)
    }

    deinit { _ = finish() }

    /// Hands `bytes` (copied) to the writing thread; they follow the bytes submitted before.
    func submit(_ bytes: UnsafeRawBufferPointer) {
        guard finished == nil, let base = bytes.baseAddress, bytes.count > 0 else { return }
        let ring = self.ring ?? start()
        var done = 0
        while done < bytes.count {
            if filling == 0 { ring.free.wait() }
            let k = next % ring.slots.count
            let n = min(ring.slotBytes - filling, bytes.count - done)
            (ring.slots[k] + filling).copyMemory(from: base + done, byteCount: n)
            filling += n
            done += n
            if filling == ring.slotBytes { hand(ring) }
        }
    }

    /// Writes what was submitted and stops the thread; true when every byte was written. Later
    /// submissions are ignored.
    func finish() -> Bool {
        if let finished { return finished }
        guard let ring else {
            finished = true
            return true
        }
        if filling > 0 { hand(ring) }
        ring.free.wait()
        ring.lengths[next % ring.slots.count] = -1
        ring.filled.signal()
        ring.done.wait()
        let ok = ring.failure == 0
        finished = ok
        self.ring = nil
        return ok
    }

    private func start() -> Ring {
        let ring = Ring(fd: fd, offset: offset, depth: depth, slotBytes: slotBytes)
        self.ring = ring
        let t = Thread { Self.write(ring) }
        t.name = "harmonize-spill"
        t.start()
        return ring
    }

    /// Hands the slot being filled to the thread.
    private func hand(_ ring: Ring) {
        ring.lengths[next % ring.slots.count] = filling
        ring.filled.signal()
        next += 1
        filling = 0
    }

    /// The writing thread: slots in order until the end mark; after a failure, slots are taken
    /// and not written.
    private static func write(_ ring: Ring) {
        var k = 0
        var at = ring.offset
        while true {
            ring.filled.wait()
            let slot = k % ring.slots.count
            let n = ring.lengths[slot]
            var written = 0
            while ring.failure == 0 && written < n {
                let r = pwrite(ring.fd, ring.slots[slot] + written, n - written, off_t(at + written))
                if r < 0 && errno == EINTR { continue }
                if r <= 0 {
                    ring.failure = r < 0 ? errno : -1
                    break
                }
                written += r
            }
            at += max(0, n)
            // The end mark's slot is given back too: the semaphore ends at its initial value.
            ring.free.signal()
            if n < 0 { break }
            k += 1
        }
        ring.done.signal()
    }
}

@available(*, unavailable)
extension BackgroundFileWriter: Sendable {}
