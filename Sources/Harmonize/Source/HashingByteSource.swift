import Crypto

/// Passes bytes through while computing their SHA-256, so an input is hashed in the same single
/// read that maps it.
final class HashingByteSource: ByteSource {
    private let inner: any ByteSource
    private var hasher = SHA256()

    init(_ inner: any ByteSource) { self.inner = inner }

    var totalBytes: Int64? { inner.totalBytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SourceIOError) -> Int {
        let n = try inner.read(into: buffer)
        if n > 0 { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
        return n
    }

    /// The hex digest of everything read so far (call once, at the end).
    func hexDigest() -> String { Hex.string(Array(hasher.finalize())) }
}

@available(*, unavailable)
extension HashingByteSource: Sendable {}
