import Testing

@testable import Harmonize

/// The HL7 v2 (ER7) reader, against the rules of /work/shared/reference/hl7v2/ENCODING-RULES.md (R1–R20).
@Suite struct HL7ReaderTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var id: String
        var text: String
        var paths: [String]
        var expected: [[String?]]
        var testDescription: String { id }
    }

    static let msh = "MSH|^~\\&|APP|FAC|RCV|RFAC|20240101||ADT^A01|42|P|2.5"

    static let valueCases: [Case] = [
        Case(
            id: "R3 MSH-1 is the separator, MSH-2 verbatim, MSH-3 the first split field",
            text: msh + "\r", paths: ["MSH-1", "MSH-2", "MSH-3", "MSH-9.2", "MSH-10"],
            expected: [["|", "^~\\&", "APP", "A01", "42"]]),
        Case(
            id: "R2 custom delimiters read from MSH-1/MSH-2",
            text: "MSH#$%!*#APP#F\rPID#1##A$B*C%D#X!S!Y\r", paths: ["MSH-3", "PID-3.2.2", "PID-3[2].1", "PID-4"],
            expected: [["APP", "C", "D", "X$Y"]]),
        Case(
            id: "R2 delimiters may change between messages",
            text: msh + "\rPID|1||A^B\r" + "MSH*@!\\%*APP\rPID*1**C@D\r", paths: ["PID-3.2"],
            expected: [["B"], ["D"]]),
        Case(
            id: "R4 segment > field > repetition > component > sub-component",
            text: msh + "\rPID|1||111^^^HOSP^PI~222^^^INS-NIR&1.2.250&ISO^NH\r",
            paths: ["PID-3", "PID-3.1", "PID-3[2].1", "PID-3[2].4", "PID-3[2].4.2", "PID-3[2].4.3", "PID-3[3].1"],
            expected: [["111", "111", "222", "INS-NIR", "1.2.250", "ISO", ""]]),
        Case(
            id: "R4 a raw & is a sub-component separator",
            text: msh + "\rOBR|1|||CODE^TEXT^Jane MRI W/&W/O CONTRAST\r", paths: ["OBR-4.3", "OBR-4.3.2"],
            expected: [["Jane MRI W/", "W/O CONTRAST"]]),
        Case(
            id: "R5 \"\" is present-null, empty is not present",
            text: msh + "\rPID|1||\"\"||^\"\"^X\r", paths: ["PID-3", "PID-4", "PID-5.2", "PID-5.3", "PID-5.1"],
            expected: [[nil, "", nil, "X", ""]]),
        Case(
            id: "R6 trailing empty items are insignificant",
            text: msh + "\rPID|1||ABC^DEF^^|||\r", paths: ["PID-3.2", "PID-3.3", "PID-3.9", "PID-30", "PID-3[2]"],
            expected: [["DEF", "", "", "", ""]]),
        Case(
            id: "R9 escapes decode to the declared delimiters in one pass",
            text: msh + "\rNTE|1||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f|\\E\\F\\E\\\r", paths: ["NTE-3", "NTE-4"],
            expected: [["a|b^c&d~e\\f", "\\F\\"]]),
        Case(
            id: "R9 escapes map to this message's delimiters, not to |^&~",
            text: "MSH#$%!*#APP\rNTE#1##x!S!y!F!z\r", paths: ["NTE-3"],
            expected: [["x$y#z"]]),
        Case(
            id: "R9 split first, unescape after: \\S\\ creates no component",
            text: msh + "\rNTE|1||a\\S\\b^c\r", paths: ["NTE-3.1", "NTE-3.2"],
            expected: [["a^b", "c"]]),
        Case(
            id: "R10 hexadecimal escapes",
            text: msh + "\rNTE|1||\\X41\\\\X4243\\|a\\X0D0A\\b\r", paths: ["NTE-3", "NTE-4"],
            expected: [["ABC", "a\r\nb"]]),
        Case(
            id: "R11 .br renders a line feed, H/N highlighting is dropped, unknown escapes kept",
            text: msh + "\rNTE|1||one\\.br\\two|\\H\\bold\\N\\|\\.sp 2\\x\\Zfoo\\|a\\F\r",
            paths: ["NTE-3", "NTE-4", "NTE-5", "NTE-6"],
            expected: [["one\ntwo", "bold", "\\.sp 2\\x\\Zfoo\\", "a\\F"]]),
        Case(
            id: "R13 a five-character MSH-2 (truncation character) is accepted, # stays data",
            text: "MSH|^~\\&#|APP|||||||1|P|2.7\rPID|1||AB#\r", paths: ["MSH-2", "MSH-3", "PID-3"],
            expected: [["^~\\&#", "APP", "AB#"]]),
        Case(
            id: "R7 R8 Z-segments and unknown segments are kept and addressable",
            text: msh + "\rZBE|1|MVT^X|20240101\rQQQ|A\r", paths: ["ZBE-2.2", "ZBE-3", "QQQ-1"],
            expected: [["X", "20240101", "A"]]),
        Case(
            id: "Repetition chosen by a condition on its assigning authority",
            text: msh + "\rPID|1||111^^^HOSP^PI~222^^^INS-NIR&1.2.250&ISO^NH~333^^^OTHER\r",
            paths: ["PID-3[4.1=INS-NIR].1", "PID-3[4=HOSP].1", "PID-3[5=NH].1", "PID-3[4.1=NOPE].1"],
            expected: [["222", "111", "222", ""]]),
        Case(
            id: "Segment occurrence OBX[2]",
            text: msh + "\rOBX|1|NM|A\rOBX|2|NM|B\r", paths: ["OBX[2]-3", "OBX-3", "OBX[3]-3"],
            expected: [["B", "A", ""]]),
        Case(
            id: "R19 whitespace inside values is preserved",
            text: msh + "\rNTE|1|| a  b \r", paths: ["NTE-3"],
            expected: [[" a  b "]]),
    ]

    @Test(arguments: valueCases)
    func decodesValues(_ c: Case) throws {
        #expect(try HL7Test.values(c.text, paths: c.paths) == c.expected)
    }

    struct FramingCase: CustomTestStringConvertible, Sendable {
        var id: String
        var bytes: [UInt8]
        var testDescription: String { id }
    }

    static let segments = [msh, "PID|1||A1", "OBX|1|NM|X||1"]
    static let segments2 = ["MSH|^~\\&|APP|FAC|RCV|RFAC|20240101||ADT^A01|43|P|2.5", "PID|1||B2", "OBX|1|NM|Y||2"]
    static func join(_ s: [String], _ t: String) -> String { s.joined(separator: t) + t }

    static let framingCases: [FramingCase] = [
        FramingCase(id: "R1 CR", bytes: Array((join(segments, "\r") + join(segments2, "\r")).utf8)),
        FramingCase(id: "R1 LF", bytes: Array((join(segments, "\n") + join(segments2, "\n")).utf8)),
        FramingCase(id: "R1 CRLF", bytes: Array((join(segments, "\r\n") + join(segments2, "\r\n")).utf8)),
        FramingCase(
            id: "R1 mixed terminators, no final terminator",
            bytes: Array((segments.joined(separator: "\r\n") + "\n" + segments2.joined(separator: "\r")).utf8)),
        FramingCase(
            id: "R1 blank and whitespace-only lines",
            bytes: Array(("\n\n" + join(segments, "\r\n") + "\r\n  \r\n\t\n" + join(segments2, "\r\n") + "\n\n").utf8)),
        FramingCase(id: "R12 UTF-8 BOM", bytes: [0xEF, 0xBB, 0xBF] + Array((join(segments, "\r") + join(segments2, "\r")).utf8)),
        FramingCase(
            id: "R14 MLLP framing",
            bytes: [0x0B] + Array(join(segments, "\r").utf8) + [0x1C, 0x0D] + [0x0B] + Array(join(segments2, "\r").utf8) + [0x1C, 0x0D]),
        FramingCase(
            id: "R15 batch envelope with trailers",
            bytes: Array(("FHS|^~\\&|APP\rBHS|^~\\&|APP\r" + join(segments, "\r") + join(segments2, "\r") + "BTS|2\rFTS|1\r").utf8)),
        FramingCase(
            id: "R15 batch envelope without trailers",
            bytes: Array(("FHS|^~\\&|APP\rBHS|^~\\&|APP\r" + join(segments, "\r") + join(segments2, "\r")).utf8)),
    ]

    @Test(arguments: framingCases)
    func framingGivesTheSameMessages(_ c: FramingCase) throws {
        let values = try HL7Test.events(c.bytes, paths: ["MSH-10", "PID-3", "OBX-5"]).map { $0.values ?? ["reject"] }
        #expect(values == [["42", "A1", "1"], ["43", "B2", "2"]])
    }

    @Test func oneRecordPerOBXWithItsParents() throws {
        let events = try HL7Test.events(
            HL7Test.oru, paths: ["MSH-10", "PID-3[4.1=HOSP].1", "PV1-3.1", "OBR-4.1", "OBX-3.1", "OBX-5", "PID-3[4.1=INS-NIR].1"],
            record: .segment("OBX"))
        #expect(
            events == [
                .record(values: ["1001", "12345", "CARDIO", "24331-1", "2089-1", "100.5", "1800000000001"], message: 1, path: "OBX[1]", line: 5),
                .record(values: ["1001", "12345", "CARDIO", "24331-1", "2085-9", nil, "1800000000001"], message: 1, path: "OBX[2]", line: 6),
                .record(values: ["1001", "12345", "CARDIO", "2345-7", "2345-7", "5.4", "1800000000001"], message: 1, path: "OBX[3]", line: 8),
                .record(values: ["1002", "67890", "", "2951-2", "2951-2", "140", ""], message: 2, path: "OBX[1]", line: 12),
            ])
    }

    @Test func charsetFromMSH18() throws {
        // R12: ISO 8859-1 is transcoded to UTF-8; hex escapes are read with the charset too.
        let latin: [UInt8] = Array("MSH|^~\\&|A|||||||1|P|2.5||||||8859/1\rPID|1||Ren".utf8) + [0xE9] + Array("|\\XE9\\\r".utf8)
        #expect(try HL7Test.events(latin, paths: ["PID-3", "PID-4"]).map(\.values) == [["René", "é"]])
        // Declared UTF-8 with invalid bytes: an encoding reject, located.
        let bad: [UInt8] = Array("MSH|^~\\&|A|||||||1|P|2.5||||||UNICODE UTF-8\rPID|1||Ren".utf8) + [0xE9] + Array("\r".utf8)
        #expect(try HL7Test.events(bad, paths: ["PID-3"]) == [.rejected(reason: .encodingError, message: 1, path: "segment 2", line: 2)])
        // No MSH-18: valid UTF-8 is kept, anything else read as ISO 8859-1.
        let none: [UInt8] = Array("MSH|^~\\&|A\rPID|1||Ren".utf8) + [0xE9] + Array("\rNTE|Zoë\r".utf8)
        #expect(try HL7Test.events(none, paths: ["PID-3", "NTE-1"]).map(\.values) == [["René", "Zoë"]])
        // An unsupported charset is an encoding reject.
        #expect(
            try HL7Test.events("MSH|^~\\&|A|||||||1|P|2.5||||||ISO IR87\rPID|1\r", paths: ["PID-1"])
                == [.rejected(reason: .encodingError, message: 1, path: "MSH-18", line: 1)])
    }

    struct MalformedCase: CustomTestStringConvertible, Sendable {
        var id: String
        var text: String
        var expected: [HL7Event]
        var testDescription: String { id }
    }

    static let malformedCases: [MalformedCase] = [
        MalformedCase(
            id: "R16 lines before the first MSH", text: "WHOOPS\rPID|1||A\r" + msh + "\rPID|1||B\r",
            expected: [
                .rejected(reason: .structureError, message: 1, path: "MSH", line: 1),
                .record(values: ["B"], message: 2, path: nil, line: 3),
            ]),
        MalformedCase(
            id: "R2 bad MSH-2 (too short)", text: "MSH|^~|APP\rPID|1||A\r" + msh + "\rPID|1||B\r",
            expected: [
                .rejected(reason: .structureError, message: 1, path: "MSH-2", line: 1),
                .record(values: ["B"], message: 2, path: nil, line: 3),
            ]),
        MalformedCase(
            id: "R20 empty MSH-2", text: "MSH||APP\rPID|1||A\r",
            expected: [.rejected(reason: .structureError, message: 1, path: "MSH-2", line: 1)]),
        MalformedCase(
            id: "R2 MSH-2 with a repeated delimiter", text: "MSH|^^\\&|APP\rPID|1||A\r",
            expected: [.rejected(reason: .structureError, message: 1, path: "MSH-2", line: 1)]),
        MalformedCase(
            id: "R2 MSH-1 missing", text: "MSH\rPID|1||A\r",
            expected: [.rejected(reason: .structureError, message: 1, path: "MSH-1", line: 1)]),
        MalformedCase(
            id: "R3 multi-byte MSH-2 is rejected (strict decision)", text: "MSH|^˜\\&|APP\rPID|1||A\r",
            expected: [.rejected(reason: .structureError, message: 1, path: "MSH-2", line: 1)]),
        MalformedCase(
            id: "R17 truncated segment", text: msh + "\rPI\r" + msh + "\rPID|1||B\r",
            expected: [
                .rejected(reason: .structureError, message: 1, path: "segment 2", line: 2),
                .record(values: ["B"], message: 2, path: nil, line: 3),
            ]),
        MalformedCase(
            id: "R17 lower-case segment id", text: msh + "\rpid|1||A\r",
            expected: [.rejected(reason: .structureError, message: 1, path: "segment 2", line: 2)]),
        MalformedCase(
            id: "R17 segment id followed by a wrong separator", text: msh + "\rPID^1||A\r",
            expected: [.rejected(reason: .structureError, message: 1, path: "segment 2", line: 2)]),
        MalformedCase(id: "R20 empty input", text: "", expected: []),
        MalformedCase(id: "R20 only blank lines and an envelope", text: "\r\n\r\nFHS|^~\\&\rFTS|0\r", expected: []),
    ]

    @Test(arguments: malformedCases)
    func malformedMessagesAreRejectedAndReadingGoesOn(_ c: MalformedCase) throws {
        #expect(try HL7Test.events(c.text, paths: ["PID-3"]) == c.expected)
    }

    @Test func anOversizedMessageIsALimitRejectAndTheNextOneIsRead() throws {
        let big = Self.msh + "\rNTE|1||" + String(repeating: "x", count: 5000) + "\r" + Self.msh + "\rPID|1||B\r"
        let events = try HL7Test.events(big, paths: ["PID-3"], maxMessageBytes: 1000)
        #expect(
            events == [
                .rejected(reason: .limitExceeded, message: 1, path: "MSH", line: 1),
                .record(values: ["B"], message: 2, path: nil, line: 3),
            ])
    }

    @Test func rejectsNeverCarryValues() throws {
        let text = "SECRET-VALUE|x\r" + "MSH|^~|SECRET-VALUE\r"
        let r = HL7Reader(source: MemoryByteSource(Array(text.utf8)), displayName: "t.hl7")
        while case .rejected(let j) = try r.next() {
            #expect(!j.message.contains("SECRET"))
            #expect(!(j.location.path ?? "").contains("SECRET"))
        }
    }

    @Test func bindRejectsInvalidPaths() throws {
        let r = HL7Reader(source: MemoryByteSource([]), displayName: "t.hl7")
        #expect(throws: RecordReaderBindError.self) { try r.bind(fields: ["PID-5.1", "name", "PID-0", "PID-3[x].1"]) }
        #expect(HL7Path("PID-3[4.1=INS-NIR].1")?.repetition == .condition(component: 4, subcomponent: 1, value: Array("INS-NIR".utf8)))
        #expect(HL7Path("OBX[2]-5")?.occurrence == 2)
    }

    @Test func dripFeedGivesIdenticalRecords() throws {
        var bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(("FHS|^~\\&\r\n" + HL7Test.oru).utf8)
        bytes += [0x0B] + Array("MSH|^~\\&|A\r\nPID|1||\\E\\F\\E\\^x\r\n".utf8) + [0x1C, 0x0D]
        bytes += Array("WHOOPS\r\nMSH|^~\\&|A|||||||9|P|2.5||||||8859/1\nPID|1||caf".utf8) + [0xE9] + Array("\r\n\r\n".utf8)
        let paths = ["MSH-10", "PID-3", "OBR-4.1", "OBX-5"]
        let reference = try HL7Test.events(bytes, paths: paths, record: .message)
        #expect(reference.count == 5)
        for chunk in 1...40 {
            #expect(try HL7Test.events(bytes, paths: paths, sourceChunk: chunk) == reference, "source chunk \(chunk)")
            #expect(try HL7Test.events(bytes, paths: paths, sourceChunk: 7, readerChunk: chunk) == reference, "reader chunk \(chunk)")
        }
        let perOBX = try HL7Test.events(bytes, paths: paths, record: .segment("OBX"))
        for chunk in [1, 2, 3, 5, 13] {
            #expect(try HL7Test.events(bytes, paths: paths, record: .segment("OBX"), sourceChunk: chunk) == perOBX)
        }
    }
}
