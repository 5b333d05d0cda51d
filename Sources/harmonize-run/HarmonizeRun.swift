import ArgumentParser
import Foundation
import Harmonize

@main
struct HarmonizeRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harmonize-run",
        abstract: "Harmonize heterogeneous health data into OMOP CDM v5.4.",
        discussion: """
            Exit codes: 0 success; 1 the run completed and its output was published, but rejected records exceed \
            --max-reject-rate (or, with --fail-on-quality, a data-quality check failed; for 'quality': a check failed); \
            2 configuration or mapping errors; 3 I/O errors.
            """,
        version: HarmonizeVersion.current,
        subcommands: [
            RunCommand.self, CheckCommand.self, PlanCommand.self, InspectCommand.self, ScanCommand.self, TestCommand.self, DocsCommand.self,
            QualityCommand.self, RejectsCommand.self, ReportCommand.self, RiskCommand.self, VocabularyCommand.self, UnmappedCommand.self,
            TraceCommand.self, ReplayCommand.self, RemapCommand.self, MergeCommand.self, PublishCommand.self, SplitCommand.self, DDLCommand.self,
        ])

    /// Parses and runs the subcommand; command-line usage errors exit with 2 (as configuration
    /// errors, documented in the README) rather than ArgumentParser's 64.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                Terminal.error(fullMessage(for: error))
                Foundation.exit(Exit.configuration.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// The process exit codes (docs/errors.md): 0 ok, 1 data or quality above a threshold, then
/// the category of the error (`HarmonizeError.Kind.exitCode`): 2 configuration or usage, 3 I/O,
/// 4 privacy, 70 internal.
enum Exit {
    static let success = ExitCode(0)
    static let rejectsAboveThreshold = ExitCode(1)
    static let checksFailed = ExitCode(1)
    /// `trace`: no such row, or no lineage for it.
    static let notFound = ExitCode(1)
    static let configuration = ExitCode(HarmonizeError.Kind.configuration.exitCode)
    static let io = ExitCode(HarmonizeError.Kind.io.exitCode)
    static let privacy = ExitCode(HarmonizeError.Kind.privacy.exitCode)

    /// The exit code of an error's category.
    static func code(for error: HarmonizeError) -> ExitCode { ExitCode(error.exitCode) }
}
