import CLibPQ
import Foundation

/// A failure reported by libpq or the server: the SQLSTATE and the primary message cut before
/// anything that may quote a value (a `:` or a `"`), never the server's DETAIL (which names key
/// values).
struct PostgreSQLError: Error, Sendable, CustomStringConvertible {
    /// The five-character SQLSTATE (`23505` unique violation), empty for a client-side failure.
    var state: String
    /// What failed, without values.
    var message: String

    var description: String { state.isEmpty ? message : "\(message) (SQLSTATE \(state))" }

    /// Whether the server reported a unique violation.
    var isUniqueViolation: Bool { state == "23505" }
}

/// A PostgreSQL connection URI as given to `run --output`: `postgresql://USER@HOST:PORT/DB?schema=cdm`.
/// The `schema` parameter (the target schema, default `public`) is Harmonize's and is removed
/// before the URI goes to libpq. A password in the URI is refused: it comes from `PGPASSWORD` or
/// `~/.pgpass` only, so it is never on a command line nor in a manifest.
package struct PostgreSQLTarget: Sendable, Hashable {
    /// The URI for libpq, without `schema`.
    package var connectionURI: String
    /// The target schema.
    package var schema: String

    /// Whether `text` names a PostgreSQL output (`postgresql://` or `postgres://`).
    package static func isURI(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// Parses the URI.
    /// - Throws: `HarmonizeError` (`postgresURIInvalid`) for a password in the URI, a schema name
    ///   that is not a plain lower-case identifier, or a URI that is not a PostgreSQL one.
    package init(parsing text: String) throws(HarmonizeError) {
        guard Self.isURI(text), let schemeEnd = text.range(of: "://")?.upperBound else {
            throw HarmonizeError(.configuration, "not a PostgreSQL URI (postgresql://USER@HOST:PORT/DB?schema=NAME)", code: .postgresURIInvalid)
        }
        let rest = text[schemeEnd...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@"), authority[..<at].contains(":") {
            throw HarmonizeError(
                .configuration, "the PostgreSQL URI holds a password: give it in PGPASSWORD or ~/.pgpass, never in the URI", code: .postgresURIInvalid
            )
        }
        var base = String(text[..<authorityEnd])
        var path = ""
        var query: [String] = []
        let tail = rest[authorityEnd...]
        if let q = tail.firstIndex(of: "?") {
            path = String(tail[..<q])
            query = tail[tail.index(after: q)...].split(separator: "&").map(String.init)
        } else {
            path = String(tail)
        }
        var schema = "public"
        var kept: [String] = []
        for p in query {
            let name = p.split(separator: "=", maxSplits: 1).first.map(String.init) ?? p
            switch name {
            case "schema": schema = p.split(separator: "=", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
            case "password":
                throw HarmonizeError(
                    .configuration, "the PostgreSQL URI holds a password: give it in PGPASSWORD or ~/.pgpass, never in the URI",
                    code: .postgresURIInvalid)
            default: kept.append(p)
            }
        }
        guard Self.isPlainIdentifier(schema), schema.utf8.count <= 40 else {
            throw HarmonizeError(
                .configuration, "the schema of a PostgreSQL output must be a lower-case identifier of at most 40 characters (a-z, 0-9, _)",
                code: .postgresURIInvalid)
        }
        base += path
        if !kept.isEmpty { base += "?" + kept.joined(separator: "&") }
        self.connectionURI = base
        self.schema = schema
    }

    /// `[a-z_][a-z0-9_]*`: a name that needs no quoting and cannot clash by case.
    static func isPlainIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, first == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else {
            return false
        }
        return s.utf8.allSatisfy { c in
            c == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
        }
    }

    /// The URI as shown and stored (it never holds a password), with the schema.
    package var displayURI: String {
        connectionURI + (connectionURI.contains("?") ? "&" : "?") + "schema=" + schema
    }
}

/// A libpq connection used from one thread at a time.
final class PostgreSQLConnection {
    private var conn: OpaquePointer?

    /// Connects with a libpq connection URI (the password from `PGPASSWORD` or `~/.pgpass`).
    init(uri: String) throws(PostgreSQLError) {
        guard let c = PQconnectdb(uri) else { throw PostgreSQLError(state: "", message: "cannot allocate a PostgreSQL connection") }
        conn = c
        guard PQstatus(c) == CONNECTION_OK else {
            let message = Self.clientMessage(c)
            PQfinish(c)
            conn = nil
            throw PostgreSQLError(state: "", message: "cannot connect to PostgreSQL: \(message)")
        }
        // Dates as ISO text both ways; no notices on standard error.
        PQsetNoticeProcessor(c, { _, _ in }, nil)
        try execute("SET client_min_messages = warning; SET datestyle = 'ISO, YMD'; SET client_encoding = 'UTF8'")
    }

    deinit { close() }

    /// Closes the connection (also releasing its session advisory locks).
    func close() {
        if let c = conn { PQfinish(c) }
        conn = nil
    }

    /// libpq's connection message, first line only (the server's words, no values of ours).
    private static func clientMessage(_ c: OpaquePointer) -> String {
        let text = PQerrorMessage(c).map { String(cString: $0) } ?? "unknown error"
        return text.split(separator: "\n").first.map(String.init) ?? text
    }

    private func handle() throws(PostgreSQLError) -> OpaquePointer {
        guard let c = conn else { throw PostgreSQLError(state: "", message: "the PostgreSQL connection is closed") }
        return c
    }

    /// The error of a failed result: SQLSTATE and the primary message up to a quote or colon.
    private func failure(_ result: OpaquePointer?, _ c: OpaquePointer) -> PostgreSQLError {
        guard let result else { return PostgreSQLError(state: "", message: Self.clientMessage(c)) }
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) } ?? Self.clientMessage(c)
        let cut = primary.firstIndex { $0 == ":" || $0 == "\"" } ?? primary.endIndex
        return PostgreSQLError(state: state, message: String(primary[..<cut]).trimmingTrailingSpaces)
    }

    /// Runs one or more statements without parameters.
    func execute(_ sql: String) throws(PostgreSQLError) {
        let c = try handle()
        let r = PQexec(c, sql)
        defer { PQclear(r) }
        let status = PQresultStatus(r)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw failure(r, c) }
    }

    /// Runs a statement with text parameters (nil: NULL); returns its result, which the caller
    /// clears (`PQclear`), or throws the server's error.
    private func execute(_ sql: String, _ parameters: [String?]) throws(PostgreSQLError) -> OpaquePointer? {
        let c = try handle()
        var copies: [UnsafeMutablePointer<CChar>?] = parameters.map { p in p.flatMap { strdup($0) } }
        defer { for p in copies { free(p) } }
        let r: OpaquePointer? = copies.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return PQexecParams(c, sql, 0, nil, nil, nil, nil, 0) }
            return base.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { values in
                PQexecParams(c, sql, Int32(buffer.count), nil, values, nil, nil, 0)
            }
        }
        let status = PQresultStatus(r)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            defer { PQclear(r) }
            throw failure(r, c)
        }
        return r
    }

    /// Runs a query with text parameters (nil: NULL); returns its rows as text (nil: NULL).
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws(PostgreSQLError) -> [[String?]] {
        let r = try execute(sql, parameters)
        defer { PQclear(r) }
        var rows: [[String?]] = []
        let n = PQntuples(r)
        let m = PQnfields(r)
        rows.reserveCapacity(Int(n))
        for i in 0..<n {
            var row: [String?] = []
            row.reserveCapacity(Int(m))
            for j in 0..<m {
                row.append(PQgetisnull(r, i, j) == 1 ? nil : String(cString: PQgetvalue(r, i, j)))
            }
            rows.append(row)
        }
        return rows
    }

    /// Runs a query with text parameters (nil: NULL); returns its rows as values typed by the
    /// result columns: integers (`int2`, `int4`, `int8`, `oid`) as `.int`, `numeric` and floats
    /// as `.double`, booleans as `.int` 1 or 0 (as SQLite gives them), everything else as text.
    func typedQuery(_ sql: String, _ parameters: [String?] = []) throws(PostgreSQLError) -> [[Value]] {
        let r = try execute(sql, parameters)
        defer { PQclear(r) }
        let n = PQntuples(r)
        let m = PQnfields(r)
        let types = (0..<m).map { PQftype(r, $0) }
        var rows: [[Value]] = []
        rows.reserveCapacity(Int(n))
        for i in 0..<n {
            var row: [Value] = []
            row.reserveCapacity(Int(m))
            for j in 0..<m {
                guard PQgetisnull(r, i, j) == 0 else {
                    row.append(.null)
                    continue
                }
                let text = String(cString: PQgetvalue(r, i, j))
                switch types[Int(j)] {
                case 20, 21, 23, 26: row.append(Int(text).map(Value.int) ?? .string(text))
                case 700, 701, 1700: row.append(Double(text).map(Value.double) ?? .string(text))
                case 16: row.append(.int(text == "t" ? 1 : 0))
                default: row.append(.string(text))
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// The first column of the first row, or nil.
    func scalar(_ sql: String, _ parameters: [String?] = []) throws(PostgreSQLError) -> String? {
        try query(sql, parameters).first?.first ?? nil
    }

    /// Runs `COPY … FROM STDIN` sending `prefix`, `data` and `suffix` (rows already encoded, in
    /// the format `sql` names; binary COPY takes its header and trailer as prefix and suffix).
    func copy(_ sql: String, data: [UInt8], prefix: [UInt8] = [], suffix: [UInt8] = []) throws(PostgreSQLError) {
        let c = try handle()
        let start = PQexec(c, sql)
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            let e = failure(start, c)
            PQclear(start)
            throw e
        }
        PQclear(start)
        var sent = true
        let chunk = 1 << 20
        for part in [prefix, data, suffix] where sent {
            part.withUnsafeBufferPointer { b in
                guard let base = b.baseAddress else { return }
                var offset = 0
                while offset < b.count, sent {
                    let n = min(chunk, b.count - offset)
                    let p = UnsafeRawPointer(base + offset).assumingMemoryBound(to: CChar.self)
                    sent = PQputCopyData(c, p, Int32(n)) == 1
                    offset += n
                }
            }
        }
        let ended = PQputCopyEnd(c, sent ? nil : "the client stopped the copy") == 1
        var error: PostgreSQLError?
        while let r = PQgetResult(c) {
            if PQresultStatus(r) != PGRES_COMMAND_OK, error == nil { error = failure(r, c) }
            PQclear(r)
        }
        if let error { throw error }
        guard sent, ended else { throw PostgreSQLError(state: "", message: "the COPY could not be sent: \(Self.clientMessage(c))") }
    }
}

@available(*, unavailable)
extension PostgreSQLConnection: Sendable {}

extension String {
    fileprivate var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
