import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `close(2)` (the writer's own `close` hides the name inside it).
private func systemClose(_ fd: Int32) -> Int32 { close(fd) }

/// Writes the whole of `bytes` to descriptor `fd` with `write(2)`, again after `EINTR`: nil once
/// every byte is written, else the error (`ENOSPC` for a write that took no byte). The buffered
/// writer's flush, and the CLI's results on standard output.
package func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
    guard let base = bytes.baseAddress else { return nil }
    var done = 0
    while done < bytes.count {
        let w = write(fd, base + done, bytes.count - done)
        if w < 0 && errno == EINTR { continue }
        guard w > 0 else { return w < 0 ? errno : ENOSPC }
        done += w
    }
    return nil
}

/// A file written through a buffer of its own with POSIX `write`: a write that fails (a full
/// disk, a quota) is a thrown `FileOps.Failure` naming the file, never a stopped process
/// (`FileHandle.write(_:)` traps on an error). Used by one thread at a time.
final class BufferedFileWriter {
    /// The file's path (for messages).
    let path: String
    private let fd: Int32
    /// Bytes not written yet. Callers may format into it directly (`append(_:)`).
    private var buffer: [UInt8] = []
    private let capacity: Int
    private var isClosed = false

    /// Creates (or empties) the file at `path` with `mode`; the buffer is written out whenever it
    /// holds `capacity` bytes or more.
    init(creating path: String, mode: mode_t = 0o644, capacity: Int = 1 << 16) throws(FileOps.Failure) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileOps.Failure(operation: "create", path: path, code: errno) }
        self.fd = fd
        self.path = path
        self.capacity = max(1, capacity)
        buffer.reserveCapacity(self.capacity)
    }

    deinit {
        if !isClosed { _ = systemClose(fd) }
    }

    /// Appends `bytes`.
    func write(_ bytes: UnsafeBufferPointer<UInt8>) throws(FileOps.Failure) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { try flush() }
    }

    /// Appends the bytes of `text`.
    func write(_ text: String) throws(FileOps.Failure) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= capacity { try flush() }
    }

    /// Lets `body` append to the buffer (formatting in place, without an intermediate copy).
    func append(_ body: (inout [UInt8]) -> Void) throws(FileOps.Failure) {
        body(&buffer)
        if buffer.count >= capacity { try flush() }
    }

    /// Writes the buffer out.
    func flush() throws(FileOps.Failure) {
        let failed = buffer.withUnsafeBytes { writeFully(fd, $0) }
        buffer.removeAll(keepingCapacity: true)
        if let failed { throw FileOps.Failure(operation: "write", path: path, code: failed) }
    }

    /// Writes the buffer out and closes the file.
    func close() throws(FileOps.Failure) {
        guard !isClosed else { return }
        defer { isClosed = true }
        do {
            try flush()
        } catch {
            _ = systemClose(fd)
            throw error
        }
        if systemClose(fd) != 0 { throw FileOps.Failure(operation: "close", path: path, code: errno) }
    }
}

@available(*, unavailable)
extension BufferedFileWriter: Sendable {}
