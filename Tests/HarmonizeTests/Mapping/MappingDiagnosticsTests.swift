import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

@Suite struct MappingDiagnosticsTests {
    static func plan(_ yaml: String) throws(DiagnosticsError) -> MappingPlan {
        let dir = TestSupport.temporaryDirectory("diag")
        let file = dir + "/m.yaml"
        TestSupport.write(yaml, to: file)
        let spec = try MappingLoader.load(path: file)
        let context = PlanningContext(
            defaultModel: (try? Mappings.omopModel()) ?? TargetModel(name: "", version: "", tables: []), functions: FunctionCatalog.registry())
        return try MappingPlanner.plan(spec, context: context)
    }

    static let header = """
        harmonize: 1
        id: test.person
        source:
          files: in.csv
          dialect: {delimiter: ";"}
          schema:
            fields:
              - {name: patient_id, type: string}
              - {name: birth_date, type: date, format: "%d/%m/%Y"}
              - {name: sex, type: string}

        """

    @Test func reportsEveryProblemAtOnceWithPositionsAndSuggestions() {
        let yaml =
            Self.header + """
                target: person
                fields:
                  person_id: "to_int(patient_idd)"
                  gender_concept_id: "case sex when 'M' then 8507 else 0 end"
                  year_of_birth: "yeer(birth_date)"
                  race_concept_id: "'zero'"
                  ethnicity_concept_id: "0"
                  colour: "1"
                """
        do {
            _ = try Self.plan(yaml)
            Issue.record("expected diagnostics")
        } catch {
            let d = error.diagnostics
            let unknownField = d.first { $0.message.contains("patient_idd") }
            #expect(unknownField?.line == 13)
            #expect(unknownField?.column == 22)
            #expect(unknownField?.notes.contains { $0.contains("patient_id") } == true)
            let unknownFunction = d.first { $0.message.contains("yeer") }
            #expect(unknownFunction?.line == 15)
            #expect(unknownFunction?.notes.contains { $0.contains("year") } == true)
            #expect(d.contains { $0.code == "HZ1202" && $0.message.contains("colour") && $0.notes.contains { $0.contains("color") } == false })
            #expect(d.contains { $0.line == 16 && $0.message.lowercased().contains("string") }, "a text into an integer column")
            #expect(d.count >= 4)
            #expect(error.description.contains("m.yaml:13:22"))
        }
    }

    @Test func requiredColumnsAndUnknownTablesAreCaught() {
        do {
            _ = try Self.plan(Self.header + "target: persn\nfields: {person_id: \"1\"}\n")
            Issue.record("expected diagnostics")
        } catch {
            #expect(error.diagnostics.contains { $0.code == "HZ1201" && $0.notes.contains("did you mean 'person'?") })
        }
        do {
            _ = try Self.plan(Self.header + "target: person\nfields: {person_id: \"1\"}\n")
            Issue.record("expected diagnostics")
        } catch {
            let missing = error.diagnostics.filter { $0.code == "HZ1203" }.map(\.message)
            #expect(missing.count == 4, "gender, year of birth, race, ethnicity")
            #expect(missing.contains { $0.contains("year_of_birth") })
        }
    }

    @Test func fileLevelProblems() {
        do {
            _ = try Self.plan("harmonize: 2\nid: x\nsorce: {}\ntarget: person\nfields: {}\n")
            Issue.record("expected diagnostics")
        } catch {
            let text = error.description
            #expect(text.contains("highest supported is 1"))
            #expect(error.diagnostics.contains { $0.code == "HZ1004" && $0.notes.contains("did you mean 'source'?") })
        }
        do {
            _ = try Self.plan("harmonize: 1\nid: [unclosed\n")
            Issue.record("expected a YAML error")
        } catch {
            #expect(error.diagnostics.first?.code == "HZ1001")
            #expect(error.diagnostics.first?.line != nil)
        }
    }

    @Test func aValidMappingPlansAndReadsOnlyUsedFields() throws {
        let plan = try Self.plan(
            Self.header + """
                let:
                  pid: "to_int(patient_id)"
                target: person
                fields:
                  person_id: pid
                  gender_concept_id: "0"
                  year_of_birth: "year(birth_date)"
                  race_concept_id: "0"
                  ethnicity_concept_id: "0"
                """)
        #expect(plan.fields.map(\.name).sorted() == ["birth_date", "patient_id"], "sex is never decoded")
        #expect(plan.lets.map(\.name) == ["pid"])
        #expect(plan.targets.first?.table.name == "person")
    }
}
