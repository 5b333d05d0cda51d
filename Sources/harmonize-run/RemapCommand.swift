import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// `harmonize-run remap`: recomputes an output's vocabulary-dependent columns and routing with a
/// new vocabulary store, from its row lineage, without reading the sources.
struct RemapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remap",
        abstract: "Recompute an output's concept columns and domain routing with a new vocabulary, from its row lineage (sources are not read).",
        discussion: """
            The output must have been written with 'run --lineage': for each row, the lineage holds the vocabulary codes its \
            columns looked up. remap evaluates again, with the new store (--vocabulary), every column and target filter of the \
            mappings that depends on the vocabulary, from those codes only: a row whose concept changed is updated, a row \
            whose standard concept changed domain moves to the table its mapping routes it to. Give the mappings that wrote \
            the output, unchanged (SHA-256 as recorded). The remap is a run of kind 'remap' (manifest with the new vocabulary, \
            harmonize_remap_ledger, lineage of the rewritten rows), made in a staging copy that replaces the output by atomic \
            rename. A mapping whose vocabulary-dependent values need other source values is refused, naming the column. \
            Exit codes: 0 published; 2 no lineage, mappings missing or changed, a mapping that cannot be remapped, PostgreSQL \
            output (nothing written); 3 I/O errors (previous output untouched).
            """)

    @OptionGroup var mappingOptions: MappingOptions

    @Option(name: .long, help: ArgumentHelp("The output database written by 'run --lineage'.", valueName: "FILE.sqlite"))
    var output: String

    @Flag(name: .long, help: "Print the remap summary as JSON on standard output.")
    var json = false

    func run() throws {
        try PostgresOutput.refuse(output, command: "remap")
        do {
            try execute()
        } catch let e as CLIError {
            Terminal.error("harmonize-run: \(e.message)")
            throw e.code
        }
    }

    private func execute() throws {
        guard let vocabulary = mappingOptions.vocabulary else {
            throw CLIError(code: Exit.configuration, message: "remap needs the new vocabulary store: --vocabulary FILE")
        }
        guard let store = try mappingOptions.vocabularyStore() else {
            throw CLIError(code: Exit.configuration, message: "remap needs the new vocabulary store: --vocabulary FILE")
        }
        let functions = FunctionCatalog.registry(vocabulary: store)
        let plans = try mappingOptions.plans(functions: functions)
        var remap = VocabularyRemap(outputPath: output, plans: plans, store: store, functions: functions)
        remap.parameters["vocabulary"] = (vocabulary as NSString).lastPathComponent
        // OMOP's cdm_source row names the release: it is rewritten with the rows.
        if let model = plans.first?.model { remap.description = CDMSource.runDescription(model: model) }
        let start = Date()
        let manifest: RunManifest
        do {
            manifest = try remap.run()
        } catch {
            for d in error.diagnostics { Terminal.error(d.description) }
            throw CLIError(code: Exit.code(for: error), message: "\(error.message) [\(error.code)]")
        }
        let seconds = Date().timeIntervalSince(start)
        let counts = manifest.remap ?? []
        if json {
            struct Summary: Encodable {
                var runID: String
                var kind: String
                var vocabulary: String
                var seconds: Double
                var mappings: [RemapCount]
                var tables: [RunManifest.TableCount]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let summary = Summary(
                runID: manifest.runID, kind: "remap", vocabulary: manifest.parameters["vocabulary"] ?? "", seconds: seconds, mappings: counts,
                tables: manifest.tables)
            Terminal.out(String(decoding: try encoder.encode(summary), as: UTF8.self))
            return
        }
        let release = (manifest.vocabularies ?? []).first { $0.id == "None" }?.version
        var lines = [
            "remap \(manifest.runID) of \(output) with vocabulary \(manifest.parameters["vocabulary"] ?? "")"
                + (release.map { " (release \($0))" } ?? "") + String(format: " in %.2f s", seconds)
        ]
        if counts.isEmpty {
            lines.append("  no mapping of the output depends on the vocabulary: nothing changed")
        }
        for c in counts {
            lines.append(
                "  \(c.mapping): \(c.rows) row\(c.rows == 1 ? "" : "s"): \(c.unchanged) unchanged, \(c.changed) changed, \(c.moved) moved, \(c.removed) removed, \(c.added) added"
            )
        }
        for t in manifest.tables where t.rows > 0 || (t.updated ?? 0) > 0 || (t.removed ?? 0) > 0 {
            lines.append("  \(t.table): \(t.updated ?? 0) updated, \(t.rows) written, \(t.removed ?? 0) deleted")
        }
        Terminal.error(lines.joined(separator: "\n"))
    }
}
