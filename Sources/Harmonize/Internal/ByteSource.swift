#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A sequential source of bytes that readers pull from in large chunks.
///
/// Readers never hold more than their own bounded buffer; a byte source never buffers at all.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes into `buffer`; returns 0 at end of input.
    /// - Throws: `SourceIOError` when the underlying read fails.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SourceIOError) -> Int
    /// Total size in bytes when known (a regular file), for progress.
    var totalBytes: Int64? { get }
}

/// An I/O failure while reading a source (open, read). Carries the path and `errno`, never data.
public struct SourceIOError: Error, Sendable, CustomStringConvertible {
    /// The path concerned.
    public var path: String
    /// The operation that failed (`open`, `read`, `stat`).
    public var operation: String
    /// The `errno` value.
    public var errno: Int32

    /// Creates the error.
    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    /// `cannot read FILE: strerror`.
    public var description: String {
        let text = String(cString: strerror(errno))
        return "cannot \(operation) \(path): \(text)"
    }
}

/// Reads a file with `read(2)`; owns its file descriptor and closes it on deinit.
public final class FileByteSource: ByteSource {
    private let fd: Int32
    private let path: String
    /// Size of the file at open time.
    public let totalBytes: Int64?

    /// Opens `path` for reading.
    public init(path: String) throws(SourceIOError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SourceIOError(path: path, operation: "open", errno: errno) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
            totalBytes = Int64(st.st_size)
        } else {
            totalBytes = nil
        }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Reads the next bytes, retrying on `EINTR`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SourceIOError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            #if canImport(Glibc) || canImport(Musl)
                let n = Glibc.read(fd, base, buffer.count)
            #else
                let n = Darwin.read(fd, base, buffer.count)
            #endif
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw SourceIOError(path: path, operation: "read", errno: errno)
        }
    }
}

@available(*, unavailable)
extension FileByteSource: Sendable {}

/// Serves bytes from memory in chunks of at most `chunkSize` (used by tests to drip-feed input,
/// down to one byte at a time, and by the in-memory mapping test API).
public final class MemoryByteSource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0
    private let chunkSize: Int

    /// Creates a source over `bytes`, handing out at most `chunkSize` bytes per read.
    public init(_ bytes: [UInt8], chunkSize: Int = 1 << 20) {
        self.bytes = bytes
        self.chunkSize = max(1, chunkSize)
    }

    /// The number of bytes held.
    public var totalBytes: Int64? { Int64(bytes.count) }

    /// Copies the next chunk.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SourceIOError) -> Int {
        let n = min(buffer.count, chunkSize, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { src in
            buffer.baseAddress?.copyMemory(from: src.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }
}

@available(*, unavailable)
extension MemoryByteSource: Sendable {}
