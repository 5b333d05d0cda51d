import Testing

@testable import Harmonize

@Suite struct SchemaOverrideTests {
    let schema = SourceSchema(
        fields: [
            SchemaField(name: "d", type: .date, format: "%Y-%m-%d"),
            SchemaField(name: "t", type: .datetime),
            SchemaField(name: "n", type: .number),
            SchemaField(name: "i", type: .integer, missingValues: ["-"]),
            SchemaField(name: "s", type: .string, format: "default"),
        ], missingValues: [""])

    @Test func replacesFormatsDecimalCharsAndMissingValues() throws {
        let o = SchemaOverride(dateFormats: ["dd/MM/yyyy", "ddMMyyyy"], decimalChar: ",", missingValues: ["", "NA"])
        let s = o.applied(to: schema)
        #expect(s.fields[0].dateFormats == ["dd/MM/yyyy", "ddMMyyyy"])
        #expect(s.fields[1].dateFormats == ["dd/MM/yyyy", "ddMMyyyy"])
        #expect(s.fields[2].decimalChar == ",")
        #expect(s.fields[3].decimalChar == ".")
        #expect(s.fields[4].dateFormats == ["default"])
        #expect(s.missingValues == ["", "NA"])
        #expect(s.fields.allSatisfy { $0.missingValues == nil })
        let decoders = try s.decoders()
        #expect(decoders[0].decode("02/01/2007") == .value(.date(CivilDate(year: 2007, month: 1, day: 2).daysSinceEpoch)))
        #expect(decoders[2].decode("1,5") == .value(.double(1.5)))
        #expect(decoders[3].decode("NA") == .value(.null))
    }

    @Test func anEmptyOverrideChangesNothing() {
        #expect(SchemaOverride().applied(to: schema) == schema)
    }
}
