internal import CSQLite

/// Owns one prepared statement; finalizes it on deinit. Errors never include bound values.
final class SQLiteStatement {
    let handle: OpaquePointer
    let sql: String
    private unowned let connection: SQLiteConnection

    init(connection: SQLiteConnection, sql: String) throws(SQLiteError) {
        var st: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &st, nil)
        guard rc == SQLITE_OK, let st else {
            throw SQLiteError(code: rc, message: connection.lastErrorMessage, sql: sql)
        }
        self.handle = st
        self.sql = sql
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(handle)
        scratch?.deallocate()
        dateTexts?.deallocate()
    }

    /// The ISO text of the dates `insertRow` binds, for the days seen lately (allocated with the
    /// first date).
    private var dateTexts: ISODateTexts?

    /// The bytes of the text values bound by `insertRow` (`SQLITE_STATIC`): written before the
    /// row's step and left alone until the next `insertRow`, which rebinds every parameter first.
    private var scratch: UnsafeMutablePointer<UInt8>?
    private var scratchCapacity = 0

    /// Binds `values` to parameters 1…n, steps once and resets (keeping the bindings: the next
    /// call rebinds every parameter). Text is copied once into the statement's own buffer and
    /// bound without a copy by SQLite (`SQLITE_STATIC`), dates and date-times are written there
    /// as ISO text: no allocation per value, where a transient bind costs SQLite a malloc, a copy
    /// and a free (each under its memory mutex).
    func insertRow(_ values: UnsafeBufferPointer<Value>) throws(SQLiteError) {
        var needed = 0
        for k in values.indices { needed += Self.textBytes(values[k]) }
        if needed > scratchCapacity {
            scratch?.deallocate()
            scratchCapacity = max(needed, scratchCapacity * 2, 256)
            scratch = .allocate(capacity: scratchCapacity)
        }
        guard let base = scratch else {
            // No text in the row (nothing needed the buffer yet).
            for k in values.indices { bindNonText(values[k], at: Int32(k + 1)) }
            return try stepAndReset()
        }
        var offset = 0
        for k in values.indices {
            let index = Int32(k + 1)
            let start = base + offset
            switch values[k] {
            case .string:
                // Text is copied while the batch's value is borrowed, then bound: no retain of
                // the string's storage around the call into SQLite (2 % of a claims run's CPU
                // time). Only texts go through the copy (it was called for every value).
                let n = Self.copyText(values[k], into: start)
                offset += n
                bindStatic(start, n, at: index)
            case .date(let days):
                if dateTexts == nil { dateTexts = ISODateTexts() }
                guard let texts = dateTexts, texts.write(days, into: start) else {
                    bindText(CivilDate(daysSinceEpoch: days).isoString, at: index)
                    continue
                }
                offset += 10
                bindStatic(start, 10, at: index)
            case .dateTime(let secs):
                guard Self.putDateTime(secs, into: UnsafeMutableRawPointer(start).assumingMemoryBound(to: CChar.self)) else {
                    bindText(CivilDate.isoDateTimeString(secondsSinceEpoch: secs), at: index)
                    continue
                }
                offset += 19
                bindStatic(start, 19, at: index)
            default:
                bindNonText(values[k], at: index)
            }
        }
        try stepAndReset()
    }

    /// The bytes `insertRow` writes into its buffer for a value: a text's UTF-8 length, 10 for
    /// a date, 19 for a date-time, 0 otherwise.
    @inline(__always)
    private static func textBytes(_ v: borrowing Value) -> Int {
        switch v {
        case .string(let t): return t.utf8.count
        case .date: return 10
        case .dateTime: return 19
        default: return 0
        }
    }

    /// Copies a text value's UTF-8 bytes to `out` and returns their count; 0 for any other value.
    /// A loop of loads and stores (which the compiler turns into a `memcpy`) rather than a call,
    /// so the borrowed string needs no retain while it is read.
    @inline(__always)
    private static func copyText(_ v: borrowing Value, into out: UnsafeMutablePointer<UInt8>) -> Int {
        switch v {
        case .string(let t):
            if let n = t.utf8.withContiguousStorageIfAvailable({ u -> Int in
                var i = 0
                while i < u.count {
                    out[i] = u[i]
                    i += 1
                }
                return u.count
            }) {
                return n
            }
            var i = 0
            for b in t.utf8 {
                out[i] = b
                i += 1
            }
            return i
        default:
            return 0
        }
    }

    @inline(__always)
    private func bindStatic(_ p: UnsafeMutablePointer<UInt8>, _ n: Int, at index: Int32) {
        _ = sqlite3_bind_text(handle, index, UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self), Int32(n), harmonize_sqlite_static())
    }

    /// Binds a value that is not text, a date or a date-time.
    @inline(__always)
    private func bindNonText(_ value: Value, at index: Int32) {
        switch value {
        case .null: sqlite3_bind_null(handle, index)
        case .int(let i): sqlite3_bind_int64(handle, index, Int64(i))
        case .double(let d): sqlite3_bind_double(handle, index, d)
        case .bool(let b): sqlite3_bind_int64(handle, index, b ? 1 : 0)
        default: bind(value, at: index)
        }
    }

    /// Steps a statement that returns no row, then resets it without clearing its bindings.
    @inline(__always)
    private func stepAndReset() throws(SQLiteError) {
        let rc = sqlite3_step(handle)
        sqlite3_reset(handle)
        if rc != SQLITE_DONE && rc != SQLITE_ROW { throw SQLiteError(code: rc, message: connection.lastErrorMessage, sql: sql) }
    }

    /// Binds a value to a 1-based parameter. Dates bind as ISO `yyyy-MM-dd` text, date-times as
    /// `yyyy-MM-ddTHH:mm:ss`, booleans as 0/1.
    func bind(_ value: Value, at index: Int32) {
        switch value {
        case .null: sqlite3_bind_null(handle, index)
        case .int(let i): sqlite3_bind_int64(handle, index, Int64(i))
        case .double(let d): sqlite3_bind_double(handle, index, d)
        case .bool(let b): sqlite3_bind_int64(handle, index, b ? 1 : 0)
        case .string(let s): bindText(s, at: index)
        case .date(let days): bindDate(days, at: index)
        case .dateTime(let secs): bindDateTime(secs, at: index)
        }
    }

    @inline(__always)
    private func bindText(_ s: String, at index: Int32) {
        s.withUTF8Bytes { buf in
            _ = sqlite3_bind_text(
                handle, index, buf.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                Int32(buf.count), harmonize_sqlite_transient())
        }
    }

    /// Binds a date as `yyyy-MM-dd` without building a String.
    @inline(__always)
    private func bindDate(_ days: Int, at index: Int32) {
        let d = CivilDate(daysSinceEpoch: days)
        guard d.year >= 0, d.year <= 9999 else {
            bindText(d.isoString, at: index)
            return
        }
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 10) { p in
            guard let base = p.baseAddress else { return }
            Self.put(d, into: base)
            _ = sqlite3_bind_text(handle, index, p.baseAddress, 10, harmonize_sqlite_transient())
        }
    }

    /// Binds a date-time as `yyyy-MM-ddTHH:mm:ss` without building a String.
    @inline(__always)
    private func bindDateTime(_ secs: Int, at index: Int32) {
        let written = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 19) { p -> Bool in
            guard let base = p.baseAddress, Self.putDateTime(secs, into: base) else { return false }
            _ = sqlite3_bind_text(handle, index, base, 19, harmonize_sqlite_transient())
            return true
        }
        if !written { bindText(CivilDate.isoDateTimeString(secondsSinceEpoch: secs), at: index) }
    }

    /// Writes `yyyy-MM-ddTHH:mm:ss` (19 bytes) at `p`; false (nothing written) for a year outside 0…9999.
    @inline(__always)
    private static func putDateTime(_ secs: Int, into p: UnsafeMutablePointer<CChar>) -> Bool {
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = secs - days * 86_400
        let d = CivilDate(daysSinceEpoch: days)
        guard d.year >= 0, d.year <= 9999 else { return false }
        put(d, into: p)
        p[10] = 84  // T
        put(rem / 3600, into: p, at: 11, width: 2)
        p[13] = 58  // :
        put((rem / 60) % 60, into: p, at: 14, width: 2)
        p[16] = 58
        put(rem % 60, into: p, at: 17, width: 2)
        return true
    }

    /// Writes `v` as `width` decimal digits (zero-padded) at `at`.
    @inline(__always)
    fileprivate static func put(_ v: Int, into p: UnsafeMutablePointer<CChar>, at: Int, width: Int) {
        var v = v
        for k in stride(from: at + width - 1, through: at, by: -1) {
            p[k] = CChar(48 + v % 10)
            v /= 10
        }
    }

    /// Writes `yyyy-MM-dd` (a year in 0…9999) at `p`.
    @inline(__always)
    fileprivate static func put(_ d: CivilDate, into p: UnsafeMutablePointer<CChar>) {
        put(d.year, into: p, at: 0, width: 4)
        p[4] = 45  // -
        put(d.month, into: p, at: 5, width: 2)
        p[7] = 45
        put(d.day, into: p, at: 8, width: 2)
    }

    /// Steps once; true when a row is available, false when done.
    @discardableResult
    func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw SQLiteError(code: rc, message: connection.lastErrorMessage, sql: sql)
    }

    /// Resets for the next execution and clears bindings.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Resets for the next execution, keeping the bindings: for statements whose every parameter
    /// is bound again before each step (row loops), where clearing them is wasted work.
    func rewind() {
        sqlite3_reset(handle)
    }

    /// Number of result columns.
    var columnCount: Int { Int(sqlite3_column_count(handle)) }

    /// Name of a result column.
    func columnName(_ i: Int) -> String { String(cString: sqlite3_column_name(handle, Int32(i))) }

    /// A result column as a value (INTEGER → int, REAL → double, TEXT → string, NULL → null).
    func column(_ i: Int) -> Value {
        let idx = Int32(i)
        switch sqlite3_column_type(handle, idx) {
        case SQLITE_INTEGER: return .int(Int(sqlite3_column_int64(handle, idx)))
        case SQLITE_FLOAT: return .double(sqlite3_column_double(handle, idx))
        case SQLITE_NULL: return .null
        default:
            guard let p = sqlite3_column_text(handle, idx) else { return .null }
            let n = Int(sqlite3_column_bytes(handle, idx))
            return .string(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
        }
    }
}

@available(*, unavailable)
extension SQLiteStatement: Sendable {}

extension SQLiteStatement {
    /// Binds bytes as a BLOB (copied by SQLite).
    func bindBlob(_ bytes: UnsafeRawBufferPointer, at index: Int32) {
        _ = sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), harmonize_sqlite_transient())
    }

    /// Calls `body` with a BLOB (or TEXT) result column's bytes, valid only during the call.
    func withBlob<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let idx = Int32(i)
        let p = sqlite3_column_blob(handle, idx)
        let n = Int(sqlite3_column_bytes(handle, idx))
        return try body(UnsafeRawBufferPointer(start: p, count: p == nil ? 0 : n))
    }
}

/// The `yyyy-MM-dd` text of dates, kept for the last day seen at each of 4,096 places (the day
/// number modulo 4,096: eleven years without two days in one place; 96 KiB): the dates of an
/// extract mostly fall within a few years, so most dates are a copy of ten bytes instead of a
/// calendar conversion and ten divisions (the conversion and its digits took 5 % of the SQLite
/// writer thread of a claims run, `perf`; its dates span nine years). A value holding two
/// pointers (no reference to count per date); its owner calls `deallocate`.
struct ISODateTexts {
    private static let slots = 4096
    /// The day held by each slot (`Int.min`: none).
    private let days: UnsafeMutablePointer<Int>
    /// Sixteen bytes per slot, the first ten its day's text.
    private let texts: UnsafeMutablePointer<UInt8>

    init() {
        days = .allocate(capacity: Self.slots)
        days.initialize(repeating: Int.min, count: Self.slots)
        texts = .allocate(capacity: Self.slots * 16)
        texts.initialize(repeating: 0, count: Self.slots * 16)
    }

    /// Frees the table (once, by its owner).
    func deallocate() {
        days.deallocate()
        texts.deallocate()
    }

    /// Writes the ten bytes of `day`'s ISO text at `p`; false (nothing written) for a year outside
    /// 0…9999, whose text is longer.
    @inline(__always)
    func write(_ day: Int, into p: UnsafeMutablePointer<UInt8>) -> Bool {
        let slot = day & (Self.slots - 1)
        let text = texts + slot * 16
        if days[slot] != day || day == Int.min {
            let d = CivilDate(daysSinceEpoch: day)
            guard d.year >= 0, d.year <= 9999 else { return false }
            SQLiteStatement.put(d, into: UnsafeMutableRawPointer(text).assumingMemoryBound(to: CChar.self))
            days[slot] = day
        }
        let from = UnsafeRawPointer(text)
        let to = UnsafeMutableRawPointer(p)
        to.storeBytes(of: from.loadUnaligned(as: UInt64.self), as: UInt64.self)
        to.storeBytes(of: from.loadUnaligned(fromByteOffset: 8, as: UInt16.self), toByteOffset: 8, as: UInt16.self)
        return true
    }
}

@available(*, unavailable)
extension ISODateTexts: Sendable {}
