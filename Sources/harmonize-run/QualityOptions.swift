import ArgumentParser
import Foundation
import Harmonize

/// The data-quality options `run` and `replay` share (`--no-quality`, `--checks`,
/// `--fail-on-quality`), their checks before anything is read, and the checks after publishing.
struct QualityOptions: ParsableArguments {
    @Flag(name: .customLong("no-quality"), help: "Do not run the data-quality checks after publishing a SQLite output.")
    var noQuality = false

    @Flag(name: .customLong("fail-on-quality"), help: "Exit 1 when a data-quality check fails (by default failed checks are reported only).")
    var failOnQuality = false

    @Option(name: .long, help: ArgumentHelp("User data-quality checks (YAML) run with the built-in checks.", valueName: "FILE.yaml"))
    var checks: String?

    mutating func validate() throws {
        if noQuality && (failOnQuality || checks != nil) { throw ValidationError("--no-quality cannot be combined with --fail-on-quality or --checks") }
    }

    /// Refuses a user checks file that does not load, before the run reads anything.
    func validateChecksFile() throws {
        if let checks, !noQuality { try QualityRunner.validateChecksFile(checks) }
    }

    /// Runs the checks over the published `output` (unless `--no-quality`) and prints them.
    /// Returns the report (nil when not run) and whether a check failed or could not run; the
    /// output is published already, so a problem is reported, never turned into a failed run.
    func check(output: String) throws -> (report: QualityReport?, failed: Bool) {
        guard !noQuality else { return (nil, false) }
        do {
            let report = try QualityRunner.run(output: output, checksFile: checks, json: nil)
            QualityRunner.print(report, verbose: false)
            return (report, report.count(.failed) + report.count(.error) > 0)
        } catch let e as CLIError {
            Terminal.error("harmonize-run: quality checks not run: \(e.message)")
            return (nil, true)
        }
    }

    /// Exits 1 when `--fail-on-quality` and a check failed.
    func enforce(failed: Bool) throws {
        if failOnQuality && failed {
            Terminal.error("harmonize-run: data-quality checks failed (--fail-on-quality); the output was published")
            throw Exit.checksFailed
        }
    }
}
