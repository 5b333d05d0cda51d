import Crypto
import Foundation

/// Passes bytes through while computing their SHA-256, so an input is hashed in the same single
/// read that maps it.
///
/// The first `inlineLimit` bytes are hashed on the reading thread. Past them (a large input), the
/// bytes read are copied to a `BackgroundHasher`, which hashes them on a thread of its own while
/// the reading thread maps the records: the hash took 4 % of a claims run's mapping thread
/// (`perf`), and a copy costs a tenth of it. Small inputs (most tests, reference files) start no
/// thread.
final class HashingByteSource: ByteSource {
    private let inner: any ByteSource
    private var hasher = SHA256()
    private var inlineBytes = 0
    private let inlineLimit: Int
    private var background: BackgroundHasher?

    /// Hashes what `inner` gives; past `inlineLimit` bytes, on a thread of its own.
    init(_ inner: any ByteSource, inlineLimit: Int = 1 << 20) {
        self.inner = inner
        self.inlineLimit = inlineLimit
    }

    deinit { _ = background?.finish() }

    var totalBytes: Int64? { inner.totalBytes }

    /// Whether the bytes are hashed on a thread of their own (past `inlineLimit`).
    var hashesInBackground: Bool { background != nil }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SourceIOError) -> Int {
        let n = try inner.read(into: buffer)
        guard n > 0 else { return n }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        if let background {
            background.submit(bytes)
        } else if inlineBytes < inlineLimit {
            hasher.update(bufferPointer: bytes)
            inlineBytes += n
        } else {
            let b = BackgroundHasher(continuing: hasher)
            background = b
            b.submit(bytes)
        }
        return n
    }

    /// The hex digest of everything read so far (call once, at the end).
    func hexDigest() -> String {
        if let background { return Hex.string(background.finish()) }
        return Hex.string(Array(hasher.finalize()))
    }
}

@available(*, unavailable)
extension HashingByteSource: Sendable {}

/// A SHA-256 computed on a thread of its own: `submit` copies bytes into one of `depth` buffers
/// of `slotBytes` (waiting while all are full), the thread hashes them in order, and `finish`
/// returns the digest once every buffer is hashed. Memory: `depth` × `slotBytes` (1 MiB by
/// default), whatever the input's size.
final class BackgroundHasher {
    // Slot `k` and its length are written by the submitting thread only between `free.wait()`
    // and `filled.signal()`, and read by the hashing thread only between `filled.wait()` and
    // `free.signal()`; `hasher` is set before the thread starts and used by it alone; `digest`
    // is written by the hashing thread before `done.signal()` and read after `done.wait()`.
    // Safe to share: the three semaphores order every access to the members, as above.
    private final class Ring: @unchecked Sendable {
        let slots: [UnsafeMutableRawPointer]
        var lengths: [Int]
        let slotBytes: Int
        var hasher: SHA256
        var digest: [UInt8] = []
        let free: DispatchSemaphore
        let filled = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)

        init(depth: Int, slotBytes: Int, hasher: SHA256) {
            self.hasher = hasher
            self.slotBytes = slotBytes
            slots = (0..<depth).map { _ in UnsafeMutableRawPointer.allocate(byteCount: slotBytes, alignment: 64) }
            lengths = Array(repeating: 0, count: depth)
            free = DispatchSemaphore(value: depth)
        }

        deinit { for s in slots { s.deallocate() } }
    }

    private let ring: Ring
    private var next = 0
    private var digest: [UInt8]?

    /// Starts the hashing thread, which continues `hasher` (the bytes hashed so far).
    init(continuing hasher: SHA256, slotBytes: Int = 1 << 18, depth: Int = 4) {
        let ring = Ring(depth: max(1, depth), slotBytes: max(1, slotBytes), hasher: hasher)
        self.ring = ring
        let t = Thread { Self.hash(ring) }
        t.name = "harmonize-hash"
        t.start()
    }

    deinit { _ = finish() }

    /// Hands `bytes` (copied) to the hashing thread.
    func submit(_ bytes: UnsafeRawBufferPointer) {
        guard digest == nil, let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = min(ring.slotBytes, bytes.count - offset)
            ring.free.wait()
            let k = next % ring.slots.count
            ring.slots[k].copyMemory(from: base + offset, byteCount: n)
            ring.lengths[k] = n
            ring.filled.signal()
            next += 1
            offset += n
        }
    }

    /// The digest of every byte submitted (and of those hashed before); waits for the thread.
    func finish() -> [UInt8] {
        if let digest { return digest }
        ring.free.wait()
        ring.lengths[next % ring.slots.count] = -1
        ring.filled.signal()
        ring.done.wait()
        digest = ring.digest
        return ring.digest
    }

    /// The hashing thread: slots in order until the end mark.
    private static func hash(_ ring: Ring) {
        var hasher = ring.hasher
        var k = 0
        while true {
            ring.filled.wait()
            let slot = k % ring.slots.count
            let n = ring.lengths[slot]
            if n >= 0 { hasher.update(bufferPointer: UnsafeRawBufferPointer(start: ring.slots[slot], count: n)) }
            // The end mark's slot is given back too: the semaphore ends at its initial value.
            ring.free.signal()
            if n < 0 { break }
            k += 1
        }
        ring.digest = Array(hasher.finalize())
        ring.done.signal()
    }
}

@available(*, unavailable)
extension BackgroundHasher: Sendable {}
