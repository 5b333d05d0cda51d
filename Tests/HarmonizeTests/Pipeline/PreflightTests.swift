import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

// docs:begin library
/// Maps the research export in-process into SQLite and returns the run's manifest.
func harmonizeResearchExport(root: String, output: String) throws -> RunManifest {
    let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
    let plans = try ["patients", "measurements", "questionnaire"].map { name in
        try MappingPlanner.plan(MappingLoader.load(path: "\(root)/mappings/research/\(name).yaml"), context: context)
    }
    let options = RunOptions(inputDirectory: "\(root)/fixtures/research/input")
    let problems = Preflight.check(plans, options: options)  // keys, stores, subjects, sinks: before reading
    guard problems.isEmpty else { throw HarmonizeError(.configuration, "cannot start", diagnostics: problems) }
    return try Pipeline(plans: plans, options: options).run(into: .sqlite(path: output))
}
// docs:end library

/// The library's preflight: everything the CLI checks before reading, as diagnostics, and a
/// pipeline that stops with one error carrying them instead of rejecting every record.
@Suite struct PreflightTests {
    static func plan(_ yaml: String, in dir: String, name: String = "m.yaml", registry: FunctionRegistry = FunctionCatalog.registry()) throws
        -> MappingPlan
    {
        TestSupport.write(yaml, to: dir + "/" + name)
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: registry)
        return try MappingPlanner.plan(MappingLoader.load(path: dir + "/" + name), context: context)
    }

    static func person(id: String, personID: String, subject: Bool = true, updates: Bool = false) -> String {
        let fields =
            "{person_id: \"\(personID)\", gender_concept_id: \"0\", year_of_birth: \"1950\", race_concept_id: \"0\", ethnicity_concept_id: \"0\"}"
        return """
            harmonize: 1
            id: \(id)
            source: {format: csv, files: p.csv, \(subject ? "subject: id, " : "")dialect: {delimiter: ";"}}

            """ + (updates ? "targets:\n  - table: person\n    on_conflict: update\n    fields: \(fields)\n" : "target: person\nfields: \(fields)\n")
    }

    @Test func theDocumentedExampleRunsAndIsInTheDocs() throws {
        let dir = TestSupport.temporaryDirectory("library-example")
        let manifest = try harmonizeResearchExport(root: TestSupport.root, output: dir + "/omop.sqlite")
        #expect(manifest.status == "succeeded")
        #expect(manifest.tables.contains { $0.table == "person" && $0.rows > 0 })
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let begin = try #require(source.range(of: "// docs:begin library\n"))
        let end = try #require(source.range(of: "// docs:end library"))
        let snippet = String(source[begin.upperBound..<end.lowerBound])
        #expect(snippet.split(separator: "\n").count <= 15, "the in-process example stays under 15 lines")
        for doc in ["docs/library.md", "Sources/Harmonize/Harmonize.docc/Harmonize.md"] {
            let text = try String(contentsOfFile: TestSupport.path(doc), encoding: .utf8)
            #expect(text.contains(snippet), "copy the code between docs:begin and docs:end into \(doc)")
        }
    }

    @Test func everyProblemIsFoundBeforeReadingAnything() throws {
        let dir = TestSupport.temporaryDirectory("preflight")
        let keyed = try Self.plan(Self.person(id: "a", personID: "pseudonym_int(id, 'person')"), in: dir, name: "a.yaml")
        let shifted = try Self.plan(
            Self.person(id: "b", personID: "1", subject: false).replacingOccurrences(
                of: "year_of_birth: \"1950\"", with: "birth_datetime: \"date_shift(date('2000-01-01'), id)\", year_of_birth: \"1950\""),
            in: dir, name: "b.yaml")
        let vocabulary = try Self.plan(Self.person(id: "c", personID: "standard_concept_id('CIM10', id) ?? 0"), in: dir, name: "c.yaml")
        let twin = try Self.plan(Self.person(id: "a", personID: "2"), in: dir, name: "a2.yaml")
        let updating = try Self.plan(Self.person(id: "d", personID: "3", updates: true), in: dir, name: "d.yaml")
        var options = RunOptions(inputDirectory: dir + "/no-such-folder")
        options.exclusion = ExclusionList(entries: ["X"], key: nil, sha256: "")
        let problems = Preflight.check([keyed, shifted, vocabulary, twin, updating], options: options, sinkSupportsUpdates: false)
        let codes = Set(problems.map(\.code))
        #expect(codes == ["HZ1018", "HZ7101", "HZ7102", "HZ7103", "HZ7104", "HZ7106"], "\(problems.map(\.description))")
        #expect(problems.first { $0.code == "HZ7101" }?.file == dir + "/a.yaml")
        #expect(problems.allSatisfy { !$0.message.contains("X") || $0.code == "HZ7106" }, "no entry of the list is echoed")
        // The pipeline stops with one error carrying them, before touching the (missing) input folder.
        do {
            _ = try Pipeline(plans: [keyed, shifted], options: options).run(into: NullSink())
            Issue.record("the run started")
        } catch {
            #expect(error.code == .preflightFailed)
            #expect(error.exitCode == 2)
            #expect(Set(error.diagnostics.map(\.code)) == ["HZ7101", "HZ7102", "HZ7104"])
        }
        // With what they need, the same plans pass.
        options.key = .mappingTests
        options.dateShiftDays = 10
        options.exclusion = nil
        #expect(Preflight.check([keyed, shifted], options: options).isEmpty)
    }

    @Test func theCLIRendersThePreflight() throws {
        let dir = TestSupport.temporaryDirectory("preflight-cli")
        TestSupport.write(Self.person(id: "a", personID: "pseudonym_int(id, 'person')"), to: dir + "/m.yaml")
        TestSupport.write("id\nA\n", to: dir + "/in/p.csv")
        let r = try TestSupport.runCLI(["run", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--output", dir + "/o.sqlite"])
        #expect(r.status == 2)
        #expect(
            r.stderr.contains(
                "m.yaml: error: mapping a computes pseudonyms: the run needs a key (harmonize-run: --key-file FILE or --key-env NAME; Swift: RunOptions.key) [HZ7101]"
            ), "\(r.stderr)")
        #expect(r.stderr.contains("nothing was read [HZ7100]"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/o.sqlite"))
    }
}
