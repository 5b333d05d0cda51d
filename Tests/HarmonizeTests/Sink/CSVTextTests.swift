import Foundation
import Testing

@testable import Harmonize

/// The CSV output's cells are written as bytes (`CSVText`) and its files through
/// `BufferedFileWriter`: the same text as each value's canonical `description`, quoted as RFC 4180
/// asks, and a write that fails is an error naming the file, not a stopped process.
@Suite struct CSVTextTests {
    /// The CSV field of `v`: its `description`, quoted when it holds a comma, quote or line end,
    /// each quote byte doubled. (The sink's earlier `replacingOccurrences` missed a quote followed
    /// by a combining mark, one grapheme with it: the field could not be read back.)
    static func reference(_ v: Value) -> String {
        let s = v.description
        guard s.utf8.contains(where: { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }) else { return s }
        var bytes: [UInt8] = [34]
        for b in s.utf8 {
            bytes.append(b)
            if b == 34 { bytes.append(34) }
        }
        bytes.append(34)
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func cellsAreTheirCanonicalTextQuotedWhenNeeded() {
        var values: [Value] = [
            .null, .bool(true), .bool(false), .int(0), .int(-1), .int(42), .int(Int.max), .int(Int.min),
            .double(0), .double(-0.0), .double(1.5), .double(-2.25), .double(0.1), .double(1e15), .double(999_999_999_999_999),
            .double(1e20), .double(-1e-300), .double(.nan), .double(.infinity), .double(-.infinity), .double(123_456.0),
            .string(""), .string("plain"), .string("a,b"), .string("say \"hi\""), .string("line\nbreak"), .string("cr\rhere"),
            .string("é, ü \"ñ\""), .string("\"\u{301}accent"), .string("🙂"), .string(" spaces "),
        ]
        for days in [-800_000, -719_529, -719_528, -1, 0, 1, 19_723, 2_932_896, 2_932_897, 3_000_000] {
            values.append(.date(days))
        }
        for secs in [-62_167_219_201, -62_167_219_200, -86_401, -86_400, -1, 0, 59, 3_599, 86_399, 1_704_110_400, 253_402_300_799, 253_402_300_800] {
            values.append(.dateTime(secs))
        }
        for v in values {
            #expect(CSVSink.field(v) == Self.reference(v), "\(v.type)")
            var out: [UInt8] = []
            CSVText.append(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == Self.reference(v))
            // Read back by an RFC 4180 reader, the field is the value's text.
            if !v.description.isEmpty {
                #expect(CSVText.parse(CSVSink.field(v) + "\n") == [[v.description]], "\(v.type)")
            }
        }
        var row: [UInt8] = []
        CSVText.appendRow(values, from: 1, count: 3, to: &row)
        #expect(String(decoding: row, as: UTF8.self) == values[1...3].map(Self.reference).joined(separator: ","))
    }

    @Test func aWriterWritesEveryByteInOrder() throws {
        let dir = TestSupport.temporaryDirectory("buffered-writer")
        for capacity in [1, 7, 1 << 16] {
            let path = dir + "/out-\(capacity).txt"
            let w = try BufferedFileWriter(creating: path, capacity: capacity)
            var expected: [UInt8] = []
            for k in 0..<2_000 {
                let piece = Array("line \(k),\(k * k)\n".utf8)
                expected += piece
                if k % 2 == 0 {
                    try piece.withUnsafeBufferPointer { try w.write($0) }
                } else {
                    try w.append { $0.append(contentsOf: piece) }
                }
            }
            try w.close()
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == expected, "capacity \(capacity)")
        }
    }

    @Test func aWriteThatFailsNamesTheFile() throws {
        #expect(throws: FileOps.Failure.self) { try BufferedFileWriter(creating: "/nonexistent-folder-\(UInt32.random(in: 0...UInt32.max))/x.csv") }
        #if os(Linux)
            // /dev/full takes no byte: every write fails with ENOSPC, as on a full disk.
            let w = try BufferedFileWriter(creating: "/dev/full", capacity: 8)
            var failure: FileOps.Failure?
            do {
                try w.write("more than eight bytes")
            } catch {
                failure = error
            }
            #expect(failure?.operation == "write")
            #expect(failure?.path == "/dev/full")
            #expect(failure?.code == ENOSPC)
        #endif
    }
}
