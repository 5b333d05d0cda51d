import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run publish`: publishes a run whose shards were committed into a PostgreSQL schema.
struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish a run whose shards (run --shard i/N --run-id ID) were committed into a PostgreSQL schema.",
        discussion: """
            Each shard of a run into PostgreSQL commits its rows into the run's area together with its row in the \
            schema's shard ledger (harmonize_shard_ledger); the shard that completes the ledger publishes the run itself. \
            publish does it when that shard could not (the schema's lock held by another run, the server gone): once all N \
            shards are in the ledger, it builds the keys, constraints and indices, then replaces the schema's CDM in one \
            transaction (readers see the old CDM or the new one), with the run's books summed over the shards. \
            The data-quality checks (unless --no-quality; with --checks FILE) run in that transaction on the assembled \
            run, before the swap; their results are stored in harmonize_quality with the run. \
            Exit codes: 0 published, or already published (nothing changed); 1 published, but a data-quality check failed \
            (with --fail-on-quality); 2 a shard is not committed yet [HZ7209] or the \
            shards disagree [HZ7208], or two rows share a primary key (target-pk-duplicate): nothing published; 3 the \
            server cannot be reached, another run holds the schema's lock [HZ7012], or the data-quality checks cannot \
            run: nothing published. See docs/postgresql.md.
            """)

    @Option(name: .customLong("run-id"), help: ArgumentHelp("The run id the shards were run with.", valueName: "ID"))
    var runID: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The PostgreSQL output the shards were run into: postgresql://USER@HOST:PORT/DB?schema=NAME (password from PGPASSWORD or ~/.pgpass).",
            valueName: "URI"))
    var output: String

    @Flag(name: .long, help: "Print the published run's summary as JSON on standard output.")
    var json = false

    @OptionGroup var quality: QualityOptions

    mutating func validate() throws {
        if !RunCommand.isValidRunID(runID) { throw ValidationError("--run-id is 1 to 128 letters, digits, '.', '_' or '-'") }
        if !PostgreSQLTarget.isURI(output) {
            throw ValidationError("publish takes a PostgreSQL --output (postgresql://…); SQLite shard files are combined by 'harmonize-run merge'")
        }
    }

    func run() throws {
        try quality.validateChecksFile()
        let outcome = QualityOutcome()
        let start = Date()
        let publication: PostgreSQLShards.Publication
        let target: PostgreSQLTarget
        do throws(HarmonizeError) {
            target = try PostgreSQLTarget(parsing: output)
            publication = try PostgreSQLShards.publish(runID: runID, target: target, checks: quality.shardChecks(outcome))
        } catch {
            Terminal.error("harmonize-run: \(error.message) [\(error.code)]")
            if json { Terminal.out(RunFailure.json(code: error.exitCode, message: error.message, diagnostics: error.diagnostics)) }
            throw Exit.code(for: error)
        }
        switch publication {
        case .alreadyPublished:
            Terminal.error("harmonize-run: run \(runID) is already published in schema \(target.schema); nothing changed")
            if json { Terminal.out(RunCommand.alreadyPublishedJSON(runID)) }
        case .published(let manifest):
            let elapsed = Date().timeIntervalSince(start)
            let (report, failed) = quality.report(outcome)
            if json {
                Terminal.out(RunSummary.json(manifest, seconds: elapsed, output: target.displayURI, quality: report))
            } else {
                Terminal.error(RunSummary.text(manifest, seconds: elapsed, output: target.displayURI))
                Terminal.error("harmonize-run: run \(runID) is published in schema \(target.schema)")
            }
            try quality.enforce(failed: failed)
        }
    }
}
