import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// `harmonize-run test`: runs the `tests:` cases of every mapping in memory and reports coverage.
struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run the test cases of mapping files in memory and report coverage (fields, branches, lookups, filters).",
        discussion:
            "Exit codes: 0 every case passed (and coverage reached --min-coverage); 1 a case failed or coverage is too low; 2 mapping or test errors."
    )

    @Option(
        name: .long, parsing: .upToNextOption,
        help: ArgumentHelp("Mapping files, or folders searched recursively for mapping files.", valueName: "DIR|FILE"))
    var mappings: [String] = ["mappings"]

    @Option(
        name: .long,
        help: ArgumentHelp("The vocabulary store (or Athena download folder) the vocabulary functions use in the cases.", valueName: "FILE|DIR"))
    var vocabulary: String?

    @Option(name: .long, help: ArgumentHelp("Also write the results as JUnit XML.", valueName: "FILE.xml"))
    var junit: String?

    @Option(
        name: .customLong("min-coverage"),
        help: ArgumentHelp("Fail when a mapping's field, branch, lookup or filter coverage is below N percent.", valueName: "N"))
    var minCoverage: Double?

    func validate() throws {
        if let minCoverage, !(0...100).contains(minCoverage) {
            throw ValidationError("--min-coverage must be a percentage between 0 and 100")
        }
    }

    func run() throws {
        let session: MappingTestSession
        do {
            session = try MappingTestSession.run(mappings: mappings, vocabulary: vocabulary)
        } catch let e as CLIError {
            Terminal.error("harmonize-run: \(e.message)")
            throw e.code
        }
        for d in session.diagnostics { Terminal.error(d.description) }
        if vocabulary == nil, let r = session.runners.first(where: { FunctionCatalog.needsVocabulary($0.plan) }) {
            Terminal.error("harmonize-run: mapping \(r.plan.id) calls vocabulary functions: its cases need --vocabulary FILE|DIR")
        }
        var failedCases = 0
        var totalCases = 0
        var lowCoverage: [String] = []
        for r in session.reports {
            let passed = r.results.filter(\.passed).count
            totalCases += r.results.count
            failedCases += r.results.count - passed
            Terminal.out("\(r.mappingID) (\(r.file)): \(passed)/\(r.results.count) cases passed")
            for res in r.results where !res.passed {
                Terminal.out("  FAIL \(res.name) (line \(res.line))")
                for f in res.failures { Terminal.out("    " + f.description) }
            }
            if r.results.isEmpty { Terminal.out("  no test cases") }
            Terminal.out("  coverage \(MappingCoverage.format(r.coverage.percent))%: \(r.coverage.summary)")
            for u in r.coverage.uncovered { Terminal.out("    not covered: \(u)") }
            if let minCoverage {
                let below = r.coverage.categoriesBelow(minCoverage)
                if !below.isEmpty { lowCoverage.append("\(r.mappingID): \(below.joined(separator: ", "))") }
            }
        }
        if let junit {
            do {
                try Data(JUnitReport.xml(session.reports).utf8).write(to: URL(fileURLWithPath: junit))
            } catch {
                Terminal.error("harmonize-run: cannot write \(junit): \(error)")
                throw Exit.io
            }
        }
        Terminal.out("\(totalCases - failedCases)/\(totalCases) cases passed in \(session.reports.count) mapping(s)")
        if !session.diagnostics.isEmpty {
            Terminal.error("harmonize-run: errors in the mappings or their tests")
            throw Exit.configuration
        }
        if let minCoverage, !lowCoverage.isEmpty {
            for l in lowCoverage { Terminal.error("harmonize-run: coverage below \(MappingCoverage.format(minCoverage))% for \(l)") }
        }
        if failedCases > 0 || !lowCoverage.isEmpty { throw Exit.rejectsAboveThreshold }
    }
}
