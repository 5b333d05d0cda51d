import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// `harmonize-run ddl`: the DDL of the OMOP CDM tables in a SQL dialect, in OHDSI's order.
struct DDLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ddl",
        abstract: "Print the DDL of the OMOP CDM v5.4 tables: tables, then primary keys, constraints and indices.",
        discussion: """
            The sections follow OHDSI's scripts (ddl, primary_keys, constraints, indices) so a loader can create the tables, \
            load them, then add keys and indices. PostgreSQL: integer columns are bigint (Harmonize's pseudonymous ids use \
            63 bits). SQLite cannot add keys or foreign keys to a table: its primary keys are unique indices and its \
            constraints section is empty, as in the SQLite output.
            """)

    enum Dialect: String, ExpressibleByArgument, CaseIterable {
        case postgresql, sqlite
    }

    @Option(name: .long, help: "postgresql or sqlite.")
    var dialect: Dialect = .postgresql

    @Option(name: .long, help: ArgumentHelp("Qualify table names with this schema (PostgreSQL).", valueName: "NAME"))
    var schema: String?

    @Option(name: .long, help: ArgumentHelp("Only these tables (comma-separated; default: every table of the model).", valueName: "LIST"))
    var tables: String?

    func run() throws {
        let model = try Mappings.omopModel()
        var selected = model.tables
        if let tables {
            let wanted = tables.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            if let unknown = wanted.first(where: { w in !model.tables.contains { $0.name == w } }) {
                Terminal.error("harmonize-run: the model has no table \(unknown)")
                throw Exit.configuration
            }
            selected = model.tables.filter { wanted.contains($0.name) }
        }
        let name = "\(model.name) \(model.version)"
        switch dialect {
        case .postgresql: Terminal.out(DDLText.postgreSQL(selected, schema: schema, model: name))
        case .sqlite: Terminal.out(DDLText.sqlite(selected, model: name))
        }
    }
}

/// A command that does not write into a PostgreSQL output yet (`remap`) refuses one with
/// `HZ7022` and exit 2, before reading anything.
enum PostgresOutput {
    static func refuse(_ output: String, command: String) throws {
        guard output.hasPrefix("postgresql://") || output.hasPrefix("postgres://") else { return }
        Terminal.error(
            "harmonize-run: '\(command)' does not write into a PostgreSQL output yet; rerun the full run with a new --run-id [\(ErrorCode.postgresUnsupported)]"
        )
        throw Exit.configuration
    }
}
