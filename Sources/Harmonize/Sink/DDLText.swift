/// The DDL of a target model as `harmonize-run ddl` prints it: the tables, then the primary
/// keys, the constraints and the indices, each section under a `--` heading.
package enum DDLText {
    /// PostgreSQL (see `PostgreSQLDDL`); names qualified by `schema` when given.
    package static func postgreSQL(_ tables: [TargetTable], schema: String?, model: String) -> String {
        var out = "-- \(model): PostgreSQL DDL (harmonize-run ddl)\n\n-- Tables\n"
        for t in tables { out += PostgreSQLDDL.createTable(t, schema: schema) + "\n" }
        out += "\n-- Primary keys\n"
        for t in tables { if let pk = PostgreSQLDDL.primaryKey(t, schema: schema) { out += pk + "\n" } }
        out += "\n-- Constraints\n"
        for t in tables { for c in PostgreSQLDDL.constraints(t, among: tables, schema: schema) { out += c + "\n" } }
        out += "\n-- Indices\n"
        for t in tables { for i in PostgreSQLDDL.indices(t, schema: schema) { out += i + "\n" } }
        return out
    }

    /// SQLite, as the SQLite output has it: primary keys are unique indices (SQLite cannot add a
    /// key to a table), and there is no constraints step (nor foreign keys added later).
    package static func sqlite(_ tables: [TargetTable], model: String) -> String {
        var out = "-- \(model): SQLite DDL (harmonize-run ddl)\n\n-- Tables\n"
        for t in tables { out += SQLiteDDL.createTable(t) + "\n" }
        out += "\n-- Primary keys\n"
        for t in tables where !t.primaryKey.isEmpty { out += SQLiteDDL.primaryKeyIndex(t) + "\n" }
        out += "\n-- Constraints\n-- (none: SQLite cannot add constraints to a table after it is created)\n"
        out += "\n-- Indices\n"
        for t in tables {
            for line in SQLiteDDL.indexes(t).split(separator: "\n") where !line.contains("\"pk_") { out += line + "\n" }
        }
        return out
    }
}
