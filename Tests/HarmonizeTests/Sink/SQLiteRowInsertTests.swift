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

    /// `rewind` (the lineage rows' statements, every parameter bound again) keeps the bindings a
    /// step used; `reset` clears them.
    @Test func rewindKeepsTheBindingsAndResetClearsThem() throws {
        let dir = TestSupport.temporaryDirectory("row-insert-rewind")
        let db = try SQLiteConnection(path: dir + "/t.sqlite")
        try db.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        let st = try db.prepare("INSERT INTO t VALUES (?, ?)")
        st.bind(.int(7), at: 1)
        st.bind(.string("kept"), at: 2)
        try st.step()
        st.rewind()
        try st.step()
        st.reset()
        try st.step()
        st.reset()
        let back = try db.query("SELECT a, b FROM t ORDER BY rowid")
        #expect(back == [[.int(7), .string("kept")], [.int(7), .string("kept")], [.null, .null]])
    }

    /// Dates go through the statement's cache of recent days' texts: days that share a slot
    /// (4,096 apart), before 1970, at the ends of years 0 and 9999, and past them (longer text,
    /// not cached), in an order that replaces slots back and forth.
    @Test func datesReadBackAsTheirISOTextWhateverTheCacheHolds() throws {
        let dir = TestSupport.temporaryDirectory("row-insert-dates")
        let db = try SQLiteConnection(path: dir + "/t.sqlite")
        try db.execute("CREATE TABLE t (d DATE, n INTEGER)")
        let st = try db.prepare("INSERT INTO t VALUES (?, ?)")
        let base = CivilDate(year: 2020, month: 12, day: 11).daysSinceEpoch
        var days = [
            base, base + 4096, base, base - 4096, -1, 0, -719_528, -719_529, CivilDate(year: 9999, month: 12, day: 31).daysSinceEpoch,
            CivilDate(year: 9999, month: 12, day: 31).daysSinceEpoch + 1, base + 4096, -4096, -1,
        ]
        days += (0..<12000).map { base + ($0 * 389) % 9000 - 4500 }
        try db.execute("BEGIN")
        for (n, day) in days.enumerated() {
            let row: [Value] = [.date(day), .int(n)]
            try row.withUnsafeBufferPointer { try st.insertRow($0) }
        }
        try db.execute("COMMIT")
        let back = try db.query("SELECT d FROM t ORDER BY n")
        #expect(back.count == days.count)
        for (k, day) in days.enumerated() where k < back.count {
            #expect(back[k][0] == .string(CivilDate(daysSinceEpoch: day).isoString), "day \(day)")
        }
        #expect(back[6][0] == .string("0000-01-01") && back[7][0] == .string(CivilDate(daysSinceEpoch: -719_529).isoString))
    }
}
