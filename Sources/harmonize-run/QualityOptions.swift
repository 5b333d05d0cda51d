import ArgumentParser
import Foundation
import Harmonize

/// The data-quality options `run`, `replay`, `merge` and `publish` share (`--no-quality`,
/// `--checks`, `--fail-on-quality`), their checks before anything is read, and the checks run on
/// the staging database (SQLite), staging schema or sharded run's area (PostgreSQL) before it is
/// published.
struct QualityOptions: ParsableArguments {
    @Flag(
        name: .customLong("no-quality"),
        help: "Do not run the data-quality checks (run on the output before it is published, results stored in it).")
    var noQuality = false

    @Flag(name: .customLong("fail-on-quality"), help: "Exit 1 when a data-quality check fails (by default failed checks are reported only).")
    var failOnQuality = false

    @Option(name: .long, help: ArgumentHelp("User data-quality checks (YAML) run with the built-in checks.", valueName: "FILE.yaml"))
    var checks: String?

    mutating func validate() throws {
        if noQuality && (failOnQuality || checks != nil) {
            throw ValidationError("--no-quality cannot be combined with --fail-on-quality or --checks")
        }
    }

    /// Refuses a user checks file that does not load, before the run reads anything.
    func validateChecksFile() throws {
        if let checks, !noQuality { try QualityRunner.validateChecksFile(checks) }
    }

    /// The checks as a `SQLiteSink.beforePublish` step (nil with `--no-quality`): they run on the
    /// completed staging database and store their results in it before it is published, so
    /// nothing writes into a published file. Their report is kept in `outcome`. When they cannot
    /// run (the staging database cannot be read or written), nothing is published.
    func beforePublish(_ outcome: QualityOutcome) -> ((String) throws(SinkError) -> Void)? {
        guard !noQuality else { return nil }
        let checks = self.checks
        return { staging throws(SinkError) in
            do {
                outcome.report = try QualityRunner.run(output: staging, checksFile: checks, json: nil)
            } catch let e as CLIError {
                throw SinkError(
                    "data-quality checks could not run: \(e.message); nothing was published", isIO: e.code.rawValue != Exit.configuration.rawValue)
            } catch {
                throw SinkError("data-quality checks could not run: \(error); nothing was published")
            }
        }
    }

    /// The checks as a `PostgreSQLSink.beforePublish` step (nil with `--no-quality`): they run on
    /// the run's complete staging schema (with the target's tables the publication keeps, such as
    /// the vocabulary) and store their results in its `harmonize_quality`, which the publication
    /// transaction appends to the target's. When they cannot run, nothing is published.
    func postgresBeforePublish(_ outcome: QualityOutcome) -> ((PostgreSQLStaging) throws(SinkError) -> Void)? {
        guard let run = shardChecks(outcome) else { return nil }
        return { staging throws(SinkError) in
            let db: PostgreSQLOutputConnection
            do {
                db = try PostgreSQLOutputConnection(staging: staging)
            } catch {
                throw SinkError("data-quality checks could not run: \(error); nothing was published")
            }
            try run(db, staging.runID)
        }
    }

    /// The checks as `PostgreSQLShards.publish`'s `checks` (nil with `--no-quality`): they run on
    /// the assembled run of the shards (its area, keys and indices built, inside the publication
    /// transaction) and store their results in its `harmonize_quality`, published with the run.
    /// Also the step `postgresBeforePublish` runs on a staging schema. When they cannot run,
    /// nothing is published.
    func shardChecks(_ outcome: QualityOutcome) -> PostgreSQLShards.Checks? {
        guard !noQuality else { return nil }
        let checks = self.checks
        return { db, runID throws(SinkError) in
            do {
                outcome.report = try QualityRunner.run(postgres: db, runID: runID, checksFile: checks, json: nil)
            } catch let e as CLIError {
                throw SinkError(
                    "data-quality checks could not run: \(e.message); nothing was published", isIO: e.code.rawValue != Exit.configuration.rawValue)
            } catch {
                throw SinkError("data-quality checks could not run: \(error); nothing was published")
            }
        }
    }

    /// Prints the checks run before publication (failed ones and the summary line); returns the
    /// report (nil when not run) and whether a check failed or could not be evaluated.
    func report(_ outcome: QualityOutcome) -> (report: QualityReport?, failed: Bool) {
        guard let report = outcome.report else { return (nil, false) }
        QualityRunner.print(report, verbose: false)
        return (report, report.count(.failed) + report.count(.error) > 0)
    }

    /// Exits 1 when `--fail-on-quality` and a check failed.
    func enforce(failed: Bool) throws {
        if failOnQuality && failed {
            Terminal.error("harmonize-run: data-quality checks failed (--fail-on-quality); the output was published")
            throw Exit.checksFailed
        }
    }
}

/// The report of the checks run on the staging database, for printing after publication.
final class QualityOutcome {
    /// Nil until the checks ran.
    var report: QualityReport?
}
