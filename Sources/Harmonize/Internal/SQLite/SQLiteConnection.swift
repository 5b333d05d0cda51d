internal import CSQLite

/// A SQLite failure: the result code, SQLite's message and the SQL text; never bound values.
package struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended result code.
    public var code: Int32
    /// SQLite's message (it does not contain bound values).
    public var message: String
    /// The statement concerned, when there is one.
    public var sql: String?

    /// `SQLite error N: message (in: SQL)`.
    public var description: String {
        var s = "SQLite error \(code): \(message)"
        if let sql { s += " (in: \(sql.prefix(200)))" }
        return s
    }
}

/// Owns one `sqlite3*` handle; closes it on deinit. Not thread-safe: use it from one thread.
final class SQLiteConnection {
    let handle: OpaquePointer
    /// The database file path.
    let path: String

    /// Opens (creating when needed) the database at `path`.
    init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: message, sql: nil)
        }
        sqlite3_extended_result_codes(db, 1)
        self.handle = db
        self.path = path
    }

    deinit { sqlite3_close_v2(handle) }

    /// The most parameters a statement may have on this connection (`SQLITE_LIMIT_VARIABLE_NUMBER`:
    /// 32,766 by default since SQLite 3.32, 999 before).
    var parameterLimit: Int { Int(sqlite3_limit(handle, SQLITE_LIMIT_VARIABLE_NUMBER, -1)) }

    /// Runs one or more statements without results.
    func execute(_ sql: String) throws(SQLiteError) {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let message = err.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: message, sql: sql)
        }
    }

    /// Prepares a statement.
    func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        try SQLiteStatement(connection: self, sql: sql)
    }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws and
    /// rethrows the body's error (a rollback failure never hides it).
    func inTransaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN")
        do {
            let r = try body()
            try execute("COMMIT")
            return r
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The current error message.
    var lastErrorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    /// Runs a query and returns every row as values (for small result sets: reports, checks).
    func query(_ sql: String, _ arguments: [Value] = []) throws(SQLiteError) -> [[Value]] {
        let st = try prepare(sql)
        for (i, a) in arguments.enumerated() { st.bind(a, at: Int32(i + 1)) }
        var rows: [[Value]] = []
        while try st.step() {
            rows.append((0..<st.columnCount).map { st.column($0) })
        }
        return rows
    }

    /// The first column of the first row, or `.null`.
    func scalar(_ sql: String, _ arguments: [Value] = []) throws(SQLiteError) -> Value {
        try query(sql, arguments).first?.first ?? .null
    }
}

@available(*, unavailable)
extension SQLiteConnection: Sendable {}
