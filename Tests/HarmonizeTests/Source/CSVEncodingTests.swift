import Foundation
import Testing

@testable import Harmonize

@Suite struct CSVEncodingTests {
    static let expected: [[String]] = [["name", "price"], ["café", "€5"], ["œuvre", "“x”"]]

    @Test func utf8WithAndWithoutBOM() throws {
        let text = "name;price\ncafé;€5\nœuvre;“x”\n"
        for bom in [false, true] {
            let bytes = (bom ? [0xEF, 0xBB, 0xBF] : []) + CSVTest.bytes(text)
            let r = try CSVTest.reader(bytes, dialect: Dialect(header: false))
            #expect(r.resolvedDialect.encoding == .utf8)
            #expect(try CSVTest.events(r).compactMap(\.fields) == Self.expected)
        }
    }

    @Test func latin1() throws {
        // "café;5\n" with é = 0xE9; 0xA4 is ¤ in Latin-1.
        let bytes: [UInt8] = [0x63, 0x61, 0x66, 0xE9, 0x3B, 0xA4, 0x0A]
        let rows = try CSVTest.events(bytes, dialect: Dialect(header: false, encoding: .latin1)).compactMap(\.fields)
        #expect(rows == [["café", "¤"]])
        // In Latin-1, 0x80 is a C1 control, not the euro sign.
        let c1 = try CSVTest.events([0x80, 0x0A], dialect: Dialect(header: false, encoding: .latin1))
        #expect(c1.first?.fields == ["\u{80}"])
    }

    @Test func windows1252() throws {
        // "é;€;œ;’\n"
        let bytes: [UInt8] = [0xE9, 0x3B, 0x80, 0x3B, 0x9C, 0x3B, 0x92, 0x0A]
        let declared = try CSVTest.events(bytes, dialect: Dialect(header: false, encoding: .windows1252))
        #expect(declared.compactMap(\.fields) == [["é", "€", "œ", "’"]])
        // Auto: not valid UTF-8, so Windows-1252.
        let r = try CSVTest.reader(bytes, dialect: Dialect(header: false))
        #expect(r.resolvedDialect.encoding == .windows1252)
        #expect(try CSVTest.events(r).compactMap(\.fields) == [["é", "€", "œ", "’"]])
    }

    @Test(arguments: [false, true])
    func utf16WithBOM(bigEndian: Bool) throws {
        let text = "name;price\r\ncafé;€5\r\nœuvre;“x”\r\n"
        let bytes = CSVTest.utf16(text, bigEndian: bigEndian)
        for encoding in [TextEncoding.auto, .utf16] {
            let r = try CSVTest.reader(bytes, dialect: Dialect(header: false, encoding: encoding))
            #expect(r.resolvedDialect.encoding == .utf16)
            #expect(r.resolvedDialect.delimiter == UInt8(ascii: ";"))
            #expect(try CSVTest.events(r).compactMap(\.fields) == Self.expected)
        }
    }

    @Test func utf16SurrogatePairsAndLoneSurrogates() throws {
        let good = CSVTest.utf16("a,😀x\n", bigEndian: false)
        let rows = try CSVTest.events(good, dialect: Dialect(delimiter: 44, header: false)).compactMap(\.fields)
        #expect(rows == [["a", "😀x"]])
        // A lone high surrogate (D800) followed by 'b', then a good record.
        var bad: [UInt8] = [0xFF, 0xFE, 0x61, 0x00, 0x2C, 0x00, 0x00, 0xD8, 0x62, 0x00, 0x0A, 0x00]
        bad += CSVTest.utf16("c,d\n", bigEndian: false).dropFirst(2)
        let ev = try CSVTest.events(bad, dialect: Dialect(delimiter: 44, header: false, columns: ["x", "y"]))
        #expect(
            ev == [
                .rejected(reason: .encodingError, line: 1, record: 1, field: "y"),
                .record(fields: ["c", "d"], quoted: [false, false], line: 2, record: 2),
            ])
    }

    @Test func utf16WithoutBOMIsGuessed() throws {
        let bytes = CSVTest.utf16("a;b\n1;2\n", bigEndian: true, bom: false)
        let r = try CSVTest.reader(bytes, dialect: Dialect(header: false))
        #expect(r.resolvedDialect.encoding == .utf16)
        #expect(try CSVTest.events(r).compactMap(\.fields) == [["a", "b"], ["1", "2"]])
    }

    @Test func invalidUTF8RecordIsRejected() throws {
        var bytes = CSVTest.bytes("k,v\n1,ok\n2,")
        bytes += [0xC3, 0x28]  // invalid continuation
        bytes += CSVTest.bytes("\n3,é\n4,")
        bytes += [0xED, 0xA0, 0x80]  // encoded surrogate
        bytes += CSVTest.bytes("\n5,\u{10FFFF}\n")
        let ev = try CSVTest.events(bytes, dialect: Dialect(encoding: .utf8))
        #expect(
            ev == [
                .record(fields: ["1", "ok"], quoted: [false, false], line: 2, record: 1),
                .rejected(reason: .encodingError, line: 3, record: 2, field: "v"),
                .record(fields: ["3", "é"], quoted: [false, false], line: 4, record: 3),
                .rejected(reason: .encodingError, line: 5, record: 4, field: "v"),
                .record(fields: ["5", "\u{10FFFF}"], quoted: [false, false], line: 6, record: 5),
            ])
    }

    @Test func encodingNames() {
        #expect(TextEncoding(name: "UTF-8") == .utf8)
        #expect(TextEncoding(name: "utf8") == .utf8)
        #expect(TextEncoding(name: "ISO-8859-1") == .latin1)
        #expect(TextEncoding(name: "latin-1") == .latin1)
        #expect(TextEncoding(name: "CP1252") == .windows1252)
        #expect(TextEncoding(name: "Windows-1252") == .windows1252)
        #expect(TextEncoding(name: "UTF_16") == .utf16)
        #expect(TextEncoding(name: "auto") == .auto)
        #expect(TextEncoding(name: "ebcdic") == nil)
    }

    @Test func encodingDecodesAliases() throws {
        struct Box: Decodable { var e: TextEncoding }
        let json = Array(#"{"e":"iso-8859-1"}"#.utf8)
        let box = try JSONDecoder().decode(Box.self, from: Data(json))
        #expect(box.e == .latin1)
        let roundTrip = try JSONDecoder().decode(
            Dialect.self, from: JSONEncoder().encode(Dialect(delimiter: 59, encoding: .windows1252)))
        #expect(roundTrip == Dialect(delimiter: 59, encoding: .windows1252))
    }

    @Test func transcoderKeepsStateAcrossChunks() {
        // Feed UTF-16LE "é😀" one byte at a time.
        let input = CSVTest.utf16("é😀", bigEndian: false).dropFirst(2)
        var t = Transcoder(.utf16LE)
        var out: [UInt8] = []
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)
        defer { buffer.deallocate() }
        for byte in input {
            let n = [byte].withUnsafeBytes { t.transcode($0, into: buffer) }
            out += UnsafeBufferPointer(start: buffer, count: n)
        }
        out += UnsafeBufferPointer(start: buffer, count: t.finish(into: buffer))
        #expect(String(decoding: out, as: UTF8.self) == "é😀")
    }
}
