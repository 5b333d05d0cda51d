import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A `harmonize-run` process started in the background (output to files, so a long output never
/// blocks it), for tests that kill it, change its inputs while it runs, or bound its time.
final class CLIProcess {
    let process = Process()
    private let outPath: String
    private let errPath: String

    /// Starts the CLI with `arguments`. With `fileSizeLimitKB`, it runs under `ulimit -f` (the
    /// limit a full disk looks like to the process: writes past it fail with `EFBIG`; `SIGXFSZ` is
    /// ignored so the process sees the error rather than dying). `environment`: variables added to
    /// the test's.
    init(_ arguments: [String], fileSizeLimitKB: Int? = nil, environment: [String: String] = [:]) throws {
        let dir = TestSupport.temporaryDirectory("cli-process")
        outPath = dir + "/stdout"
        errPath = dir + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        if let limit = fileSizeLimitKB {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", "trap '' XFSZ; ulimit -f \(limit); exec \"$0\" \"$@\"", TestSupport.executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: TestSupport.executable)
            process.arguments = arguments
        }
        if !environment.isEmpty {
            var env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env[k] = v }
            process.environment = env
        }
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        try process.run()
    }

    /// Kills the process with SIGKILL.
    func kill() { _ = Glibc.kill(process.processIdentifier, SIGKILL) }

    /// Waits at most `timeout` seconds (then kills it); returns the result (status -9 when killed).
    func wait(timeout: Double = 60) -> (result: TestSupport.CommandResult, timedOut: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                kill()
                break
            }
            usleep(2_000)
        }
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? -process.terminationStatus : process.terminationStatus
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return (TestSupport.CommandResult(status: status, stdout: out, stderr: err), timedOut)
    }

    /// Runs the CLI to its end, killing it after `timeout` seconds.
    static func run(_ arguments: [String], timeout: Double = 60, fileSizeLimitKB: Int? = nil) throws -> (
        result: TestSupport.CommandResult, timedOut: Bool
    ) {
        try CLIProcess(arguments, fileSizeLimitKB: fileSizeLimitKB).wait(timeout: timeout)
    }
}

@available(*, unavailable)
extension CLIProcess: Sendable {}
