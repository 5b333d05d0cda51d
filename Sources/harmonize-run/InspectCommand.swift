import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run inspect`: shows how a source file reads, before any mapping is written.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show how a source file reads: CSV dialect and columns, HL7 v2 messages as paths and values.",
        discussion: "Exit codes: 0 every record read; 1 some records rejected (listed with reason codes); 2 usage errors.")

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

    struct Report: Encodable {
        var file: String
        var format: String
        var dialect: [String: String]? = nil
        var columns: [String]? = nil
        var records: [Record] = []
        var recordCount = 0
        var rejects: [RejectLine] = []
    }

    func run() throws {
        guard FileManager.default.isReadableFile(atPath: file) else {
            Terminal.error("harmonize-run: cannot read \(file)")
            throw Exit.configuration
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
        var report: Report
        do {
            switch fmt {
            case .hl7v2: report = try inspectHL7()
            case .csv: report = try inspectCSV()
            case .xml: report = try inspectXML()
            }
        } catch let e as SourceIOError {
            Terminal.error("harmonize-run: \(e.description)")
            throw Exit.io
        } catch let e as XMLReaderError {
            Terminal.error("harmonize-run: \(e.description)")
            throw Exit.io
        } catch let e as DelimitedReaderError {
            Terminal.error("harmonize-run: \(e.description)")
            throw Exit.io
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(report)) ?? Data()
            Terminal.out(String(decoding: data, as: UTF8.self))
        } else {
            printText(report)
        }
        if !report.rejects.isEmpty { throw ExitCode(1) }
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
                        Record(record: reader.location.record ?? 0, line: reader.location.line,
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

    func inspectCSV() throws -> Report {
        let sniff = try DelimitedReader.sniff(path: file)
        let reader = try DelimitedReader(path: file)
        let d = reader.resolvedDialect
        var report = Report(file: file, format: "csv")
        report.dialect = [
            "delimiter": d.delimiter.map { $0 == 9 ? "tab" : String(UnicodeScalar($0)) } ?? "?",
            "encoding": sniff.encoding.rawValue, "byteOrderMark": String(sniff.byteOrderMark), "header": String(d.header),
        ]
        let names = reader.columnNames
        report.columns = names
        var guesses = [String?](repeating: nil, count: names.count)
        loop: while true {
            switch try reader.next() {
            case .record:
                report.recordCount += 1
                let cells = reader.strings()
                for (i, c) in cells.enumerated() where i < guesses.count && !c.isEmpty {
                    guesses[i] = Self.merge(guesses[i], Self.guess(c))
                }
                if report.records.count < min(limit, 5) {
                    report.records.append(
                        Record(record: reader.location.record ?? 0, line: reader.location.line,
                               values: cells.enumerated().map { Value(path: $0 < names.count ? names[$0] : String($0 + 1), value: $1, line: reader.location.line ?? 0) }))
                }
            case .rejected(let r): report.rejects.append(Self.rejectLine(r))
            case .end: break loop
            }
        }
        for (i, g) in guesses.enumerated() { report.dialect?["type." + names[i]] = g ?? "empty" }
        return report
    }

    /// A type guess for one cell: integer, number, date or string.
    static func guess(_ s: String) -> String {
        let t = s.trimmingCharacters(in: .whitespaces)
        if Int(t) != nil { return "integer" }
        if Double(t.replacingOccurrences(of: ",", with: ".")) != nil { return "number" }
        let digits = t.filter(\.isNumber).count
        if (8...10).contains(t.count), digits == 8, t.allSatisfy({ $0.isNumber || $0 == "-" || $0 == "/" }) { return "date" }
        return "string"
    }

    static func merge(_ a: String?, _ b: String) -> String {
        guard let a, a != b else { return b }
        if Set([a, b]) == Set(["integer", "number"]) { return "number" }
        return "string"
    }

    func printText(_ r: Report) {
        let unit = r.format == "xml" ? "path(s)" : "record(s)"
        Terminal.out("\(r.file): \(r.format), \(r.recordCount) \(unit), \(r.rejects.count) reject(s)")
        if let d = r.dialect {
            for k in d.keys.sorted() { Terminal.out("  \(k): \(d[k] ?? "")") }
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
