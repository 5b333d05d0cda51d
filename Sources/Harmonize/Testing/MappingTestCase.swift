/// One case of a mapping's `tests:` list: input records, optional lookup rows, and what the mapping
/// must produce (rows per target table, reject reasons, filtered count).
package struct MappingTestCase: Sendable {
    /// A cell a case expects: null, or a text compared with the actual value's canonical text
    /// (numbers compare numerically, so `82.4` matches `82.40`).
    public enum ExpectedValue: Sendable, Hashable, CustomStringConvertible {
        /// The cell must be null.
        case null
        /// The cell's canonical text (`Value.description`) must equal this.
        case text(String)

        /// `null`, or the text.
        public var description: String {
            switch self {
            case .null: return "null"
            case .text(let t): return t
            }
        }
    }

    /// The records a case feeds the mapping.
    public enum Input: Sendable {
        /// Inline records: field name → cell text (absent fields are empty cells).
        case records([[String: String]])
        /// A fixture file in the source's own format, resolved against the mapping file.
        case file(String)
        /// Source text in the source's own format, given inline (`text:`): HL7 v2 message(s), an
        /// XML document, or delimited text. Read as UTF-8 by the source's reader.
        case text(String)
    }

    /// Expected rows for one target table, in output order.
    public struct ExpectedTable: Sendable {
        /// The target table.
        public var table: String
        /// Each row: only the fields the case cares about.
        public var rows: [[(field: String, value: ExpectedValue)]]
    }

    /// The case's name (unique in the mapping).
    public var name: String
    /// 1-based line of the case in the mapping file.
    public var line: Int
    /// 1-based column of the case in the mapping file.
    public var column: Int
    /// The records.
    public var input: Input
    /// Lookup name → rows (column → text) replacing the lookup's file for this case.
    public var lookups: [String: [[String: String]]]
    /// Join name → the joined rows (column → text) for this case (joins read the input folder in runs).
    public var joins: [String: [[String: String]]] = [:]
    /// Expected rows per table; tables not listed are not checked.
    public var expected: [ExpectedTable]
    /// Expected reject reason codes in record order (`type-error`…); nil means "no rejects".
    public var rejects: [String]?
    /// Expected number of filtered records, when the case says.
    public var filtered: Int?

    /// Creates a case.
    public init(
        name: String, line: Int = 0, column: Int = 0, input: Input, lookups: [String: [[String: String]]] = [:], expected: [ExpectedTable] = [],
        rejects: [String]? = nil, filtered: Int? = nil
    ) {
        self.name = name
        self.line = line
        self.column = column
        self.input = input
        self.lookups = lookups
        self.expected = expected
        self.rejects = rejects
        self.filtered = filtered
    }
}
