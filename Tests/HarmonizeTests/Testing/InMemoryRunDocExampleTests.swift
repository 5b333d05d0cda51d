import Foundation
import Harmonize
import Mappings
import Testing

// docs:begin
/// Runs the bundled questionnaire mapping in memory, without a database or an input folder.
@Suite struct QuestionnaireMappingTests {
    let runner: MappingTestRunner

    init() throws {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        runner = try MappingTestRunner(mappingFile: TestSupport.path("mappings/research/questionnaire.yaml"), context: context)
    }

    @Test func aPainScoreBecomesANumber() throws {
        let run = try runner.run(records: [
            ["id_reponse": "7", "patient_id": "P0002", "date_questionnaire": "17/02/2020", "question": "DOULEUR", "reponse": "4"]
        ])
        let rows = run.rows("observation")
        #expect(rows.count == 1)
        #expect(rows[0]["value_as_number"] == .double(4))
        #expect(rows[0]["observation_concept_id"] == .int(3_034_263))
        #expect(rows[0].lineage.record == 1)
        #expect(run.rejects.isEmpty)
    }

    @Test func aNonNumericScoreIsRejectedWithAReason() throws {
        let run = try runner.run(records: [
            ["id_reponse": "8", "patient_id": "P0004", "date_questionnaire": "10/03/2020", "question": "DOULEUR", "reponse": "a lot"]
        ])
        #expect(run.rows("observation").isEmpty)
        #expect(run.rejects.map(\.reason) == [.expressionError])
    }

    @Test func theCasesInTheMappingFilePass() {
        let report = runner.runTests()
        #expect(report.passed, "\(report.failures)")
        #expect(report.coverage.percent >= 90)
    }
}
// docs:end

/// The snippet in docs/mapping-files.md is the code above, so the documented example compiles and runs.
@Suite struct InMemoryRunDocExampleTests {
    @Test func theDocumentedExampleIsThisFile() throws {
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let begin = try #require(source.range(of: "// docs:begin\n"))
        let end = try #require(source.range(of: "// docs:end"))
        let snippet = String(source[begin.upperBound..<end.lowerBound])
        let doc = try String(contentsOfFile: TestSupport.path("docs/mapping-files.md"), encoding: .utf8)
        #expect(doc.contains(snippet), "copy the code between docs:begin and docs:end into docs/mapping-files.md")
    }
}
