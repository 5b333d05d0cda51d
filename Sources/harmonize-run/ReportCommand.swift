import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run report`: one self-contained HTML page about an output database.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report (tables, ledger, rejects, quality, lineage picture) of an output database.",
        discussion: "Exit codes: 0 written; 2 usage errors; 3 I/O errors.")

    @Option(name: .long, help: ArgumentHelp("The output database.", valueName: "FILE.sqlite"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Where to write the HTML page.", valueName: "FILE.html"))
    var html: String

    func run() throws {
        let page: String
        do {
            page = try HTMLReport.render(try OutputDatabase(path: output))
        } catch {
            Terminal.error("harmonize-run: \(error.description)")
            throw Exit.io
        }
        guard FileManager.default.createFile(atPath: html, contents: Data(page.utf8)) else {
            Terminal.error("harmonize-run: cannot write \(html)")
            throw Exit.io
        }
        Terminal.error("report written to \(html)")
    }
}
