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
package protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes into `buffer`; returns 0 at end of input.
    /// - Throws: `SourceIOError` when the underlying read fails.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SourceIOError) -> Int
    /// Total size in bytes when known (a regular file), for progress.
    var totalBytes: Int64? { get }
}

/// An I/O failure while reading a source (open, read). Carries the path and `errno`, never data.
package struct SourceIOError: Error, Sendable, CustomStringConvertible {
    /// The path concerned.
    public var path: String
    /// The operation that failed (`open`, `read`, `stat`).
    public var operation: String
    /// The `errno` value (0 when `reason` says what went wrong).
    public var errno: Int32
    /// What went wrong when it is not a system error: the file is not a regular file, or it
    /// changed while it was read. Never contains file content.
    public var reason: String?
    /// The stable code, when the failure has one of its own (`ErrorCode.notARegularFile`,
    /// `ErrorCode.inputChanged`).
    public var code: ErrorCode?

    /// Creates the error.
    public init(path: String, operation: String, errno: Int32, reason: String? = nil, code: ErrorCode? = nil) {
        self.path = path
        self.operation = operation
        self.errno = errno
        self.reason = reason
        self.code = code
    }

    /// `cannot read FILE: strerror` (or the reason).
    public var description: String {
        let text = reason ?? String(cString: strerror(errno))
        return "cannot \(operation) \(path): \(text)"
    }
}

/// Reads a file with `read(2)`; owns its file descriptor and closes it on deinit.
///
/// Only regular files are read: a FIFO, a device (`/dev/zero`, `/dev/urandom`), a socket or a
/// folder, directly or through a symbolic link, is refused before it is opened for reading
/// (`stat`), and again on the opened descriptor (`fstat`), so a file swapped in between is refused
/// too. At end of file the source checks that the file is the one it opened and did not change
/// while it was read (same device, inode, size, modification and change times; as many bytes read
/// as its size): otherwise `read` throws, so what was read (and hashed) is the file's content.
package final class FileByteSource: ByteSource {
    private let fd: Int32
    private let path: String
    /// Size of the file at open time.
    public let totalBytes: Int64?
    /// The file as it was opened.
    let identity: FileIdentity
    /// Bytes returned by `read` so far.
    private(set) var consumed: Int64 = 0

    /// Opens `path` for reading.
    /// - Throws: `SourceIOError` when the file cannot be opened or is not a regular file.
    public init(path: String) throws(SourceIOError) {
        try FileIdentity.requireRegularFile(path)
        // Non-blocking, so that a FIFO swapped in after the check cannot block the open.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SourceIOError(path: path, operation: "open", errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw SourceIOError(path: path, operation: "stat", errno: e)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw SourceIOError(path: path, operation: "open", errno: 0, reason: FileIdentity.notRegularReason(st.st_mode), code: .notARegularFile)
        }
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        identity = FileIdentity(st)
        totalBytes = Int64(st.st_size)
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Refuses anything but a regular file (following symbolic links) without opening it: for a
    /// caller that must look at a file before reading it (`inspect` guessing a format).
    /// - Throws: `SourceIOError` naming the kind of file (a FIFO, a device…) or the `stat` error.
    public static func requireRegularFile(_ path: String) throws(SourceIOError) {
        try FileIdentity.requireRegularFile(path)
    }

    /// Reads the next bytes, retrying on `EINTR`; at end of file, checks the file did not change.
    /// - Throws: `SourceIOError` when the read fails, or at end of file when the file was
    ///   truncated, extended, rewritten or replaced since it was opened.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SourceIOError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            #if canImport(Glibc) || canImport(Musl)
                let n = Glibc.read(fd, base, buffer.count)
            #else
                let n = Darwin.read(fd, base, buffer.count)
            #endif
            if n > 0 {
                consumed += Int64(n)
                return n
            }
            if n == 0 {
                try verifyUnchanged(atEnd: true)
                return 0
            }
            if errno == EINTR { continue }
            throw SourceIOError(path: path, operation: "read", errno: errno)
        }
    }

    /// Checks that the file at `path` is still the file opened, unchanged; at end of file, also
    /// that every byte of it was read.
    /// - Throws: `SourceIOError` naming the file and what differs (never its content).
    func verifyUnchanged(atEnd: Bool) throws(SourceIOError) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SourceIOError(path: path, operation: "stat", errno: errno) }
        let now = FileIdentity(st)
        var what = identity.differences(from: now)
        if atEnd, what.isEmpty, consumed != identity.size {
            what = ["\(consumed) bytes read of \(identity.size)"]
        }
        if what.isEmpty {
            var named = stat()
            if stat(path, &named) != 0 {
                what = ["removed"]
            } else if UInt64(named.st_dev) != identity.device || UInt64(named.st_ino) != identity.inode {
                what = ["replaced by another file"]
            }
        }
        guard !what.isEmpty else { return }
        throw SourceIOError(
            path: path, operation: "read", errno: 0,
            reason: "the file changed while it was read (\(what.joined(separator: ", "))); nothing read from it is used", code: .inputChanged)
    }
}

@available(*, unavailable)
extension FileByteSource: Sendable {}

/// Serves bytes from memory in chunks of at most `chunkSize` (used by tests to drip-feed input,
/// down to one byte at a time, and by the in-memory mapping test API).
package final class MemoryByteSource: ByteSource {
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
