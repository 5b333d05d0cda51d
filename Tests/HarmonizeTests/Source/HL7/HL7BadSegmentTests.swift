import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// `on_bad_segment: reject-message | skip-segment` (issue 15, item 9): with `skip-segment` a junk
/// line costs only itself, recorded as a reject with its line; the ledger still balances.
@Suite struct HL7BadSegmentTests {
    static let text =
        [
            "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101120000||ORU^R01|1001|P|2.5.1",
            "PID|1||12345^^^HOSP^PI||DOE^JOHN||19800101|M",
            "WHOOPS",
            "OBX|1|NM|2089-1^LDL Cholesterol^LN||100.5|mg/dL^mg/dL^UCUM|50-130|N|||F|||20240101090000",
            "OBX|2|NM|2085-9^HDL Cholesterol^LN||42|mg/dL^mg/dL^UCUM|||||F|||20240101090000",
            "// comment",
            "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101120000||ORU^R01|1002|P|2.5.1",
            "PID|1||67890^^^HOSP^PI||ROE^JANE||19900101|F",
            "OBX|1|NM|2089-1^LDL Cholesterol^LN||99|mg/dL^mg/dL^UCUM|50-130|N|||F|||20240102090000",
        ].joined(separator: "\r") + "\r"

    static func events(skip: Bool, record: HL7RecordUnit, chunk: Int = 1 << 16) throws -> [HL7Event] {
        let r = HL7Reader(
            source: MemoryByteSource(Array(text.utf8), chunkSize: chunk), displayName: "t.hl7",
            options: HL7ReaderOptions(record: record, skipBadSegments: skip), chunkSize: chunk)
        let positions = try r.bind(fields: ["MSH-10", "OBX-5"])
        var out: [HL7Event] = []
        while true {
            switch try r.next() {
            case .record:
                let loc = r.location
                out.append(
                    .record(
                        values: positions.map { p in r.withField(p) { String(decoding: $0, as: UTF8.self) } }, message: loc.record ?? -1,
                        path: loc.path, line: loc.line ?? -1))
            case .rejected(let j):
                out.append(.rejected(reason: j.reason, message: j.location.record ?? -1, path: j.location.path, line: j.location.line ?? -1))
            case .end:
                return out
            }
        }
    }

    @Test func byDefaultAJunkLineRejectsItsWholeMessage() throws {
        let e = try Self.events(skip: false, record: .message)
        #expect(
            e == [
                .rejected(reason: .structureError, message: 1, path: "segment 3", line: 3),
                .record(values: ["1002", "99"], message: 2, path: nil, line: 7),
            ])
    }

    @Test func skipSegmentKeepsTheValidSegmentsAndRejectsEachLine() throws {
        for chunk in [1, 5, 1 << 16] {
            let m = try Self.events(skip: true, record: .message, chunk: chunk)
            #expect(
                m == [
                    .rejected(reason: .structureError, message: 1, path: "segment 3", line: 3),
                    .rejected(reason: .structureError, message: 1, path: "segment 6", line: 6),
                    .record(values: ["1001", "100.5"], message: 1, path: nil, line: 1),
                    .record(values: ["1002", "99"], message: 2, path: nil, line: 7),
                ], "chunk \(chunk)")
        }
        let s = try Self.events(skip: true, record: .segment("OBX"))
        #expect(
            s == [
                .rejected(reason: .structureError, message: 1, path: "segment 3", line: 3),
                .rejected(reason: .structureError, message: 1, path: "segment 6", line: 6),
                .record(values: ["1001", "100.5"], message: 1, path: "OBX[1]", line: 4),
                .record(values: ["1001", "42"], message: 1, path: "OBX[2]", line: 5),
                .record(values: ["1002", "99"], message: 2, path: "OBX[1]", line: 9),
            ])
    }

    static func mapping(_ policy: String) throws -> String {
        var yaml = try String(contentsOfFile: TestSupport.path("mappings/hospital/oru-measurement.yaml"), encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "  record: OBX\n", with: "  record: OBX\n  on_bad_segment: \(policy)\n")
        return yaml
    }

    @Test func theRunKeepsTheValidSegmentsAndTheLedgerBalances() throws {
        let dir = TestSupport.temporaryDirectory("hl7-skip")
        TestSupport.write(Self.text, to: dir + "/oru/junk.hl7")
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let file = TestSupport.path("mappings/hospital/oru-measurement.yaml")
        let plan = try MappingPlanner.plan(MappingLoader.load(yaml: try Self.mapping("skip-segment"), file: file), context: context)
        let manifest = try Pipeline(plans: [plan], options: RunOptions.keyed(dir)).run(into: CSVSink(outputPath: dir + "/csv", canonicalSort: true))
        let ledger = try #require(manifest.ledger.first)
        #expect(ledger.balances)
        #expect(ledger.read == 5, "three OBX records and two skipped lines")
        #expect(ledger.rejected == 2)
        #expect(ledger.written == 3)
    }

    @Test func theOptionIsCheckedWithADidYouMean() throws {
        let file = TestSupport.path("mappings/hospital/oru-measurement.yaml")
        func codes(_ yaml: String) -> [Diagnostic] {
            do {
                _ = try MappingLoader.load(yaml: yaml, file: file)
                return []
            } catch {
                return error.diagnostics
            }
        }
        let bad = codes(try Self.mapping("skip-segments"))
        #expect(bad.contains { $0.code == "HZ1029" && $0.notes.contains("did you mean 'skip-segment'?") }, "\(bad)")
        #expect(codes(try Self.mapping("reject-message")).isEmpty)
        let csv = codes("harmonize: 1\nid: x\nsource: {files: a.csv, on_bad_segment: skip-segment}\ntarget: location\nfields: {location_id: \"1\"}\n")
        #expect(csv.map(\.code) == ["HZ1029"])
        let typo = codes(
            "harmonize: 1\nid: x\nsource: {format: hl7v2, files: a.hl7, on_bad_segmnt: skip-segment}\ntarget: location\nfields: {location_id: \"1\"}\n"
        )
        #expect(typo.contains { $0.code == "HZ1004" && $0.notes.contains("did you mean 'on_bad_segment'?") }, "\(typo)")
    }
}
