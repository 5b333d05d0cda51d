import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The engine's threads, named for the system as well as for Foundation.
///
/// `Thread.name` set before `start()` stays Foundation's on Linux: every thread of a run showed
/// the program's name in `top -H`, `ps -L`, `perf` and `/proc/PID/task/TID/comm`, so an
/// operator (or a profile) could not tell the SQLite writer from the mapping thread. A thread
/// started here names itself for the system first.
enum NamedThread {
    /// The longest name the system keeps, in bytes (Linux: 16 with the terminating zero).
    static let systemNameBytes = 15

    /// Starts a thread named `name` (its first `systemNameBytes` bytes for the system) that
    /// runs `body`, with `stackSize` bytes of stack when given.
    static func start(_ name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        let t = Thread {
            nameCurrent(name)
            body()
        }
        t.name = name
        if let stackSize { t.stackSize = stackSize }
        t.start()
    }

    /// Names the calling thread for the system (the first `systemNameBytes` bytes of `name`),
    /// by writing its `comm` (proc(5): a thread may change its own; Swift's Glibc module does
    /// not offer `pthread_setname_np`, a GNU extension). Nothing happens where that file is not.
    static func nameCurrent(_ name: String) {
        #if os(Linux)
            let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return }
            defer { close(fd) }
            let bytes = Array(name.utf8.prefix(systemNameBytes))
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        #endif
    }
}
