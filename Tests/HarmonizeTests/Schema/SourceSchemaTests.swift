import Foundation
import Testing
import Yams

@testable import Harmonize

/// The test fixtures folder, found from this file's path (no bundle resources needed).
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/schemas")

private let sampleJSON = """
    {
      "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": true, "unique": true, "minimum": 1}},
        {"name": "sex", "type": "string", "title": "Sex", "constraints": {"enum": ["1", "2", 9]}},
        {"name": "born", "type": "date", "format": "%d/%m/%Y", "formats": ["%d/%m/%Y", "yyyy-MM-dd"]},
        {"name": "amount", "type": "number", "decimalChar": ",", "groupChar": " ", "bareNumber": false,
         "constraints": {"minimum": "0", "maximum": 1000.5}},
        {"name": "flag", "type": "boolean", "trueValues": ["O"], "falseValues": ["N"], "missingValues": ["", "?"]},
        {"name": "code", "constraints": {"pattern": "[A-Z][0-9]{2}", "minLength": "3", "maxLength": 3}}
      ],
      "missingValues": ["", "NA"],
      "primaryKey": "id",
      "foreignKeys": [{"fields": "id", "reference": {"resource": "other", "fields": "other_id"}}]
    }
    """

private let sampleYAML = """
    fields:
      - name: id
        type: integer
        constraints: {required: true, unique: true, minimum: 1}
      - name: sex
        type: string
        title: Sex
        constraints:
          enum: ["1", "2", "9"]
      - name: born
        type: date
        format: "%d/%m/%Y"
        formats: ["%d/%m/%Y", yyyy-MM-dd]
      - name: amount
        type: number
        decimalChar: ","
        groupChar: " "
        bareNumber: false
        constraints: {minimum: "0", maximum: 1000.5}
      - name: flag
        type: boolean
        trueValues: [O]
        falseValues: [N]
        missingValues: ["", "?"]
      - name: code
        constraints: {pattern: "[A-Z][0-9]{2}", minLength: 3, maxLength: 3}
    missingValues: ["", NA]
    primaryKey: [id]
    foreignKeys:
      - fields: [id]
        reference: {resource: other, fields: [other_id]}
    """

@Suite struct SourceSchemaTests {
    @Test func decodesJSON() throws {
        let schema = try SourceSchema.decode(json: sampleJSON)
        #expect(schema.fields.map(\.name) == ["id", "sex", "born", "amount", "flag", "code"])
        #expect(schema.missingValues == ["", "NA"])
        #expect(schema.primaryKey == ["id"])
        #expect(schema.foreignKeys?.first?.reference.fields == ["other_id"])
        let amount = try #require(schema.field(named: "amount"))
        #expect(amount.type == .number)
        #expect(amount.decimalChar == ",")
        #expect(amount.groupChar == " ")
        #expect(amount.bareNumber == false)
        #expect(amount.constraints.minimum == .string("0"))
        #expect(amount.constraints.maximum == .number(1000.5))
        #expect(schema.fields[1].constraints.enum == [.string("1"), .string("2"), .integer(9)])
        #expect(schema.fields[5].type == .string)
        #expect(schema.fields[5].constraints.minLength == 3)
        #expect(schema.missingValues(for: schema.fields[4]) == ["", "?"])
        #expect(schema.missingValues(for: schema.fields[0]) == ["", "NA"])
        #expect(schema.validate().isEmpty)
    }

    @Test func yamlAndJSONDecodeToDecodersThatAgree() throws {
        let json = try SourceSchema.decode(json: sampleJSON)
        let yaml = try YAMLDecoder().decode(SourceSchema.self, from: sampleYAML)
        #expect(yaml.fields.map(\.name) == json.fields.map(\.name))
        #expect(yaml.fields.map(\.type) == json.fields.map(\.type))
        #expect(yaml.primaryKey == json.primaryKey)
        #expect(yaml.missingValues == json.missingValues)
        #expect(yaml.fields[2].dateFormats == json.fields[2].dateFormats)
        #expect(yaml.fields[4] == json.fields[4])
        // Scalars may decode with different JSON types (9 vs "9"); the decoders built from them agree.
        let jd = try json.decoders()
        let yd = try yaml.decoders()
        let cells = [
            ["1", "0", "", "NA", "x"], ["1", "9", "3", ""], ["01/02/2003", "2003-02-01", "2003"],
            ["1 000,5", "1 000,6", "-1", "€ 12,5"], ["O", "N", "?", "NA"], ["A01", "a01", "A1"],
        ]
        for (i, column) in cells.enumerated() {
            for cell in column { #expect(jd[i].decode(cell) == yd[i].decode(cell), "field \(i)") }
        }
    }

    @Test func roundTripsThroughJSONEncoding() throws {
        let schema = try SourceSchema.decode(json: sampleJSON)
        let data = try JSONEncoder().encode(schema)
        let again = try JSONDecoder().decode(SourceSchema.self, from: data)
        #expect(again == schema)
    }

    @Test func ignoresUnknownKeysAndNulls() throws {
        let schema = try SourceSchema.decode(
            json: """
                {"produit": "X", "fields": [{"name": "a", "type": "string", "length": null, "format": null,
                 "nomenclature": "-", "type_oracle": "number", "constraints": {"description": "note", "minLength": null}}]}
                """)
        #expect(schema.fields[0].format == nil)
        #expect(schema.fields[0].constraints == FieldConstraints())
        #expect(schema.missingValues == [""])
        #expect(schema.primaryKey.isEmpty)
        #expect(schema.fields[0].trueValues == SchemaField.defaultTrueValues)
    }

    @Test func loadErrorsNameTheFileAndThePath() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hz-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.json").path
        try Data(#"{"fields": [{"name": "a"}, {"name": "b", "constraints": {"minLength": "long"}}]}"#.utf8)
            .write(to: URL(fileURLWithPath: bad))
        do {
            _ = try SourceSchema.load(jsonFile: bad)
            Issue.record("expected an error")
        } catch {
            #expect(error.file == bad)
            #expect(error.path == "fields[1].constraints.minLength")
            #expect(error.description.hasPrefix(bad + ": at fields[1].constraints.minLength"))
        }
        let missing = dir.appendingPathComponent("missing.json").path
        #expect(throws: SchemaLoadError.self) { try SourceSchema.load(jsonFile: missing) }
        let noName = dir.appendingPathComponent("noname.json").path
        try Data(#"{"fields": [{"type": "string"}]}"#.utf8).write(to: URL(fileURLWithPath: noName))
        do {
            _ = try SourceSchema.load(jsonFile: noName)
            Issue.record("expected an error")
        } catch {
            #expect(error.path == "fields[0].name")
        }
        let notJSON = dir.appendingPathComponent("notjson.json").path
        try Data("{fields".utf8).write(to: URL(fileURLWithPath: notJSON))
        do {
            _ = try SourceSchema.load(jsonFile: notJSON)
            Issue.record("expected an error")
        } catch {
            #expect(error.file == notJSON)
            #expect(error.message == "not valid JSON")
        }
    }

    static let fixtureFiles = ["KI_CCI_R.json", "T_MCOaaC.json", "T_MCOaaE.json"]

    @Test(arguments: fixtureFiles)
    func decodesSNDSFixtures(_ name: String) throws {
        let schema = try SourceSchema.load(jsonFile: fixtures.appendingPathComponent(name).path)
        #expect(!schema.fields.isEmpty)
        #expect(schema.missingValues == [""])
        #expect(schema.validate().allSatisfy { $0.severity == .warning })
        #expect(try schema.decoders().count == schema.fields.count)
    }

    @Test func sndsFixtureDetails() throws {
        let c = try SourceSchema.load(jsonFile: fixtures.appendingPathComponent("T_MCOaaC.json").path)
        #expect(c.primaryKey == ["ETA_NUM", "RSA_NUM"])
        let start = try #require(c.field(named: "EXE_SOI_DTD"))
        #expect(start.type == .datetime)
        let d = try FieldDecoder(field: start, in: c)
        #expect(d.decode("02JAN2007:22:12:17") == .value(.dateTime(1_167_775_937)))
        let entry = try FieldDecoder(field: try #require(c.field(named: "ENT_DAT")), in: c)
        #expect(entry.decode("01032016") == .value(.date(CivilDate(year: 2016, month: 3, day: 1).daysSinceEpoch)))
        let ret = try FieldDecoder(field: try #require(c.field(named: "SEJ_RET")), in: c)
        #expect(ret.decode("9") == .value(.bool(false)))
        let eta = try FieldDecoder(field: try #require(c.field(named: "ETA_NUM")), in: c)
        #expect(eta.decode("99") == .failure(.constraintError, rule: "minimum"))
        #expect(eta.decode("") == .failure(.requiredMissing, rule: "required"))
        // trueValues == falseValues == ["0"] in PMS_RET: a warning, read as true.
        #expect(c.validate().contains { $0.code == "HZ2008" && $0.message.contains("PMS_RET") })
        let e = try SourceSchema.load(jsonFile: fixtures.appendingPathComponent("T_MCOaaE.json").path)
        #expect(e.primaryKey == ["ETA_NUM"])
        let cci = try SourceSchema.load(jsonFile: fixtures.appendingPathComponent("KI_CCI_R.json").path)
        let year = try FieldDecoder(field: try #require(cci.field(named: "FLX_PER_ANN")), in: cci)
        #expect(year.decode("2016") == .value(.int(2016)))
        #expect(cci.validate().contains { $0.code == "HZ2009" && $0.message.contains("BEN_NAI_MOI") })
    }

    /// Every SNDS schema in the shared reference folder, when that folder exists.
    @Test func decodesEverySharedSNDSSchema() throws {
        let root = "/work/shared/reference/snds/schemas"
        guard let walker = FileManager.default.enumerator(atPath: root) else { return }
        var count = 0
        while let relative = walker.nextObject() as? String {
            guard relative.hasSuffix(".json") else { continue }
            let schema = try SourceSchema.load(jsonFile: root + "/" + relative)
            #expect(!schema.fields.isEmpty, "\(relative)")
            #expect(!schema.validate().contains { $0.severity == .error }, "\(relative)")
            count += 1
        }
        #expect(count > 0)
    }
}
