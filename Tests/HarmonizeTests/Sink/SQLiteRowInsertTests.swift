import Foundation
import Testing

@testable import Harmonize

/// `SQLiteStatement.insertRow`, the sink's hot path: text bound from the statement's own buffer
/// (`SQLITE_STATIC`), bindings kept between rows, the buffer grown while earlier rows' bindings
/// still point into it.
@Suite struct SQLiteRowInsertTests {
    @Test func rowsOfEveryValueKindReadBackAsBound() throws {
        let dir = TestSupport.temporaryDirectory("row-insert")
        let db = try SQLiteConnection(path: dir + "/t.sqlite")
        try db.execute("CREATE TABLE t (a TEXT, b INTEGER, c REAL, d DATE, e DATETIME, f TEXT)")
        let st = try db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)")
        let day = CivilDate(year: 2024, month: 2, day: 29).daysSinceEpoch
        let long = String(repeating: "é", count: 700)  // 1,400 bytes: the buffer grows past its first 256
        let rows: [[Value]] = [
            [.string("short"), .int(1), .double(1.5), .date(day), .dateTime(day * 86_400 + 3_723), .string("x")],
            [.null, .null, .null, .null, .null, .null],
            [.string(long), .bool(true), .int(2), .date(day + 1), .null, .string("")],
            [.string("after"), .int(-7), .double(-0.25), .date(CivilDate(year: 12_000, month: 1, day: 1).daysSinceEpoch), .null, .string("y")],
            [.int(42), .int(3), .double(3), .date(day), .dateTime(-1), .string("z")],
        ]
        for r in rows { try r.withUnsafeBufferPointer { try st.insertRow($0) } }
        let back = try db.query("SELECT a, b, c, d, e, f FROM t ORDER BY rowid")
        #expect(back.count == 5)
        #expect(back[0] == [.string("short"), .int(1), .double(1.5), .string("2024-02-29"), .string("2024-02-29T01:02:03"), .string("x")])
        // Every parameter is rebound: nothing of the previous row survives.
        #expect(back[1] == [.null, .null, .null, .null, .null, .null])
        #expect(back[2] == [.string(long), .int(1), .double(2), .string("2024-03-01"), .null, .string("")])
        #expect(back[3][0] == .string("after"))
        #expect(back[3][3] == .string(CivilDate(year: 12_000, month: 1, day: 1).isoString))
        #expect(back[4][0] == .string("42"))  // TEXT affinity
        #expect(back[4][4] == .string("1969-12-31T23:59:59"))
    }
}
