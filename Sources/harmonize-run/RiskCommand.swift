import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run risk`: re-identification risk of the persons of an output database.
struct RiskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "risk",
        abstract: "Measure the re-identification risk (k-anonymity, prosecutor and marketer risk) of an output's persons.",
        discussion: """
            Quasi-identifiers are columns of the person table (year_of_birth, gender_concept_id, location_id…) or derived ones: \
            \(ReidentificationRisk.derived.keys.sorted().joined(separator: ", ")). \
            Exit codes: 0 k ≥ --min-k; 1 k < --min-k; 2 usage errors; 3 I/O errors.
            """)

    @Option(name: .long, help: ArgumentHelp("The output database: a SQLite file or a PostgreSQL URI.", valueName: "FILE|URI"))
    var output: String

    @Option(name: .customLong("quasi-identifiers"), help: ArgumentHelp("Comma-separated quasi-identifiers.", valueName: "A,B,…"))
    var quasiIdentifiers: String

    @Option(name: .customLong("min-k"), help: "The smallest class size tolerated (default 11).")
    var minK: Int = 11

    @Option(name: .long, help: "Prosecutor-risk threshold: persons whose risk (1 / class size) exceeds it are counted (default 0.2).")
    var threshold: Double = 0.2

    @Option(name: .long, help: ArgumentHelp("Write the report as JSON ('-' for standard output).", valueName: "FILE"))
    var json: String?

    mutating func validate() throws {
        if minK < 1 { throw ValidationError("--min-k must be at least 1") }
        if !(0...1).contains(threshold) { throw ValidationError("--threshold must be between 0 and 1") }
        if names.isEmpty { throw ValidationError("--quasi-identifiers needs at least one name") }
    }

    var names: [String] {
        quasiIdentifiers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() throws {
        let report: ReidentificationRisk.Report
        do throws(ReidentificationRisk.Failure) {
            report = try ReidentificationRisk.analyse(output: output, quasiIdentifiers: names, minK: minK, threshold: threshold)
        } catch {
            Terminal.error("harmonize-run: \(error.description)")
            throw error.isUsage ? Exit.configuration : Exit.io
        }
        let pct = { (x: Double) in String(format: "%.1f%%", x * 100) }
        var lines = [
            "quasi-identifiers: \(report.quasi_identifiers.joined(separator: ", "))",
            "persons: \(report.persons) in \(report.classes) classes; k = \(report.k) (required \(report.min_k))",
            "unique persons: \(report.unique_persons) (\(pct(report.unique_share)))",
            "prosecutor risk: max \(String(format: "%.3f", report.prosecutor_risk_max)), average \(String(format: "%.3f", report.prosecutor_risk_average)); "
                + "\(report.persons_above_threshold) persons (\(pct(report.share_above_threshold))) above \(report.threshold)",
            "marketer risk: \(String(format: "%.3f", report.marketer_risk))",
            "classes below k = \(report.min_k): \(report.classes_below_min_k) (\(report.persons_below_min_k) persons)",
        ]
        if !report.small_class_sizes.isEmpty {
            lines.append(
                "  by size: "
                    + report.small_class_sizes.sorted { Int($0.key)! < Int($1.key)! }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        }
        Terminal.error(lines.joined(separator: "\n"))
        if let json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted]
            let text = (try? String(decoding: e.encode(report), as: UTF8.self)) ?? "{}"
            if json == "-" {
                Terminal.out(text)
            } else if !FileManager.default.createFile(atPath: json, contents: Data((text + "\n").utf8)) {
                Terminal.error("harmonize-run: cannot write \(json)")
                throw Exit.io
            }
        }
        if !report.passes {
            Terminal.error("harmonize-run: k = \(report.k) is below --min-k \(report.min_k)")
            throw Exit.checksFailed
        }
    }
}

extension ReidentificationRisk {
    /// The report over a SQLite file or the schema of a PostgreSQL URI (a URI that does not parse
    /// is a usage error).
    static func analyse(output: String, quasiIdentifiers: [String], minK: Int, threshold: Double) throws(Failure) -> Report {
        guard PostgreSQLTarget.isURI(output) else {
            return try analyse(path: output, quasiIdentifiers: quasiIdentifiers, minK: minK, threshold: threshold)
        }
        let target: PostgreSQLTarget
        do throws(HarmonizeError) {
            target = try PostgreSQLTarget(parsing: output)
        } catch {
            throw Failure(description: "\(error.message) [\(error.code)]", isUsage: true)
        }
        return try analyse(postgres: target, quasiIdentifiers: quasiIdentifiers, minK: minK, threshold: threshold)
    }
}
