import Foundation
import Testing

@testable import Harmonize

/// The binary COPY encoder: numerics as `numeric_send` writes them, and every kind of value read
/// back by a real server exactly as the text format's rows are (the previous sink's format).
@Suite struct PostgreSQLCopyBinaryTests {
    /// `numeric_send`'s words: count, weight, sign, scale, then the base-10000 digits.
    static func numeric(_ text: String) -> [Int]? {
        var out: [UInt8] = []
        let ok = Array(text.utf8).withUnsafeBufferPointer { PostgreSQLCopyBinary.appendNumeric(text: $0, to: &out) }
        guard ok else { return nil }
        #expect(out.count >= 12)
        let length = out[0..<4].reduce(0) { $0 << 8 | Int($1) }
        #expect(length == out.count - 4)
        return stride(from: 4, to: out.count, by: 2).map { Int(Int16(bitPattern: UInt16(out[$0]) << 8 | UInt16(out[$0 + 1]))) }
    }

    @Test func numericsAreSentAsNumericSendWritesThem() {
        #expect(Self.numeric("0.5") == [1, -1, 0, 1, 5000])
        #expect(Self.numeric("12345.678") == [3, 1, 0, 3, 1, 2345, 6780])
        #expect(Self.numeric("-59.93") == [2, 0, 0x4000, 2, 59, 9300])
        #expect(Self.numeric("1e+20") == [1, 5, 0, 0, 1])
        #expect(Self.numeric("1e-07") == [1, -2, 0, 7, 10])
        #expect(Self.numeric("100000000") == [1, 2, 0, 0, 1])
        #expect(Self.numeric("10000.0001") == [3, 1, 0, 4, 1, 0, 1])
        #expect(Self.numeric("0") == [0, 0, 0, 0])
        #expect(Self.numeric("-0.000") == [0, 0, 0, 3])
        #expect(Self.numeric(" 42 ") == [1, 0, 0, 0, 42])
        #expect(Self.numeric("NaN") == [0, 0, Int(Int16(bitPattern: 0xC000)), 0])
        #expect(Self.numeric("-Infinity") == [0, 0, Int(Int16(bitPattern: 0xF000)), 0])
        for bad in ["", "-", ".", "1e", "1e+", "12a", "1.2.3", "e5", "Inf", "1e999999"] {
            #expect(Self.numeric(bad) == nil, "\(bad)")
        }
    }

    @Test func valuesWithoutABinaryFormAreRefused() {
        var out: [UInt8] = []
        #expect(!PostgreSQLCopyBinary.append(.string("x1"), as: .int8, to: &out))
        #expect(!PostgreSQLCopyBinary.append(.string("nine"), as: .numeric, to: &out))
        #expect(!PostgreSQLCopyBinary.append(.int(3), as: .date, to: &out))
        #expect(!PostgreSQLCopyBinary.append(.dateTime(Int.max / 2), as: .timestamp, to: &out))
        #expect(out.isEmpty)
    }

    /// Values of every kind, for a table of every column type.
    static let columns: [(name: String, type: ColumnType)] = [
        ("i", .bigint), ("n", .float), ("d", .date), ("t", .datetime), ("s", .varchar(nil)), ("v", .varchar(20)),
    ]

    static func rows() -> [[Value]] {
        let day = CivilDate(year: 2024, month: 2, day: 29).daysSinceEpoch
        var rows: [[Value]] = [
            [.null, .null, .null, .null, .null, .null],
            [.int(0), .double(0), .date(0), .dateTime(0), .string(""), .string("plain")],
            [.int(Int.max), .double(59.93), .date(day), .dateTime(day * 86_400 + 3_723), .string("a\tb\nc\rd\\e"), .string("é\t")],
            [.int(Int.min), .double(-0.25), .date(-1), .dateTime(-1), .string("\\N"), .int(12)],
            [.int(-42), .double(1e20), .date(CivilDate(year: 1900, month: 1, day: 1).daysSinceEpoch), .date(day), .string("x"), .double(2.5)],
            [
                .bool(true), .double(1e-7), .dateTime(day * 86_400 + 86_399), .dateTime(946_684_800), .string(String(repeating: "z", count: 500)),
                .date(day),
            ],
            [.string(" 17 "), .int(-123_456_789_012), .date(10_957), .dateTime(-2_208_988_800), .bool(false), .string("ünïcødé")],
            [.double(3), .double(.nan), .date(-719_162), .dateTime(253_402_300_799), .string("x\u{1}y"), .string("")],
            [.int(1), .double(-.infinity), .date(2_932_895), .dateTime(-62_135_596_800), .string("\r\n"), .null],
            [.int(2), .string("0.000100"), .null, .null, .null, .null],
        ]
        for k in stride(from: -50_000, through: 50_000, by: 7_919) {
            rows.append([.int(k * 1_000_003), .double(Double(k) / 7), .date(k), .dateTime(k * 86_401 + 17), .string("r\(k)"), .int(k)])
        }
        return rows
    }

    /// The same rows loaded by binary COPY and by text COPY read back alike, cell for cell (as
    /// PostgreSQL's text output, so numeric scales and time zones count too).
    @Test func aRealServerReadsBinaryRowsAsItReadsTextRows() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let schema = PostgresTestServer.schema("copybin")
        defer { PostgresTestServer.drop(uri, schema: schema) }
        let db = try PostgresTestServer.connect(uri)
        try db.execute("CREATE SCHEMA \(schema)")
        let cols = Self.columns.map { "\($0.name) \(PostgreSQLDDL.sqlType($0.type))" }.joined(separator: ", ")
        try db.execute("CREATE TABLE \(schema).bin (k bigint, \(cols)); CREATE TABLE \(schema).txt (k bigint, \(cols))")
        var binary: [UInt8] = []
        var text: [UInt8] = []
        let kinds = [PostgreSQLCopyBinary.Kind.int8] + Self.columns.map { PostgreSQLCopyBinary.Kind($0.type) }
        for (r, row) in Self.rows().enumerated() {
            let values = [Value.int(r)] + row
            PostgreSQLCopyBinary.appendTupleHeader(fields: values.count, to: &binary)
            for (c, v) in values.enumerated() {
                #expect(PostgreSQLCopyBinary.append(v, as: kinds[c], to: &binary), "row \(r) column \(c)")
                if c > 0 { text.append(0x09) }
                // The text format's cell for the column, as the previous sink wrote it (a
                // date or date-time sent to a column of the other kind is converted first).
                let cell: Value
                switch (kinds[c], v) {
                case (.date, .dateTime(let s)): cell = .date(s >= 0 ? s / 86_400 : (s - 86_399) / 86_400)
                case (.timestamp, .date(let d)): cell = .dateTime(d * 86_400)
                case (.int8, .string(let s)): cell = Int(s.trimmingSpaces()).map(Value.int) ?? v
                case (.int8, .bool(let b)): cell = .int(b ? 1 : 0)
                default: cell = v
                }
                PostgreSQLCopyText.append(cell, to: &text)
            }
            text.append(0x0A)
        }
        try db.copy(
            "COPY \(schema).bin FROM STDIN (FORMAT binary)", data: binary, prefix: PostgreSQLCopyBinary.header, suffix: PostgreSQLCopyBinary.trailer)
        try db.copy("COPY \(schema).txt FROM STDIN", data: text)
        let select = "SELECT k::text, " + Self.columns.map { "\($0.name)::text" }.joined(separator: ", ") + " FROM \(schema).%@ ORDER BY k"
        let fromBinary = try db.query(select.replacingOccurrences(of: "%@", with: "bin"))
        let fromText = try db.query(select.replacingOccurrences(of: "%@", with: "txt"))
        #expect(fromBinary.count == Self.rows().count)
        #expect(fromBinary.count == fromText.count)
        for (b, t) in zip(fromBinary, fromText) { #expect(b == t) }
        // Scales survive: 0.000100 keeps its six digits, 1e-7 its seven.
        #expect(try db.scalar("SELECT n::text FROM \(schema).bin WHERE k = 9") == "0.000100")
        #expect(try db.scalar("SELECT n::text FROM \(schema).bin WHERE k = 5") == "0.0000001")
    }
}
