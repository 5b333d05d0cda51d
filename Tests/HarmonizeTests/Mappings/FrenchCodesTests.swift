import Testing

@testable import Harmonize
@testable import Mappings

@Suite struct FrenchCodesTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var id: String
        var input: String
        var expected: String?
        var testDescription: String { id }
    }

    @Test(arguments: [
        Case(id: "dotted to compact", input: "e11.9", expected: "E119"),
        Case(id: "ATIH plus marker", input: "I10+0", expected: "I100"),
        Case(id: "spaces", input: " A15 ", expected: "A15"),
    ])
    func cim10Compact(_ c: Case) { #expect(FrenchCodes.cim10Compact(c.input) == c.expected) }

    @Test func cim10DottedAndCategory() {
        #expect(FrenchCodes.cim10Dotted("E119") == "E11.9")
        #expect(FrenchCodes.cim10Dotted("K92") == "K92")
        #expect(FrenchCodes.cim10Dotted("K92.2") == "K92.2")
        #expect(FrenchCodes.cim10Category("E1190") == "E11")
    }

    @Test(arguments: [
        Case(id: "mainland", input: "69123", expected: "69"),
        Case(id: "Corse-du-Sud", input: "2A004", expected: "2A"),
        Case(id: "Haute-Corse", input: "2b033", expected: "2B"),
        Case(id: "Réunion", input: "97411", expected: "974"),
        Case(id: "too short", input: "6912", expected: nil),
        Case(id: "letters", input: "AB123", expected: nil),
    ])
    func communeDepartment(_ c: Case) { #expect(FrenchCodes.department(ofCommune: c.input) == c.expected) }

    @Test func departmentNormalisation() {
        #expect(FrenchCodes.department("1") == "01")
        #expect(FrenchCodes.department("2a") == "2A")
        #expect(FrenchCodes.department("974") == "974")
        #expect(FrenchCodes.department("XYZ") == nil)
    }

    @Test func nirControlKey() {
        // 1 84 12 76 451 089 key 46: 97 − (1841276451089 mod 97) = 46.
        #expect(FrenchCodes.nirIsValid("184127645108946"))
        #expect(!FrenchCodes.nirIsValid("184127645108947"))
        #expect(FrenchCodes.nirIsValid("1 84 12 76 451 089 46"))
        // Corsica: 2A counts as 19, 2B as 18 in the department position.
        let body2A = "18412" + "19" + "451089"
        let key2A = 97 - Int(UInt64(body2A)! % 97)
        #expect(FrenchCodes.nirIsValid("184122A451089" + String(format2d: key2A)))
        let body2B = "18412" + "18" + "451089"
        let key2B = 97 - Int(UInt64(body2B)! % 97)
        #expect(FrenchCodes.nirIsValid("184122B451089" + String(format2d: key2B)))
        #expect(!FrenchCodes.nirIsValid("184122C451089" + String(format2d: key2B)))
        #expect(!FrenchCodes.nirIsValid("12345"))
    }

    @Test func sentinelDates() {
        #expect(FrenchCodes.isSentinelDate(CivilDate(year: 1600, month: 1, day: 1).daysSinceEpoch))
        #expect(FrenchCodes.isSentinelDate(CivilDate(year: 2100, month: 1, day: 1).daysSinceEpoch))
        #expect(FrenchCodes.isSentinelDate(CivilDate(year: 2999, month: 12, day: 31).daysSinceEpoch), "open-ended ALD")
        #expect(FrenchCodes.isSentinelDate(CivilDate(year: 9999, month: 12, day: 31).daysSinceEpoch))
        #expect(!FrenchCodes.isSentinelDate(CivilDate(year: 2020, month: 1, day: 1).daysSinceEpoch))
        #expect(!FrenchCodes.isSentinelDate(CivilDate(year: 2999, month: 12, day: 30).daysSinceEpoch))
    }

    @Test func sasDateTimes() {
        let day = CivilDate(year: 2007, month: 1, day: 2).daysSinceEpoch * 86_400
        #expect(FrenchCodes.sasDateTime("02JAN2007:22:12:17") == day + 22 * 3600 + 12 * 60 + 17)
        #expect(FrenchCodes.sasDateTime("02jan2007:00:00:00") == day, "month abbreviations in any case")
        #expect(FrenchCodes.sasDateTime(" 02JAN2007 ") == day, "a SAS date is midnight")
        #expect(FrenchCodes.sasDateTime("29FEB2024:08:00:00") == CivilDate(year: 2024, month: 2, day: 29).daysSinceEpoch * 86_400 + 8 * 3600)
        #expect(FrenchCodes.sasDateTime("29FEB2023:08:00:00") == nil, "no such day")
        #expect(FrenchCodes.sasDateTime("02JAN2007:24:00:00") == nil)
        #expect(FrenchCodes.sasDateTime("02JAN2007 22:12:17") == nil)
        #expect(FrenchCodes.sasDateTime("02JANV2007") == nil)
        #expect(FrenchCodes.sasDateTime("2007-01-02") == nil)
        #expect(FrenchCodes.sasDateTime("") == nil)
    }

    @Test(arguments: [
        Case(id: "mainland, 3 characters", input: "075", expected: "75"),
        Case(id: "Ain", input: "001", expected: "01"),
        Case(id: "Corse-du-Sud", input: "02A", expected: "2A"),
        Case(id: "Corse-du-Sud, old code", input: "201", expected: "2A"),
        Case(id: "Haute-Corse", input: "02b", expected: "2B"),
        Case(id: "Haute-Corse, old code", input: "202", expected: "2B"),
        Case(id: "Corsica undetermined", input: "209", expected: "20"),
        Case(id: "Martinique", input: "972", expected: "972"),
        Case(id: "confidential", input: "000", expected: nil),
        Case(id: "unknown", input: "999", expected: nil),
        Case(id: "short form", input: "69", expected: "69"),
        Case(id: "malformed", input: "7X5", expected: nil),
    ])
    func sndsDepartment(_ c: Case) { #expect(FrenchCodes.sndsDepartment(c.input) == c.expected) }

    @Test func sndsPersonKey() {
        #expect(FrenchCodes.sndsPersonKey(nir: " abc123 ", rank: "01") == "ABC123#1")
        #expect(FrenchCodes.sndsPersonKey(nir: "ABC123", rank: "1") == "ABC123#1", "the same beneficiary in DCIR and PMSI")
        #expect(FrenchCodes.sndsPersonKey(nir: "ABC123", rank: "2") == "ABC123#2", "twins differ by rank")
        #expect(FrenchCodes.sndsPersonKey(nir: "", rank: "1") == nil)
        #expect(FrenchCodes.sndsPersonKey(nir: "ABC", rank: "x") == nil)
        #expect(FrenchCodes.sndsPersonKey(nir: "ABC", rank: "-1") == nil)
    }

    @Test func domainFunctionsAreCallableFromMappings() throws {
        let registry = FunctionCatalog.registry()
        let scope = TestScope(["code": .string, "d": .date])
        let compiler = ExpressionCompiler(functions: registry, scope: scope, lookups: nil)
        func eval(_ text: String, _ slots: [Value]) throws -> Value {
            let e = try compiler.compile(text, file: nil, line: 1, column: 1, expected: nil).get()
            let frame = EvaluationFrame(slotCount: 2)
            frame.slots = slots
            return try e.evaluate(frame)
        }
        #expect(try eval("cim10_dotted(code)", [.string("e119"), .null]) == .string("E11.9"))
        #expect(try eval("commune_department(code)", [.string("2A004"), .null]) == .string("2A"))
        #expect(try eval("snds_date(d)", [.null, .date(CivilDate(year: 1600, month: 1, day: 1).daysSinceEpoch)]) == .null)
        #expect(try eval("snds_date(d) ?? date('2000-01-01')", [.null, .date(0)]) == .date(0))
        #expect(try eval("nir_is_valid(code)", [.string("184127645108946"), .null]) == .bool(true))
        let sas = CivilDate(year: 2007, month: 1, day: 2).daysSinceEpoch * 86_400 + 80_000
        #expect(try eval("sas_datetime(code)", [.string("02JAN2007:22:13:20"), .null]) == .dateTime(sas))
        #expect(throws: EvaluationError.self) { try eval("sas_datetime(code)", [.string("2007-01-02"), .null]) }
        #expect(try eval("snds_date(sas_datetime(code))", [.string("01JAN1600:00:00:00"), .null]) == .null)
        #expect(try eval("snds_department(code)", [.string("02A"), .null]) == .string("2A"))
        #expect(try eval("snds_person_key(code, 2)", [.string("abc"), .null]) == .string("ABC#2"))
        #expect(try eval("snds_person_key(code, '02')", [.string("abc"), .null]) == .string("ABC#2"))
        #expect(throws: EvaluationError.self) { try eval("snds_person_key(code, 'x')", [.string("abc"), .null]) }
    }
}

/// A fixed scope for tests: each name gets the next slot.
final class TestScope: ExpressionScope {
    let names: [String]
    let types: [ValueType]
    init(_ fields: KeyValuePairs<String, ValueType>) {
        names = fields.map(\.key)
        types = fields.map(\.value)
    }
    func binding(for identifier: String) -> ExpressionBinding? {
        names.firstIndex(of: identifier).map { ExpressionBinding(slot: $0, type: types[$0]) }
    }
    var knownIdentifiers: [String] { names }
}

extension String {
    init(format2d n: Int) { self = n < 10 ? "0\(n)" : "\(n)" }
}
