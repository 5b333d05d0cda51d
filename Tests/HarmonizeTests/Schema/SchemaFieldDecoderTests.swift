import Testing

@testable import Harmonize

/// One decode case: a field, a cell, and the expected result.
struct DecodeCase: Sendable, CustomTestStringConvertible {
    let id: String
    let field: SchemaField
    let cell: String
    let expected: FieldDecodeResult
    var testDescription: String { id }

    init(_ id: String, _ field: SchemaField, _ cell: String, _ expected: FieldDecodeResult) {
        self.id = id
        self.field = field
        self.cell = cell
        self.expected = expected
    }
}

private func day(_ y: Int, _ m: Int, _ d: Int) -> Value { .date(CivilDate(year: y, month: m, day: d).daysSinceEpoch) }
private func at(_ y: Int, _ m: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int) -> Value {
    .dateTime(CivilDate(year: y, month: m, day: d).daysSinceEpoch * 86_400 + h * 3600 + mi * 60 + s)
}
private let typeError = FieldDecodeResult.failure(.typeError, rule: "type")
private func constraint(_ rule: String) -> FieldDecodeResult { .failure(.constraintError, rule: rule) }
private func field(_ type: SchemaFieldType, _ c: FieldConstraints = FieldConstraints()) -> SchemaField {
    SchemaField(name: "f", type: type, constraints: c)
}

@Suite struct SchemaFieldDecoderTests {
    static let typeCases: [DecodeCase] = [
        // strings
        .init("string", field(.string), "abc", .value(.string("abc"))),
        .init("string unicode", field(.string), "Île-de-France", .value(.string("Île-de-France"))),
        .init("string empty is null", field(.string), "", .value(.null)),
        .init("any is text", field(.any), "12", .value(.string("12"))),
        .init("unsupported spec type is text", field(.unsupported("geojson")), "{}", .value(.string("{}"))),
        // integers
        .init("int", field(.integer), "42", .value(.int(42))),
        .init("int negative", field(.integer), "-42", .value(.int(-42))),
        .init("int plus", field(.integer), "+7", .value(.int(7))),
        .init("int leading zeros", field(.integer), "007", .value(.int(7))),
        .init("int max", field(.integer), "9223372036854775807", .value(.int(Int.max))),
        .init("int min", field(.integer), "-9223372036854775808", .value(.int(Int.min))),
        .init("int overflow", field(.integer), "9223372036854775808", typeError),
        .init("int overflow long", field(.integer), "123456789012345678901234", typeError),
        .init("int decimal refused", field(.integer), "1.0", typeError),
        .init("int sign only", field(.integer), "-", typeError),
        .init("int space", field(.integer), " 1", typeError),
        .init("int letters", field(.integer), "1a", typeError),
        .init("int empty is null", field(.integer), "", .value(.null)),
        .init("int group char", SchemaField(name: "f", type: .integer, groupChar: " "), "1 000 000", .value(.int(1_000_000))),
        .init("int bareNumber false", SchemaField(name: "f", type: .integer, bareNumber: false), "95%", .value(.int(95))),
        .init("int bareNumber true keeps %", field(.integer), "95%", typeError),
        // numbers
        .init("number", field(.number), "3.25", .value(.double(3.25))),
        .init("number int", field(.number), "3", .value(.double(3))),
        .init("number negative", field(.number), "-0.5", .value(.double(-0.5))),
        .init("number leading dot", field(.number), ".5", .value(.double(0.5))),
        .init("number trailing dot", field(.number), "5.", .value(.double(5))),
        .init("number exponent", field(.number), "1.5e3", .value(.double(1500))),
        .init("number exponent negative", field(.number), "15E-1", .value(.double(1.5))),
        .init("number 0.1 exact", field(.number), "0.1", .value(.double(0.1))),
        .init("number long digits", field(.number), "3.14159265358979323846264", .value(.double(3.141592653589793))),
        .init("number huge exponent", field(.number), "1e300", .value(.double(1e300))),
        .init("number tiny", field(.number), "4.9e-324", .value(.double(.leastNonzeroMagnitude))),
        .init("number overflow", field(.number), "1e400", typeError),
        .init("number INF", field(.number), "-INF", .value(.double(-.infinity))),
        .init("number decimal comma", SchemaField(name: "f", type: .number, decimalChar: ","), "12,5", .value(.double(12.5))),
        .init("number decimal comma refuses dot", SchemaField(name: "f", type: .number, decimalChar: ","), "12.5", typeError),
        .init(
            "number comma and group", SchemaField(name: "f", type: .number, decimalChar: ",", groupChar: "."), "1.234.567,89",
            .value(.double(1_234_567.89))),
        .init("number group", SchemaField(name: "f", type: .number, groupChar: ","), "1,234.5", .value(.double(1234.5))),
        .init("number bareNumber false", SchemaField(name: "f", type: .number, bareNumber: false), "€ 12.50", .value(.double(12.5))),
        .init("number bareNumber false %", SchemaField(name: "f", type: .number, bareNumber: false), "12.5 %", .value(.double(12.5))),
        .init("number two dots", field(.number), "1.2.3", typeError),
        .init("number dot only", field(.number), ".", typeError),
        .init("number exponent without digits", field(.number), "1e", typeError),
        // booleans
        .init("bool true", field(.boolean), "true", .value(.bool(true))),
        .init("bool TRUE", field(.boolean), "TRUE", .value(.bool(true))),
        .init("bool 1", field(.boolean), "1", .value(.bool(true))),
        .init("bool False", field(.boolean), "False", .value(.bool(false))),
        .init("bool 0", field(.boolean), "0", .value(.bool(false))),
        .init("bool yes refused", field(.boolean), "yes", typeError),
        .init("bool custom", SchemaField(name: "f", type: .boolean, trueValues: ["O"], falseValues: ["N"]), "N", .value(.bool(false))),
        .init("bool custom refuses default", SchemaField(name: "f", type: .boolean, trueValues: ["O"], falseValues: ["N"]), "true", typeError),
        // dates
        .init("date default", field(.date), "2024-02-29", .value(day(2024, 2, 29))),
        .init("date default refuses dd/MM", field(.date), "29/02/2024", typeError),
        .init("date invalid", field(.date), "2023-02-29", typeError),
        .init("date ddMMyyyy", SchemaField(name: "f", type: .date, format: "%d%m%Y"), "29022024", .value(day(2024, 2, 29))),
        .init(
            "date formats in order", SchemaField(name: "f", type: .date, formats: ["yyyyMMdd", "dd/MM/yyyy"]), "05/06/2020", .value(day(2020, 6, 5))),
        .init("date any", SchemaField(name: "f", type: .date, format: "any"), "20200605", .value(day(2020, 6, 5))),
        .init("date any SAS", SchemaField(name: "f", type: .date, format: "any"), "05JUN2020", .value(day(2020, 6, 5))),
        .init("date 1600 sentinel", field(.date), "1600-01-01", .value(day(1600, 1, 1))),
        // datetimes
        .init("datetime default", field(.datetime), "2007-01-02T22:12:17", .value(at(2007, 1, 2, 22, 12, 17))),
        .init("datetime default Z", field(.datetime), "2007-01-02T22:12:17Z", .value(at(2007, 1, 2, 22, 12, 17))),
        .init("datetime default fraction", field(.datetime), "2007-01-02T22:12:17.5", .value(at(2007, 1, 2, 22, 12, 17))),
        .init(
            "datetime SAS", SchemaField(name: "f", type: .datetime, format: "%d%b%Y:%H:%M:%S"), "02JAN2007:22:12:17",
            .value(at(2007, 1, 2, 22, 12, 17))),
        .init(
            "datetime SAS lower", SchemaField(name: "f", type: .datetime, format: "ddMMMyyyy:HH:mm:ss"), "02jan2007:22:12:17",
            .value(at(2007, 1, 2, 22, 12, 17))),
        .init("datetime hour 25", field(.datetime), "2007-01-02T25:00:00", typeError),
        .init("datetime any space", SchemaField(name: "f", type: .datetime, format: "any"), "2007-01-02 01:02:03", .value(at(2007, 1, 2, 1, 2, 3))),
        // time, year, yearmonth
        .init("time", field(.time), "08:05:00", .value(.string("08:05:00"))),
        .init("time pattern normalised", SchemaField(name: "f", type: .time, format: "H'h'mm"), "8h05", .value(.string("08:05:00"))),
        .init("time invalid", field(.time), "24:00:00", typeError),
        .init("year", field(.year), "2019", .value(.int(2019))),
        .init("year short refused", field(.year), "19", typeError),
        .init("yearmonth dash", field(.yearmonth), "2019-03", .value(day(2019, 3, 1))),
        .init("yearmonth compact (SNDS)", field(.yearmonth), "201903", .value(day(2019, 3, 1))),
        .init("yearmonth month 13", field(.yearmonth), "201913", typeError),
    ]

    @Test(arguments: typeCases)
    func decodesTypes(_ c: DecodeCase) throws {
        let decoder = try FieldDecoder(field: c.field)
        let result = decoder.decode(c.cell)
        #expect(result == c.expected)
    }

    static let constraintCases: [DecodeCase] = [
        .init("required missing", field(.string, FieldConstraints(required: true)), "", .failure(.requiredMissing, rule: "required")),
        .init("required present", field(.string, FieldConstraints(required: true)), "x", .value(.string("x"))),
        .init("required integer missing", field(.integer, FieldConstraints(required: true)), "", .failure(.requiredMissing, rule: "required")),
        .init("enum ok", field(.string, FieldConstraints(enum: [.string("A"), .string("B")])), "B", .value(.string("B"))),
        .init("enum fails", field(.string, FieldConstraints(enum: [.string("A"), .string("B")])), "C", constraint("enum")),
        .init("enum keeps leading zeros", field(.string, FieldConstraints(enum: [.string("003")])), "3", constraint("enum")),
        .init("enum int from strings", field(.integer, FieldConstraints(enum: [.string("1"), .string("2")])), "2", .value(.int(2))),
        .init("enum int fails", field(.integer, FieldConstraints(enum: [.string("1"), .string("2")])), "3", constraint("enum")),
        .init("enum int from numbers", field(.integer, FieldConstraints(enum: [.integer(1), .number(2)])), "2", .value(.int(2))),
        .init("enum null passes", field(.string, FieldConstraints(enum: [.string("A")])), "", .value(.null)),
        .init("pattern ok", field(.string, FieldConstraints(pattern: "[A-Z][0-9]{2}")), "A01", .value(.string("A01"))),
        .init("pattern anchored start", field(.string, FieldConstraints(pattern: "[A-Z][0-9]{2}")), "xA01", constraint("pattern")),
        .init("pattern anchored end", field(.string, FieldConstraints(pattern: "[A-Z][0-9]{2}")), "A012", constraint("pattern")),
        .init("pattern alternation anchored", field(.string, FieldConstraints(pattern: "a|b")), "ab", constraint("pattern")),
        .init("pattern no newline escape", field(.string, FieldConstraints(pattern: "a")), "a\n", constraint("pattern")),
        .init("pattern on integer text", field(.integer, FieldConstraints(pattern: "[0-9]{3}")), "12", constraint("pattern")),
        .init("minimum int ok", field(.integer, FieldConstraints(minimum: .integer(1))), "1", .value(.int(1))),
        .init("minimum int fails", field(.integer, FieldConstraints(minimum: .integer(1))), "0", constraint("minimum")),
        .init("maximum int fails", field(.integer, FieldConstraints(maximum: .integer(120))), "121", constraint("maximum")),
        .init("maximum as string", field(.integer, FieldConstraints(maximum: .string("120"))), "121", constraint("maximum")),
        .init("maximum double on int", field(.integer, FieldConstraints(maximum: .number(100.5))), "100", .value(.int(100))),
        .init("minimum number", field(.number, FieldConstraints(minimum: .number(0.0))), "-0.01", constraint("minimum")),
        .init("maximum number int bound", field(.number, FieldConstraints(maximum: .integer(100))), "100.0", .value(.double(100))),
        .init("minimum date", field(.date, FieldConstraints(minimum: .string("2000-01-01"))), "1999-12-31", constraint("minimum")),
        .init(
            "maximum date in field format",
            SchemaField(name: "f", type: .date, format: "%d/%m/%Y", constraints: FieldConstraints(maximum: .string("31/12/2020"))),
            "01/01/2021", constraint("maximum")),
        .init(
            "minimum datetime", field(.datetime, FieldConstraints(minimum: .string("2000-01-01T00:00:00"))), "1999-12-31T23:59:59",
            constraint("minimum")),
        .init("minimum year", field(.year, FieldConstraints(minimum: .integer(1900))), "1899", constraint("minimum")),
        .init(
            "enum time normalised", SchemaField(name: "f", type: .time, format: "H'h'mm", constraints: FieldConstraints(enum: [.string("08:05:00")])),
            "8h05", .value(.string("08:05:00"))),
        .init("minLength ok", field(.string, FieldConstraints(minLength: 3)), "abc", .value(.string("abc"))),
        .init("minLength fails", field(.string, FieldConstraints(minLength: 17)), "1234567890123456", constraint("minLength")),
        .init("minLength counts characters", field(.string, FieldConstraints(minLength: 3)), "éé", constraint("minLength")),
        .init("maxLength counts characters", field(.string, FieldConstraints(maxLength: 2)), "éé", .value(.string("éé"))),
        .init("maxLength fails", field(.string, FieldConstraints(maxLength: 2)), "abc", constraint("maxLength")),
        .init("type checked before constraints", field(.integer, FieldConstraints(minimum: .integer(1))), "x", typeError),
    ]

    @Test(arguments: constraintCases)
    func checksConstraints(_ c: DecodeCase) throws {
        let decoder = try FieldDecoder(field: c.field)
        #expect(decoder.decode(c.cell) == c.expected)
    }

    struct MissingCase: Sendable, CustomTestStringConvertible {
        let id: String
        let schemaMissing: [String]
        let fieldMissing: [String]?
        let cell: String
        let expected: FieldDecodeResult
        var testDescription: String { id }
    }

    static let missingCases: [MissingCase] = [
        .init(id: "NA marker", schemaMissing: ["", "NA"], fieldMissing: nil, cell: "NA", expected: .value(.null)),
        .init(id: "empty with NA list", schemaMissing: ["", "NA"], fieldMissing: nil, cell: "", expected: .value(.null)),
        .init(id: "no markers: empty is a type error", schemaMissing: [], fieldMissing: nil, cell: "", expected: typeError),
        .init(id: "field overrides schema", schemaMissing: ["NA"], fieldMissing: ["-"], cell: "NA", expected: typeError),
        .init(id: "field marker", schemaMissing: ["NA"], fieldMissing: ["-"], cell: "-", expected: .value(.null)),
        .init(id: "marker is case sensitive", schemaMissing: ["NA"], fieldMissing: nil, cell: "na", expected: typeError),
        .init(id: "value still decodes", schemaMissing: ["", "NA"], fieldMissing: nil, cell: "12", expected: .value(.int(12))),
    ]

    @Test(arguments: missingCases)
    func appliesMissingValues(_ c: MissingCase) throws {
        let schema = SourceSchema(
            fields: [SchemaField(name: "n", type: .integer, missingValues: c.fieldMissing)], missingValues: c.schemaMissing)
        let decoder = try FieldDecoder(field: schema.fields[0], in: schema)
        #expect(decoder.decode(c.cell) == c.expected)
    }

    @Test func missingMarkerThenRequired() throws {
        let schema = SourceSchema(
            fields: [SchemaField(name: "n", type: .integer, constraints: FieldConstraints(required: true))],
            missingValues: ["", "NA"])
        let decoder = try FieldDecoder(field: schema.fields[0], in: schema)
        #expect(decoder.decode("NA") == .failure(.requiredMissing, rule: "required"))
    }

    @Test func primaryKeyFieldsAreRequiredAndUnique() throws {
        let schema = SourceSchema(fields: [SchemaField(name: "id", type: .integer)], primaryKey: ["id"])
        let decoder = try FieldDecoder(field: schema.fields[0], in: schema)
        #expect(decoder.isRequired)
        #expect(decoder.isUnique)
        #expect(decoder.decode("") == .failure(.requiredMissing, rule: "required"))
    }

    @Test func schemalessConvenience() throws {
        let text = try FieldDecoder(type: .string)
        #expect(text.decode("") == .value(.null))
        #expect(text.decode("x") == .value(.string("x")))
        let amount = try FieldDecoder(type: .number, decimalChar: ",", missingValues: ["", "."])
        #expect(amount.decode("1,5") == .value(.double(1.5)))
        #expect(amount.decode(".") == .value(.null))
        let date = try FieldDecoder(type: .date, formats: ["%d/%m/%Y", "yyyy-MM-dd"])
        #expect(date.decode("01/02/2003") == .value(day(2003, 2, 1)))
        #expect(date.decode("2003-02-01") == .value(day(2003, 2, 1)))
        #expect(date.valueType == .date)
        let stamp = try FieldDecoder(type: .datetime, formats: ["%d%b%Y:%H:%M:%S"])
        #expect(stamp.decode("02JAN2007:22:12:17") == .value(at(2007, 1, 2, 22, 12, 17)))
        #expect(throws: DiagnosticsError.self) { try FieldDecoder(type: .date, formats: ["%Q"]) }
    }

    @Test func decodesFromBytesSlices() throws {
        let decoder = try FieldDecoder(field: field(.integer))
        let row = Array("12;345;x".utf8)
        row.withUnsafeBufferPointer { buf in
            #expect(decoder.decode(UnsafeBufferPointer(rebasing: buf[0..<2])) == .value(.int(12)))
            #expect(decoder.decode(UnsafeBufferPointer(rebasing: buf[3..<6])) == .value(.int(345)))
            #expect(decoder.decode(UnsafeBufferPointer(rebasing: buf[7..<8])) == typeError)
        }
    }

    @Test func numberParserAgreesWithStandardLibrary() {
        // Deterministic pseudo-random decimals: the fast path must round exactly like Double(String).
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let digits = String(state % 10_000_000_000_000_000)
            let split = Int(state >> 60) % max(1, digits.count)
            let text = String(digits.prefix(split)) + "." + String(digits.dropFirst(split)) + (state & 1 == 0 ? "" : "e-\(state >> 59 & 7)")
            var t = text
            let parsed = t.withUTF8 { ByteNumberParser.parseDouble($0, decimalChar: UInt8(ascii: "."), groupChar: nil) }
            #expect(parsed == Double(text), "\(text)")
        }
    }
}
