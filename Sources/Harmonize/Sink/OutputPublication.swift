import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a single-file output (a SQLite database) is published safely, whatever killed the runs
/// before this one:
///
/// - one run at a time per output: an exclusive `flock` on `.OUTPUT.lock` beside the output, held
///   from the creation of the staging file to its publication or removal; a second run on the same
///   output fails at once (I/O error, before any input is read; lookups may have been loaded)
///   rather than waiting. The lock file is left in
///   place (removing it would let two runs lock two different files);
/// - under that lock, staging files of killed runs (`.OUTPUT.staging-XXXX`, their journals) are
///   removed;
/// - the staging file is created with `mode` (0600 by default: it holds pseudonymised rows);
/// - just before the rename, a journal, WAL or shared-memory file left beside the output by a
///   killed writer (`OUTPUT-journal`, `-wal`, `-shm`) is settled: SQLite rolls the journal back into
///   the output it belongs to (or checkpoints the WAL), then any file left is removed, so that no
///   journal can ever be rolled into the newly published file;
/// - after the rename, the folder is `fsync`ed.
final class OutputPublication {
    /// The published path.
    let outputPath: String
    /// The lock file beside it.
    let lockPath: String
    private var lockFD: Int32 = -1

    /// Creates the publication of `outputPath` (nothing is touched yet).
    init(outputPath: String) {
        self.outputPath = outputPath
        lockPath = Self.folder(of: outputPath) + "/." + Self.base(of: outputPath) + ".lock"
    }

    deinit { release() }

    /// The folder of `path` (`.` when none).
    static func folder(of path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        return dir.isEmpty ? "." : dir
    }

    /// The last path component of `path`.
    static func base(of path: String) -> String { (path as NSString).lastPathComponent }

    /// The prefix of the staging files of `outputPath`'s runs (a hex nonce follows).
    static func stagingPrefix(of outputPath: String) -> String { "." + base(of: outputPath) + ".staging-" }

    /// Takes the output's lock, or fails when another run holds it.
    /// - Throws: `SinkError` (I/O) when the lock file cannot be created or is held.
    func acquire() throws(SinkError) {
        guard lockFD < 0 else { return }
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SinkError("cannot create the lock file \(lockPath): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK {
                throw SinkError("another run is writing \(outputPath) (it holds \(lockPath)); run again when it has finished", code: .outputLocked)
            }
            throw SinkError("cannot lock \(lockPath): \(String(cString: strerror(e)))")
        }
        lockFD = fd
    }

    /// Releases the lock (closing the lock file); the file itself stays.
    func release() {
        guard lockFD >= 0 else { return }
        flock(lockFD, LOCK_UN)
        close(lockFD)
        lockFD = -1
    }

    /// Removes the staging files (and their journals) that killed runs left beside the output.
    /// Call with the lock held: then no live run owns any of them. Returns the names removed.
    @discardableResult
    func removeStaleStagingFiles() -> [String] {
        let dir = Self.folder(of: outputPath)
        let prefix = Self.stagingPrefix(of: outputPath)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: dir)
        } catch {
            return []  // an unreadable folder: creating the staging file will say so
        }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            var rest = Substring(name.dropFirst(prefix.count))
            for suffix in ["-journal", "-wal", "-shm"] where rest.hasSuffix(suffix) {
                rest = rest.dropLast(suffix.count)
            }
            guard !rest.isEmpty, rest.allSatisfy(\.isHexDigit) else { continue }
            if unlink(dir + "/" + name) == 0 { removed.append(name) }
        }
        return removed
    }

    /// Creates the empty staging file with `mode` (not subject to the umask).
    /// - Throws: `SinkError` (I/O) when it cannot be created.
    static func createFile(_ path: String, mode: mode_t) throws(SinkError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SinkError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        if fchmod(fd, mode) != 0 { throw SinkError("cannot set the mode of \(path): \(String(cString: strerror(errno)))") }
    }

    /// Sets the mode of an existing file.
    static func setMode(_ path: String, mode: mode_t) throws(SinkError) {
        if chmod(path, mode) != 0 { throw SinkError("cannot set the mode of \(path): \(String(cString: strerror(errno)))") }
    }

    /// The journal, WAL and shared-memory files SQLite keeps beside a database.
    static func sideFiles(of path: String) -> [String] { ["-journal", "-wal", "-shm"].map { path + $0 } }

    /// Settles what a killed writer left beside the current output, before it is replaced: lets
    /// SQLite roll a hot journal back into it (or checkpoint a WAL), so the output stays consistent
    /// until the rename, then removes any side file left. Returns the names of the side files found.
    @discardableResult
    func settleSideFiles() -> [String] {
        let present = Self.sideFiles(of: outputPath).filter { access($0, F_OK) == 0 }
        guard !present.isEmpty else { return [] }
        if access(outputPath, F_OK) == 0 {
            // Reading the schema makes SQLite roll back a hot journal (or recover a WAL); closing
            // the last connection checkpoints a WAL and removes it. A failure leaves the old
            // output as it was: it is being replaced, and the side files are removed below.
            do {
                let db = try SQLiteConnection(path: outputPath)
                _ = try db.query("SELECT count(*) FROM sqlite_master")
                if try db.scalar("PRAGMA journal_mode").text?.lowercased() == "wal" {
                    try db.execute("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
                }
            } catch {
                // Not an SQLite database, or unreadable: nothing to roll back into.
            }
        }
        for p in Self.sideFiles(of: outputPath) { unlink(p) }
        return present.map(Self.base(of:))
    }

    /// Publishes the staging file `staging` as the output: what a killed writer left beside the
    /// output settled, the staging file synced and renamed over the output, the folder synced.
    /// When the sync or the rename fails, the staging file is removed and the output is left as
    /// it was; the error is rethrown.
    func publish(_ staging: String) throws {
        settleSideFiles()
        do {
            try FileOps.fsync(path: staging)
            try FileOps.rename(staging, to: outputPath)
        } catch {
            FileOps.remove(staging)
            throw error
        }
        syncFolder()
    }

    /// `fsync`s the output's folder, so the rename is durable.
    func syncFolder() {
        let fd = open(Self.folder(of: outputPath), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}

@available(*, unavailable)
extension OutputPublication: Sendable {}

/// The lock a run holds on its output (`.OUTPUT.lock` beside it, see `SQLiteSink`), for the other
/// writers of a published output (`harmonize-run quality` storing its results): they never write
/// into a file a run is about to replace, whose journal would then sit beside the new output.
package enum OutputLock {
    /// Runs `body` holding the lock of `output` (the lock file is created when missing).
    /// - Throws: `SinkError` (I/O) when another run holds the lock or it cannot be taken; or
    ///   `body`'s error.
    public static func withLock<R>(output: String, _ body: () throws -> R) throws -> R {
        let publication = OutputPublication(outputPath: output)
        try publication.acquire()
        defer { publication.release() }
        return try body()
    }
}
