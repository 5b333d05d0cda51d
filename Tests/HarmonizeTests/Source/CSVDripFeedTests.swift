import Foundation
import Testing

@testable import Harmonize

/// A plain, obviously-correct String-based reader for RFC 4180 with a header, `"` quotes, no
/// escape, blank lines skipped and ragged rows rejected: the oracle for randomized comparison.
enum ReferenceCSV {
    static func read(_ text: String, delimiter: Unicode.Scalar) -> [CSVEvent] {
        let s = Array(text.unicodeScalars)
        var i = 0
        var line = 1
        var header: [String]? = nil
        var out: [CSVEvent] = []
        var recordNumber = 0
        while i < s.count {
            if s[i] == "\n" {
                line += 1
                i += 1
                continue
            }
            if s[i] == "\r" {
                line += 1
                i += 1
                if i < s.count && s[i] == "\n" { i += 1 }
                continue
            }
            let startLine = line
            var fields: [String] = []
            var quoted: [Bool] = []
            var unterminated = false
            record: while true {
                var f = String.UnicodeScalarView()
                var q = false
                if i < s.count && s[i] == "\"" {
                    q = true
                    i += 1
                    var closed = false
                    while i < s.count {
                        if s[i] == "\"" {
                            if i + 1 < s.count && s[i + 1] == "\"" {
                                f.append("\"")
                                i += 2
                                continue
                            }
                            i += 1
                            closed = true
                            break
                        }
                        if s[i] == "\n" || (s[i] == "\r" && !(i + 1 < s.count && s[i + 1] == "\n")) { line += 1 }
                        f.append(s[i])
                        i += 1
                    }
                    if !closed {
                        unterminated = true
                        break record
                    }
                }
                while i < s.count && s[i] != delimiter && s[i] != "\n" && s[i] != "\r" {
                    f.append(s[i])
                    i += 1
                }
                fields.append(String(f))
                quoted.append(q)
                if i >= s.count { break }
                if s[i] == delimiter {
                    i += 1
                    continue
                }
                line += 1
                i += (s[i] == "\r" && i + 1 < s.count && s[i + 1] == "\n") ? 2 : 1
                break
            }
            guard let names = header else {
                header = fields
                continue
            }
            recordNumber += 1
            if unterminated {
                out.append(.rejected(reason: .structureError, line: startLine, record: recordNumber, field: nil))
            } else if fields.count > names.count {
                out.append(.rejected(reason: .extraCell, line: startLine, record: recordNumber, field: nil))
            } else if fields.count < names.count {
                out.append(
                    .rejected(reason: .missingCell, line: startLine, record: recordNumber, field: names[fields.count]))
            } else {
                out.append(.record(fields: fields, quoted: quoted, line: startLine, record: recordNumber))
            }
        }
        return out
    }
}

/// A small deterministic generator (SplitMix64).
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct CSVDripFeedTests {
    /// Tricky samples: BOM, quotes, embedded LF/CRLF/CR, doubled quotes, blank lines, ragged
    /// rows, a missing final line end; then Latin-1, Windows-1252, UTF-16 LE/BE with surrogates.
    static func samples() -> [(String, [UInt8], Dialect)] {
        let text =
            "id;name;note\r\n1;\"a;b\";\"say \"\"hi\"\"\"\r\n\r\n2;\"multi\nline\r\nthree\";x\r3;é€;\n4;short\r\n"
            + "5;\"\";\"tail\"\n6;😀;\"open"
        var out: [(String, [UInt8], Dialect)] = [
            ("utf8-bom", [0xEF, 0xBB, 0xBF] + Array(text.utf8), Dialect()),
            ("utf8-no-final-newline", Array("a,b\n1,\"x\ny\"\n2,3".utf8), Dialect()),
            ("utf16le", CSVTest.utf16(text, bigEndian: false), Dialect()),
            ("utf16be", CSVTest.utf16(text, bigEndian: true), Dialect(encoding: .utf16)),
            (
                "escape", Array("k|v\n1|a\\|b\n2|\"q\\\"\"\"\\\\\"\n3|\\\r\n".utf8),
                Dialect(escape: UInt8(ascii: "\\"), skipLines: 0)
            ),
        ]
        // Latin-1 / Windows-1252: "k;v\r\n1;€éœ\r\n2;\"x\r\ny\"\r\n" with a preamble line.
        let cp: [UInt8] =
            Array("preamble\r\nk;v\r\n1;".utf8) + [0x80, 0xE9, 0x9C] + Array("\r\n2;\"x\r\ny\"\r\n".utf8)
        out.append(("windows-1252", cp, Dialect(encoding: .windows1252, skipLines: 1)))
        out.append(("latin-1", cp, Dialect(encoding: .latin1, skipLines: 1)))
        out.append(("auto-1252", cp, Dialect(skipLines: 1)))
        return out
    }

    @Test func everyChunkSizeGivesTheSameEvents() throws {
        for (name, bytes, dialect) in Self.samples() {
            let baseline = try CSVTest.events(bytes, dialect: dialect)
            #expect(baseline.count >= 2, "\(name)")
            for chunk in 1...(bytes.count + 1) {
                for readerChunk in [16, 1 << 20] {
                    let ev = try CSVTest.events(bytes, dialect: dialect, sourceChunk: chunk, readerChunk: readerChunk)
                    #expect(ev == baseline, "\(name) chunk \(chunk) reader chunk \(readerChunk)")
                    if ev != baseline { return }
                }
            }
        }
    }

    @Test func samplesDecodeAsExpected() throws {
        let s = Self.samples()
        let utf8 = try CSVTest.events(s[0].1, dialect: s[0].2)
        #expect(
            utf8 == [
                .record(fields: ["1", "a;b", "say \"hi\""], quoted: [false, true, true], line: 2, record: 1),
                .record(fields: ["2", "multi\nline\r\nthree", "x"], quoted: [false, true, false], line: 4, record: 2),
                .record(fields: ["3", "é€", ""], quoted: [false, false, false], line: 7, record: 3),
                .rejected(reason: .missingCell, line: 8, record: 4, field: "note"),
                .record(fields: ["5", "", "tail"], quoted: [false, true, true], line: 9, record: 5),
                .rejected(reason: .structureError, line: 10, record: 6, field: nil),
            ])
        #expect(try CSVTest.events(s[2].1, dialect: s[2].2) == utf8)
        #expect(try CSVTest.events(s[3].1, dialect: s[3].2) == utf8)
        let escaped = try CSVTest.events(s[4].1, dialect: s[4].2)
        #expect(escaped.compactMap(\.fields) == [["1", "a|b"], ["2", "q\"\"\\"], ["3", "\r"]])
        let cp = try CSVTest.events(s[5].1, dialect: s[5].2)
        #expect(
            cp == [
                .record(fields: ["1", "€éœ"], quoted: [false, false], line: 3, record: 1),
                .record(fields: ["2", "x\r\ny"], quoted: [false, true], line: 4, record: 2),
            ])
        #expect(try CSVTest.events(s[6].1, dialect: s[6].2).compactMap(\.fields)[0] == ["1", "\u{80}é\u{9C}"])
        #expect(try CSVTest.events(s[7].1, dialect: s[7].2) == cp)
    }

    @Test func oversizedRecordsUnderDripFeed() throws {
        let text =
            "a,b\n1,\"" + String(repeating: "long\n", count: 40) + "\"\n2,ok\n3," + String(repeating: "w", count: 300)
            + "\n4,end"
        let bytes = Array(text.utf8)
        let limits = ReaderLimits(maxRecordBytes: 64)
        let baseline = try CSVTest.events(bytes, limits: limits)
        #expect(
            baseline == [
                .rejected(reason: .limitExceeded, line: 2, record: 1, field: nil),
                .record(fields: ["2", "ok"], quoted: [false, false], line: 43, record: 2),
                .rejected(reason: .limitExceeded, line: 44, record: 3, field: nil),
                .record(fields: ["4", "end"], quoted: [false, false], line: 45, record: 4),
            ])
        for chunk in [1, 2, 3, 7, 16, 64, 65, 200, bytes.count] {
            let ev = try CSVTest.events(bytes, limits: limits, sourceChunk: chunk, readerChunk: 16)
            #expect(ev == baseline, "chunk \(chunk)")
        }
    }

    static func randomDocument(_ rng: inout SeededRandom, delimiter: Character, longFields: Bool = false) -> String {
        let columns = Int.random(in: 1...4, using: &rng)
        let lineEnds = ["\n", "\r\n", "\r"]
        let lineEnd = lineEnds.randomElement(using: &rng) ?? "\n"
        func end() -> String { Int.random(in: 0..<10, using: &rng) == 0 ? lineEnds.randomElement(using: &rng) ?? "\n" : lineEnd }
        let plain: [Character] = ["a", "b", "z", "1", " ", "é", "€", "日", "x"]
        let special: [Character] = ["\"", "\n", "\r", delimiter, "a", "é", " "]
        var doc = (0..<columns).map { "h\($0)" }.joined(separator: String(delimiter)) + end()
        let rows = Int.random(in: 0...8, using: &rng)
        for r in 0..<rows {
            if Int.random(in: 0..<8, using: &rng) == 0 { doc += end() }  // blank line
            var n = columns
            if Int.random(in: 0..<6, using: &rng) == 0 { n += Int.random(in: -1...1, using: &rng) }
            var fields: [String] = []
            for _ in 0..<max(1, n) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: fields.append("")
                case 1, 2:
                    // Long fields span words of the reader's byte classes (64 bytes each) with no stop byte.
                    let length = longFields && Bool.random(using: &rng) ? Int.random(in: 50...300, using: &rng) : Int.random(in: 1...6, using: &rng)
                    fields.append(String((0..<length).map { _ in plain.randomElement(using: &rng) ?? "a" }))
                default:
                    let body = String((0..<Int.random(in: 0...6, using: &rng)).map { _ in special.randomElement(using: &rng) ?? "a" })
                    fields.append("\"" + body.replacingOccurrences(of: "\"", with: "\"\"") + "\"")
                }
            }
            doc += fields.joined(separator: String(delimiter))
            if r < rows - 1 || Bool.random(using: &rng) { doc += end() }
        }
        if Int.random(in: 0..<15, using: &rng) == 0 { doc += "\"unterminated\(delimiter)x\n" }
        return doc
    }

    /// Fields of up to 300 characters, delimiters at every offset of the reader's 64-byte words.
    @Test func matchesReferenceOnRandomDocumentsWithLongFields() throws {
        try Self.compareWithReference(seed: 20_261_206, documents: 300, longFields: true, maxSourceChunk: 200)
    }

    /// A byte that is not UTF-8 rejects its record wherever it lies: in every place of a long
    /// field, of the first field or a later one, whatever the reader's chunks.
    @Test func anInvalidByteAnywhereInARecordRejectsIt() throws {
        for readerChunk in [16, 1 << 20] {
            for offset in stride(from: 0, to: 200, by: 1) {
                var field = Array(repeating: UInt8(ascii: "x"), count: 200)
                field[offset] = 0xFF
                let doc = Array("a,b\nok,1\n".utf8) + Array("y,".utf8) + field + Array("\nok,2\n".utf8)
                let dialect = Dialect(delimiter: UInt8(ascii: ","), encoding: .utf8)
                let ev = try CSVTest.events(doc, dialect: dialect, sourceChunk: 97, readerChunk: readerChunk)
                guard ev.count == 3, case .rejected(let reason, _, let record, _) = ev[1], reason == .encodingError, record == 2,
                    ev[0].fields == ["ok", "1"], ev[2].fields == ["ok", "2"]
                else {
                    Issue.record("offset \(offset), reader chunk \(readerChunk): \(ev)")
                    return
                }
            }
        }
    }

    /// A last record that ends with a delimiter at the end of the input (no line break): its
    /// empty last field is read whatever the offset of the input's end in the reader's 64-byte
    /// words, the buffer having held delimiters past that end before (the byte classes of a word
    /// after the input's end were those of bytes read earlier, and a field began there).
    @Test func aDelimiterAtTheEndOfTheInputEndsWithAnEmptyField() throws {
        for length in 1...200 {
            for readerChunk in [16, 1 << 20] {
                // Earlier records full of delimiters, then a last one of `length` bytes ending with ",".
                var text = "a,b,c\n" + String(repeating: ",,\n", count: 40) + "x,,,y,,\n"
                let last = String(repeating: "z", count: max(0, length - 2)) + "z,"
                text += last.suffix(length)
                let doc = Array(text.utf8)
                let expected = ReferenceCSV.read(text, delimiter: ",")
                for sourceChunk in [1, 7, 64, 1 << 20] {
                    let ev = try CSVTest.events(
                        doc, dialect: Dialect(delimiter: UInt8(ascii: ",")), sourceChunk: sourceChunk, readerChunk: readerChunk)
                    guard ev == expected else {
                        Issue.record(
                            "length \(length), source chunk \(sourceChunk), reader chunk \(readerChunk): \(ev.suffix(2)) against \(expected.suffix(2))"
                        )
                        return
                    }
                }
            }
        }
    }

    @Test func matchesReferenceOnRandomDocuments() throws {
        try Self.compareWithReference(seed: 20_261_129, documents: 400, longFields: false, maxSourceChunk: 40)
    }

    /// Reads `documents` random documents (`randomDocument`) with the reader, from source chunks
    /// of 1 to `maxSourceChunk` bytes and reader chunks of 16 bytes or 1 MiB, and expects the
    /// reference reader's events; stops at the first difference.
    static func compareWithReference(seed: UInt64, documents: Int, longFields: Bool, maxSourceChunk: Int) throws {
        var rng = SeededRandom(state: seed)
        let delimiters: [Character] = [",", ";", "\t", "|"]
        for n in 0..<documents {
            let delimiter = delimiters[n % delimiters.count]
            let doc = randomDocument(&rng, delimiter: delimiter, longFields: longFields)
            let byte = delimiter.asciiValue ?? 44
            let expected = ReferenceCSV.read(doc, delimiter: Unicode.Scalar(byte))
            let chunk = Int.random(in: 1...maxSourceChunk, using: &rng)
            let ev = try CSVTest.events(
                Array(doc.utf8), dialect: Dialect(delimiter: byte), sourceChunk: chunk, readerChunk: n % 2 == 0 ? 16 : 1 << 20)
            #expect(ev == expected, "document \(n): \(doc.debugDescription)")
            if ev != expected { return }
        }
    }
}
