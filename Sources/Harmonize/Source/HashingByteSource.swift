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

/// A SHA-256 computed on a thread of its own (a `BufferRing`): `submit` copies bytes into one of
/// `depth` buffers of `slotBytes` (waiting while all are full), the thread hashes them in order,
/// and `finish` returns the digest once every buffer is hashed. Memory: `depth` × `slotBytes`
/// (1 MiB by default), whatever the input's size.
final class BackgroundHasher {
    private let ring: BufferRing<SHA256>
    private var digest: [UInt8]?

    /// A hasher whose thread continues `hasher` (the bytes hashed so far).
    init(continuing hasher: SHA256, slotBytes: Int = 1 << 18, depth: Int = 4) {
        ring = BufferRing(state: hasher, slotBytes: slotBytes, depth: depth, name: "harmonize-hash") { h, bytes in
            h.update(bufferPointer: bytes)
        }
    }

    /// Hands `bytes` (copied) to the hashing thread.
    func submit(_ bytes: UnsafeRawBufferPointer) {
        guard digest == nil else { return }
        ring.submit(bytes)
    }

    /// The digest of every byte submitted (and of those hashed before); waits for the thread.
    func finish() -> [UInt8] {
        if let digest { return digest }
        let d = Array(ring.finish().finalize())
        digest = d
        return d
    }
}

@available(*, unavailable)
extension BackgroundHasher: Sendable {}
