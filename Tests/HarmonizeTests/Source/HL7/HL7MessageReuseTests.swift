import Testing

@testable import Harmonize

/// The reader keeps one message and one line buffer for a whole file (no allocation per line or
/// message once grown), and finds each segment's field separators once: these tests check that
/// nothing of a message leaks into the next one and that the separator index gives the fields
/// the plain split gives.
@Suite struct HL7MessageReuseTests {
    static let segments = [
        "MSH|^~\\&|APP|FAC|||20240101||ORU^R01|42|P|2.5",
        "PID|1||12345^^^H^PI~1800000000001^^^INS-NIR^NI||DOE^JANE||19800101|F",
        "OBX|1|NM|2089-1^LDL^LN||100.5|mg/dL|||||F|||20240101",
        "OBX||||",
        "ZZZ",
        "NTE|",
        "OBX|2|ST|||\\F\\a\\S\\b|",
    ]

    /// Loads `lines` as one message (each line a range of one buffer).
    static func load(_ lines: [String], into msg: HL7Message) throws {
        var buffer: [UInt8] = []
        var ranges: [HL7Message.Line] = []
        for (k, l) in lines.enumerated() {
            let start = buffer.count
            buffer += Array(l.utf8)
            ranges.append(.init(start: start, end: buffer.count, number: k + 1))
        }
        try msg.load(from: buffer, lines: ranges)
    }

    @Test func theSeparatorIndexGivesThePlainSplit() throws {
        let msg = HL7Message()
        var rng = SeededRandom(state: 11)
        for round in 0..<3 {
            // Another message each round, into the same object: no separator of the last one stays.
            let lines = round == 1 ? Array(Self.segments.prefix(3)) : Self.segments.shuffledKeepingMSH(&rng)
            try Self.load(lines, into: msg)
            // Fields asked in a random order, so segments are indexed in any order.
            var asks: [(Int, Int)] = []
            for s in 0..<msg.segmentCount {
                for n in 1...14 { asks.append((s, n)) }
            }
            asks.shuffle(using: &rng)
            for (s, n) in asks {
                let plain = msg.part(msg.segStart[s]..<msg.segEnd[s], msg.delimiters.field, n)
                #expect(msg.fieldPart(segment: s, n) == plain, "round \(round), segment \(s), part \(n)")
            }
            #expect(msg.fieldPart(segment: 0, 0) == nil)
        }
    }

    @Test func messagesOfEveryShapeReadAloneOrInOneFileAgree() throws {
        // Long then short messages, other delimiters, three charsets, a bad segment, an oversized one.
        let messages: [[UInt8]] = [
            Array((Self.segments.joined(separator: "\r") + "\r").utf8),
            Array("MSH|^~\\&|A|||||||2|P|2.5||||||8859/1\rPID|1||Ren".utf8) + [0xE9] + Array("\rOBX|1|ST|||caf".utf8) + [0xE9] + [0x0D],
            Array("MSH#$*@%#B\rPID#1##X$Y*Z\rOBX#1#ST###v1*v2\r".utf8),
            Array("MSH|^~\\&|C\rPID|1||Zo\u{00EB}\rOBX|1|ST|||\\XE9\\\r".utf8),
            Array("MSH|^~\\&|D\rWHOOPS\rOBX|1|ST|||lost\r".utf8),
            Array(("MSH|^~\\&|E\rNTE|1||" + String(repeating: "x", count: 3000) + "\rOBX|1|ST|||big\r").utf8),
            Array("MSH|^~\\&|F\rOBX|1|ST|||last\r".utf8),
        ]
        let paths = ["MSH-3", "MSH-10", "PID-3", "PID-3.2", "OBX-5", "OBX-5.2"]
        var alone: [HL7Event] = []
        var lineOffset = 0
        for (k, m) in messages.enumerated() {
            for e in try HL7Test.events(m, paths: paths, record: .segment("OBX"), maxMessageBytes: 2000) {
                switch e {
                case .record(let v, _, let p, let l): alone.append(.record(values: v, message: k + 1, path: p, line: l + lineOffset))
                case .rejected(let r, _, let p, let l): alone.append(.rejected(reason: r, message: k + 1, path: p, line: l + lineOffset))
                }
            }
            lineOffset += m.filter { $0 == 0x0D }.count
        }
        // 3 OBX, then one per message, the bad segment and the oversized message each a reject.
        #expect(alone.count == 9)
        #expect(alone[3].values == ["A", "2", "René", "", "café", ""])
        #expect(alone[4].values == ["B", "", "X", "Y", "v1", ""])
        #expect(alone[5].values == ["C", "", "Zoë", "", "é", ""])
        let file = messages.flatMap { $0 }
        for chunk in [1, 3, 64, 1 << 16] {
            let together = try HL7Test.events(file, paths: paths, record: .segment("OBX"), maxMessageBytes: 2000, sourceChunk: chunk)
            #expect(together == alone, "source chunk \(chunk)")
        }
    }

    /// The ASCII check of a line reads eight bytes at a time: a byte ≥ 0x80 at any offset of a
    /// line of 0–40 bytes, in a slice that starts anywhere, is found.
    @Test func theASCIICheckFindsAHighByteAnywhere() {
        for n in 0...40 {
            let line = [UInt8](repeating: 65, count: n)
            #expect(line.withUnsafeBufferPointer(UTF8Validation.isASCII))
            for k in 0..<n {
                var high = line
                high[k] = 0xC3
                #expect(!high.withUnsafeBufferPointer(UTF8Validation.isASCII), "length \(n), offset \(k)")
                let shifted = [UInt8](repeating: 0xFF, count: 3) + high
                #expect(!shifted[3...].withUnsafeBufferPointer(UTF8Validation.isASCII), "length \(n), offset \(k), slice")
            }
            #expect(([UInt8](repeating: 0xFF, count: 3) + line)[3...].withUnsafeBufferPointer(UTF8Validation.isASCII))
        }
    }

    @Test func theLineBufferStaysWithinOneMessage() throws {
        // 200 messages of 40 lines, then one of 5,000 lines over the limit: the buffer holds at
        // most the message limit plus one line, whatever the file's length.
        var text = ""
        for i in 0..<200 {
            text += "MSH|^~\\&|A|||||||\(i)\r" + String(repeating: "OBX|1|ST|||" + String(repeating: "v", count: 40) + "\r", count: 40)
        }
        text += "MSH|^~\\&|B\r" + String(repeating: "NTE|1||" + String(repeating: "n", count: 90) + "\r", count: 5000)
        let limit = 4096
        let (r, _) = try HL7Test.reader(Array(text.utf8), paths: ["OBX-5"], record: .segment("OBX"), maxMessageBytes: limit)
        var records = 0
        var rejects = 0
        var most = 0
        while true {
            let e = try r.next()
            most = max(most, r.lineBytes.count)
            if case .record = e { records += 1 } else if case .rejected = e { rejects += 1 } else { break }
        }
        #expect(records == 8000)
        #expect(rejects == 1)
        #expect(most <= limit + 200)
    }
}

extension Array where Element == String {
    /// The MSH first, the other segments shuffled.
    func shuffledKeepingMSH(_ rng: inout SeededRandom) -> [String] {
        guard let first else { return [] }
        return [first] + dropFirst().shuffled(using: &rng)
    }
}
