import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Output helpers: standard error for diagnostics and progress, standard output for results.
enum Terminal {
    /// Whether standard error is a terminal (progress is shown only then).
    static var stderrIsTTY: Bool { isatty(2) == 1 }

    /// Writes a line to standard error.
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Rewrites the current standard-error line (progress).
    static func status(_ line: String) {
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
    }

    /// Writes to standard output.
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
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
