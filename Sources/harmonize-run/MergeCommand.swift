import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run merge`: combines the SQLite outputs of the shards of one run into one output.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine the SQLite outputs of the shards of one run (run --shard i/N --run-id ID) into one output.",
        discussion: """
            The merged output equals the output of the unsplit run: OMOP tables, rejects and lineage appended, the ledger \
            summed (read counts the records each shard kept), the manifest listing the shard files. Refused (exit 2, \
            nothing written) when a file is not a shard output [HZ7203], when the files are of different runs [HZ7204], or \
            when a shard is missing or given twice [HZ7205]. The data-quality checks run on the merged output before it \
            is published by atomic rename (as for run). See docs/scale-out.md.
            """)

    @Option(name: .long, help: ArgumentHelp("The merged SQLite output.", valueName: "FILE"))
    var output: String

    @Option(
        name: .customLong("output-mode"),
        help: ArgumentHelp("Permissions of the output, in octal (default 600: owner only).", valueName: "MODE"))
    var outputMode: String = "600"

    @Flag(name: .long, help: "Print the merged run summary as JSON on standard output.")
    var json = false

    @OptionGroup var quality: QualityOptions

    @Argument(help: ArgumentHelp("The shard outputs, one per shard, in any order.", valueName: "SHARD.sqlite"))
    var shards: [String]

    mutating func validate() throws {
        if shards.isEmpty { throw ValidationError("give the shard files to merge") }
        if RunCommand.fileMode(outputMode) == nil { throw ValidationError("--output-mode is an octal mode from 0 to 777 (600, 640, 644)") }
        let target = URL(fileURLWithPath: output).standardizedFileURL.path
        if shards.contains(where: { URL(fileURLWithPath: $0).standardizedFileURL.path == target }) {
            throw ValidationError("--output must not be one of the shard files")
        }
    }

    func run() throws {
        try quality.validateChecksFile()
        let outcome = QualityOutcome()
        let start = Date()
        let manifest: RunManifest
        do {
            manifest = try ShardMerge.merge(
                shards: shards, output: output, fileMode: RunCommand.fileMode(outputMode) ?? 0o600, beforePublish: quality.beforePublish(outcome))
        } catch {
            Terminal.error("harmonize-run: \(error.message) [\(error.code)]")
            if json { Terminal.out(RunFailure.json(code: error.exitCode, message: error.message, diagnostics: error.diagnostics)) }
            throw Exit.code(for: error)
        }
        let elapsed = Date().timeIntervalSince(start)
        let (report, failed) = quality.report(outcome)
        if json {
            Terminal.out(RunSummary.json(manifest, seconds: elapsed, output: output, quality: report))
        } else {
            Terminal.error(RunSummary.text(manifest, seconds: elapsed, output: output))
        }
        try quality.enforce(failed: failed)
    }
}
