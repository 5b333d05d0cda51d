import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// `harmonize-run docs`: writes a Markdown page per mapping and an index.
struct DocsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docs",
        abstract: "Write Markdown documentation of mappings (rules, source fields read, lookups, tests, coverage) and an index.",
        discussion:
            "Exit codes: 0 written, every case passed; 1 written, some cases failed (the reason on standard error); 2 mapping or test errors; 3 I/O errors."
    )

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
        // Failing cases are shown as FAIL in the pages: say why here, and exit 1 as `test` does.
        let failed = session.reports.reduce(0) { $0 + $1.results.filter { !$0.passed }.count }
        guard failed > 0 else { return }
        if vocabulary == nil {
            for p in session.runners.map(\.plan) where FunctionCatalog.needsVocabulary(p) {
                Terminal.error("harmonize-run: mapping \(p.id) calls vocabulary functions but no --vocabulary was given: its cases fail")
            }
        }
        Terminal.error("harmonize-run: \(failed) case(s) failed (marked FAIL in the pages; 'harmonize-run test' lists the reasons)")
        throw Exit.rejectsAboveThreshold
    }
}
