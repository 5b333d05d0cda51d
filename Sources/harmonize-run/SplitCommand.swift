import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// `harmonize-run split`: pre-splits an input folder by subject, one folder per shard.
struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Split the input files by subject into one folder per shard (OUTPUT/shard-0 …), for run --shard i/N on each.",
        discussion: """
            Each record goes to the shard its subject hashes to (as run --shard i/N computes it: give the same key), with the \
            joined rows it finds; the header lines go to every shard, records without a subject to shard 0, files no \
            mapping reads to every shard. Streams each file (memory stays flat; routing notes go to a temporary SQLite \
            file in the output folder). Only delimited sources; mappings calling row_id are refused [HZ7206]. Run shard i \
            with: run --input OUTPUT/shard-i --shard i/N --run-id ID, then merge. See docs/scale-out.md.
            """)

    @OptionGroup var mappingOptions: MappingOptions

    @Option(name: .long, help: ArgumentHelp("The input folder (the mappings' file patterns are relative to it).", valueName: "DIR"))
    var input: String

    @Option(name: .long, help: ArgumentHelp("The folder to write shard-0 … shard-(N-1) into.", valueName: "DIR"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("The number of shards.", valueName: "N"))
    var shards: Int

    @OptionGroup var privacy: PrivacyOptions

    @Option(
        name: .customLong("memory-budget"),
        help: ArgumentHelp("The memory budget of the join indexes (bytes, or with K, M, G), as for run.", valueName: "SIZE"))
    var memoryBudget: String = "256M"

    mutating func validate() throws {
        if shards < 1 || shards > 4096 { throw ValidationError("--shards is a number from 1 to 4096") }
        if RunCommand.byteSize(memoryBudget) == nil { throw ValidationError("--memory-budget is a size in bytes, or with K, M or G (256M)") }
        let a = URL(fileURLWithPath: input).standardizedFileURL.path
        let b = URL(fileURLWithPath: output).standardizedFileURL.path
        if a == b || b.hasPrefix(a + "/") || a.hasPrefix(b + "/") {
            throw ValidationError("--output must be outside --input (and not hold it)")
        }
    }

    func run() throws {
        guard FileManager.default.fileExists(atPath: input) else {
            Terminal.error("harmonize-run: input folder not found: \(input)")
            throw Exit.io
        }
        let key = try privacy.loadKey()
        let store = try mappingOptions.vocabularyStore()
        let plans = try mappingOptions.plans(functions: FunctionCatalog.registry(vocabulary: store))
        var options = RunOptions(inputDirectory: input)
        options.key = key
        options.vocabulary = store
        options.dateShiftDays = privacy.dateShiftDays
        options.memoryBudget = RunCommand.byteSize(memoryBudget) ?? options.memoryBudget
        let start = Date()
        let summary: ShardSplit.Summary
        do {
            summary = try ShardSplit.split(plans: plans, options: options, count: shards, output: output)
        } catch {
            for d in error.diagnostics { Terminal.error(d.description) }
            Terminal.error("harmonize-run: \(error.message) [\(error.code)]")
            throw Exit.code(for: error)
        }
        let seconds = Date().timeIntervalSince(start)
        Terminal.error(
            "split \(summary.splitFiles.count) files by subject into \(shards) shards in \(String(format: "%.2f", seconds)) s → \(output)/shard-0 … "
                + "(\(summary.routes) record routes; lines per shard: \(summary.linesPerShard.map(String.init).joined(separator: ", ")))")
        if !summary.copiedFiles.isEmpty {
            Terminal.error("copied to every shard (no mapping reads them by record): \(summary.copiedFiles.joined(separator: ", "))")
        }
    }
}
