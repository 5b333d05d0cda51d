import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// Bad records are never dropped silently: each goes to the rejects with a reason code, its file,
/// line, field and rule, never the value; the file goes on and the ledger balances.
@Suite struct RejectsTests {
    static let mapping = """
        harmonize: 1
        id: test.rejects
        source:
          files: "*.csv"
          dialect: {delimiter: ";"}
          schema:
            fields:
              - {name: id, type: integer, constraints: {required: true}}
              - {name: birth, type: date, format: "%d/%m/%Y"}
              - {name: sex, type: string, constraints: {enum: ["M", "F"]}}
              - {name: weight, type: string}
        filter: "sex != 'F' or id < 100"
        target: person
        fields:
          person_id: id
          gender_concept_id: "case sex when 'M' then 8507 when 'F' then 8532 end"
          year_of_birth: "year(birth)"
          month_of_birth: "to_int(weight)"
          race_concept_id: "0"
          ethnicity_concept_id: "0"
        """

    @Test func everyBadRecordIsRejectedWithItsReasonAndLine() throws {
        let dir = TestSupport.temporaryDirectory("rejects")
        TestSupport.write(Self.mapping, to: dir + "/m.yaml")
        let secret = "SECRET-VALUE"
        let rows = [
            "id;birth;sex;weight",
            "1;01/02/1980;M;7",  // line 2: written
            "2;31/02/1980;M;7",  // 3: type-error (no Feb 31)
            "3;01/02/1980;X;7",  // 4: constraint-error (enum)
            ";01/02/1980;M;7",  // 5: required-missing
            "5;01/02/1980;M",  // 6: missing-cell
            "6;01/02/1980;M;\(secret)",  // 7: expression-error (to_int)
            "7;;M;7",  // 8: target-required-null (year_of_birth)
            "200;01/02/1980;F;7",  // 9: filtered
            "9;\"01/02/1980;M;7",  // 10-…: unterminated quote at EOF
        ]
        TestSupport.write(rows.joined(separator: "\n") + "\n", to: dir + "/in/data.csv")
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plan = try MappingPlanner.plan(MappingLoader.load(path: dir + "/m.yaml"), context: context)
        let out = dir + "/out.sqlite"
        let manifest = try Pipeline(plans: [plan], options: RunOptions(inputDirectory: dir + "/in")).run(into: SQLiteSink(outputPath: out))
        let ledger = try #require(manifest.ledger.first)
        #expect(ledger.read == 9)
        #expect(ledger.written == 1)
        #expect(ledger.filtered == 1)
        #expect(ledger.rejected == 7)
        #expect(ledger.balances)
        let db = try SQLiteConnection(path: out, readOnly: true)
        let rejects = try db.query("SELECT line, reason, coalesce(field, ''), coalesce(rule, ''), message FROM harmonize_reject ORDER BY line")
        let summary = rejects.map { "\($0[0]) \($0[1]) \($0[2])" }
        #expect(
            summary == [
                "3 type-error birth", "4 constraint-error sex", "5 required-missing id", "6 missing-cell weight", "7 expression-error ",
                "8 target-required-null year_of_birth", "10 structure-error ",
            ])
        #expect(rejects[4][3] == .string("person.month_of_birth"))
        for r in rejects { #expect(!"\(r)".contains(secret), "a reject never holds the value") }
        #expect(try db.scalar("SELECT count(*) FROM person") == .int(1))
    }

    /// A record that breaks several schema rules (of several fields, and several of one field)
    /// is rejected once — the ledger counts one record — with every failing rule in its message,
    /// the first one as its reason, field and rule.
    @Test func aRecordFailingSeveralRulesIsRejectedOnceWithEveryRuleListed() throws {
        let dir = TestSupport.temporaryDirectory("rejects-all")
        TestSupport.write(
            """
            harmonize: 1
            id: test.all_rules
            source:
              files: "*.csv"
              dialect: {delimiter: ";"}
              validate: all
              schema:
                fields:
                  - {name: id, type: integer, constraints: {required: true}}
                  - {name: code, type: string, constraints: {pattern: "[A-Z]{3}", maxLength: 3}}
                  - {name: year, type: integer, constraints: {minimum: 1900, maximum: 2100}}
                  - {name: sex, type: string, constraints: {enum: ["M", "F"]}}
                  - {name: unused, type: integer}
            target: person
            fields:
              person_id: id
              gender_concept_id: "case sex when 'M' then 8507 else 8532 end"
              year_of_birth: year
              race_concept_id: "0"
              ethnicity_concept_id: "0"
              person_source_value: code
            """, to: dir + "/m.yaml")
        let rows = [
            "id;code;year;sex;unused",
            "1;ABC;1980;M;1",  // line 2: written
            "2;abcd;1800;X;x",  // line 3: code pattern + maxLength, year minimum, sex enum, unused type
            "3;ABC;1800;M;1",  // line 4: year minimum only
            ";ABC;1980;M;1",  // line 5: required id only
        ]
        TestSupport.write(rows.joined(separator: "\n") + "\n", to: dir + "/in/data.csv")
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plan = try MappingPlanner.plan(MappingLoader.load(path: dir + "/m.yaml"), context: context)
        let out = dir + "/out.sqlite"
        let manifest = try Pipeline(plans: [plan], options: RunOptions(inputDirectory: dir + "/in")).run(into: SQLiteSink(outputPath: out))
        let ledger = try #require(manifest.ledger.first)
        #expect(ledger.read == 4)
        #expect(ledger.written == 1)
        #expect(ledger.rejected == 3, "one rejected record each, whatever its number of failures")
        #expect(ledger.balances)
        let db = try SQLiteConnection(path: out, readOnly: true)
        let rejects = try db.query("SELECT line, reason, field, rule, message FROM harmonize_reject ORDER BY line")
        #expect(rejects.count == 3, "one reject row per record")
        #expect(rejects.first.map { Array($0[0...3]) } == [.int(3), .string("constraint-error"), .string("code"), .string("pattern")])
        #expect(
            rejects.first?[4]
                == .string(
                    "5 schema rules fail: field code fails 'pattern'; field code fails 'maxLength'; field year fails 'minimum'; "
                        + "field sex fails 'enum'; field unused fails 'type'"))
        #expect(rejects.dropFirst().first?[4] == .string("field year fails its schema rule 'minimum'"))
        #expect(rejects.last?[4] == .string("field id fails its schema rule 'required'"))
        for r in rejects { #expect(!"\(r)".contains("abcd"), "a reject never holds the value") }
        #expect(try db.scalar("SELECT count(*) FROM harmonize_reject") == .int(3))
    }
}
