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
            page = try HTMLReport.render(try OutputDatabase.open(output), risk: risk)
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
