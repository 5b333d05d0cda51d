import Testing

@testable import Harmonize

/// One schema problem and the diagnostic code it must produce.
struct ValidationCase: Sendable, CustomTestStringConvertible {
    let id: String
    let schema: SourceSchema
    let code: String
    let severity: Diagnostic.Severity
    let field: String
    var testDescription: String { id }
}

@Suite struct SchemaValidationTests {
    static let cases: [ValidationCase] = [
        .init(
            id: "duplicate field", schema: SourceSchema(fields: [SchemaField(name: "a"), SchemaField(name: "a")]),
            code: "HZ2001", severity: .error, field: "a"),
        .init(
            id: "unknown type", schema: SourceSchema(fields: [SchemaField(name: "a", type: .unsupported("integr"))]),
            code: "HZ2002", severity: .error, field: "a"),
        .init(
            id: "spec type read as text",
            schema: SourceSchema(fields: [SchemaField(name: "g", type: .unsupported("geopoint"))]), code: "HZ2002",
            severity: .warning, field: "g"),
        .init(
            id: "invalid format", schema: SourceSchema(fields: [SchemaField(name: "d", type: .date, format: "%d/%q/%Y")]),
            code: "HZ2003", severity: .error, field: "d"),
        .init(
            id: "invalid format in formats",
            schema: SourceSchema(fields: [SchemaField(name: "d", type: .datetime, formats: ["yyyy", "'unterminated"])]),
            code: "HZ2003", severity: .error, field: "d"),
        .init(
            id: "invalid regex",
            schema: SourceSchema(fields: [SchemaField(name: "p", constraints: FieldConstraints(pattern: "[A-"))]),
            code: "HZ2004", severity: .error, field: "p"),
        .init(
            id: "unknown primary key", schema: SourceSchema(fields: [SchemaField(name: "ident")], primaryKey: ["idnet"]),
            code: "HZ2005", severity: .error, field: "idnet"),
        .init(
            id: "unknown foreign key field",
            schema: SourceSchema(
                fields: [SchemaField(name: "a")],
                foreignKeys: [SchemaForeignKey(fields: ["b"], reference: .init(resource: "t", fields: ["x"]))]),
            code: "HZ2005", severity: .error, field: "b"),
        .init(
            id: "minimum not of type",
            schema: SourceSchema(fields: [
                SchemaField(name: "n", type: .integer, constraints: FieldConstraints(minimum: .string("low")))
            ]), code: "HZ2006", severity: .error, field: "n"),
        .init(
            id: "enum date not of type",
            schema: SourceSchema(fields: [
                SchemaField(name: "d", type: .date, constraints: FieldConstraints(enum: [.string("2020-02-30")]))
            ]), code: "HZ2006", severity: .error, field: "d"),
        .init(
            id: "decimalChar too long",
            schema: SourceSchema(fields: [SchemaField(name: "n", type: .number, decimalChar: ",,")]), code: "HZ2007",
            severity: .error, field: "n"),
        .init(
            id: "groupChar equals decimalChar",
            schema: SourceSchema(fields: [SchemaField(name: "n", type: .number, groupChar: ".")]), code: "HZ2007",
            severity: .error, field: "n"),
        .init(
            id: "true and false overlap",
            schema: SourceSchema(fields: [SchemaField(name: "b", type: .boolean, trueValues: ["0"], falseValues: ["0"])]),
            code: "HZ2008", severity: .warning, field: "b"),
        .init(
            id: "date format without year",
            schema: SourceSchema(fields: [SchemaField(name: "m", type: .date, format: "%m")]), code: "HZ2009",
            severity: .warning, field: "m"),
    ]

    @Test(arguments: cases)
    func reportsProblem(_ c: ValidationCase) {
        let diagnostics = c.schema.validate(file: "s.json")
        let found = diagnostics.first { $0.code == c.code }
        #expect(found != nil, "\(diagnostics)")
        #expect(found?.severity == c.severity)
        #expect(found?.message.contains("'\(c.field)'") == true)
        #expect(found?.file == "s.json")
        let expectThrow = c.severity == .error
        #expect((try? c.schema.decoders()) == nil ? expectThrow : !expectThrow)
    }

    @Test func suggestsTheClosestName() {
        let schema = SourceSchema(fields: [SchemaField(name: "ident")], primaryKey: ["idnet"])
        #expect(schema.validate().first?.notes == ["did you mean 'ident'?"])
    }

    @Test func aCleanSchemaHasNoDiagnostics() {
        let schema = SourceSchema(
            fields: [
                SchemaField(name: "id", type: .integer), SchemaField(name: "d", type: .date, format: "%d%m%Y"),
                SchemaField(name: "t", type: .datetime, format: "any"),
            ], primaryKey: ["id"])
        #expect(schema.validate().isEmpty)
    }
}
