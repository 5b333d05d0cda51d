import Foundation
import Harmonize
import Mappings

/// Loads every mapping named on the command line into a `MappingTestRunner` and runs its cases
/// (shared by `test` and `docs`).
struct MappingTestSession {
    var runners: [MappingTestRunner] = []
    var reports: [MappingTestReport] = []
    var diagnostics: [Diagnostic] = []

    /// Plans the mappings and runs their tests; mapping or test-definition errors are collected.
    static func run(mappings: [String], vocabulary: String? = nil) throws -> MappingTestSession {
        let options = try MappingOptions.parse(["--mappings"] + mappings + (vocabulary.map { ["--vocabulary", $0] } ?? []))
        let files = try options.mappingFiles()
        let model: TargetModel
        do {
            model = try Mappings.omopModel()
        } catch {
            throw CLIError(code: Exit.io, message: "\(error)")
        }
        // Cases run under the public test key, so they can expect pseudonyms as fixed values.
        let context = PlanningContext(
            defaultModel: model, functions: FunctionCatalog.registry(vocabulary: try options.vocabularyStore()))
        var session = MappingTestSession()
        for f in files {
            do {
                let runner = try MappingTestRunner(mappingFile: f, context: context)
                session.runners.append(runner)
                session.reports.append(runner.runTests())
            } catch {
                session.diagnostics.append(contentsOf: error.diagnostics)
            }
        }
        return session
    }
}
