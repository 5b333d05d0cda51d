import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// `harmonize-run check`: validates mapping files without reading data.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate mapping files without reading any data (every problem at once, with file:line:column).")

    @OptionGroup var mappingOptions: MappingOptions

    func run() throws {
        do {
            let plans = try mappingOptions.plans(functions: FunctionCatalog.registry(vocabulary: try mappingOptions.vocabularyStore()))
            var testErrors = 0
            for p in plans {
                // The mapping's test cases are checked too (they never block a run).
                var diagnostics: [Diagnostic] = []
                do {
                    diagnostics = MappingTestRunner.check(try MappingTestLoader.load(path: p.spec.file), against: p)
                } catch {
                    diagnostics = error.diagnostics
                }
                diagnostics += FreeTextCheck.warnings(p)
                for d in diagnostics { Terminal.error(d.description) }
                testErrors += diagnostics.filter { $0.severity == .error }.count
                let tables = p.targets.map(\.table.name).joined(separator: ", ")
                if diagnostics.isEmpty { Terminal.out("ok  \(p.spec.file): \(p.id) \(p.spec.version) → \(tables)") }
            }
            if testErrors > 0 {
                throw CLIError(code: Exit.configuration, message: "\(testErrors) error\(testErrors == 1 ? "" : "s") in the mappings' tests")
            }
        } catch let e as CLIError {
            Terminal.error("harmonize-run: \(e.message)")
            throw e.code
        }
    }
}

/// `harmonize-run plan`: prints what a mapping resolves to (fields read, slots, target columns)
/// and the column-level lineage of each target column.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract:
            "Print the resolved plan of each mapping: the source fields it decodes, the rule of each target column and the source fields each column reads (column-level lineage)."
    )

    @OptionGroup var mappingOptions: MappingOptions

    @Flag(name: .long, help: "Print each mapping's column-level lineage as JSON.")
    var json = false

    struct Entry: Encodable {
        var mapping: String
        var version: String
        var file: String
        var sha256: String
        var columnLineage: [ColumnLineage]
    }

    /// `code (lookup measures), patient_id (transformation)`; identity is implicit.
    static func reads(_ inputs: [ColumnLineage.Input]) -> String {
        guard !inputs.isEmpty else { return "constant" }
        return inputs.map { i in
            var s = i.kind == .join ? i.field : (i.join.map { $0 + "." } ?? "") + i.field
            if i.kind != .identity || i.masked == true {
                var how = i.kind.rawValue
                if let l = i.lookup { how += " " + l }
                if i.kind == .join, let j = i.join { how += " " + j }
                if i.masked == true { how += ", masked" }
                s += " (\(how))"
            }
            return s
        }.joined(separator: ", ")
    }

    func run() throws {
        do {
            let plans = try mappingOptions.plans(functions: FunctionCatalog.registry(vocabulary: try mappingOptions.vocabularyStore()))
            if json {
                let entries = plans.map {
                    Entry(
                        mapping: $0.id, version: $0.spec.version, file: $0.spec.file, sha256: $0.spec.contentHash,
                        columnLineage: ColumnLineage.derive(from: $0))
                }
                let e = JSONEncoder()
                e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                Terminal.out((try? String(decoding: e.encode(entries), as: UTF8.self)) ?? "[]")
                return
            }
            for p in plans {
                Terminal.out("mapping \(p.id) \(p.spec.version)  (\(p.spec.file), sha256 \(p.spec.contentHash.prefix(12)))")
                if let d = p.derivation {
                    Terminal.out(
                        "  derive \(d.table) from "
                            + d.sources.map { "\($0.table)(\($0.start)\($0.end.map { ", " + $0 } ?? ""))" }.joined(separator: ", "))
                    continue
                }
                Terminal.out("  source: \(p.spec.source.format.text) files '\(p.spec.source.files.text)'")
                for f in p.fields { Terminal.out("  reads  \(f.name): \(f.type.rawValue) → slot \(f.slot)") }
                for j in p.joinDescriptions { Terminal.out("  join   \(j)") }
                if let g = p.groupDescription { Terminal.out("  group  \(g)") }
                for l in p.lets { Terminal.out("  let    \(l.name): \(l.expression.type.rawValue) = \(l.expression.source)") }
                if let f = p.filter { Terminal.out("  filter \(f.source)") }
                let lineage = ColumnLineage.derive(from: p)
                for (ti, t) in p.targets.enumerated() {
                    Terminal.out("  → \(t.table.name)" + (t.filter.map { " where \($0.source)" } ?? ""))
                    let columns = ti < lineage.count ? lineage[ti].columns : []
                    for (i, c) in t.table.columns.enumerated() {
                        guard let e = t.columns[i] else { continue }
                        Terminal.out("      \(c.name) (\(c.type)) = \(e.source)")
                        if let l = columns.first(where: { $0.column == c.name }) {
                            Terminal.out("          line \(l.line.map(String.init) ?? "?"), reads \(Self.reads(l.inputs))")
                        }
                    }
                    if ti < lineage.count, !lineage[ti].filters.isEmpty {
                        Terminal.out("      rows decided by: " + Self.reads(lineage[ti].filters))
                    }
                }
            }
        } catch let e as CLIError {
            Terminal.error("harmonize-run: \(e.message)")
            throw e.code
        }
    }
}
