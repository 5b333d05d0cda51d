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
        #expect(!FrenchCodes.isSentinelDate(CivilDate(year: 2020, month: 1, day: 1).daysSinceEpoch))
    }

    @Test func domainFunctionsAreCallableFromMappings() throws {
        let registry = FunctionCatalog.registry(key: nil)
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
