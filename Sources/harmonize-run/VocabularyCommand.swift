import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run vocabulary`: builds and describes OMOP vocabulary stores.
struct VocabularyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocabulary",
        abstract: "Load an OMOP vocabulary (Athena download) into an indexed store, describe a store, or compare two releases.",
        subcommands: [VocabularyLoadCommand.self, VocabularyInfoCommand.self, VocabularyDiffCommand.self])
}

/// `harmonize-run vocabulary load DIR --output FILE`.
struct VocabularyLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract:
            "Load an Athena download folder (CONCEPT.csv, CONCEPT_RELATIONSHIP.csv, CONCEPT_ANCESTOR.csv, VOCABULARY.csv, SOURCE_TO_CONCEPT_MAP.csv) into a store.",
        discussion: """
            Tab-delimited (Athena) or comma-delimited files, upper- or lower-case headers, yyyyMMdd or yyyy-MM-dd dates. \
            The store is written next to FILE and renamed over it when the load succeeds. \
            Exit codes: 0 loaded; 1 loaded and published, but some rows were rejected (listed by file, line, column and reason); \
            2 usage errors, no CONCEPT.csv, or a file missing a required column (nothing published); 3 I/O errors (previous store untouched).
            """)

    @Argument(help: ArgumentHelp("The folder of the Athena download.", valueName: "DIR"))
    var directory: String

    @Option(name: .long, help: ArgumentHelp("The store to write (SQLite).", valueName: "FILE"))
    var output: String

    @Flag(name: .long, help: "Print the load report as JSON on standard output.")
    var json = false

    func run() throws {
        let start = Date()
        let report: VocabularyLoadReport
        do {
            let showProgress = Terminal.stderrIsTTY
            report = try VocabularyLoader.load(directory: directory, output: output) { file, rows in
                if showProgress { Terminal.status("\(file): \(rows) rows") }
            }
            if showProgress { Terminal.status("") }
        } catch {
            Terminal.error("harmonize-run: \(error.description)")
            throw error.kind == .configuration ? Exit.configuration : Exit.io
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            Terminal.out((try? String(decoding: e.encode(report), as: UTF8.self)) ?? "{}")
        } else {
            var rows = [["file", "table", "delimiter", "rows", "rejected"]]
            for f in report.files { rows.append([f.file, f.table, f.delimiter, "\(f.rows)", "\(f.rejected)"]) }
            Terminal.error(RunSummary.table(rows).joined(separator: "\n"))
            Terminal.error("vocabulary store \(output) loaded in \(String(format: "%.2f", Date().timeIntervalSince(start))) s")
        }
        if report.rejectedCount > 0 {
            for r in report.rejects {
                Terminal.error("\(r.file):\(r.line): rejected row: \(r.reason)" + (r.column.map { " (column \($0))" } ?? ""))
            }
            if report.rejectedCount > report.rejects.count {
                Terminal.error("… and \(report.rejectedCount - report.rejects.count) more")
            }
            Terminal.error(
                "harmonize-run: \(report.rejectedCount) row\(report.rejectedCount == 1 ? "" : "s") rejected; the store was published without them")
            throw Exit.rejectsAboveThreshold
        }
    }
}

/// `harmonize-run vocabulary info --store FILE`.
struct VocabularyInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Print a vocabulary store's row counts and vocabulary versions.",
        discussion: "Exit codes: 0 printed; 2 not a vocabulary store; 3 I/O errors.")

    @Argument(help: ArgumentHelp("The store (or an Athena download folder), as 'load' takes its folder.", valueName: "FILE"))
    var path: String?

    @Option(name: .customLong("store"), help: ArgumentHelp("The store, as before (same as the argument).", valueName: "FILE"))
    var storeOption: String?

    mutating func validate() throws {
        if path == nil && storeOption == nil { throw ValidationError("give the store: harmonize-run vocabulary info FILE") }
        if path != nil && storeOption != nil && path != storeOption { throw ValidationError("give the store once (FILE or --store FILE)") }
    }

    func run() throws {
        let store = path ?? storeOption ?? ""
        let s: VocabularyStore
        do {
            s = try VocabularyStore(path: store)
        } catch {
            Terminal.error("harmonize-run: \(error.description)")
            throw error.kind == .configuration ? Exit.configuration : Exit.io
        }
        let p = try s.provenance()
        Terminal.out("vocabulary store \(store), loaded \(p.loadedAt)")
        var rows = [["table", "rows"]]
        for c in s.counts() { rows.append([c.table, "\(c.rows)"]) }
        Terminal.out(RunSummary.table(rows).joined(separator: "\n"))
        var v = [["vocabulary_id", "version"]]
        for e in try s.versions(of: Set(s.vocabularyIDs())) { v.append([e.id, e.version ?? ""]) }
        Terminal.out(RunSummary.table(v).joined(separator: "\n"))
    }
}

/// `harmonize-run unmapped --output DB`: the source codes the latest run found no standard concept for.
struct UnmappedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmapped",
        abstract: "List the source codes the latest run found no standard concept for, per mapping and vocabulary, with their record counts.",
        discussion: "Exit codes: 0 listed (even when empty); 2 usage errors; 3 I/O errors (missing or unreadable database).")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, csv, json
    }

    @Option(name: .long, help: ArgumentHelp("The output database.", valueName: "FILE.sqlite"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Only this mapping.", valueName: "ID"))
    var mapping: String?

    @Option(name: .customLong("vocabulary-id"), help: ArgumentHelp("Only this vocabulary.", valueName: "ID"))
    var vocabularyID: String?

    @Option(name: .long, help: "Output format: table (default), csv or json.")
    var format: Format = .table

    func run() throws {
        let codes: [UnmappedCode]
        let allTotals: [VocabularyUsageTotal]
        do {
            // PostgreSQL: the latest published run of the schema.
            let db = try OutputDatabase.open(output)
            codes = try db.unmappedCodes(mapping: mapping, vocabulary: vocabularyID)
            allTotals = try db.vocabularyUsage()
        } catch let e as ExitCode {
            throw e
        } catch {
            Terminal.error("harmonize-run: \(error)")
            throw Exit.io
        }
        let totals = allTotals.filter { (mapping == nil || $0.mapping == mapping) && (vocabularyID == nil || $0.vocabulary == vocabularyID) }
        switch format {
        case .table:
            var t = [["mapping", "vocabulary", "lookups", "mapped", "share", "distinct unmapped"]]
            for u in totals {
                t.append([u.mapping, u.vocabulary, "\(u.lookups)", "\(u.mapped)", Self.percent(u.shareMapped), "\(u.distinctUnmapped)"])
            }
            if totals.isEmpty {
                Terminal.out("no vocabulary lookups in the latest run")
            } else {
                Terminal.out(RunSummary.table(t).joined(separator: "\n"))
            }
            if !codes.isEmpty {
                Terminal.out("")
                var rows = [["mapping", "vocabulary", "source_code", "records"]]
                for c in codes { rows.append([c.mapping, c.vocabulary, c.code, "\(c.records)"]) }
                Terminal.out(RunSummary.table(rows).joined(separator: "\n"))
            }
            Terminal.out("\(codes.count) unmapped code\(codes.count == 1 ? "" : "s")")
        case .csv:
            var lines = ["mapping,vocabulary_id,source_code,records"]
            for c in codes { lines.append([c.mapping, c.vocabulary, c.code, "\(c.records)"].map(RejectsCommand.csv).joined(separator: ",")) }
            Terminal.out(lines.joined(separator: "\n"))
        case .json:
            struct Row: Encodable {
                var mapping, vocabulary_id, source_code: String
                var records: Int
            }
            struct Total: Encodable {
                var mapping, vocabulary_id: String
                var lookups, mapped, distinct_unmapped: Int
                var share_mapped: Double
            }
            struct Document: Encodable {
                var totals: [Total]
                var unmapped: [Row]
            }
            let doc = Document(
                totals: totals.map {
                    Total(
                        mapping: $0.mapping, vocabulary_id: $0.vocabulary, lookups: $0.lookups, mapped: $0.mapped,
                        distinct_unmapped: $0.distinctUnmapped,
                        share_mapped: $0.shareMapped)
                },
                unmapped: codes.map { Row(mapping: $0.mapping, vocabulary_id: $0.vocabulary, source_code: $0.code, records: $0.records) })
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            Terminal.out((try? String(decoding: e.encode(doc), as: UTF8.self)) ?? "{}")
        }
    }

    static func percent(_ share: Double) -> String { String(format: "%.1f%%", share * 100) }
}
