import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run trace`: where one output row came from.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Show where an output row came from: run, source file and location, mapping, the rule and the vocabulary entries of each column.",
        discussion: """
            ID is the value of the table's key (its primary key, e.g. measurement_id; for tables without one, the first *_id \
            column). Needs row-level lineage (run --lineage). --show-source reads the source record back from its file (the one \
            command that prints source values). Exit codes: 0 found; 1 no such row, or no lineage recorded for it; 2 usage \
            errors (unknown table); 3 I/O errors (missing database, unreadable or changed source file).
            """)

    @Option(name: .long, help: ArgumentHelp("The output database: a SQLite file or a PostgreSQL URI.", valueName: "FILE|URI"))
    var output: String

    @Argument(help: "The output table (e.g. measurement).")
    var table: String

    @Argument(help: "The row's key value (e.g. a measurement_id).")
    var id: String

    @Flag(name: .customLong("show-source"), help: "Also print the source record, read back from its file (prints values).")
    var showSource = false

    @Option(name: .long, help: ArgumentHelp("The input folder, for --show-source (default: the folder the run recorded).", valueName: "DIR"))
    var input: String?

    @Flag(name: .long, help: "Print the trace as JSON.")
    var json = false

    struct Document: Encodable {
        var table: String
        var id: String
        var traces: [Entry]
        struct Entry: Encodable {
            var trace: RowTrace
            var sourceRecord: String?
        }
    }

    func run() throws {
        let outcome: TraceOutcome
        let db: OutputDatabase
        do {
            db = try OutputDatabase.open(output)
            outcome = try db.trace(table: table, id: id)
        } catch let e as ExitCode {
            throw e
        } catch {
            Terminal.error("harmonize-run: \(error)")
            throw Exit.io
        }
        let traces: [RowTrace]
        switch outcome {
        case .noSuchTable:
            Terminal.error("harmonize-run: \(output) has no output table '\(table)'")
            throw Exit.configuration
        case .noSuchRow(let key):
            // The key value is not repeated in messages (it may identify a person).
            Terminal.error("harmonize-run: no row of \(table) has that \(key)")
            throw Exit.notFound
        case .noLineage(let key):
            Terminal.error(
                "harmonize-run: the row of \(table) with that \(key) exists, but no lineage was recorded for it; run with --lineage to record row-level lineage"
            )
            throw Exit.notFound
        case .found(let t):
            traces = t
        }
        var entries: [Document.Entry] = []
        for t in traces {
            var record: String?
            if showSource {
                var dir = input
                do throws(OutputDatabase.Failure) {
                    if dir == nil { dir = try db.inputDirectory(run: t.run.id) }
                } catch {
                    Terminal.error("harmonize-run: \(error.description)")
                    throw Exit.io
                }
                guard let dir else {
                    Terminal.error("harmonize-run: the run did not record its input folder; give it with --input DIR")
                    throw Exit.io
                }
                do throws(SourceReadBack.Failure) {
                    record = try SourceReadBack.read(t.source, inputDirectory: dir)
                } catch {
                    Terminal.error("harmonize-run: cannot show the source record: \(error.description)")
                    throw Exit.io
                }
            }
            entries.append(.init(trace: t, sourceRecord: record))
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            Terminal.out((try? String(decoding: e.encode(Document(table: table, id: id, traces: entries)), as: UTF8.self)) ?? "{}")
            return
        }
        for (i, entry) in entries.enumerated() {
            if i > 0 { Terminal.out("") }
            Terminal.out(Self.text(entry.trace, sourceRecord: entry.sourceRecord))
        }
    }

    static func text(_ t: RowTrace, sourceRecord: String?) -> String {
        var lines: [String] = []
        lines.append("\(t.table) \(t.keyColumn) = \(t.id)")
        var run = "  run       \(t.run.id) (\(t.run.kind)"
        if t.run.kind == "replay" { run += " of " + (t.run.replayOf ?? "every run's outstanding rejects") }
        run += ", started \(t.run.startedAt), engine \(t.run.engineVersion))"
        lines.append(run)
        lines.append("  source    \(t.source.path) (\(t.source.format ?? "?"), sha256 \(t.source.sha256))")
        lines.append("  location  \(t.source.locationText)")
        lines.append("  mapping   \(t.mapping.id) \(t.mapping.version) (\(t.mapping.file), sha256 \(t.mapping.sha256))")
        if t.rules.isEmpty {
            lines.append("  rules     not recorded by this run")
        } else {
            lines.append("  rules")
            let file = t.mapping.file.split(separator: "/").last.map(String.init) ?? t.mapping.file
            let rows = t.rules.map { r in
                [r.column, r.line.map { "\(file):\($0)" } ?? file, r.rule, r.reads.isEmpty ? "(constant)" : "reads " + r.reads]
            }
            let w0 = rows.map { $0[0].count }.max() ?? 0
            let w1 = rows.map { $0[1].count }.max() ?? 0
            for r in rows {
                let pad0 = String(repeating: " ", count: w0 - r[0].count)
                let pad1 = String(repeating: " ", count: w1 - r[1].count)
                lines.append("    \(r[0])\(pad0)  \(r[1])\(pad1)  \(r[2])  — \(r[3])")
            }
        }
        if let v = t.vocabulary {
            if v.isEmpty {
                lines.append("  vocabulary  none used for this row")
            } else {
                lines.append("  vocabulary")
                let width = v.map { $0.column.count + 1 }.max() ?? 0
                for u in v {
                    lines.append("    \(u.column):" + String(repeating: " ", count: width - u.column.count - 1) + " " + u.text)
                }
            }
        } else {
            lines.append("  vocabulary  not recorded (this output has no vocabulary lineage)")
        }
        if let sourceRecord {
            lines.append("  source record (\(t.source.path), \(t.source.locationText)):")
            lines.append(contentsOf: sourceRecord.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 })
        }
        return lines.joined(separator: "\n")
    }
}
