import Foundation
import Testing

@testable import Harmonize

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `harmonize-run test` and `harmonize-run docs` through the real executable.
@Suite(.serialized) struct MappingTestCLITests {
    /// Every bundled mapping (research CSV, hospital HL7 v2 and XML, SNDS) passes its cases at 90% coverage.
    @Test func theBundledMappingsPassAtNinetyPercentCoverage() throws {
        let dir = TestSupport.temporaryDirectory("mtest-cli")
        let r = try TestSupport.runCLI([
            "test", "--mappings", TestSupport.path("mappings"), "--min-coverage", "90", "--junit", dir + "/junit.xml",
            // Mappings that look codes up in the OMOP vocabulary run their cases against the fixture.
            "--vocabulary", TestSupport.path("fixtures/vocabulary"),
        ])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        for id in [
            "research.measurements", "research.patients", "research.questionnaire", "hospital.adt_person_visit", "hospital.oru_measurement",
            "hospital.his_visit",
            "hospital.his_visit_detail", "hospital.his_condition", "hospital.his_procedure",
            "snds.ir_ben_r", "snds.ir_imb_r", "snds.dcir_visit", "snds.dcir_drug", "snds.dcir_procedure", "snds.dcir_measurement",
            "snds.pmsi_mco_stay",
            "snds.pmsi_mco_diagnoses", "snds.pmsi_mco_acts", "snds.observation_period",
        ] {
            #expect(r.stdout.contains(id), "\(id)")
        }
        #expect(r.stdout.contains("coverage 100%"))
        #expect(r.stdout.contains("cases passed in 19 mapping(s)"))
        let xml = try String(contentsOfFile: dir + "/junit.xml", encoding: .utf8)
        #expect(xml.contains("<testsuite name=\"research.patients\""))
        #expect(xml.contains("<testsuite name=\"hospital.oru_measurement\""))
        #expect(xml.contains("failures=\"0\""))
        #expect(!xml.contains("<failure"))
    }

    /// A mapping whose test fails: exit 1, the failure's path, expected and actual values, JUnit failure.
    static func failingMapping() -> String {
        let dir = TestSupport.temporaryDirectory("mtest-cli-fail")
        TestSupport.write(
            """
            harmonize: 1
            id: failing
            source: {files: x.csv, schema: {fields: [{name: id, type: integer}, {name: sex, type: string}]}}
            target: person
            fields:
              person_id: id
              gender_concept_id: "if sex == 'M' then 8507 else 8532"
              year_of_birth: "1900"
              race_concept_id: "0"
              ethnicity_concept_id: "0"
            tests:
              - name: men
                records: [{id: 1, sex: M}]
                expect: {person: [{person_id: 1, gender_concept_id: 8532}]}
            """, to: dir + "/failing.yaml")
        return dir
    }

    @Test func aFailingCaseExitsWithOneAndShowsTheDifference() throws {
        let dir = Self.failingMapping()
        let r = try TestSupport.runCLI(["test", "--mappings", dir, "--junit", dir + "/j.xml"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAIL men"))
        #expect(r.stdout.contains("person[0].gender_concept_id: value differs"))
        #expect(r.stdout.contains("expected: 8532"))
        #expect(r.stdout.contains("actual:   8507"))
        let xml = try String(contentsOfFile: dir + "/j.xml", encoding: .utf8)
        #expect(xml.contains("<failure message=\"person[0].gender_concept_id: value differs\">"))
        #expect(XMLParser(data: Data(xml.utf8)).parse(), "well-formed JUnit XML")
    }

    @Test func lowCoverageFailsOnlyWithMinCoverage() throws {
        let dir = TestSupport.temporaryDirectory("mtest-cli-cov")
        TestSupport.write(
            """
            harmonize: 1
            id: partial
            source: {files: x.csv, schema: {fields: [{name: id, type: integer}, {name: sex, type: string}]}}
            target: person
            fields:
              person_id: id
              gender_concept_id: "if sex == 'M' then 8507 else 8532"
              year_of_birth: "1900"
              race_concept_id: "0"
              ethnicity_concept_id: "0"
            tests:
              - name: men
                records: [{id: 1, sex: M}]
                expect: {person: [{person_id: 1, gender_concept_id: 8507}]}
            """, to: dir + "/partial.yaml")
        let plain = try TestSupport.runCLI(["test", "--mappings", dir])
        #expect(plain.status == 0, "\(plain.stdout)\(plain.stderr)")
        #expect(plain.stdout.contains("fields 2/5 (40%), branches 1/2 (50%)"))
        #expect(plain.stdout.contains("not covered: branches: line 7:"))
        let strict = try TestSupport.runCLI(["test", "--mappings", dir, "--min-coverage", "90"])
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("coverage below 90% for partial: fields, branches"))
    }

    @Test func brokenTestDefinitionsExitWithTwo() throws {
        let dir = Self.failingMapping()
        let path = dir + "/failing.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        TestSupport.write(text.replacingOccurrences(of: "expect: {person:", with: "expect: {persn:"), to: path)
        for command in ["test", "check"] {
            let r = try TestSupport.runCLI([command, "--mappings", path])
            #expect(r.status == 2, "\(command)")
            #expect(r.stderr.contains("failing.yaml:12:5: error: test case 'men': the mapping writes no table 'persn'"), "\(command): \(r.stderr)")
            #expect(r.stderr.contains("[HZ1410]"))
        }
    }

    /// The committed pages in `docs/mappings/` are what `harmonize-run docs --mappings mappings` writes.
    @Test func theCommittedMappingDocsAreCurrent() throws {
        let out = TestSupport.temporaryDirectory("mdocs")
        let r = try TestSupport.runCLI([
            "docs", "--mappings", TestSupport.path("mappings"), "--output", out, "--vocabulary", TestSupport.path("fixtures/vocabulary"),
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let generated = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(
            generated == [
                "README.md", "hospital.adt_person_visit.md", "hospital.his_condition.md", "hospital.his_procedure.md", "hospital.his_visit.md",
                "hospital.his_visit_detail.md", "hospital.oru_measurement.md", "research.measurements.md",
                "research.patients.md", "research.questionnaire.md", "snds.dcir_drug.md", "snds.dcir_measurement.md", "snds.dcir_procedure.md",
                "snds.dcir_visit.md", "snds.ir_ben_r.md", "snds.ir_imb_r.md", "snds.observation_period.md", "snds.pmsi_mco_acts.md",
                "snds.pmsi_mco_diagnoses.md", "snds.pmsi_mco_stay.md",
            ])
        let committed = try FileManager.default.contentsOfDirectory(atPath: TestSupport.path("docs/mappings")).sorted()
        #expect(committed == generated, "pages of mappings that no longer exist are removed")
        for f in generated {
            let text = try String(contentsOfFile: out + "/" + f, encoding: .utf8)
            Golden.assertMatches(text, golden: "docs/mappings/\(f)")
        }
        let page = try String(contentsOfFile: out + "/research.questionnaire.md", encoding: .utf8)
        #expect(page.contains("| `observation_concept_id` |"))
        #expect(page.contains("`question`, `reponse`, lookup `questions`"))
        let hl7 = try String(contentsOfFile: out + "/hospital.oru_measurement.md", encoding: .utf8)
        #expect(hl7.contains("Format `hl7v2`, files `oru/*.hl7`, record `OBX`."))
        #expect(hl7.contains("`PID-3[4.1=HOSP].1`"))
        let xml = try String(contentsOfFile: out + "/hospital.his_visit.md", encoding: .utf8)
        #expect(xml.contains("namespaces `h` = `urn:example:his`"))
    }
}
