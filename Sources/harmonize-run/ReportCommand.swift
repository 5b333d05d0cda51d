import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run report`: one self-contained HTML page about an output database.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report (tables, ledger, rejects, quality, lineage picture) of an output database.",
        discussion: "Exit codes: 0 written; 2 usage errors; 3 I/O errors.")

    @Option(name: .long, help: ArgumentHelp("The output database: a SQLite file or a PostgreSQL URI.", valueName: "FILE|URI"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Where to write the HTML page.", valueName: "FILE.html"))
    var html: String

    @Option(
        name: .customLong("quasi-identifiers"),
        help: "Also show the re-identification risk over these quasi-identifiers (comma-separated, as for `risk`).")
    var quasiIdentifiers: String?

    @Option(name: .customLong("min-k"), help: "Smallest class size tolerated; person counts below it are shown as '< k'.")
    var minK: Int = 11

    @Option(name: .long, help: "Prosecutor-risk threshold for the risk section.")
    var threshold: Double = 0.2

    @Option(
        name: .customLong("vocabulary-diff"), parsing: .upToNextOption,
        help: ArgumentHelp(
            "Add a section on what release NEW changes against OLD (stores or Athena folders) for the codes the output used (as 'vocabulary diff --output').",
            valueName: "OLD NEW"))
    var vocabularyDiff: [String] = []

    func validate() throws {
        if !vocabularyDiff.isEmpty && vocabularyDiff.count != 2 {
            throw ValidationError("--vocabulary-diff takes two releases: OLD NEW (stores or Athena folders)")
        }
    }

    func run() throws {
        var risk: ReidentificationRisk.Report?
        if let quasiIdentifiers {
            let qis = quasiIdentifiers.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            do {
                risk = try ReidentificationRisk.analyse(output: output, quasiIdentifiers: qis, minK: minK, threshold: threshold)
            } catch {
                Terminal.error("harmonize-run: \(error.description)")
                throw error.isUsage ? Exit.configuration : Exit.io
            }
        }
        let page: String
        do {
            let db = try OutputDatabase.open(output)
            var diff: (VocabularyDiff, VocabularyDiffInUse?)?
            if vocabularyDiff.count == 2 {
                let (d, inUse) = try db.vocabularyDiff(
                    old: VocabularyDiffCommand.openStore(vocabularyDiff[0]), new: VocabularyDiffCommand.openStore(vocabularyDiff[1]))
                diff = (d, inUse)
            }
            page = try HTMLReport.render(db, risk: risk, vocabularyDiff: diff)
        } catch let e as ExitCode {
            throw e
        } catch {
            Terminal.error("harmonize-run: \(error)")
            throw Exit.io
        }
        guard FileManager.default.createFile(atPath: html, contents: Data(page.utf8)) else {
            Terminal.error("harmonize-run: cannot write \(html)")
            throw Exit.io
        }
        Terminal.error("report written to \(html)")
    }
}
