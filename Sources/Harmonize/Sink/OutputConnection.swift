import Foundation

/// The SQL dialect of an output, for the few places where SQLite's and PostgreSQL's SQL differ
/// (date arithmetic, the order rows were written in, the latest run). Everything else is written
/// once, with SQLite's `?`/`?N` parameters (a PostgreSQL connection numbers them `$N`).
package enum OutputDialect: Sendable, Hashable {
    /// A SQLite output file.
    case sqlite
    /// A PostgreSQL output schema.
    case postgresql

    /// An identifier, quoted when needed.
    package func quote(_ name: String) -> String {
        self == .sqlite ? SQLiteDDL.quote(name) : PostgreSQLDDL.quote(name)
    }

    /// `expression` as a date (a date-time cut to its day).
    package func date(_ expression: String) -> String {
        self == .sqlite ? "date(\(expression))" : "CAST(\(expression) AS date)"
    }

    /// `expression` as a date, `days` later (earlier when negative).
    package func date(_ expression: String, plusDays days: Int) -> String {
        switch self {
        case .sqlite: return "date(\(expression), '\(days < 0 ? "-" : "+")\(abs(days)) day\(abs(days) == 1 ? "" : "s")')"
        case .postgresql: return "(CAST(\(expression) AS date) \(days < 0 ? "-" : "+") \(abs(days)))"
        }
    }

    /// A bound number compared with a column (PostgreSQL would otherwise take the column's type
    /// for it, and refuse `0.5` for a `bigint` column).
    package func number(_ parameter: String) -> String {
        self == .sqlite ? parameter : "CAST(\(parameter) AS numeric)"
    }

    /// The order bookkeeping rows were written in (those tables are only appended to).
    package var writeOrder: String { self == .sqlite ? "rowid" : "ctid" }

    /// `ORDER BY` of `harmonize_run` that puts the latest run first.
    package var latestRunOrder: String { self == .sqlite ? "started_at DESC, rowid DESC" : "run_seq DESC" }
}

/// A failure to read or write an output (no values: the database's message, SQL state or code).
package struct OutputReadError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    package var description: String
}

/// A connection to an output, a SQLite file or a PostgreSQL schema, for the commands and checks
/// that read its OMOP and bookkeeping tables (`quality`, `trace`, `report`, `risk`, `rejects`).
/// SQL is written with `?`/`?N` parameters; rows come back as values (integers as `.int`,
/// decimals as `.double`, dates and text as `.string`).
package protocol OutputConnection: AnyObject {
    /// The dialect of the SQL the connection runs.
    var dialect: OutputDialect { get }
    /// The output as messages name it: a path, or the URI (never with a password) and schema.
    var name: String { get }
    /// The rows of a query (small results: counts, bookkeeping rows).
    func rows(_ sql: String, _ arguments: [Value]) throws(OutputReadError) -> [[Value]]
    /// The rows of a query one at a time, without holding them all (a user rule over a table).
    func forEachRow(_ sql: String, _ body: ([Value]) -> Void) throws(OutputReadError)
    /// Runs statements that return nothing.
    func execute(_ sql: String) throws(OutputReadError)
    /// Runs `body` in one transaction (rolled back when it throws).
    func inTransaction(_ body: () throws(OutputReadError) -> Void) throws(OutputReadError)
    /// The tables (and views) of the output, lower case, with their columns in order.
    func tableColumns() throws(OutputReadError) -> [String: [String]]
    /// The columns of a table's primary key (none when it has no key).
    func primaryKey(of table: String) throws(OutputReadError) -> [String]
}

/// A SQLite output file.
final class SQLiteOutputConnection: OutputConnection {
    let db: SQLiteConnection
    let name: String
    var dialect: OutputDialect { .sqlite }

    init(path: String, readOnly: Bool) throws(OutputReadError) {
        do {
            db = try SQLiteConnection(path: path, readOnly: readOnly)
        } catch {
            throw OutputReadError(description: "cannot open \(path): \(error)")
        }
        name = path
    }

    private func wrap(_ error: SQLiteError) -> OutputReadError {
        OutputReadError(description: "SQLite error \(error.code): \(error.message)")
    }

    func rows(_ sql: String, _ arguments: [Value]) throws(OutputReadError) -> [[Value]] {
        do { return try db.query(sql, arguments) } catch { throw wrap(error) }
    }

    func forEachRow(_ sql: String, _ body: ([Value]) -> Void) throws(OutputReadError) {
        do {
            let st = try db.prepare(sql)
            let n = st.columnCount
            var row: [Value] = []
            while try st.step() {
                row.removeAll(keepingCapacity: true)
                for k in 0..<n { row.append(st.column(k)) }
                body(row)
            }
        } catch {
            throw wrap(error)
        }
    }

    func execute(_ sql: String) throws(OutputReadError) {
        do { try db.execute(sql) } catch { throw wrap(error) }
    }

    func inTransaction(_ body: () throws(OutputReadError) -> Void) throws(OutputReadError) {
        try execute("BEGIN")
        do {
            try body()
            try execute("COMMIT")
        } catch {
            do { try db.execute("ROLLBACK") } catch {
                // Nothing to roll back: the body's error is the one that matters.
            }
            throw error
        }
    }

    func tableColumns() throws(OutputReadError) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for row in try rows("SELECT name FROM sqlite_master WHERE type = 'table'", []) {
            guard case .string(let name) = row.first ?? .null else { continue }
            out[name.lowercased()] = try rows("SELECT name FROM pragma_table_info(?1) ORDER BY cid", [.string(name)]).compactMap {
                if case .string(let s) = $0.first ?? .null { return s.lowercased() }
                return nil
            }
        }
        return out
    }

    /// The columns of the unique index `pk_<table>` (SQLite outputs have no key constraints).
    func primaryKey(of table: String) throws(OutputReadError) -> [String] {
        try rows("SELECT name FROM pragma_index_info(?)", [.string("pk_" + table)]).compactMap {
            if case .string(let s) = $0.first ?? .null { return s }
            return nil
        }
    }
}

/// A run's staging schema on a PostgreSQL output, complete and not yet published: what the
/// checks run before publication read (`PostgreSQLSink.beforePublish`).
package struct PostgreSQLStaging: Sendable, Hashable {
    /// The output.
    package var target: PostgreSQLTarget
    /// The staging schema (`harmonize_stage_…`).
    package var schema: String
    /// The run being published.
    package var runID: String
    /// The target's tables that the publication drops (the previous run's and this run's).
    package var replacedTables: Set<String>
}

/// A PostgreSQL output: its schema (the published CDM), or a run's staging schema seen with the
/// target's tables that survive publication (the vocabulary tables, a user's own), as the CDM
/// will be once published.
package final class PostgreSQLOutputConnection: OutputConnection {
    private let db: PostgreSQLConnection
    /// Searched in order: the staging schema (if any), then the target schema.
    private let schemas: [String]
    /// Tables of the target schema left out when reading a staging schema.
    private let hidden: Set<String>
    private var transactionOpen = false
    /// Whether the connection reads inside its owner's open transaction (a sharded run's
    /// publication): it neither begins nor ends transactions, puts every statement under a
    /// savepoint, and does not close the connection.
    private let nested: Bool
    /// Savepoints open (nested mode).
    private var savepoints = 0
    package let name: String
    package var dialect: OutputDialect { .postgresql }

    /// Connects to the published schema of `target`.
    package convenience init(target: PostgreSQLTarget) throws(OutputReadError) {
        try self.init(target: target, schemas: [target.schema], hidden: [])
    }

    /// Connects to a staging schema, seen before the target's other tables.
    package convenience init(staging: PostgreSQLStaging) throws(OutputReadError) {
        try self.init(target: staging.target, schemas: [staging.schema, staging.target.schema], hidden: staging.replacedTables)
    }

    private init(target: PostgreSQLTarget, schemas: [String], hidden: Set<String>) throws(OutputReadError) {
        name = target.displayURI
        self.schemas = schemas
        self.hidden = hidden
        nested = false
        do {
            db = try PostgreSQLConnection(uri: target.connectionURI)
            // The schema names are plain identifiers (checked when parsing the URI; staging names are ours).
            try db.execute("SET search_path = " + schemas.map(PostgreSQLDDL.quote).joined(separator: ", "))
        } catch {
            throw OutputReadError(description: "cannot read schema \(target.schema): \(error)")
        }
    }

    /// Reads a sharded run's area (`PostgreSQLShards`) inside the open publication transaction of
    /// `db`, where its keys, constraints and indices are built but not committed, seen before the
    /// target's tables that survive publication (`replacedTables` hidden), as the CDM will be once
    /// published. The search path is set for the transaction only (`SET LOCAL`); the connection
    /// stays its owner's (not closed here). Every statement runs under a savepoint: a check whose
    /// SQL fails leaves the publication transaction usable.
    init(publishing db: PostgreSQLConnection, area: String, target: PostgreSQLTarget, replacedTables: Set<String>) throws(OutputReadError) {
        name = target.displayURI
        schemas = [area, target.schema]
        hidden = replacedTables
        nested = true
        transactionOpen = true
        self.db = db
        do {
            try db.execute("SET LOCAL search_path = " + schemas.map(PostgreSQLDDL.quote).joined(separator: ", "))
        } catch {
            throw OutputReadError(description: "cannot read the run's area in schema \(target.schema): \(error)")
        }
    }

    deinit { if !nested { db.close() } }

    /// Runs `body`; in nested mode under a savepoint, rolled back to when `body` throws.
    private func guarded<T>(_ body: () throws(PostgreSQLError) -> T) throws(PostgreSQLError) -> T {
        guard nested else { return try body() }
        savepoints += 1
        defer { savepoints -= 1 }
        let name = "harmonize_read_\(savepoints)"
        try db.execute("SAVEPOINT \(name)")
        do {
            let result = try body()
            try db.execute("RELEASE SAVEPOINT \(name)")
            return result
        } catch {
            do {
                try db.execute("ROLLBACK TO SAVEPOINT \(name); RELEASE SAVEPOINT \(name)")
            } catch {
                // The transaction is lost: the owner's next statement fails and it rolls back.
            }
            throw error
        }
    }

    private func wrap(_ error: PostgreSQLError) -> OutputReadError {
        OutputReadError(description: "PostgreSQL error: \(error)")
    }

    /// `?N` → `$N` and `?` → the next number, outside quoted literals and identifiers (as SQLite
    /// numbers them).
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 8)
        var quote: Character?
        var next = 1
        var i = sql.startIndex
        while i < sql.endIndex {
            let c = sql[i]
            if let q = quote {
                if c == q { quote = nil }
                out.append(c)
                i = sql.index(after: i)
                continue
            }
            if c == "'" || c == "\"" {
                quote = c
                out.append(c)
                i = sql.index(after: i)
                continue
            }
            guard c == "?" else {
                out.append(c)
                i = sql.index(after: i)
                continue
            }
            var j = sql.index(after: i)
            while j < sql.endIndex, let d = sql[j].asciiValue, d >= 48, d <= 57 { j = sql.index(after: j) }
            if let n = Int(sql[sql.index(after: i)..<j]) {
                out += "$\(n)"
                next = max(next, n + 1)
            } else {
                out += "$\(next)"
                next += 1
            }
            i = j
        }
        return out
    }

    private static func text(_ v: Value) -> String? {
        switch v {
        case .null: return nil
        case .bool(let b): return b ? "true" : "false"
        default: return v.description
        }
    }

    package func rows(_ sql: String, _ arguments: [Value]) throws(OutputReadError) -> [[Value]] {
        let text = Self.numbered(sql)
        let parameters = arguments.map(Self.text)
        do {
            return try guarded { () throws(PostgreSQLError) in try db.typedQuery(text, parameters) }
        } catch {
            throw wrap(error)
        }
    }

    /// Through a cursor, 5,000 rows at a time.
    package func forEachRow(_ sql: String, _ body: ([Value]) -> Void) throws(OutputReadError) {
        let own = !transactionOpen
        do {
            if own { try db.execute("BEGIN READ ONLY") }
            try guarded { () throws(PostgreSQLError) in
                try db.execute("DECLARE harmonize_rows NO SCROLL CURSOR FOR " + Self.numbered(sql))
                while true {
                    let batch = try db.typedQuery("FETCH 5000 FROM harmonize_rows")
                    for r in batch { body(r) }
                    if batch.count < 5000 { break }
                }
                try db.execute("CLOSE harmonize_rows")
            }
            if own { try db.execute("COMMIT") }
        } catch {
            if own {
                do { try db.execute("ROLLBACK") } catch {
                    // The connection is gone: the server rolled back.
                }
            }
            throw wrap(error)
        }
    }

    package func execute(_ sql: String) throws(OutputReadError) {
        do {
            try guarded { () throws(PostgreSQLError) in try db.execute(sql) }
        } catch {
            throw wrap(error)
        }
    }

    /// In nested mode, a savepoint of the owner's transaction.
    package func inTransaction(_ body: () throws(OutputReadError) -> Void) throws(OutputReadError) {
        if nested {
            savepoints += 1
            defer { savepoints -= 1 }
            let name = "harmonize_write_\(savepoints)"
            do {
                try db.execute("SAVEPOINT \(name)")
            } catch {
                throw wrap(error)
            }
            do throws(OutputReadError) {
                try body()
                do {
                    try db.execute("RELEASE SAVEPOINT \(name)")
                } catch {
                    throw wrap(error)
                }
            } catch {
                do {
                    try db.execute("ROLLBACK TO SAVEPOINT \(name); RELEASE SAVEPOINT \(name)")
                } catch {
                    // The transaction is lost: the owner's next statement fails and it rolls back.
                }
                throw error
            }
            return
        }
        try execute("BEGIN")
        transactionOpen = true
        defer { transactionOpen = false }
        do {
            try body()
            try execute("COMMIT")
        } catch {
            do { try db.execute("ROLLBACK") } catch {
                // The connection is gone: the server rolled back.
            }
            throw error
        }
    }

    /// Tables, views and foreign tables of the searched schemas; a name in an earlier schema
    /// hides the same name in a later one.
    package func tableColumns() throws(OutputReadError) -> [String: [String]] {
        let found = try rows(
            """
            SELECT n.nspname, c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY(CAST(? AS text[])) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """, [.string("{" + schemas.joined(separator: ",") + "}")])
        var bySchema: [String: [String: [String]]] = [:]
        for r in found {
            guard let s = r[0].text, let t = r[1].text, let c = r[2].text else { continue }
            bySchema[s, default: [:]][t.lowercased(), default: []].append(c.lowercased())
        }
        var out: [String: [String]] = [:]
        for (i, s) in schemas.enumerated() {
            for (t, cols) in bySchema[s] ?? [:] where out[t] == nil && (i == 0 || !hidden.contains(t)) { out[t] = cols }
        }
        return out
    }

    /// From here on (until the connection closes) every read sees one snapshot of the output: a
    /// run publishing meanwhile is not seen half (read-only, repeatable read).
    package func beginSnapshot() throws(OutputReadError) {
        // Nested: the owner's transaction is the snapshot.
        guard !nested else { return }
        try execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        transactionOpen = true
    }

    /// Whether the schema holds a published run.
    package func holdsPublishedRun() throws(OutputReadError) -> Bool {
        guard try tableColumns()["harmonize_run"] != nil else { return false }
        return try !rows("SELECT 1 FROM harmonize_run LIMIT 1", []).isEmpty
    }

    /// Takes, without waiting, the target schema's advisory lock (the one a run holds while it
    /// writes the schema), until the connection closes; false when a run holds it.
    package func tryLockTarget(_ target: PostgreSQLTarget) throws(OutputReadError) -> Bool {
        try rows("SELECT pg_try_advisory_lock(\(PostgreSQLSink.targetLockClass), hashtext(?))", [.string(target.schema)]).first?.first == .int(1)
    }

    package func primaryKey(of table: String) throws(OutputReadError) -> [String] {
        try rows(
            """
            SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = to_regclass(?) AND i.indisprimary ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)
            """, [.string(PostgreSQLDDL.quote(table))]
        ).compactMap { $0.first?.text }
    }
}

@available(*, unavailable)
extension PostgreSQLOutputConnection: Sendable {}

@available(*, unavailable)
extension SQLiteOutputConnection: Sendable {}

extension Value {
    /// The text, if the value is a string.
    var text: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}
