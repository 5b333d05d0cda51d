/// A target data model handed to the engine as data: tables, typed columns, required columns,
/// primary and foreign keys. OMOP CDM v5.4 is one such model (bundled by the `Mappings` module);
/// a benchmark or another common data model is described the same way.
public struct TargetModel: Sendable, Hashable {
    /// The model's name, e.g. `omop-cdm`.
    public var name: String
    /// The model's version, e.g. `5.4`.
    public var version: String
    /// Tables in declaration order.
    package var tables: [TargetTable]
    /// `orphans: person.person_id`: rows of the other tables whose `person_id` names no row of
    /// `person` in the same output are held back as rejects (`target-fk-missing`) before the
    /// output is published (`OrphanPass`); nil: no such check. On in the bundled OMOP model.
    package var orphans: ForeignKey? = nil

    /// Creates a model.
    package init(name: String, version: String, tables: [TargetTable]) {
        self.name = name
        self.version = version
        self.tables = tables
    }

    /// The table with that name (case-insensitive), or nil.
    package func table(named name: String) -> TargetTable? {
        let lowered = name.lowercased()
        return tables.first { $0.name.lowercased() == lowered }
    }
}

/// A table of a target model.
package struct TargetTable: Sendable, Hashable {
    /// The table name as created in the sink.
    public var name: String
    /// Columns in declaration order (the order of the DDL).
    public var columns: [TargetColumn]
    /// A one-line description, if known.
    public var description: String?

    /// Creates a table.
    public init(name: String, columns: [TargetColumn], description: String? = nil) {
        self.name = name
        self.columns = columns
        self.description = description
    }

    /// Names of the primary-key columns, in column order.
    public var primaryKey: [String] { columns.filter(\.isPrimaryKey).map(\.name) }

    /// The column whose value identifies a row in row-level lineage and `harmonize-run trace`:
    /// the primary key when it is one column, else the first column named `*_id` (OMOP tables
    /// without a key, such as `death`, are identified by their `person_id`), else none.
    public var lineageKeyColumn: Int? {
        let pk = columns.indices.filter { columns[$0].isPrimaryKey }
        if pk.count == 1 { return pk[0] }
        return columns.firstIndex { $0.name.lowercased().hasSuffix("_id") }
    }

    /// The index of the column with that name (case-insensitive), or nil.
    public func columnIndex(named name: String) -> Int? {
        let lowered = name.lowercased()
        return columns.firstIndex { $0.name.lowercased() == lowered }
    }
}

/// A column of a target table.
package struct TargetColumn: Sendable, Hashable {
    /// The column name.
    public var name: String
    /// The declared type.
    public var type: ColumnType
    /// Whether the column must not be null.
    public var isRequired: Bool
    /// Whether the column belongs to the primary key.
    public var isPrimaryKey: Bool
    /// The referenced table and column, for a foreign key.
    public var foreignKey: ForeignKey?
    /// For concept foreign keys, the expected domain of the concept (OMOP `fkDomain`), if any.
    public var foreignKeyDomain: String?
    /// For concept foreign keys, the expected concept class (OMOP `fkClass`), if any.
    public var foreignKeyClass: String?

    /// Creates a column.
    public init(
        name: String, type: ColumnType, isRequired: Bool = false, isPrimaryKey: Bool = false,
        foreignKey: ForeignKey? = nil, foreignKeyDomain: String? = nil, foreignKeyClass: String? = nil
    ) {
        self.name = name
        self.type = type
        self.isRequired = isRequired
        self.isPrimaryKey = isPrimaryKey
        self.foreignKey = foreignKey
        self.foreignKeyDomain = foreignKeyDomain
        self.foreignKeyClass = foreignKeyClass
    }
}

/// A foreign-key reference.
package struct ForeignKey: Sendable, Hashable, Codable {
    /// The referenced table.
    public var table: String
    /// The referenced column.
    public var column: String

    /// Creates a reference.
    public init(table: String, column: String) {
        self.table = table
        self.column = column
    }
}

/// The type of a target column, in the spellings of the OMOP specification.
package enum ColumnType: Sendable, Hashable, CustomStringConvertible {
    /// 32-bit integer in OMOP, stored as a 64-bit SQLite INTEGER.
    case integer
    /// 64-bit integer.
    case bigint
    /// Floating-point number.
    case float
    /// Civil date.
    case date
    /// Civil date-time.
    case datetime
    /// Text with an optional maximum length in characters (nil: `varchar(max)`).
    case varchar(Int?)

    /// Parses `integer`, `bigint`, `float`, `date`, `datetime`, `varchar(N)`, `varchar(max)`, `text`
    /// (case-insensitive); nil for anything else.
    public init?(spelling: String) {
        let s = spelling.trimmingSpaces().lowercased()
        switch s {
        case "integer", "int": self = .integer
        case "bigint": self = .bigint
        case "float", "real", "double", "numeric": self = .float
        case "date": self = .date
        case "datetime", "timestamp": self = .datetime
        case "text", "varchar", "varchar(max)", "string": self = .varchar(nil)
        default:
            guard s.hasPrefix("varchar("), s.hasSuffix(")") else { return nil }
            let inner = s.dropFirst(8).dropLast()
            guard let n = Int(inner), n > 0 else { return nil }
            self = .varchar(n)
        }
    }

    /// The OMOP spelling.
    public var description: String {
        switch self {
        case .integer: return "integer"
        case .bigint: return "bigint"
        case .float: return "float"
        case .date: return "date"
        case .datetime: return "datetime"
        case .varchar(let n): return n.map { "varchar(\($0))" } ?? "varchar(max)"
        }
    }

    /// The expression type that fits the column.
    public var valueType: ValueType {
        switch self {
        case .integer, .bigint: return .integer
        case .float: return .number
        case .date: return .date
        case .datetime: return .datetime
        case .varchar: return .string
        }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and line ends.
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let f = scalars.first, f == " " || f == "\t" || f == "\n" || f == "\r" { scalars.removeFirst() }
        while let l = scalars.last, l == " " || l == "\t" || l == "\n" || l == "\r" { scalars.removeLast() }
        return String(scalars)
    }
}
