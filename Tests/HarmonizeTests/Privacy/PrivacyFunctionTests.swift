import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// Date shifting and generalisation functions.
@Suite struct PrivacyFunctionTests {
    static let key = try! PseudonymKey(bytes: Array("0123456789abcdef0123456789abcdef-test".utf8))

    static func evaluate(_ text: String, _ fields: KeyValuePairs<String, ValueType>, _ values: [Value], key: PseudonymKey? = key, days: Int = 0)
        throws -> Value
    {
        let scope = TestScope(fields)
        let c = ExpressionCompiler(functions: FunctionCatalog.registry(), scope: scope, lookups: nil)
        let e = try c.compile(text, file: nil, line: 1, column: 1, expected: nil).get()
        let environment = RunEnvironment()
        environment.pseudonymKey = key
        environment.dateShiftDays = days
        let frame = EvaluationFrame(slotCount: max(1, values.count), callSites: try e.callSites.bind(environment))
        frame.slots = values
        return try e.evaluate(frame)
    }

    static func day(_ iso: String) -> Int {
        let p = iso.split(separator: "-").map { Int($0)! }
        return CivilDate(year: p[0], month: p[1], day: p[2]).daysSinceEpoch
    }

    @Test func dateShiftIsPerPersonBoundedNonZeroAndKeepsIntervals() throws {
        let fields: KeyValuePairs<String, ValueType> = ["d": .date, "id": .string]
        var shifts: Set<Int> = []
        for i in 0..<200 {
            let id = "P\(i)"
            let a = try Self.evaluate("date_shift(d, id)", fields, [.date(Self.day("2020-01-05")), .string(id)], days: 30)
            let b = try Self.evaluate("date_shift(d, id)", fields, [.date(Self.day("2020-03-17")), .string(id)], days: 30)
            guard case .date(let x) = a, case .date(let y) = b else {
                Issue.record("not a date")
                continue
            }
            let s = x - Self.day("2020-01-05")
            #expect(s != 0 && abs(s) <= 30)
            #expect(y - x == Self.day("2020-03-17") - Self.day("2020-01-05"), "the interval is kept")
            shifts.insert(s)
        }
        #expect(shifts.count > 20, "shifts vary between persons")
        #expect(shifts.contains { $0 < 0 } && shifts.contains { $0 > 0 })
        // The same person, given raw (any case, spaces) or as its pseudonym, gets the same shift in every table.
        let raw = try Self.evaluate("date_shift(d, id)", fields, [.date(0), .string(" p0001")], days: 30)
        let pseudonym = Pseudonymizer(key: Self.key, purpose: "person").pseudonym("P0001")
        let viaPseudonym = try Self.evaluate("date_shift(d, id)", fields, [.date(0), .string(pseudonym)], days: 30)
        #expect(raw == viaPseudonym)
        // Date-times move by whole days; null stays null.
        let dt = try Self.evaluate("date_shift(d, id)", ["d": .datetime, "id": .string], [.dateTime(3600), .string("P0001")], days: 30)
        guard case .date(let rd) = raw, case .dateTime(let s) = dt else {
            Issue.record("types")
            return
        }
        #expect(s == rd * 86_400 + 3600)
        #expect(try Self.evaluate("date_shift(d, id)", fields, [.null, .string("P1")], days: 30) == .null)
        #expect(try Self.evaluate("date_shift(d, id)", fields, [.date(0), .null], days: 30) == .null)
        // Another key gives other shifts.
        let other = try PseudonymKey(bytes: Array(repeating: 7, count: 32))
        var differs = false
        for i in 0..<20 {
            let v = [Value.date(0), .string("P\(i)")]
            let mine = try Self.evaluate("date_shift(d, id)", fields, v, days: 365)
            let theirs = try Self.evaluate("date_shift(d, id)", fields, v, key: other, days: 365)
            if mine != theirs { differs = true }
        }
        #expect(differs)
    }

    @Test func dateShiftNeedsAKeyAndARange() throws {
        let fields: KeyValuePairs<String, ValueType> = ["d": .date, "id": .string]
        #expect(throws: EvaluationError.self) { try Self.evaluate("date_shift(d, id)", fields, [.date(0), .string("P1")], days: 0) }
        #expect(throws: EvaluationError.self) { try Self.evaluate("date_shift(d, id)", fields, [.date(0), .string("P1")], key: nil, days: 10) }
    }

    @Test func ageBandsAreFiveYearsTopCodedAtNinety() throws {
        let cases: [(Int, String?)] = [(0, "0-4"), (4, "0-4"), (5, "5-9"), (47, "45-49"), (89, "85-89"), (90, "90+"), (107, "90+"), (-1, nil)]
        for (age, band) in cases {
            #expect(try Self.evaluate("age_band(a)", ["a": .integer], [.int(age)]) == (band.map(Value.string) ?? .null), "\(age)")
        }
        #expect(try Self.evaluate("age_band(a)", ["a": .integer], [.null]) == .null)
    }

    @Test func monthAndYearGeneralisation() throws {
        #expect(try Self.evaluate("to_month(d)", ["d": .date], [.date(Self.day("2021-07-19"))]) == .date(Self.day("2021-07-01")))
        #expect(try Self.evaluate("to_year(d)", ["d": .date], [.date(Self.day("2021-07-19"))]) == .date(Self.day("2021-01-01")))
        #expect(try Self.evaluate("to_month(d)", ["d": .datetime], [.dateTime(Self.day("1969-12-31") * 86_400 + 5)]) == .date(Self.day("1969-12-01")))
        #expect(try Self.evaluate("to_year(d)", ["d": .date], [.null]) == .null)
    }

    @Test func departmentAndCategoryGeneralisationExist() throws {
        #expect(try Self.evaluate("commune_department(c)", ["c": .string], [.string("2A004")]) == .string("2A"))
        #expect(try Self.evaluate("cim10_category(c)", ["c": .string], [.string("E11.9")]) == .string("E11"))
    }

    @Test func runsUsingDateShiftNeedTheFlag() throws {
        let dir = TestSupport.temporaryDirectory("dateshift")
        TestSupport.write("id;d\nP1;2020-01-05\n", to: dir + "/in/t.csv")
        TestSupport.write(
            """
            harmonize: 1
            id: shifted
            source: {files: t.csv, subject: id, dialect: {delimiter: ";"}, schema: {fields: [{name: id, type: string}, {name: d, type: date}]}}
            target: observation_period
            fields: {observation_period_id: "1", person_id: "1", observation_period_start_date: "date_shift(d, id)", observation_period_end_date: "date_shift(d, id)", period_type_concept_id: "32809"}

            """, to: dir + "/m.yaml")
        let base = ["run", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--output", dir + "/o.sqlite", "--no-quality", "--key-env", "HZ_K"]
        let env = ["HZ_K": String(repeating: "z", count: 32)]
        let noDays = try TestSupport.runCLI(base, environment: env)
        #expect(noDays.status == 2)
        #expect(noDays.stderr.contains("--date-shift-days"))
        let noKey = try TestSupport.runCLI(Array(base.dropLast(2)) + ["--date-shift-days", "10"])
        #expect(noKey.status == 2)
        let ok = try TestSupport.runCLI(base + ["--date-shift-days", "10"], environment: env)
        #expect(ok.status == 0, "\(ok.stderr)")
        let db = try SQLiteConnection(path: dir + "/o.sqlite", readOnly: true)
        let start = try db.scalar("SELECT observation_period_start_date FROM observation_period")
        #expect(start != .string("2020-01-05"))
        #expect("\(try db.scalar("SELECT parameters FROM harmonize_run"))".contains("date_shift_days"))
    }
}
