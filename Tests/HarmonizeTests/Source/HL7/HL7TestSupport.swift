@testable import Harmonize

/// One observable outcome of `HL7Reader.next()`, comparable across runs.
enum HL7Event: Equatable, CustomStringConvertible {
    /// Values of the bound paths (nil for `""`, present but null), message number, segment path, line.
    case record(values: [String?], message: Int, path: String?, line: Int)
    case rejected(reason: RejectReason, message: Int, path: String?, line: Int)

    var description: String {
        switch self {
        case .record(let v, let m, let p, let l): return "record msg\(m) \(p ?? "-")@\(l) \(v)"
        case .rejected(let r, let m, let p, let l): return "reject msg\(m) \(p ?? "-")@\(l) \(r.rawValue)"
        }
    }

    var values: [String?]? {
        if case .record(let v, _, _, _) = self { return v }
        return nil
    }
}

enum HL7Test {
    static func reader(
        _ bytes: [UInt8], paths: [String], record: HL7RecordUnit = .message, maxMessageBytes: Int = 1 << 20,
        sourceChunk: Int = 1 << 20, readerChunk: Int = 1 << 16
    ) throws -> (HL7Reader, [Int]) {
        let r = HL7Reader(
            source: MemoryByteSource(bytes, chunkSize: sourceChunk), displayName: "test.hl7",
            options: HL7ReaderOptions(record: record, maxMessageBytes: maxMessageBytes), chunkSize: readerChunk)
        let positions = try r.bind(fields: paths)
        return (r, positions)
    }

    static func events(
        _ bytes: [UInt8], paths: [String], record: HL7RecordUnit = .message, maxMessageBytes: Int = 1 << 20,
        sourceChunk: Int = 1 << 20, readerChunk: Int = 1 << 16
    ) throws -> [HL7Event] {
        let (r, positions) = try reader(
            bytes, paths: paths, record: record, maxMessageBytes: maxMessageBytes, sourceChunk: sourceChunk,
            readerChunk: readerChunk)
        var out: [HL7Event] = []
        var guardCount = 0
        while guardCount < 100_000 {
            guardCount += 1
            switch try r.next() {
            case .record:
                let values: [String?] = positions.map { p in
                    r.isNull(p) ? nil : r.withField(p) { String(decoding: $0, as: UTF8.self) }
                }
                let loc = r.location
                out.append(.record(values: values, message: loc.record ?? -1, path: loc.path, line: loc.line ?? -1))
            case .rejected(let j):
                out.append(
                    .rejected(reason: j.reason, message: j.location.record ?? -1, path: j.location.path, line: j.location.line ?? -1))
            case .end:
                return out
            }
        }
        return out
    }

    static func events(
        _ text: String, paths: [String], record: HL7RecordUnit = .message, maxMessageBytes: Int = 1 << 20
    ) throws -> [HL7Event] {
        try events(Array(text.utf8), paths: paths, record: record, maxMessageBytes: maxMessageBytes)
    }

    /// The values of accepted records.
    static func values(_ text: String, paths: [String], record: HL7RecordUnit = .message) throws -> [[String?]] {
        try events(text, paths: paths, record: record).compactMap(\.values)
    }

    /// A two-message ORU^R01 sample (CR terminators).
    static let oru: String =
        [
            "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101120000||ORU^R01^ORU_R01|1001|P|2.5.1|||AL|NE||UNICODE UTF-8",
            "PID|1||12345^^^HOSP^PI~1800000000001^^^INS-NIR&1.2.250.1.213.1.4.8&ISO^NH||DOE^JOHN^A||19500115|M",
            "PV1|1|I|CARDIO^101^1^HOSP",
            "OBR|1|ORD1|FIL1|24331-1^Lipid panel^LN|||20240101080000",
            "OBX|1|NM|2089-1^LDL Cholesterol^LN||100.5|mg/dL^mg/dL^UCUM|50-130|N|||F|||20240101090000",
            "OBX|2|NM|2085-9^HDL Cholesterol^LN||\"\"|mg/dL^mg/dL^UCUM|||||F|||20240101090000",
            "OBR|2|ORD2|FIL2|2345-7^Glucose^LN|||20240101081000",
            "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L^mmol/L^UCUM|||||F|||20240101091000",
            "MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240102120000||ORU^R01^ORU_R01|1002|P|2.5.1|||AL|NE||UNICODE UTF-8",
            "PID|1||67890^^^HOSP^PI||ROE^JANE||19700301|F",
            "OBR|1|ORD3|FIL3|2951-2^Sodium^LN|||20240102080000",
            "OBX|1|NM|2951-2^Sodium^LN||140|mmol/L^mmol/L^UCUM|||||F|||20240102090000",
        ].joined(separator: "\r") + "\r"
}
