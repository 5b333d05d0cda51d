import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The file-system calls the engine makes (publish by rename, fsync, cleanup), in one place.
enum FileOps {
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var path: String
        var code: Int32
        var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
    }

    /// Flushes a file's data to disk.
    static func fsync(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        #if canImport(Glibc)
            if Glibc.fsync(fd) != 0 { throw Failure(operation: "fsync", path: path, code: errno) }
        #else
            if Darwin.fsync(fd) != 0 { throw Failure(operation: "fsync", path: path, code: errno) }
        #endif
    }

    /// Atomically replaces `to` with `from` (same file system).
    static func rename(_ from: String, to: String) throws {
        #if canImport(Glibc)
            if Glibc.rename(from, to) != 0 { throw Failure(operation: "rename", path: to, code: errno) }
        #else
            if Darwin.rename(from, to) != 0 { throw Failure(operation: "rename", path: to, code: errno) }
        #endif
    }

    /// Removes a file if it exists; ignores errors.
    static func remove(_ path: String) {
        unlink(path)
    }

    /// `O_NOATIME` where the system has it: a file the run created is read without its access
    /// time checked and updated at each `pread` (1.6 % of the 5M join's probes, `perf`). Linux's
    /// value on x86-64 and AArch64 (Glibc declares the name only under `_GNU_SOURCE`).
    #if os(Linux) && (arch(x86_64) || arch(arm64))
        private static let noAccessTime: Int32 = 0o1_000_000
    #else
        private static let noAccessTime: Int32 = 0
    #endif

    /// Creates a temporary file in `directory` (`.` when empty), named `PREFIX-PID-RANDOM.SUFFIX`
    /// for the instant it exists, and unlinks it at once: it disappears when its descriptor is
    /// closed, or when the process ends in any way. Returns the descriptor (read-write), or nil.
    static func unlinkedTemporaryFile(in directory: String, prefix: String, suffix: String) -> Int32? {
        let path = (directory.isEmpty ? "." : directory) + "/\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).\(suffix)"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | noAccessTime, 0o600)
        guard fd >= 0 else { return nil }
        unlink(path)
        return fd
    }

    /// Whether a path exists and is a directory.
    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Whether a path exists.
    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}

/// JSON text for manifests and summaries: sorted keys, so equal values give equal text.
enum JSONText {
    static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(value), as: UTF8.self)
    }
}

extension FileHandle {
    /// Closes a handle that was only read from: nothing was written through it, so a failure to
    /// close cannot lose or change any output, and is not reported.
    package func closeAfterReading() {
        do {
            try close()
        } catch {
            return
        }
    }
}
