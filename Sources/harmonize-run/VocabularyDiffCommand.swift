import ArgumentParser
import Foundation
import Harmonize

/// `harmonize-run vocabulary diff OLD NEW [--output FILE|URI] [--json] [--html FILE]`.
struct VocabularyDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract:
            "What a new vocabulary release changes: codes added, invalidated, de-standardised; Maps to targets changed, lost or gained; domains changed.",
        discussion: """
            OLD and NEW are vocabulary stores or Athena download folders (as --vocabulary takes them). Codes are compared as \
            the mappings look them up (vocabulary_id, concept_code) with the resolution runs use. Prints the releases, the \
            vocabularies whose version changed, the counts per vocabulary, then the codes. With --output, only the codes the \
            output's rows used, with their row counts: every code when the run recorded its lineage (run --lineage), only \
            its unmapped codes otherwise (said so). Exit codes: 0 printed (changes or not); 2 usage errors, a release that \
            is not a store or an Athena folder [HZ6101]; 3 I/O errors, an output that cannot be read [HZ6102].
            """)

    @Argument(help: ArgumentHelp("The release the output was mapped with: a store or an Athena folder.", valueName: "OLD"))
    var old: String

    @Argument(help: ArgumentHelp("The new release: a store or an Athena folder.", valueName: "NEW"))
    var new: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Only the codes this output used (a SQLite file or a PostgreSQL URI), with their rows; all of them needs a run with --lineage.",
            valueName: "FILE|URI"))
    var output: String?

    @Flag(name: .long, help: "Print the diff as JSON on standard output.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Also write the diff as a self-contained HTML page.", valueName: "FILE.html"))
    var html: String?

    func run() throws {
        let stores = [try Self.openStore(old), try Self.openStore(new)]
        var inUse: VocabularyDiffInUse?
        let diff: VocabularyDiff
        do {
            if let output {
                let db: OutputDatabase
                do {
                    db = try OutputDatabase.open(output)
                } catch let e as ExitCode {
                    throw e
                } catch {
                    Terminal.error("harmonize-run: vocabulary diff: \(error) [\(ErrorCode.vocabularyDiffOutputUnreadable)]")
                    throw Exit.io
                }
                (diff, inUse) = try db.vocabularyDiff(old: stores[0], new: stores[1])
            } else {
                diff = try VocabularyDiff.compare(old: stores[0], new: stores[1])
            }
        } catch let e as VocabularyError {
            Terminal.error("harmonize-run: vocabulary diff: \(e.description) [\(ErrorCode.vocabularyDiffStoreUnusable)]")
            throw e.kind == .configuration ? Exit.configuration : Exit.io
        } catch let e as OutputDatabase.Failure {
            Terminal.error("harmonize-run: vocabulary diff: \(e.description) [\(ErrorCode.vocabularyDiffOutputUnreadable)]")
            throw Exit.io
        }
        if let inUse, inUse.basis == .unmappedCodes {
            Terminal.error(
                "harmonize-run: note: \(output ?? "") was written without --lineage: only its unmapped codes are known (those can only gain a "
                    + "standard concept); run with --lineage to compare every code its rows used")
        }
        if json {
            Terminal.out(try Self.json(diff, inUse: inUse, output: output))
        } else {
            Terminal.out(Self.text(diff, inUse: inUse, output: output))
        }
        if let html {
            let page = HTMLReport.vocabularyDiffPage(diff, inUse: inUse, output: output)
            guard FileManager.default.createFile(atPath: html, contents: Data(page.utf8)) else {
                Terminal.error("harmonize-run: cannot write \(html)")
                throw Exit.io
            }
            Terminal.error("vocabulary diff written to \(html)")
        }
    }

    /// A release to compare: exit 2 when it is neither a store nor an Athena folder, 3 when it cannot be read.
    static func openStore(_ path: String) throws -> VocabularyStore {
        do throws(VocabularyError) {
            return try VocabularyStore(path: path)
        } catch {
            Terminal.error("harmonize-run: vocabulary diff: \(error.description) [\(ErrorCode.vocabularyDiffStoreUnusable)]")
            throw error.kind == .configuration ? Exit.configuration : Exit.io
        }
    }

    /// One line of detail for a change of `kind`.
    static func detail(_ c: VocabularyDiff.Change, _ kind: VocabularyDiff.Kind) -> String {
        func concept(_ id: Int?, _ name: String?) -> String { id.map { "\($0)" + (name.map { " \($0)" } ?? "") } ?? "none" }
        let o = c.old
        let n = c.new
        switch kind {
        case .added: return "concept \(concept(n?.conceptID, n?.name)), maps to \(concept(n?.targetID, n?.targetName))"
        case .removed: return "concept \(concept(o?.conceptID, o?.name)), mapped to \(concept(o?.targetID, o?.targetName))"
        case .invalidated, .reinstated:
            return "concept \(concept(n?.conceptID, n?.name)): invalid_reason \(o?.invalidReason ?? "none") → \(n?.invalidReason ?? "none")"
        case .destandardised, .standardised:
            return "concept \(concept(n?.conceptID, n?.name)): standard_concept \(o?.standardConcept ?? "none") → \(n?.standardConcept ?? "none")"
        case .sourceConceptChanged: return "concept \(concept(o?.conceptID, o?.name)) → \(concept(n?.conceptID, n?.name))"
        case .targetChanged, .targetLost, .targetGained:
            return "\(concept(o?.targetID, o?.targetName)) → \(concept(n?.targetID, n?.targetName))"
        case .domainChanged:
            if let a = o?.domain, let b = n?.domain, a != b { return "\(a) → \(b)" }
            return "\(o?.routingDomain ?? "none") → \(n?.routingDomain ?? "none") (its standard concept's)"
        }
    }

    /// A table whose first `left` columns are left-aligned, the others (counts) right-aligned.
    static func table(_ rows: [[String]], left: Int) -> [String] {
        var widths: [Int] = []
        for r in rows {
            for (i, c) in r.enumerated() {
                if i == widths.count { widths.append(0) }
                widths[i] = max(widths[i], c.count)
            }
        }
        return rows.map { r in
            var line = r.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i < left ? c + pad : pad + c
            }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    static func text(_ d: VocabularyDiff, inUse: VocabularyDiffInUse?, output: String?) -> String {
        var out: [String] = []
        out.append("vocabulary diff: \(d.oldPath) (\(d.oldRelease ?? "no release")) → \(d.newPath) (\(d.newRelease ?? "no release"))")
        if d.versions.isEmpty {
            out.append("no vocabulary version changed")
        } else {
            var t = [["vocabulary", "old version", "new version"]]
            for v in d.versions { t.append([v.vocabulary, v.old ?? "-", v.new ?? "-"]) }
            out.append("")
            out += table(t, left: 3)
        }
        let kinds = VocabularyDiff.Kind.allCases
        var rowsOf: [[String]: Int] = [:]
        if let inUse {
            out.append("")
            out.append(inUse.basis == .lineage ? "codes used by \(output ?? "")" : "unmapped codes of \(output ?? "") (written without --lineage)")
            if inUse.summaries.isEmpty { out.append("  none") }
            for s in inUse.summaries { out.append("  " + inUse.sentence(s)) }
            for c in inUse.codes { rowsOf[[c.change.vocabulary, c.change.code]] = c.rows }
        } else {
            var t = [["vocabulary", "codes old", "codes new"] + kinds.map(\.rawValue)]
            for c in d.counts where !c.changes.isEmpty || c.oldCodes != c.newCodes {
                t.append([c.vocabulary, "\(c.oldCodes)", "\(c.newCodes)"] + kinds.map { "\(c.changes[$0] ?? 0)" })
            }
            out.append("")
            if t.count == 1 {
                out.append("no code changed")
            } else {
                out += table(t, left: 1)
            }
        }
        for k in kinds {
            let changes = d.changes(k).filter { inUse == nil || rowsOf[[$0.vocabulary, $0.code]] != nil }
            guard !changes.isEmpty else { continue }
            out.append("")
            out.append("\(k.rawValue) (\(changes.count))")
            var t: [[String]] = []
            for c in changes {
                var row = [c.vocabulary, c.code, detail(c, k)]
                if let n = rowsOf[[c.vocabulary, c.code]] { row.append("\(n) \(inUse?.basis == .lineage ? "row" : "record")\(n == 1 ? "" : "s")") }
                t.append(row)
            }
            out += table(t, left: 3).map { "  " + $0 }
        }
        return out.joined(separator: "\n")
    }

    static func json(_ d: VocabularyDiff, inUse: VocabularyDiffInUse?, output: String?) throws -> String {
        struct Release: Encodable {
            var path: String
            var release: String?
        }
        struct InUseCode: Encodable {
            var vocabulary, code: String
            var kinds: [VocabularyDiff.Kind]
            var rows: Int
            var rowsByTable: [String: Int]
        }
        struct Summary: Encodable {
            var vocabulary: String
            var codesUsed, rows: Int
            var changes: [VocabularyDiffInUse.KindCount]
            var domainMoves: [VocabularyDiffInUse.DomainMove]
            var sentence: String
        }
        struct InUse: Encodable {
            var output: String
            var basis: VocabularyDiffInUse.Basis
            var summaries: [Summary]
            var codes: [InUseCode]
        }
        struct Document: Encodable {
            var old, new: Release
            var versions: [VocabularyDiff.Version]
            var counts: [VocabularyDiff.Count]
            var changes: [VocabularyDiff.Change]
            var inUse: InUse?
        }
        let doc = Document(
            old: Release(path: d.oldPath, release: d.oldRelease), new: Release(path: d.newPath, release: d.newRelease), versions: d.versions,
            counts: d.counts, changes: d.changes,
            inUse: inUse.map { u in
                InUse(
                    output: output ?? "", basis: u.basis,
                    summaries: u.summaries.map {
                        Summary(
                            vocabulary: $0.vocabulary, codesUsed: $0.codesUsed, rows: $0.rows, changes: $0.changes, domainMoves: $0.domainMoves,
                            sentence: u.sentence($0))
                    },
                    codes: u.codes.map {
                        InUseCode(
                            vocabulary: $0.change.vocabulary, code: $0.change.code, kinds: $0.change.kinds, rows: $0.rows, rowsByTable: $0.rowsByTable
                        )
                    })
            })
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try e.encode(doc), as: UTF8.self)
    }
}
