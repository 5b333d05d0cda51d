#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What tells a file's content changed without reading it again: device, inode, size,
/// modification and change times (the change time moves on every write, truncation or `chmod`,
/// and cannot be set back by a program).
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Timestamp
    var changed: Timestamp

    /// Seconds and nanoseconds.
    struct Timestamp: Equatable, Sendable {
        var seconds: Int
        var nanoseconds: Int
    }

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        #if canImport(Darwin)
            modified = Timestamp(seconds: Int(st.st_mtimespec.tv_sec), nanoseconds: Int(st.st_mtimespec.tv_nsec))
            changed = Timestamp(seconds: Int(st.st_ctimespec.tv_sec), nanoseconds: Int(st.st_ctimespec.tv_nsec))
        #else
            modified = Timestamp(seconds: Int(st.st_mtim.tv_sec), nanoseconds: Int(st.st_mtim.tv_nsec))
            changed = Timestamp(seconds: Int(st.st_ctim.tv_sec), nanoseconds: Int(st.st_ctim.tv_nsec))
        #endif
    }

    /// The identity of the file `path` names (following symbolic links), or nil when it cannot
    /// be read (with `errno` set).
    static func of(_ path: String) -> FileIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileIdentity(st)
    }

    /// What differs between `self` (before) and `now`, in words (no content): empty when equal.
    func differences(from now: FileIdentity) -> [String] {
        var out: [String] = []
        if now.device != device || now.inode != inode { out.append("replaced by another file") }
        if now.size != size { out.append("size \(size) → \(now.size) bytes") }
        if now.modified != modified { out.append("modification time changed") }
        if now.changed != changed && now.size == size && now.modified == modified { out.append("status change time changed") }
        return out
    }

    /// Refuses anything but a regular file, following symbolic links, without opening it.
    /// - Throws: `SourceIOError` (operation `open`) naming the kind of file, or the `stat` error.
    static func requireRegularFile(_ path: String) throws(SourceIOError) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw SourceIOError(path: path, operation: "open", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw SourceIOError(path: path, operation: "open", errno: 0, reason: notRegularReason(st.st_mode), code: .notARegularFile)
        }
    }

    /// `not a regular file (a FIFO); only regular files are read`.
    static func notRegularReason(_ mode: mode_t) -> String {
        let kind: String
        switch mode & S_IFMT {
        case S_IFIFO: kind = "a FIFO"
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFSOCK: kind = "a socket"
        case S_IFDIR: kind = "a folder"
        default: kind = "not a regular file"
        }
        return "not a regular file (\(kind)); only regular files are read"
    }
}
