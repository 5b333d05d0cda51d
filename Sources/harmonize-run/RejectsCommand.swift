import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run rejects`: lists the rejected records of an output (locations and reasons, never values).
struct RejectsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rejects",
        abstract:
            "List outstanding rejected records (file, line, record, field, reason, rule, message; never values) with counts per reason and mapping.",
        discussion: "Exit codes: 0 listed (even when empty); 2 usage errors; 3 I/O errors (missing or unreadable database).")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, csv, json
    }

    @Option(name: .long, help: ArgumentHelp("The output database.", valueName: "FILE.sqlite"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Only this reason code.", valueName: "CODE"))
    var reason: String?

    @Option(name: .long, help: ArgumentHelp("Only this mapping.", valueName: "ID"))
    var mapping: String?

    @Option(name: .long, help: "Output format: table (default), csv or json.")
    var format: Format = .table

    @Flag(name: .long, help: "Also list rejects that a replay re-processed (resolved); by default only outstanding ones.")
    var all = false

    func run() throws {
        let list: [OutputDatabase.Reject]
        let counts: [(reason: String, mapping: String, count: Int)]
        do {
            // PostgreSQL: the latest published run's rejects (a schema keeps every run's).
            let db = try OutputDatabase.open(output)
            list = try db.rejects(reason: reason, mapping: mapping, includeResolved: all)
            counts = try db.rejectCounts(includeResolved: all).filter {
                (reason == nil || $0.reason == reason) && (mapping == nil || $0.mapping == mapping)
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            Terminal.error("harmonize-run: \(error)")
            throw Exit.io
        }
        func opt(_ i: Int?) -> String { i.map(String.init) ?? "" }
        switch format {
        case .table:
            var rows = [["mapping", "file", "line", "record", "field", "reason", "rule", "message"]]
            for r in list { rows.append([r.mapping, r.file, opt(r.line), opt(r.record), r.field ?? "", r.reason, r.rule ?? "", r.message]) }
            if list.isEmpty { Terminal.out("no rejects") } else { Terminal.out(RunSummary.table(rows).joined(separator: "\n")) }
            if !counts.isEmpty {
                Terminal.out("")
                var c = [["reason", "mapping", "rejects"]]
                for k in counts { c.append([k.reason, k.mapping, "\(k.count)"]) }
                Terminal.out(RunSummary.table(c).joined(separator: "\n"))
            }
            Terminal.out("\(list.count) reject\(list.count == 1 ? "" : "s")")
        case .csv:
            var lines = ["mapping,file,line,record,field,reason,rule,message"]
            for r in list {
                lines.append(
                    [r.mapping, r.file, opt(r.line), opt(r.record), r.field ?? "", r.reason, r.rule ?? "", r.message].map(Self.csv).joined(
                        separator: ","))
            }
            Terminal.out(lines.joined(separator: "\n"))
        case .json:
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let doc = Document(
                rejects: list.map {
                    .init(
                        mapping: $0.mapping, file: $0.file, line: $0.line, record: $0.record, field: $0.field, reason: $0.reason, rule: $0.rule,
                        message: $0.message)
                },
                counts: counts.map { .init(reason: $0.reason, mapping: $0.mapping, count: $0.count) }, total: list.count)
            Terminal.out((try? String(decoding: e.encode(doc), as: UTF8.self)) ?? "{}")
        }
    }

    /// A CSV field, quoted when needed.
    static func csv(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    struct Document: Encodable {
        struct Row: Encodable {
            var mapping, file: String
            var line, record: Int?
            var field: String?
            var reason: String
            var rule: String?
            var message: String
        }
        struct Count: Encodable {
            var reason, mapping: String
            var count: Int
        }
        var rejects: [Row]
        var counts: [Count]
        var total: Int
    }
}

extension OutputDatabase {
    /// Opens the output a command reads: a SQLite file, or the schema of a PostgreSQL URI (its
    /// latest published run); a URI that does not parse is a usage error (exit 2), said on
    /// standard error.
    static func open(_ output: String) throws -> OutputDatabase {
        guard PostgreSQLTarget.isURI(output) else { return try OutputDatabase(path: output) }
        let target: PostgreSQLTarget
        do throws(HarmonizeError) {
            target = try PostgreSQLTarget(parsing: output)
        } catch {
            Terminal.error("harmonize-run: \(error.message) [\(error.code)]")
            throw Exit.configuration
        }
        return try OutputDatabase(postgres: target)
    }
}
