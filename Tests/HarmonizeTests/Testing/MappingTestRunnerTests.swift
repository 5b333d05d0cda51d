import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// Mapping tests in the mapping file: loading, comparison with path-level diffs, lookups, coverage.
@Suite struct MappingTestRunnerTests {
    static func context() throws -> PlanningContext {
        PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
    }

    /// A small mapping with a filter, a target filter, a `case`, a lookup and the given tests.
    static func mapping(tests: String) -> String {
        let dir = TestSupport.temporaryDirectory("mtest")
        TestSupport.write("code,concept\nA,100\nB,200\n", to: dir + "/codes.csv")
        let yaml = """
            harmonize: 1
            id: small
            source:
              files: x.csv
              dialect: {delimiter: "|"}
              schema:
                fields:
                  - {name: id, type: integer}
                  - {name: sex, type: string}
                  - {name: born, type: date, format: "%d/%m/%Y"}
                  - {name: code, type: string}
            lookups:
              codes: {file: codes.csv, key: code, value: concept, type: integer}
            filter: "code != 'SKIP'"
            targets:
              - table: person
                filter: "sex != 'N'"
                fields:
                  person_id: id
                  gender_concept_id: "case sex when 'M' then 8507 when 'F' then 8532 else 0 end"
                  year_of_birth: "year(born)"
                  race_concept_id: "lookup('codes', code) ?? 0"
                  ethnicity_concept_id: "0"
            tests:
            \(tests)
            """
        TestSupport.write(yaml, to: dir + "/small.yaml")
        return dir + "/small.yaml"
    }

    @Test func passingCasesAndCoverage() throws {
        let file = Self.mapping(
            tests: """
                  - name: a man with a known code
                    records: [{id: 1, sex: M, born: 02/03/1950, code: A}]
                    expect:
                      person: [{person_id: 1, gender_concept_id: 8507, year_of_birth: 1950, race_concept_id: 100}]
                  - name: skipped and neutral
                    records: [{id: 2, sex: F, born: 02/03/1950, code: SKIP}, {id: 3, sex: N, born: 02/03/1950, code: B}]
                    filtered: 2
                    expect: {person: []}
                """)
        let runner = try MappingTestRunner(mappingFile: file, context: try Self.context())
        let report = runner.runTests()
        #expect(report.passed, "\(report.failures)")
        #expect(report.results.map(\.name) == ["a man with a known code", "skipped and neutral"])
        let cov = report.coverage
        // ethnicity_concept_id is never checked; the F and else branches never taken.
        #expect(cov.fields.filter(\.covered).count == 4)
        #expect(cov.fields.first { $0.name == "person.ethnicity_concept_id" }?.covered == false)
        #expect(cov.branches.count == 3)
        #expect(cov.branches.filter(\.covered).count == 1)
        #expect(cov.lookups == [.init(name: "codes", covered: true)])
        #expect(cov.filters.map(\.covered) == [true, true, true, true])
        #expect(cov.categoriesBelow(90) == ["fields", "branches"])
    }

    @Test func differencesArePathLevel() throws {
        let file = Self.mapping(
            tests: """
                  - name: wrong expectations
                    records: [{id: 1, sex: F, born: 02/03/1950, code: A}]
                    expect:
                      person: [{person_id: 1, gender_concept_id: 8507, race_concept_id: null}, {person_id: 2}]
                """)
        let report = try MappingTestRunner(mappingFile: file, context: try Self.context()).runTests()
        #expect(!report.passed)
        let f = report.failures
        #expect(f.contains { $0.path == "person" && $0.expected == "2 row(s)" && $0.actual == "1 row(s)" })
        #expect(f.contains { $0.path == "person[0].gender_concept_id" && $0.expected == "8507" && $0.actual == "8532" })
        #expect(f.contains { $0.path == "person[0].race_concept_id" && $0.expected == "null" && $0.actual == "100" })
        #expect(f.count == 3)
    }

    @Test func rejectsAreComparedByReason() throws {
        let file = Self.mapping(
            tests: """
                  - name: bad date expected
                    records: [{id: 1, sex: F, born: 1950-03-02, code: A}]
                    rejects: [type-error]
                  - name: bad date unexpected
                    records: [{id: 1, sex: F, born: 1950-03-02, code: A}]
                    expect: {person: []}
                """)
        let report = try MappingTestRunner(mappingFile: file, context: try Self.context()).runTests()
        #expect(report.results[0].passed, "\(report.results[0].failures)")
        let f = try #require(report.results[1].failures.first)
        #expect(f.path == "rejects" && f.actual == "[type-error]" && f.message.contains("unexpected"))
    }

    @Test func lookupRowsInTheCaseReplaceTheFile() throws {
        let file = Self.mapping(
            tests: """
                  - name: overridden
                    records: [{id: 1, sex: M, born: 02/03/1950, code: A}]
                    lookups: {codes: [{code: A, concept: 999}]}
                    expect: {person: [{race_concept_id: 999}]}
                  - name: back to the file
                    records: [{id: 1, sex: M, born: 02/03/1950, code: A}]
                    expect: {person: [{race_concept_id: 100}]}
                """)
        let report = try MappingTestRunner(mappingFile: file, context: try Self.context()).runTests()
        #expect(report.passed, "\(report.failures)")
    }

    @Test func unknownFieldsAndKeysAreReported() throws {
        let file = Self.mapping(
            tests: """
                  - name: typos
                    records: [{id: 1, sexe: M}]
                    lookups: {code: []}
                    expect: {persons: [], person: [{gender_concep_id: 0}]}
                """)
        let context = try Self.context()
        do {
            _ = try MappingTestRunner(mappingFile: file, context: context)
            Issue.record("the runner accepted cases naming unknown tables, columns, lookups and fields")
        } catch {
            let d = error.diagnostics.map { "\($0.code) \($0.message) \($0.notes.joined(separator: "; "))" }
            #expect(d.count == 4, "\(d)")
            #expect(d.contains { $0.hasPrefix("HZ1410") && $0.contains("'persons'") && $0.contains("did you mean 'person'?") })
            #expect(d.contains { $0.hasPrefix("HZ1411") && $0.contains("did you mean 'gender_concept_id'?") })
            #expect(d.contains { $0.hasPrefix("HZ1412") && $0.contains("did you mean 'codes'?") })
            #expect(d.contains { $0.hasPrefix("HZ1413") && $0.contains("did you mean 'sex'?") })
            #expect(error.diagnostics.allSatisfy { $0.line == 25 && $0.column == 5 })
        }
        let bad = Self.mapping(
            tests: """
                  - name: no expectation
                    record: [{id: 1}]
                """)
        #expect(throws: DiagnosticsError.self) { try MappingTestRunner(mappingFile: bad, context: try Self.context()) }
        do {
            _ = try MappingTestLoader.load(path: bad)
            Issue.record("the loader accepted a case without records or expectations")
        } catch {
            let codes = error.diagnostics.map(\.code)
            #expect(codes.contains("HZ1004") && codes.contains("HZ1403") && codes.contains("HZ1409"))
        }
    }

    @Test func theBundledMappingsPassWithFullCoverage() throws {
        let names = [
            "research/patients", "research/measurements", "research/questionnaire",
            "hospital/adt-person-visit", "hospital/oru-measurement", "hospital/his-visit",
        ]
        for name in names {
            let runner = try MappingTestRunner(mappingFile: TestSupport.path("mappings/\(name).yaml"), context: try Self.context())
            let report = runner.runTests()
            #expect(report.results.count >= 3, "\(name)")
            #expect(report.passed, "\(name): \(report.failures)")
            #expect(report.coverage.categoriesBelow(90).isEmpty, "\(name): \(report.coverage.summary)")
            #expect(runner.cases.contains { $0.rejects?.isEmpty == false }, "\(name): a case expects a reject reason")
        }
    }

    /// An HL7 v2 mapping (one record per OBX) whose cases give messages inline and in a fixture file.
    static func hl7Mapping(tests: String) -> String {
        let dir = TestSupport.temporaryDirectory("mtest-hl7")
        TestSupport.write("MSH|^~\\&|LAB|H|E|H|20240102||ORU^R01|8|P|2.5\rPID|1||43\rOBX|1|NM|X||5\r", to: dir + "/lab.hl7")
        let yaml = """
            harmonize: 1
            id: hl7.small
            source:
              format: hl7v2
              files: "*.hl7"
              record: OBX
            target: measurement
            fields:
              measurement_id: "to_int(`OBX-1`)"
              person_id: "to_int(`PID-3.1`)"
              measurement_concept_id: "0"
              measurement_date: "parse_date(`MSH-7`, 'yyyyMMdd')"
              measurement_type_concept_id: "32817"
              value_source_value: "`OBX-5`"
            tests:
            \(tests)
            """
        TestSupport.write(yaml, to: dir + "/hl7.yaml")
        return dir + "/hl7.yaml"
    }

    @Test func hl7CasesGiveMessagesAsTextOrAFile() throws {
        let file = Self.hl7Mapping(
            tests: """
                  - name: escapes, present-null and parent segments
                    text: |
                      MSH|^~\\&|LAB|H|E|H|20240101||ORU^R01|7|P|2.5
                      PID|1||42
                      OBX|1|ST|X||a\\F\\b
                      OBX|2|ST|X||""
                      MSH|^~|BROKEN
                    expect:
                      measurement:
                        - {measurement_id: 1, person_id: 42, measurement_date: 2024-01-01, value_source_value: 'a|b'}
                        - {measurement_id: 2, person_id: 42, value_source_value: null}
                    rejects: [structure-error]
                  - name: a fixture in the source's own format
                    file: lab.hl7
                    expect: {measurement: [{measurement_id: 1, person_id: 43, measurement_date: 2024-01-02, value_source_value: '5'}]}
                """)
        let runner = try MappingTestRunner(mappingFile: file, context: try Self.context())
        let report = runner.runTests()
        #expect(report.passed, "\(report.failures)")
        let run = try runner.run(text: "MSH|^~\\&|LAB|H|E|H|20240103||ORU^R01|9|P|2.5\nPID|1||44\nOBX|3|NM|X||7\n")
        #expect(run.rows("measurement").map { $0["person_id"] } == [.int(44)])
        #expect(run.rows("measurement").first?.lineage.record == 1)
        #expect(throws: RunError.self) { try runner.run(records: [["OBX-1": "1"]]) }
    }

    @Test func inlineRecordsAreForCSVSourcesOnly() throws {
        let file = Self.hl7Mapping(
            tests: """
                  - name: records for a message source
                    records: [{OBX-1: 1}]
                    expect: {measurement: []}
                  - name: two inputs
                    file: lab.hl7
                    text: 'MSH|^~\\&|LAB'
                    expect: {measurement: []}
                """)
        let context = try Self.context()
        do {
            _ = try MappingTestRunner(mappingFile: file, context: context)
            Issue.record("the runner accepted inline records for an HL7 source")
        } catch {
            let d = error.diagnostics.map { "\($0.code) \($0.message)" }
            #expect(d.contains { $0.hasPrefix("HZ1403") && $0.contains("'file' and 'text'") }, "\(d)")
            do {
                let cases = try MappingTestLoader.load(path: file)
                Issue.record("the loader accepted a case with two inputs: \(cases.count)")
            } catch {
                #expect(error.diagnostics.map(\.code) == ["HZ1403"])
            }
        }
        let one = Self.hl7Mapping(
            tests: """
                  - name: records for a message source
                    records: [{OBX-1: 1}]
                    expect: {measurement: []}
                """)
        do {
            _ = try MappingTestRunner(mappingFile: one, context: context)
            Issue.record("the runner accepted inline records for an HL7 source")
        } catch {
            let d: [Diagnostic] = error.diagnostics
            let codes = d.map { $0.code }
            #expect(codes == ["HZ1414"])
            #expect(d.first?.message.contains("text: |") == true)
            #expect(d.first?.line == 16)
        }
    }

    @Test func xmlAndCSVCasesGiveTheSourceText() throws {
        let dir = TestSupport.temporaryDirectory("mtest-xml")
        TestSupport.write(
            """
            harmonize: 1
            id: xml.small
            source:
              format: xml
              files: "*.xml"
              record: /r/p
            target: person
            fields:
              person_id: "to_int(`@id`)"
              gender_concept_id: "0"
              year_of_birth: "to_int(`born/@year`)"
              race_concept_id: "0"
              ethnicity_concept_id: "0"
              person_source_value: "`name`"
            tests:
              - name: people from an XML document
                text: |
                  <r>
                    <p id="1"><born year="1950"/><name>Zoé &amp; co</name></p>
                    <p id="2"><born year="soon"/></p>
                  </r>
                rejects: [expression-error]
                expect:
                  person: [{person_id: 1, year_of_birth: 1950, person_source_value: Zoé & co}]
            """, to: dir + "/x.yaml")
        let report = try MappingTestRunner(mappingFile: dir + "/x.yaml", context: try Self.context()).runTests()
        #expect(report.passed, "\(report.failures)")
        // Delimited sources take `text:` too: the source's dialect (here `|`), read as UTF-8.
        let csv = Self.mapping(
            tests: """
                  - name: raw delimited text
                    text: |
                      id|sex|born|code
                      1|F|02/03/1950|A
                    expect: {person: [{person_id: 1, gender_concept_id: 8532, race_concept_id: 100}]}
                """)
        let r = try MappingTestRunner(mappingFile: csv, context: try Self.context()).runTests()
        #expect(r.passed, "\(r.failures)")
    }
}
