import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// The PostgreSQL server of the tests: `HARMONIZE_TEST_POSTGRES` (a libpq URI, e.g. from
/// `eval "$(Scripts/pg_throwaway.sh start)"`). Without it the PostgreSQL tests are skipped with a
/// printed reason, except under `HARMONIZE_REQUIRE_POSTGRES=1` (CI), where they fail. Each test
/// writes its own schema, so tests run in parallel.
enum PostgresTestServer {
    /// The server's URI, or nil (the reason printed, or a recorded failure when required).
    static func uri(_ test: String = #function) -> String? {
        let env = ProcessInfo.processInfo.environment
        if let u = env["HARMONIZE_TEST_POSTGRES"], !u.isEmpty { return u }
        if env["HARMONIZE_REQUIRE_POSTGRES"] == "1" {
            Issue.record("HARMONIZE_REQUIRE_POSTGRES=1 but HARMONIZE_TEST_POSTGRES is not set: \(test) cannot run")
        } else {
            print("skipped \(test): no PostgreSQL server (set HARMONIZE_TEST_POSTGRES, e.g. eval \"$(Scripts/pg_throwaway.sh start)\")")
        }
        return nil
    }

    /// A schema name of its own for one test.
    static func schema(_ label: String) -> String {
        "t_" + label + "_" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }

    /// `uri` with `?schema=NAME`.
    static func output(_ uri: String, schema: String) -> String {
        uri + (uri.contains("?") ? "&" : "?") + "schema=" + schema
    }

    static func connect(_ uri: String) throws -> PostgreSQLConnection {
        try PostgreSQLConnection(uri: uri)
    }

    /// Drops a test's schema.
    static func drop(_ uri: String, schema: String) {
        do {
            try connect(uri).execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        } catch {
            print("could not drop test schema \(schema): \(error)")
        }
    }

    /// A cell in one text form for both outputs: numbers of float columns as doubles, date-times
    /// with a space, null as `∅`.
    static func normal(_ text: String?, _ type: ColumnType) -> String {
        guard let text else { return "∅" }
        switch type {
        case .float: return Double(text).map { String($0) } ?? text
        case .datetime: return text.replacingOccurrences(of: "T", with: " ")
        default: return text
        }
    }

    /// The rows of an OMOP table of a SQLite output, normalised and sorted.
    static func rows(sqlite db: SQLiteConnection, _ table: TargetTable) throws -> [String] {
        let cols = table.columns.map { "\"\($0.name)\"" }.joined(separator: ", ")
        return try db.query("SELECT \(cols) FROM \"\(table.name)\"").map { row in
            zip(row, table.columns).map { v, c in normal(v.isNull ? nil : v.description, c.type) }.joined(separator: "|")
        }.sorted()
    }

    /// The rows of an OMOP table of a PostgreSQL schema, normalised and sorted.
    static func rows(postgres db: PostgreSQLConnection, schema: String, _ table: TargetTable) throws -> [String] {
        let cols = table.columns.map { "\(PostgreSQLDDL.quote($0.name))::text" }.joined(separator: ", ")
        return try db.query("SELECT \(cols) FROM \(schema).\(table.name)").map { row in
            zip(row, table.columns).map { v, c in normal(v, c.type) }.joined(separator: "|")
        }.sorted()
    }

    /// Every OMOP table of a PostgreSQL schema with its rows (tables the schema lacks are absent).
    static func content(_ uri: String, schema: String) throws -> [String: [String]] {
        let db = try connect(uri)
        var out: [String: [String]] = [:]
        for t in try Mappings.omopModel().tables {
            guard try db.scalar("SELECT to_regclass($1)", ["\(schema).\(t.name)"]) != nil else { continue }
            out[t.name] = try rows(postgres: db, schema: schema, t)
        }
        return out
    }

    /// Staging schemas of a run id still in the database.
    static func stagingSchemas(_ uri: String, runID: String) throws -> [String] {
        let cleaned = String(runID.lowercased().map { ($0.isLetter || $0.isNumber) ? $0 : "_" }.prefix(32))
        return try connect(uri).query("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", ["harmonize_stage_" + cleaned + "%"]).compactMap {
            $0.first ?? nil
        }
    }
}
