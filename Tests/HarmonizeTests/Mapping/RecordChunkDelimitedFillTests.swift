import Testing

@testable import Harmonize

/// A chunk filled from a delimited reader copies each record whole when the mapping reads at
/// least half of its fields, and places each field in the copy (`RecordChunk.appendRecordSpan`):
/// read back by a worker (`ChunkReader`), every field must be the bytes the reader gave,
/// unquoted and unescaped, whatever the columns read (all, some in another order, one twice, a
/// few of many) and the chunks' limits, with short rows, rejects and multi-line fields in place.
@Suite struct RecordChunkDelimitedFillTests {

    /// A file of `columns` columns (header `c0;c1;…`): plain, empty, quoted, quoted with doubled
    /// quotes, delimiters, line breaks or escapes, non-ASCII and long fields; some rows short
    /// (padded), some with a cell too many (rejected).
    static func file(rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
        var g = SeededRandom(state: seed)
        func below(_ n: Int) -> Int { Int.random(in: 0..<max(1, n), using: &g) }
        var s = (0..<columns).map { "c\($0)" }.joined(separator: ";") + "\n"
        for r in 0..<rows {
            let n = r % 13 == 5 ? below(columns) + 1 : r % 29 == 11 ? columns + 1 : columns
            var cells: [String] = []
            for c in 0..<n {
                switch below(9) {
                case 0: cells.append("")
                case 1: cells.append("\"q\(r).\(c)\"")
                case 2: cells.append("\"a\"\"b\(r)\"\"\"")
                case 3: cells.append("\"x;y\ny\(c)\"")
                case 4: cells.append("e\\;s\(r)")
                case 5: cells.append("é\(r)ü")
                case 6: cells.append(String(repeating: "L", count: 20 + below(40)))
                default: cells.append("\(r * 100 + c)")
                }
            }
            s += cells.joined(separator: ";") + (r % 7 == 0 ? "\r\n" : "\n")
        }
        return Array(s.utf8)
    }

    static let dialect = Dialect(delimiter: UInt8(ascii: ";"), escape: UInt8(ascii: "\\"), encoding: .utf8, raggedRows: .pad)

    static func reader(_ bytes: [UInt8]) throws -> DelimitedReader {
        try DelimitedReader(source: MemoryByteSource(bytes, chunkSize: 97), displayName: "f.csv", dialect: dialect)
    }

    /// The reader's events: each record's location and fields at `columns`, or its reject.
    static func direct(_ bytes: [UInt8], columns: [Int]) throws -> [String] {
        let r = try reader(bytes)
        var out: [String] = []
        while true {
            switch try r.next() {
            case .end: return out
            case .rejected(let j): out.append("\(j.location) reject \(j.reason.rawValue) \(j.message)")
            case .record: out.append("\(r.location) " + columns.map { String(decoding: r.field($0), as: UTF8.self) }.joined(separator: "|"))
            }
        }
    }

    /// The same events read back from chunks of at most `limit` records and `bytes` bytes, and
    /// the bytes the chunks held against the bytes of the fields read.
    static func chunked(_ bytes: [UInt8], columns: [Int], limit: Int, byteLimit: Int) throws -> (events: [String], held: Int, fields: Int) {
        let r = try reader(bytes)
        let names = columns.map { "c\($0)" }
        var out: [String] = []
        var records = 0
        var held = 0
        var fieldBytes = 0
        var ended = false
        var sequence = 0
        while !ended {
            let chunk = RecordChunk(sequence: sequence, fieldCount: columns.count, recordsBefore: records, capacity: limit)
            sequence += 1
            ended = try chunk.fill(from: r, columns: columns, limit: limit, bytes: byteLimit, records: &records)
            held += chunk.byteCount
            let back = try chunk.readBack(names: names)
            out += back.events
            fieldBytes += back.fieldBytes
        }
        return (out, held, fieldBytes)
    }

    @Test(arguments: [(1, 1 << 20), (7, 1 << 20), (2048, 1 << 20), (2048, 64)])
    func fieldsReadBackAreTheReadersFields(limit: Int, byteLimit: Int) throws {
        let bytes = Self.file(rows: 400, columns: 8, seed: UInt64(limit))
        // Every column in order, some in another order, one twice: at least half of the
        // record's fields, copied whole.
        for columns in [Array(0..<8), [6, 2, 4, 0], [3, 3, 7, 1, 5]] {
            let expected = try Self.direct(bytes, columns: columns)
            let got = try Self.chunked(bytes, columns: columns, limit: limit, byteLimit: byteLimit)
            #expect(got.events == expected, "columns \(columns), limit \(limit), bytes \(byteLimit)")
            // The records were copied with their delimiters (and the fields not read).
            #expect(got.held > got.fields, "columns \(columns)")
        }
        // Two of eight: the fields are copied one by one (the short rows of four fields or
        // fewer whole), not the records: whole, they would hold about four times the fields.
        let few = [5, 1]
        let got = try Self.chunked(bytes, columns: few, limit: limit, byteLimit: byteLimit)
        #expect(got.events == (try Self.direct(bytes, columns: few)))
        #expect(got.held < got.fields * 3 / 2)
        // What the file holds: padded rows' empty fields, rejects in place, unescaped fields.
        let events = try Self.direct(bytes, columns: Array(0..<8))
        #expect(events.count > 380)  // a short row of one empty cell is a blank line: no record
        #expect(events.contains { $0.contains("reject extra-cell") })
        #expect(events.contains { $0.contains("a\"b") })
        #expect(events.contains { $0.contains("x;y\ny") })
        #expect(events.contains { $0.contains("e;s") })
    }
}
