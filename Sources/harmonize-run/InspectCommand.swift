import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run inspect`: shows how a source file reads, before any mapping is written.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show how a source file reads: CSV dialect and columns, HL7 v2 messages as paths and values.",
        discussion: """
            For CSV, the dialect (delimiter, encoding, preamble lines, header) is guessed with the evidence \
            and can be set with --delimiter, --header/--no-header, --encoding and --skip-lines; each column \
            gets, in file order, the schema type every value reads as (with its format or decimal character).
            Exit codes: 0 every record read; 1 some records rejected (listed with reason codes); 2 usage \
            errors or a file that does not read with the dialect; 3 I/O errors (a file that cannot be read).
            """)

    enum Format: String, CaseIterable {
        case csv, hl7v2, xml
    }

    @Argument(help: ArgumentHelp("The file to inspect.", valueName: "FILE"))
    var file: String

    @Option(name: .long, help: "csv, hl7v2 or xml (default: from the extension and the first bytes).")
    var format: String?

    @Option(name: .long, help: "Most records to show (rejects are always all listed).")
    var limit: Int = 20

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    @OptionGroup var layout: CSVLayoutOptions

    struct Value: Encodable {
        var path: String
        var value: String?
        var line: Int
    }

    struct Record: Encodable {
        var record: Int
        var line: Int?
        var values: [Value]
    }

    struct RejectLine: Encodable {
        var reason: String
        var record: Int?
        var line: Int?
        var path: String?
        var message: String
    }

    /// The dialect of a CSV file as guessed (or given), with the evidence.
    struct DialectReport: Encodable {
        var delimiter: String
        var encoding: String
        var byteOrderMark: Bool
        var header: Bool
        var skipLines: Int
        var evidence: [String]
    }

    /// One CSV column, in file order: the schema type it can be declared with and why.
    struct Column: Encodable {
        var position: Int
        var name: String
        var type: String
        var format: String?
        var decimalChar: String?
        var values: Int
        var empty: Int
        var parsing: Int
        var leadingZeros: Int
        var formatsSeen: [String]
        var notes: [String]
    }

    struct Report: Encodable {
        var file: String
        var format: String
        var dialect: DialectReport? = nil
        var columns: [Column]? = nil
        var records: [Record] = []
        var recordCount = 0
        var rejects: [RejectLine] = []
    }

    func run() throws {
        if let f = format, Format(rawValue: f.lowercased()) == nil {
            Terminal.error("harmonize-run: unknown format '\(f)' (csv, hl7v2 or xml)")
            throw Exit.configuration
        }
        // Only regular files are read (a FIFO or a device would block or never end): checked
        // before anything, format guessing included.
        guard FileManager.default.isReadableFile(atPath: file) else {
            Terminal.error("harmonize-run: cannot read \(file)")
            throw Exit.io
        }
        do {
            try FileByteSource.requireRegularFile(file)
        } catch {
            Terminal.error("harmonize-run: \(error.description)")
            throw Exit.io
        }
        let fmt: Format
        if let f = format {
            guard let known = Format(rawValue: f.lowercased()) else {
                Terminal.error("harmonize-run: unknown format '\(f)' (csv, hl7v2 or xml)")
                throw Exit.configuration
            }
            fmt = known
        } else {
            fmt = Self.guessFormat(file)
        }
        let given = try csvOptions()
        if fmt != .csv && layout.isSet {
            Terminal.error("harmonize-run: --delimiter, --header, --encoding and --skip-lines apply to CSV files only")
            throw Exit.configuration
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue,
            FileManager.default.isReadableFile(atPath: file)
        else {
            Terminal.error("harmonize-run: cannot read \(file)")
            throw Exit.io
        }
        var report: Report
        do {
            switch fmt {
            case .hl7v2: report = try inspectHL7()
            case .csv: report = try inspectCSV(given)
            case .xml: report = try inspectXML()
            }
        } catch let e as SourceIOError {
            Terminal.error("harmonize-run: \(e.description)")
            throw Exit.io
        } catch let e as XMLReaderError {
            Terminal.error("harmonize-run: \(e.description)")
            throw Exit.io
        } catch let e as DelimitedReaderError {
            throw Self.readerFailure(e, file: file)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data: Data
            do {
                data = try encoder.encode(report)
            } catch {
                Terminal.error("harmonize-run: cannot encode the report as JSON")
                throw Exit.io
            }
            Terminal.out(String(decoding: data, as: UTF8.self))
        } else {
            printText(report)
        }
        if !report.rejects.isEmpty { throw ExitCode(1) }
    }

    /// The CSV dialect given on the command line (delimiter, encoding); exit 2 when unusable.
    func csvOptions() throws -> Dialect {
        try Self.csvOptions(delimiter: layout.delimiter, encoding: layout.encoding, skipLines: layout.skipLines)
    }

    /// The dialect of `--delimiter`, `--encoding` and `--skip-lines` (shared with `scan`).
    static func csvOptions(delimiter: String?, encoding: String?, skipLines: Int?) throws -> Dialect {
        var d = Dialect()
        if let s = delimiter {
            switch s {
            case "tab", "\\t", "\t": d.delimiter = 9
            default:
                guard s.utf8.count == 1, let b = s.utf8.first, b < 0x80, b != 10, b != 13, b != UInt8(ascii: "\"") else {
                    Terminal.error("harmonize-run: --delimiter takes one ASCII character or 'tab'")
                    throw Exit.configuration
                }
                d.delimiter = b
            }
        }
        if let e = encoding {
            guard let known = TextEncoding(name: e) else {
                Terminal.error(
                    "harmonize-run: unknown --encoding '\(e)' (\(TextEncoding.allCases.map(\.rawValue).joined(separator: ", ")))")
                throw Exit.configuration
            }
            d.encoding = known
        }
        if let n = skipLines, n < 0 {
            Terminal.error("harmonize-run: --skip-lines cannot be negative")
            throw Exit.configuration
        }
        return d
    }

    /// Exit 3 for an I/O error; otherwise the file does not read with the dialect (exit 2),
    /// said without quoting the file's text.
    static func readerFailure(_ e: DelimitedReaderError, file: String) -> ExitCode {
        switch e.kind {
        case .io(let io):
            Terminal.error("harmonize-run: \(io.description)")
            return Exit.io
        case .duplicateColumn:
            Terminal.error(
                "harmonize-run: \(file): the first record repeats a column name, so it cannot be a header; try --no-header or --skip-lines N")
        case .emptyFile:
            Terminal.error("harmonize-run: \(file): no record after the skipped lines")
        case .headerMismatch, .invalidHeader, .invalidDialect:
            Terminal.error("harmonize-run: \(e.description)")
        }
        return Exit.configuration
    }

    static func guessFormat(_ path: String) -> Format {
        let lower = path.lowercased()
        if lower.hasSuffix(".hl7") || lower.hasSuffix(".er7") { return .hl7v2 }
        if lower.hasSuffix(".xml") { return .xml }
        if let h = FileHandle(forReadingAtPath: path) {
            let head = Array(h.readData(ofLength: 16))
            try? h.close()
            var bytes = head[...]
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
            if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) || bytes.prefix(4).contains(0) {
                bytes = bytes.filter { $0 != 0 && $0 != 0xFF && $0 != 0xFE }[...]
            }
            while let c = bytes.first, c == 0x0B || c == 0x0D || c == 0x0A || c == 0x20 { bytes = bytes.dropFirst() }
            let start = String(decoding: bytes.prefix(3), as: UTF8.self)
            if ["MSH", "FHS", "BHS"].contains(start) { return .hl7v2 }
            if bytes.first == UInt8(ascii: "<") { return .xml }
        }
        return .csv
    }

    static func rejectLine(_ r: Reject) -> RejectLine {
        RejectLine(reason: r.reason.rawValue, record: r.location.record, line: r.location.line, path: r.location.path, message: r.message)
    }

    func inspectHL7() throws -> Report {
        let reader = HL7Reader(source: try FileByteSource(path: file), displayName: file)
        var report = Report(file: file, format: "hl7v2")
        loop: while true {
            switch try reader.next() {
            case .record:
                report.recordCount += 1
                if report.records.count < limit {
                    report.records.append(
                        Record(
                            record: reader.location.record ?? 0, line: reader.location.line,
                            values: reader.leaves().map { Value(path: $0.path, value: $0.value, line: $0.line) }))
                }
            case .rejected(let r): report.rejects.append(Self.rejectLine(r))
            case .end: break loop
            }
        }
        return report
    }

    func inspectXML() throws -> Report {
        let outline = try XMLOutline(source: try FileByteSource(path: file), displayName: file)
        var report = Report(file: file, format: "xml")
        report.recordCount = outline.entries.count
        report.records = [
            Record(record: 1, line: nil, values: outline.entries.map { Value(path: "\($0.path) ×\($0.count)", value: $0.sample, line: 0) })
        ]
        if let r = outline.reject { report.rejects.append(Self.rejectLine(r)) }
        return report
    }

    func inspectCSV(_ given: Dialect) throws -> Report {
        let layout = try DelimitedLayoutGuesser.guess(path: file, dialect: given, givenSkipLines: layout.skipLines, givenHeader: layout.header)
        let reader = try DelimitedReader(path: file, dialect: layout.dialect(from: given))
        let d = reader.resolvedDialect
        var report = Report(file: file, format: "csv")
        report.dialect = DialectReport(
            delimiter: d.delimiter.map { $0 == 9 ? "tab" : String(UnicodeScalar($0)) } ?? ",",
            encoding: d.encoding.rawValue, byteOrderMark: layout.byteOrderMark, header: d.header, skipLines: d.skipLines,
            evidence: layout.evidence)
        var names = reader.columnNames
        var guessers = [ColumnTypeGuesser](repeating: ColumnTypeGuesser(), count: names.count)
        var empties = [Int](repeating: 0, count: names.count)
        loop: while true {
            switch try reader.next() {
            case .record:
                report.recordCount += 1
                let cells = reader.strings()
                if names.isEmpty && !cells.isEmpty { names = (1...cells.count).map(String.init) }
                while guessers.count < min(cells.count, names.count) {
                    guessers.append(ColumnTypeGuesser())
                    empties.append(0)
                }
                for (i, c) in cells.enumerated() where i < guessers.count {
                    if c.trimmingCharacters(in: .whitespaces).isEmpty { empties[i] += 1 } else { guessers[i].add(c) }
                }
                if report.records.count < min(limit, 5) {
                    report.records.append(
                        Record(
                            record: reader.location.record ?? 0, line: reader.location.line,
                            values: cells.enumerated().map {
                                Value(path: $0 < names.count ? names[$0] : String($0 + 1), value: $1, line: reader.location.line ?? 0)
                            }))
                }
            case .rejected(let r): report.rejects.append(Self.rejectLine(r))
            case .end: break loop
            }
        }
        report.columns = guessers.enumerated().map { i, g in
            let x = g.guess
            return Column(
                position: i + 1, name: names[i], type: x.type, format: x.format, decimalChar: x.decimalChar, values: x.values,
                empty: empties[i], parsing: x.parsing, leadingZeros: x.leadingZeros, formatsSeen: x.formatsSeen, notes: x.notes)
        }
        return report
    }

    func printText(_ r: Report) {
        let unit = r.format == "xml" ? "path(s)" : "record(s)"
        Terminal.out("\(r.file): \(r.format), \(r.recordCount) \(unit), \(r.rejects.count) reject(s)")
        if let d = r.dialect {
            Terminal.out("  delimiter: \(d.delimiter)")
            Terminal.out("  encoding: \(d.encoding)\(d.byteOrderMark ? " (byte order mark)" : "")")
            Terminal.out("  skip_lines: \(d.skipLines)")
            Terminal.out("  header: \(d.header)")
            for e in d.evidence { Terminal.out("    - \(e)") }
        }
        if let columns = r.columns {
            Terminal.out("columns (file order): position. name: type")
            for c in columns {
                var line = "  \(c.position). \(c.name): \(c.type)"
                if let f = c.format { line += ", format: \"\(f)\"" }
                if let dc = c.decimalChar { line += ", decimalChar: \"\(dc)\"" }
                line += " (\(c.values) value(s), \(c.empty) empty)"
                Terminal.out(line)
                for n in c.notes { Terminal.out("      note: \(n)") }
            }
        }
        for rec in r.records {
            switch r.format {
            case "hl7v2": Terminal.out("message \(rec.record) (line \(rec.line ?? 0))")
            case "xml": Terminal.out("paths (count, sample value):")
            default: Terminal.out("record \(rec.record) (line \(rec.line ?? 0))")
            }
            for v in rec.values { Terminal.out("  \(v.path) = \(v.value.map { "\"\($0)\"" } ?? "null")") }
        }
        for j in r.rejects {
            var loc = ""
            if let rec = j.record { loc += " record \(rec)" }
            if let l = j.line { loc += " line \(l)" }
            if let p = j.path { loc += " at \(p)" }
            Terminal.out("reject\(loc): \(j.reason): \(j.message)")
        }
    }
}

/// The CSV layout flags of `inspect` and `scan`: each overrides a guess.
struct CSVLayoutOptions: ParsableArguments {
    @Option(name: .long, help: "CSV: the delimiter (one character, or 'tab'); default: detected.")
    var delimiter: String?

    @Flag(name: .long, inversion: .prefixedNo, help: "CSV: whether the first record (after --skip-lines) is a header; default: guessed.")
    var header: Bool?

    @Option(name: .long, help: "CSV: utf-8, latin-1, windows-1252, utf-16 or auto (default).")
    var encoding: String?

    @Option(name: .long, help: "CSV: physical lines to skip before the first record (a preamble); default: guessed.")
    var skipLines: Int?

    /// Whether any of them was given.
    var isSet: Bool { delimiter != nil || header != nil || encoding != nil || skipLines != nil }
}
