import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// Run profiles that adapt a whole pack (issue 16): per-table field changes that relax or replace
/// constraints, `datetime_formats`, did-you-mean for unknown keys, and every problem reported at
/// the profile's line or at the flag, once.
@Suite struct RunProfileTests {
    let schema = SourceSchema(
        fields: [
            SchemaField(name: "BEN_NAI_ANN", type: .integer, constraints: FieldConstraints(minimum: .integer(1800), pattern: "[0-9]{4}")),
            SchemaField(name: "CODE", type: .string, constraints: FieldConstraints(required: true, maxLength: 3, enum: [.string("A")])),
            SchemaField(name: "JOUR", type: .date, format: "%d/%m/%Y"),
            SchemaField(name: "QUAND", type: .datetime, format: "%d%b%Y:%H:%M:%S"),
            SchemaField(name: "N", type: .integer),
        ])

    func load(_ text: String) throws -> RunProfile {
        let dir = TestSupport.temporaryDirectory("profile")
        TestSupport.write(text, to: dir + "/p.yaml")
        return try RunProfile.load(path: dir + "/p.yaml")
    }

    func loadErrors(_ text: String) -> [Diagnostic] {
        let dir = TestSupport.temporaryDirectory("profile-bad")
        TestSupport.write(text, to: dir + "/p.yaml")
        do {
            _ = try RunProfile.load(path: dir + "/p.yaml")
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test func aTableFieldsConstraintsAreMergedRemovedOrReplaced() throws {
        let p = try load(
            """
            harmonize-profile: 1
            tables:
              IR_BEN_R:
                fields:
                  BEN_NAI_ANN: {constraints: {pattern: null, minimum: 1900}}
                  CODE: {replace_constraints: {maxLength: 5}}
            """)
        let s = p.apply(to: schema, table: "IR_BEN_R")
        // YAML scalars are read as text; the bound is read with the field's type (1900 or "1900").
        #expect(s.fields[0].constraints == FieldConstraints(minimum: .string("1900")), "pattern removed, minimum replaced")
        #expect(s.fields[1].constraints == FieldConstraints(maxLength: 5), "replaced: required and enum are gone")
        #expect(p.apply(to: schema, table: "OTHER") == schema, "another table is unchanged")
        let decoders = try s.decoders()
        #expect(decoders[0].decode("1899") == .failure(.constraintError, rule: "minimum"))
        #expect(decoders[0].decode("1956") == .value(.int(1956)))
        #expect(decoders[1].decode("ZZZZ") == .value(.string("ZZZZ")))
        #expect(decoders[1].decode("") == .value(.null))
    }

    @Test func dateTimeFormatsApartFromDateFormats() throws {
        let p = try load("harmonize-profile: 1\ndate_formats: [\"yyyy-MM-dd\"]\ndatetime_formats: \"%d%b%Y:%H:%M:%S\"\n")
        let s = p.apply(to: schema, table: nil)
        #expect(s.fields[2].dateFormats == ["yyyy-MM-dd"])
        #expect(s.fields[3].dateFormats == ["%d%b%Y:%H:%M:%S"])
        let alone = try load("date_formats: [\"yyyy-MM-dd\"]\n").apply(to: schema, table: nil)
        #expect(alone.fields[3].dateFormats == ["yyyy-MM-dd"], "without datetime_formats, date_formats applies to both (as before)")
    }

    @Test func unknownKeysAreRefusedWithADidYouMeanAtTheirLine() {
        let d = loadErrors(
            """
            harmonize-profile: 1
            tables:
              IR_BEN_R:
                feilds: {}
                fields:
                  BEN_NAI_ANN: {constraint: {minimum: 1900}, constraints: {minimun: 1}}
            """)
        let text = d.map(\.description)
        #expect(text.contains { $0.contains("p.yaml:4:5") && $0.contains("'feilds'") && $0.contains("did you mean 'fields'?") }, "\(text)")
        #expect(text.contains { $0.contains("p.yaml:6:21") && $0.contains("did you mean 'constraints'?") }, "\(text)")
        #expect(text.contains { $0.contains("'minimun'") && $0.contains("did you mean 'minimum'?") }, "\(text)")
        #expect(d.allSatisfy { $0.code == "HZ1004" })
    }

    @Test func tablesAndFieldsNoMappingReadsAndBrokenSchemasPointAtTheProfile() throws {
        let dir = TestSupport.temporaryDirectory("profile-check")
        TestSupport.write(
            """
            harmonize-profile: 1
            date_formats: ["%Q/%m/%Y"]
            tables:
              IR_BEN:
                fields: {X: {decimal_char: ","}}
              IR_BEN_R:
                fields:
                  BEN_NAI_AN: {constraints: {minimum: 1900}}
                  N: {constraints: {maximum: "abc"}}
            """, to: dir + "/p.yaml")
        let p = try RunProfile.load(path: dir + "/p.yaml")
        let d = p.check(tables: ["IR_BEN_R": schema, "ER_PRS_F": schema])
        let text = d.map(\.description)
        #expect(text.contains { $0.hasPrefix(dir + "/p.yaml:4:3:") && $0.contains("HZ1310") && $0.contains("did you mean 'IR_BEN_R'?") }, "\(text)")
        #expect(
            text.contains { $0.hasPrefix(dir + "/p.yaml:8:7:") && $0.contains("HZ1311") && $0.contains("did you mean 'BEN_NAI_ANN'?") }, "\(text)")
        #expect(text.contains { $0.hasPrefix(dir + "/p.yaml:9:7:") && $0.contains("HZ2006") }, "\(text)")
        // The bad date format breaks two fields of two schemas: said once, at its line.
        let formats = d.filter { $0.code == "HZ2003" }
        #expect(formats.count == 1, "\(text)")
        #expect(formats.first?.line == 2)
        #expect(formats.first?.file == dir + "/p.yaml")
    }

    @Test func aBadFlagIsReportedOnceAgainstTheFlag() throws {
        var p = RunProfile()
        p.schema.dateFormats = ["%Q"]
        p.origins["date_formats"] = RunProfile.Origin(file: "--date-format")
        let d = p.check(tables: ["A": schema, "B": schema], inline: [schema])
        #expect(d.map(\.description) == ["--date-format: error: invalid date format '%Q': unsupported directive '%Q' [HZ2003]"])
    }

    /// The planner applies a table's changes to the schema file of that name, for the source and
    /// for joins: a record the schema rejects is written once the profile relaxes the constraint.
    @Test func aRelaxedConstraintLetsTheRecordThrough() throws {
        let dir = TestSupport.temporaryDirectory("profile-run")
        TestSupport.write(
            """
            {"fields": [{"name": "id", "type": "integer"}, {"name": "year", "type": "integer", "constraints": {"minimum": 1900, "pattern": "[0-9]{4}"}}]}
            """, to: dir + "/schemas/BEN.json")
        TestSupport.write(
            """
            harmonize: 1
            id: test.profile_tables
            source: {files: "ben.csv", dialect: {delimiter: ";"}, schema: schemas/BEN.json}
            target: person
            fields: {person_id: id, gender_concept_id: "0", year_of_birth: year, race_concept_id: "0", ethnicity_concept_id: "0"}
            """, to: dir + "/m.yaml")
        TestSupport.write("id;year\n1;1850\n2;1950\n", to: dir + "/in/ben.csv")
        func written(_ profile: RunProfile?) throws -> (Int, Int) {
            let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry(), profile: profile)
            let plan = try MappingPlanner.plan(MappingLoader.load(path: dir + "/m.yaml"), context: context)
            let out = TestSupport.temporaryDirectory("profile-run-out") + "/o.sqlite"
            let m = try Pipeline(plans: [plan], options: RunOptions(inputDirectory: dir + "/in")).run(into: SQLiteSink(outputPath: out))
            let l = try #require(m.ledger.first)
            return (l.written, l.rejected)
        }
        #expect(try written(nil) == (1, 1))
        let p = try load("tables:\n  BEN:\n    fields:\n      year: {constraints: {minimum: 1800}}\n")
        #expect(try written(p) == (2, 0))
        let other = try load("tables:\n  OTHER:\n    fields:\n      year: {constraints: {minimum: null}}\n")
        #expect(try written(other) == (1, 1), "another table's changes do not apply")
    }
}
