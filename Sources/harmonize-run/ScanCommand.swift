import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run scan`: profiles a delimited file or the delimited files of a folder (what
/// WhiteRabbit does), streaming, with small-cell suppression; `--draft` writes a starter mapping.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract:
            "Profile a CSV file or the CSV files of a folder: layout, and per column type, nulls, distinct values, range, lengths, frequent values.",
        discussion: """
            Streams every record. The layout (encoding, delimiter, preamble lines, header) and the column types are \
            guessed as by 'inspect', with the evidence. Frequent values are listed with small-cell suppression (a count \
            under 11 is shown as <11); values of columns that look identifying (NIR-like values, names, addresses, \
            birth dates, patient identifiers) are never listed, nor their range. Distinct counts are exact up to \
            10000 values, then a HyperLogLog estimate. --draft FILE writes a starter mapping (source, dialect, a Table \
            Schema with the types scan is sure of, no target yet) that passes 'check'. --html FILE also writes the profile \
            as a self-contained HTML page, with the same suppression.
            Exit codes: 0 profiled; 1 some records rejected (counted per file); 2 usage errors; 3 I/O errors.
            """)

    @Argument(help: ArgumentHelp("A CSV file, or a folder whose .csv, .tsv and .txt files are profiled.", valueName: "PATH"))
    var path: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    @Option(name: .long, help: "Most frequent values listed per column.")
    var top: Int = 10

    @Option(name: .long, help: ArgumentHelp("Write a starter mapping for the (first) file to FILE.", valueName: "FILE"))
    var draft: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Also write the profile as a self-contained HTML page (no script, no external resource) to FILE.", valueName: "FILE.html"))
    var html: String?

    @OptionGroup var layout: CSVLayoutOptions

    typealias FileProfile = ScanFileProfile

    struct Report: Encodable {
        var files: [FileProfile]
    }

    func run() throws {
        guard top >= 0 else {
            Terminal.error("harmonize-run: --top cannot be negative")
            throw Exit.configuration
        }
        let given = try InspectCommand.csvOptions(delimiter: layout.delimiter, encoding: layout.encoding, skipLines: layout.skipLines)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            Terminal.error("harmonize-run: cannot read \(path)")
            throw Exit.io
        }
        var files: [(path: String, display: String)] = []
        if isDirectory.boolValue {
            let names = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
            for n in names where [".csv", ".tsv", ".txt"].contains(where: { n.lowercased().hasSuffix($0) }) {
                files.append(((path as NSString).appendingPathComponent(n), n))
            }
            if files.isEmpty {
                Terminal.error("harmonize-run: no .csv, .tsv or .txt file in \(path)")
                throw Exit.configuration
            }
        } else {
            files = [(path, (path as NSString).lastPathComponent)]
        }
        var report = Report(files: [])
        for f in files {
            do {
                report.files.append(try profile(f.path, display: f.display, given: given))
            } catch let e as DelimitedReaderError {
                throw InspectCommand.readerFailure(e, file: f.path)
            }
        }
        if let draft, let first = report.files.first {
            do {
                try Self.draftMapping(first).write(toFile: draft, atomically: true, encoding: .utf8)
            } catch {
                Terminal.error("harmonize-run: cannot write \(draft)")
                throw Exit.io
            }
            Terminal.error("harmonize-run: wrote the starter mapping \(draft) (check it with: harmonize-run check --mappings \(draft))")
        }
        if let html {
            let page = ScanHTMLPage.render(report.files, source: path)
            guard FileManager.default.createFile(atPath: html, contents: Data(page.utf8)) else {
                Terminal.error("harmonize-run: cannot write \(html)")
                throw Exit.io
            }
            Terminal.error("harmonize-run: wrote the scan page \(html)")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            let data: Data
            do {
                data = try encoder.encode(report)
            } catch {
                Terminal.error("harmonize-run: cannot encode the report as JSON")
                throw Exit.io
            }
            Terminal.out(String(decoding: data, as: UTF8.self))
        } else {
            for f in report.files { Self.printText(f) }
        }
        if report.files.contains(where: { $0.rejected > 0 }) { throw ExitCode(1) }
    }

    func profile(_ file: String, display: String, given: Dialect) throws -> FileProfile {
        let layout = try DelimitedLayoutGuesser.guess(path: file, dialect: given, givenSkipLines: layout.skipLines, givenHeader: layout.header)
        var dialect = layout.dialect(from: given)
        dialect.raggedRows = .pad
        let reader = try DelimitedReader(path: file, displayName: display, dialect: dialect)
        let d = reader.resolvedDialect
        var names = reader.columnNames
        var profilers = names.enumerated().map { ColumnProfiler(name: $1, position: $0 + 1) }
        var records = 0
        var rejected = 0
        loop: while true {
            switch try reader.next() {
            case .record:
                records += 1
                let cells = reader.strings()
                if profilers.isEmpty && !cells.isEmpty {
                    names = (1...cells.count).map(String.init)
                    profilers = names.enumerated().map { ColumnProfiler(name: $1, position: $0 + 1) }
                }
                for i in profilers.indices { profilers[i].add(i < cells.count ? cells[i] : "") }
            case .rejected: rejected += 1
            case .end: break loop
            }
        }
        return FileProfile(
            file: display, encoding: d.encoding.rawValue, delimiter: d.delimiter.map { $0 == 9 ? "tab" : String(UnicodeScalar($0)) } ?? ",",
            skipLines: d.skipLines, header: d.header, evidence: layout.evidence, records: records, rejected: rejected,
            columns: profilers.map { $0.profile(top: top) })
    }

    static func printText(_ f: FileProfile) {
        Terminal.out(
            "\(f.file): \(f.records) record(s), \(f.rejected) rejected; encoding \(f.encoding), delimiter \(f.delimiter), skip_lines \(f.skipLines), header \(f.header)"
        )
        for e in f.evidence { Terminal.out("  - \(e)") }
        for c in f.columns {
            let g = c.guess
            var line = "  \(c.position). \(c.name): \(g.type)"
            if let fmt = g.format { line += " (format \"\(fmt)\")" }
            if let dc = g.decimalChar { line += " (decimalChar \"\(dc)\")" }
            Terminal.out(line)
            var facts = "      \(String(format: "%.1f", c.nullShare * 100))% empty, \(c.distinctEstimated ? "~" : "")\(c.distinct) distinct"
            if g.values > 0 { facts += ", \(g.parsing) of \(g.values) read as \(g.type == "string" || g.type == "empty" ? "text" : g.type)" }
            if let lo = g.minLength, let hi = g.maxLength { facts += ", length \(lo)–\(hi)" }
            if let lo = c.min, let hi = c.max { facts += ", range \(Self.number(lo))…\(Self.number(hi))" }
            Terminal.out(facts)
            if !g.formatsSeen.isEmpty { Terminal.out("      formats seen: \(g.formatsSeen.joined(separator: ", "))") }
            for n in g.notes { Terminal.out("      note: \(n)") }
            if let why = c.identifying {
                Terminal.out("      values not listed: \(why)")
            } else if !c.frequent.isEmpty {
                Terminal.out("      frequent: " + c.frequent.map { "\"\($0.value)\" \($0.count)" }.joined(separator: ", "))
            }
        }
    }

    static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }

    /// A starter mapping: the source, its dialect and a Table Schema with the types scan is sure
    /// of (others `string`), and no target yet (it passes `check`).
    static func draftMapping(_ f: FileProfile) -> String {
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        let stem = ((f.file as NSString).deletingPathExtension as NSString).lastPathComponent
        let id = "draft." + String(stem.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
        var y = """
            # Starter mapping written by `harmonize-run scan --draft` (\(f.records) record(s) scanned).
            # Types are the ones every value read as; check them, then add targets (docs/mapping-files.md).
            harmonize: 1
            id: \(id)
            version: 0.1.0
            description: Draft mapping of \(f.file).

            source:
              format: csv
              files: \(quoted(f.file))
              dialect:
                delimiter: \(quoted(f.delimiter == "tab" ? "tab" : f.delimiter))
                encoding: \(f.encoding)
                header: \(f.header)
                skip_lines: \(f.skipLines)

            """
        if !f.header { y += "    columns: [\(f.columns.map { quoted($0.name) }.joined(separator: ", "))]\n" }
        y += "  schema:\n    fields:\n"
        for c in f.columns {
            let g = c.guess
            let type = g.type == "empty" ? "string" : g.type
            var field = "      - {name: \(quoted(c.name)), type: \(type)"
            if let fmt = g.format, fmt != "default" { field += ", format: \(quoted(fmt))" }
            if let dc = g.decimalChar, dc != "." { field += ", decimalChar: \(quoted(dc))" }
            field += "}"
            if g.leadingZeros > 0 { field += "   # leading zeros" }
            y += field + "\n"
        }
        y += "\ntargets: []   # add `- table: … fields: {…}` entries\n"
        return y
    }
}
