import Foundation
import Mappings
import Testing

@testable import Harmonize

/// User rules: loaded with file:line:column diagnostics, evaluated by streaming rows.
@Suite struct UserRuleTests {
    struct RuleCase: Sendable, CustomStringConvertible {
        var yaml: String
        var status: QualityResult.Status
        var violating: Int
        var checked: Int
        var description: String { yaml }
    }

    @Test(arguments: [
        // 102 has no value: null passes the first rule.
        RuleCase(
            yaml: "{name: r, table: measurement, rule: \"value_as_number is null or value_as_number >= 115\"}", status: .failed, violating: 1,
            checked: 4),
        RuleCase(
            yaml: "{name: r, table: measurement, rule: \"value_as_number is null or value_as_number >= 115\", threshold: 30}", status: .passed,
            violating: 1, checked: 4),
        // A null rule result counts as violating.
        RuleCase(yaml: "{name: r, table: measurement, rule: \"value_as_number > 0\"}", status: .failed, violating: 1, checked: 4),
        RuleCase(yaml: "{name: r, table: measurement, rule: \"measurement_date >= date('2000-01-01')\"}", status: .failed, violating: 1, checked: 4),
        // Two tables joined by a key: person 9 does not join, so 3 rows are checked.
        RuleCase(
            yaml: "{name: r, table: measurement, join: {table: person, key: person_id}, rule: \"year(measurement_date) >= `person.year_of_birth`\"}",
            status: .failed, violating: 1, checked: 3),
        RuleCase(yaml: "{name: r, table: specimen, rule: \"specimen_id > 0\"}", status: .notApplicable, violating: 0, checked: 0),
    ])
    func rule(_ c: RuleCase) throws {
        let path = try QualityEngineTests.makeDatabase()
        let model = try Mappings.omopModel()
        let checks = try UserRuleFile.parse("harmonize-checks: 1\nchecks:\n  - \(c.yaml)\n", file: "checks.yaml", model: model, functions: .standard)
        let report = try QualityEngine(checks: checks, model: model, conventions: Mappings.omopQualityConventions).run(databasePath: path)
        let r = try #require(report.results.first)
        #expect(r.check.id == "userRule.r")
        #expect(r.status == c.status, "\(r.reason ?? "")")
        #expect(r.rowsViolating == c.violating)
        #expect(r.rowsChecked == c.checked)
    }

    struct ErrorCase: Sendable, CustomStringConvertible {
        var yaml: String
        var code: String
        var line: Int
        var column: Int
        var description: String { code }
    }

    @Test(arguments: [
        ErrorCase(yaml: "checks:\n  - {name: a, table: measurment, rule: \"true\"}\n", code: "HZ1606", line: 2, column: 22),
        ErrorCase(yaml: "checks:\n  - name: a\n    table: measurement\n    rule: \"value_as_numbr > 0\"\n", code: "HZ3002", line: 4, column: 12),
        ErrorCase(yaml: "checks:\n  - {name: a, table: measurement, rule: \"true\", threshold: 120}\n", code: "HZ1608", line: 2, column: 60),
        ErrorCase(
            yaml: "checks:\n  - {name: a, table: measurement, rule: \"true\", join: {table: person, key: visit_id}}\n", code: "HZ1607", line: 2,
            column: 76),
        ErrorCase(yaml: "checks:\n  - {name: a, table: measurement, rul: \"true\"}\n", code: "HZ1604", line: 2, column: 35),
    ])
    func diagnostics(_ c: ErrorCase) throws {
        let model = try Mappings.omopModel()
        do {
            _ = try UserRuleFile.parse(c.yaml, file: "checks.yaml", model: model, functions: .standard)
            Issue.record("expected \(c.code)")
        } catch {
            let d = try #require(error.diagnostics.first { $0.code == c.code }, "\(error.diagnostics)")
            #expect(d.line == c.line)
            #expect(d.column == c.column)
        }
    }
}
