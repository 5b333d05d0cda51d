import ArgumentParser
import Harmonize
import Mappings

/// `harmonize-run check`: validates mapping files without reading data.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate mapping files without reading any data (every problem at once, with file:line:column).")

    @OptionGroup var mappingOptions: MappingOptions

    func run() throws {
        do {
            let plans = try mappingOptions.plans(functions: FunctionCatalog.registry(key: nil, vocabulary: try mappingOptions.vocabularyStore()))
            var testErrors = 0
            for p in plans {
                // The mapping's test cases are checked too (they never block a run).
                var diagnostics: [Diagnostic] = []
                do {
                    diagnostics = MappingTestRunner.check(try MappingTestLoader.load(path: p.spec.file), against: p)
                } catch {
                    diagnostics = error.diagnostics
                }
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

/// `harmonize-run plan`: prints what a mapping resolves to (fields read, slots, target columns).
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Print the resolved plan of each mapping: the source fields it decodes and the rule of each target column.")

    @OptionGroup var mappingOptions: MappingOptions

    func run() throws {
        do {
            for p in try mappingOptions.plans(functions: FunctionCatalog.registry(key: nil, vocabulary: try mappingOptions.vocabularyStore())) {
                Terminal.out("mapping \(p.id) \(p.spec.version)  (\(p.spec.file), sha256 \(p.spec.contentHash.prefix(12)))")
                if let d = p.derivation {
                    Terminal.out("  derive \(d.table) from " + d.sources.map { "\($0.table)(\($0.start)\($0.end.map { ", " + $0 } ?? ""))" }.joined(separator: ", "))
                    continue
                }
                Terminal.out("  source: \(p.spec.source.format.text) files '\(p.spec.source.files.text)'")
                for f in p.fields { Terminal.out("  reads  \(f.name): \(f.type.rawValue) → slot \(f.slot)") }
                for j in p.joinDescriptions { Terminal.out("  join   \(j)") }
                if let g = p.groupDescription { Terminal.out("  group  \(g)") }
                for l in p.lets { Terminal.out("  let    \(l.name): \(l.expression.type.rawValue) = \(l.expression.source)") }
                if let f = p.filter { Terminal.out("  filter \(f.source)") }
                for t in p.targets {
                    Terminal.out("  → \(t.table.name)" + (t.filter.map { " where \($0.source)" } ?? ""))
                    for (i, c) in t.table.columns.enumerated() {
                        guard let e = t.columns[i] else { continue }
                        Terminal.out("      \(c.name) (\(c.type)) = \(e.source)")
                    }
                }
            }
        } catch let e as CLIError {
            Terminal.error("harmonize-run: \(e.message)")
            throw e.code
        }
    }
}
