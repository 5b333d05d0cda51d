import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run docs`: writes a Markdown page per mapping and an index.
struct DocsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docs",
        abstract: "Write Markdown documentation of mappings (rules, source fields read, lookups, tests, coverage) and an index.")

    @Option(
        name: .long, parsing: .upToNextOption,
        help: ArgumentHelp("Mapping files, or folders searched recursively for mapping files.", valueName: "DIR|FILE"))
    var mappings: [String]

    @Option(name: .long, help: ArgumentHelp("The folder to write the pages into (created if missing).", valueName: "DIR"))
    var output: String

    @Option(
        name: .long,
        help: ArgumentHelp("The vocabulary store (or Athena download folder) the vocabulary functions use in the cases.", valueName: "FILE|DIR"))
    var vocabulary: String?

    func run() throws {
        let session: MappingTestSession
        do {
            session = try MappingTestSession.run(mappings: mappings, vocabulary: vocabulary)
        } catch let e as CLIError {
            Terminal.error("harmonize-run: \(e.message)")
            throw e.code
        }
        for d in session.diagnostics { Terminal.error(d.description) }
        guard session.diagnostics.isEmpty else { throw Exit.configuration }
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let plans = session.runners.map(\.plan)
            for (p, r) in zip(plans, session.reports) {
                let path = output + "/" + MappingDocumentation.pageName(for: p)
                try Data(MappingDocumentation.page(for: p, report: r).utf8).write(to: URL(fileURLWithPath: path))
                Terminal.out("wrote \(path)")
            }
            try Data(MappingDocumentation.index(plans: plans, reports: session.reports).utf8).write(to: URL(fileURLWithPath: output + "/README.md"))
            Terminal.out("wrote \(output)/README.md")
        } catch {
            Terminal.error("harmonize-run: cannot write \(output): \(error)")
            throw Exit.io
        }
    }
}
