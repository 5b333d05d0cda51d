import Foundation
import Harmonize

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Output helpers: standard error for diagnostics and progress, standard output for results.
enum Terminal {
    /// Whether standard error is a terminal (progress is shown only then).
    static var stderrIsTTY: Bool { isatty(2) == 1 }

    /// Writes a line to standard error (diagnostics: a failure to write them is ignored).
    static func error(_ line: String) {
        _ = writeAll(2, line + "\n")
    }

    /// Rewrites the current standard-error line (progress).
    static func status(_ line: String) {
        _ = writeAll(2, "\r\u{1B}[2K" + line)
    }

    /// Writes to standard output. A command whose results cannot be written (a full disk under a
    /// redirection) has failed: it says why on standard error and exits with the I/O code (3).
    /// (`FileHandle.write(_:)`, used before, stops the process with `SIGILL` on such an error.)
    static func out(_ text: String) {
        guard writeAll(1, text.hasSuffix("\n") ? text : text + "\n") else {
            let code = errno
            _ = writeAll(2, "harmonize-run: cannot write to standard output: \(String(cString: strerror(code)))\n")
            Foundation.exit(Exit.io.rawValue)
        }
    }

    /// Writes the whole of `text` to descriptor `fd`; false when a write fails (`errno` says why).
    private static func writeAll(_ fd: Int32, _ text: String) -> Bool {
        var text = text
        guard let failed = text.withUTF8({ writeFully(fd, UnsafeRawBufferPointer($0)) }) else { return true }
        errno = failed
        return false
    }

    /// `12.3 MB`.
    static func bytes(_ n: Int64) -> String {
        let d = Double(n)
        if d >= 1e9 { return String(format: "%.2f GB", d / 1e9) }
        if d >= 1e6 { return String(format: "%.1f MB", d / 1e6) }
        if d >= 1e3 { return String(format: "%.1f kB", d / 1e3) }
        return "\(n) B"
    }
}
