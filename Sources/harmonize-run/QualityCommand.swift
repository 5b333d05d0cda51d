import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// `harmonize-run quality`: runs the data-quality checks against an output database.
struct QualityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quality",
        abstract: "Run the data-quality checks (OHDSI DQD check types, plus --checks rules) on an output database.",
        discussion: """
            Results replace earlier results of the same run in the table harmonize_quality of the database. \
            With --output postgresql://USER@HOST:PORT/DB?schema=NAME the checks run on the published schema for its latest run \
            (the run's lock is taken: not while a run writes the schema). \
            Exit codes: 0 every check passed or is not applicable; 1 some checks failed or could not be evaluated; \
            2 usage or checks-file errors; 3 I/O errors.
            """)

    @Option(name: .long, help: ArgumentHelp("The output database to check: a SQLite file or a PostgreSQL URI.", valueName: "FILE|URI"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Also write the results as JSON to this file ('-' for standard output).", valueName: "FILE"))
    var json: String?

    @Option(name: .long, help: ArgumentHelp("A YAML file of user checks (rules in the expression language).", valueName: "FILE.yaml"))
    var checks: String?

    @Flag(name: .long, help: "Print every check, not only the failed ones.")
    var verbose = false

    func run() throws {
        do {
            let report: QualityReport
            if PostgreSQLTarget.isURI(output) {
                report = try QualityRunner.runPublished(uri: output, checksFile: checks, json: json)
            } else {
                guard FileManager.default.fileExists(atPath: output) else {
                    throw CLIError(code: Exit.io, message: "no such output database: \(output)")
                }
                // Not while a run replaces the output (its lock): the results are written into it.
                report = try OutputLock.withLock(output: output) { try QualityRunner.run(output: output, checksFile: checks, json: json) }
            }
            QualityRunner.print(report, verbose: verbose)
            if report.count(.failed) > 0 || report.count(.error) > 0 { throw Exit.checksFailed }
        } catch let e as CLIError {
            Terminal.error("harmonize-run: \(e.message)")
            throw e.code
        } catch let e as SinkError {
            Terminal.error("harmonize-run: \(e.message)")
            throw Exit.io
        }
    }
}

/// Runs the quality checks for `quality` and at the end of `run`.
enum QualityRunner {
    /// Loads a checks file and exits 2 on errors, before a run reads anything.
    static func validateChecksFile(_ path: String) throws {
        _ = try userChecks(path, model: try model())
    }

    private static func model() throws -> TargetModel {
        do { return try Mappings.omopModel() } catch { throw CLIError(code: Exit.io, message: "\(error)") }
    }

    private static func userChecks(_ checksFile: String, model: TargetModel) throws -> [QualityCheck] {
        guard FileManager.default.fileExists(atPath: checksFile) else {
            throw CLIError(code: Exit.configuration, message: "no such checks file: \(checksFile)")
        }
        do {
            return try UserRuleFile.load(path: checksFile, model: model, functions: FunctionCatalog.registry())
        } catch {
            for d in error.diagnostics { Terminal.error(d.description) }
            throw CLIError(code: Exit.configuration, message: "\(error.diagnostics.count) error(s) in the checks file; nothing was checked")
        }
    }

    /// The built-in checks and those of `checksFile`.
    private static func engine(checksFile: String?) throws -> QualityEngine {
        let model: TargetModel
        var all: [QualityCheck]
        do {
            model = try Mappings.omopModel()
            all = try Mappings.omopQualityChecks(model: model)
        } catch {
            throw CLIError(code: Exit.io, message: "\(error)")
        }
        let functions = FunctionCatalog.registry()
        if let checksFile { all += try userChecks(checksFile, model: model) }
        return QualityEngine(checks: all, model: model, conventions: Mappings.omopQualityConventions, functions: functions)
    }

    /// Runs the checks on a SQLite output and stores the results in it.
    static func run(output: String, checksFile: String?, json: String?) throws -> QualityReport {
        guard FileManager.default.fileExists(atPath: output) else {
            throw CLIError(code: Exit.io, message: "no such output database: \(output)")
        }
        let engine = try engine(checksFile: checksFile)
        let report: QualityReport
        do {
            report = try engine.run(databasePath: output)
            try QualityEngine.store(report, databasePath: output)
        } catch {
            throw CLIError(code: Exit.io, message: error.description)
        }
        try write(report, json: json)
        return report
    }

    /// Runs the checks on a PostgreSQL output (its published schema, or a run's staging schema
    /// with the run's id) and stores the results in it.
    static func run(postgres db: PostgreSQLOutputConnection, runID: String?, checksFile: String?, json: String?) throws -> QualityReport {
        let engine = try engine(checksFile: checksFile)
        let report: QualityReport
        do {
            report = try engine.run(on: db, runID: runID)
            try QualityEngine.store(report, on: db)
        } catch {
            throw CLIError(code: Exit.io, message: error.description)
        }
        try write(report, json: json)
        return report
    }

    /// `quality --output postgresql://…`: the checks on the published schema, for its latest
    /// run, holding the schema's run lock (exit 3 when a run writes it).
    static func runPublished(uri: String, checksFile: String?, json: String?) throws -> QualityReport {
        let target: PostgreSQLTarget
        do throws(HarmonizeError) {
            target = try PostgreSQLTarget(parsing: uri)
        } catch {
            throw CLIError(code: Exit.configuration, message: "\(error.message) [\(error.code)]")
        }
        let db: PostgreSQLOutputConnection
        let (locked, published): (Bool, Bool)
        do throws(OutputReadError) {
            db = try PostgreSQLOutputConnection(target: target)
            locked = try db.tryLockTarget(target)
            published = try db.holdsPublishedRun()
        } catch {
            throw CLIError(code: Exit.io, message: error.description)
        }
        guard locked else {
            throw CLIError(code: Exit.io, message: "a run is writing schema \(target.schema) (its lock is held); nothing was checked")
        }
        guard published else { throw CLIError(code: Exit.io, message: "schema \(target.schema) holds no published Harmonize run") }
        return try run(postgres: db, runID: nil, checksFile: checksFile, json: json)
    }

    private static func write(_ report: QualityReport, json: String?) throws {
        if let json {
            if json == "-" {
                Terminal.out(report.json())
            } else if !FileManager.default.createFile(atPath: json, contents: Data((report.json() + "\n").utf8)) {
                throw CLIError(code: Exit.io, message: "cannot write \(json)")
            }
        }
    }

    /// Prints failed (or all) checks and the summary line on standard error.
    static func print(_ report: QualityReport, verbose: Bool) {
        var rows = [["status", "check", "violating", "checked", "pct", "threshold"]]
        for r in report.results where verbose || r.status == .failed || r.status == .error {
            rows.append([
                r.status.rawValue, r.check.id, "\(r.rowsViolating)", "\(r.rowsChecked)", String(format: "%.2f", r.percentViolating),
                String(format: "%g", r.check.threshold),
            ])
        }
        if rows.count > 1 { Terminal.error(RunSummary.table(rows).joined(separator: "\n")) }
        Terminal.error(report.summaryLine)
    }
}
