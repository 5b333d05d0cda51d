/// A stable error or diagnostic code such as `HZ1004`.
///
/// Every code Harmonize reports is declared here, with its meaning, in `ErrorCode.catalogue`;
/// `docs/errors.md` lists them all (a test checks both: each code used in the sources is in the
/// catalogue, and each catalogued code is documented). Ranges: `HZ1xxx` mapping files, target
/// models, profiles, mapping tests and checks files (load and plan); `HZ2xxx` sources and
/// schemas; `HZ3xxx` expressions; `HZ4xxx` validation; `HZ5xxx` sinks; `HZ6xxx` vocabularies;
/// `HZ7xxx` runs (preflight, inputs, output, accounting, privacy).
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The code text, `HZ` and four digits.
    public let rawValue: String

    /// Creates a code from its text.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Creates a code from a literal.
    public init(stringLiteral value: String) { self.rawValue = value }

    /// The code text.
    public var description: String { rawValue }

    /// The meaning of the code, from the catalogue (nil for an undeclared code).
    public var meaning: String? { Self.catalogue.first { $0.code == self }?.meaning }

    /// HZ6101: `vocabulary diff`: a release cannot be opened or read (not a vocabulary store nor an Athena download folder).
    package static let vocabularyDiffStoreUnusable: ErrorCode = "HZ6101"
    /// HZ6102: `vocabulary diff --output`: the output cannot be read (not a Harmonize output, a PostgreSQL schema without a published run).
    package static let vocabularyDiffOutputUnreadable: ErrorCode = "HZ6102"
    /// HZ7001: the run cannot start: an option or the plans are wrong (general configuration code).
    public static let runConfiguration: ErrorCode = "HZ7001"
    /// HZ7002: an input folder or file is missing, or no file matches a mapping's `files:`.
    public static let inputMissing: ErrorCode = "HZ7002"
    /// HZ7003: reading an input or writing the output failed (general I/O code).
    public static let runIO: ErrorCode = "HZ7003"
    /// HZ7004: the output could not be written, derived or published.
    public static let sinkFailed: ErrorCode = "HZ7004"
    /// HZ7005: the books of a file do not balance (read ≠ written + rejected + filtered + excluded + grouped + other shards + duplicates): an internal error.
    public static let booksDoNotBalance: ErrorCode = "HZ7005"
    /// HZ7006: a row of a person on the objection list (`--exclude`) reached the output: nothing is published.
    public static let objectionInOutput: ErrorCode = "HZ7006"
    /// HZ7007: a replay's input changed since the run that rejected its records.
    public static let replayInputChanged: ErrorCode = "HZ7007"
    /// HZ7008: a resource of the run failed while mapping (a vocabulary store or an on-disk index that cannot be read): the run stops.
    public static let runResourceFailed: ErrorCode = "HZ7008"
    /// HZ7009: the vocabulary store cannot be read.
    public static let vocabularyStoreUnreadable: ErrorCode = "HZ7009"
    /// HZ7010: an input changed while the run read it (size, time, identity, or bytes not all read).
    public static let inputChanged: ErrorCode = "HZ7010"
    /// HZ7011: an input is not a regular file (a FIFO, a device, a socket, a folder).
    public static let notARegularFile: ErrorCode = "HZ7011"
    /// HZ7012: another run holds the output's lock.
    public static let outputLocked: ErrorCode = "HZ7012"
    /// HZ7020: a PostgreSQL output URI cannot be used (a password in it, a schema name that is not a plain identifier).
    public static let postgresURIInvalid: ErrorCode = "HZ7020"
    /// HZ7021: the PostgreSQL server cannot be reached or refused a statement of the run.
    public static let postgresFailed: ErrorCode = "HZ7021"
    /// HZ7022: the command does not work on a PostgreSQL output yet.
    public static let postgresUnsupported: ErrorCode = "HZ7022"
    /// HZ7030: the message keys of a mapping that deduplicates (`source: deduplicate:`) outgrew its share of the memory budget.
    static let duplicateKeysOverBudget: ErrorCode = "HZ7030"
    /// HZ7300: `remap`: the output holds no row lineage with vocabulary entries (not run with `--lineage`).
    public static let remapNoLineage: ErrorCode = "HZ7300"
    /// HZ7301: `remap`: a mapping the lineage names is not given, or its file changed since the run.
    public static let remapMappingsDiffer: ErrorCode = "HZ7301"
    /// HZ7302: `remap`: a mapping's rows cannot be recomputed from their lineage (a value needs other source values).
    public static let remapUnsupported: ErrorCode = "HZ7302"
    /// HZ7310: `run --incremental`: the output was replaced after the run compared it (another run published meanwhile).
    public static let incrementalOutputChanged: ErrorCode = "HZ7310"
    /// HZ7100: the preflight found problems: the run did not start (the diagnostics say which).
    public static let preflightFailed: ErrorCode = "HZ7100"
    /// HZ7101: a mapping calls a keyed function (`pseudonym`, `pseudonym_int`, `date_shift`) but the run has no key.
    public static let keyMissing: ErrorCode = "HZ7101"
    /// HZ7102: a mapping calls `date_shift` but the run gives no largest shift (`--date-shift-days`).
    public static let dateShiftMissing: ErrorCode = "HZ7102"
    /// HZ7103: a mapping calls a vocabulary function but the run has no vocabulary store.
    public static let vocabularyMissing: ErrorCode = "HZ7103"
    /// HZ7104: an objection list is given but a mapping does not say whose record it reads (`source: subject:`).
    public static let subjectMissing: ErrorCode = "HZ7104"
    /// HZ7106: a mapping updates rows (`on_conflict: update`) but the output cannot update rows.
    public static let sinkCannotUpdate: ErrorCode = "HZ7106"
    /// HZ7107: two mappings write one table with different definitions (different target models).
    public static let tableDefinitionsDiffer: ErrorCode = "HZ7107"
    /// HZ7108: a call of a mapping cannot run in this run (a lookup file cannot be read, a function lacks what it needs).
    public static let callCannotRun: ErrorCode = "HZ7108"
    /// HZ7201: a split run (`--shard i/N`, N > 1) groups records (`group:`) by keys that do not hold the mapping's subject: a group could span shards.
    public static let shardGroupAcrossSubjects: ErrorCode = "HZ7201"
    /// HZ7202: a split run mixes mappings with and without `source: subject:`, and one without writes rows of persons: they would all land in shard 0, away from their persons.
    public static let shardSubjectMissing: ErrorCode = "HZ7202"
    /// HZ7203: `merge`: a file is not the published output of a shard (`run --shard i/N`).
    public static let mergeNotAShard: ErrorCode = "HZ7203"
    /// HZ7204: `merge`: the shard files are of different runs (run ids, shard counts, mappings or parameters differ).
    public static let mergeRunsDiffer: ErrorCode = "HZ7204"
    /// HZ7205: `merge`: a shard is missing or given twice.
    public static let mergeShardsIncomplete: ErrorCode = "HZ7205"
    /// HZ7206: `split`: an input cannot be split by subject (not a delimited file, no subject, or read by mappings that disagree).
    public static let splitUnsupported: ErrorCode = "HZ7206"
    /// HZ7207: `run --shard i/N`: the shard index is not in `0 ..< N` (or not a number).
    public static let shardOutOfRange: ErrorCode = "HZ7207"
    /// HZ7208: a shard of a run into PostgreSQL does not fit the shards of that run id already committed (another shard count, other mappings or parameters).
    public static let shardRunsDiffer: ErrorCode = "HZ7208"
    /// HZ7209: `publish`: not every shard of the run is in the shard ledger of the PostgreSQL schema; nothing is published.
    public static let shardsNotCommitted: ErrorCode = "HZ7209"

    /// Every code with its meaning, in code order.
    public static let catalogue: [(code: ErrorCode, meaning: String)] = [
        ("HZ1000", "cannot read the mapping file"),
        ("HZ1001", "YAML syntax error"),
        ("HZ1002", "the mapping file is empty"),
        ("HZ1003", "a mapping file must be a YAML mapping"),
        ("HZ1004", "unknown key '…'"),
        ("HZ1005", "mapping format version not supported"),
        ("HZ1006", "missing 'harmonize: 1' (the mapping format version)"),
        ("HZ1007", "'lookups' must map names to lookup tables"),
        ("HZ1008", "'let' must map names to expressions"),
        ("HZ1009", "use either 'target' with 'fields', or 'targets', not both"),
        ("HZ1010", "each entry of 'targets' needs a 'table'"),
        ("HZ1011", "missing 'target' (a table name with 'fields') or 'targets'"),
        ("HZ1012", "missing 'fields' (one expression per target column)"),
        ("HZ1013", "column '…' is mapped twice"),
        ("HZ1014", "missing '…'"),
        ("HZ1015", "'…' must be a non-empty text"),
        ("HZ1016", "expected a single value here"),
        ("HZ1017", "expected an expression (a single text value) here; quote it if it contains ':' or '#'"),
        ("HZ1018", "mapping id '…' is also used by …"),
        ("HZ1020", "missing 'source' (format, files, dialect, schema)"),
        ("HZ1021", "unknown source format '…'"),
        ("HZ1022", "join '…' needs 'files' (a file name or pattern relative to the input folder)"),
        ("HZ1023", "invalid inline schema: …)"),
        ("HZ1024", "'validate' is 'used' (default) or 'all'"),
        ("HZ1025", "cannot read a schema file"),
        ("HZ1026", "'record' applies to hl7v2 and xml sources only"),
        ("HZ1027", "'namespaces' applies to xml sources only"),
        ("HZ1028", "'max-record-bytes' is a positive integer"),
        ("HZ1029", "'on_bad_segment' is 'reject-message' (default) or 'skip-segment', for hl7v2 sources only"),
        ("HZ1030", "'dialect' must be a mapping"),
        ("HZ1031", "'delimiter' must be one character, 'tab' or 'auto'"),
        ("HZ1032", "'header' must be true or false"),
        ("HZ1033", "'columns' must be a list of names"),
        ("HZ1034", "unknown encoding"),
        ("HZ1035", "'skip_lines' must be a count"),
        ("HZ1036", "'ragged_rows' is 'reject' or 'pad'"),
        ("HZ1037", "'stray_quotes' is 'reject' (default) or 'keep'"),
        ("HZ1038", "'deduplicate' is {on: control-id, keep: first | last}, for hl7v2 sources only"),
        ("HZ1040", "lookup '…' must be a mapping (file or input, key, value)"),
        ("HZ1041", "lookup '…' needs 'file' (relative to the mapping) or 'input' (relative to the input folder)"),
        ("HZ1042", "lookup '…' needs 'key' (one or more columns)"),
        ("HZ1043", "lookup '…' needs 'value' (the column it returns)"),
        ("HZ1044", "unknown lookup value type"),
        ("HZ1045", "'on_miss' is 'reject' (default, reason join-missing) or 'null'"),
        ("HZ1046", "lookup '…' is declared twice"),
        ("HZ1050", "named value '…' hides the source field of the same name"),
        ("HZ1051", "named value '…' is declared twice"),
        ("HZ1060", "'joins' must be a list of joined sources"),
        ("HZ1061", "a join needs a 'name' (the prefix of its fields: name.FIELD)"),
        ("HZ1062", "join '…' is declared twice"),
        ("HZ1063", "join '…' needs 'on': its key columns (a list, or column: expression)"),
        ("HZ1064", "join '…' has the name of a source field"),
        ("HZ1065", "'group' must be a mapping (by, aggregate, having)"),
        ("HZ1066", "'aggregate' maps names to sum(…), count(), min(…), max(…), first(…) or last(…)"),
        ("HZ1067", "group name '…' is used twice"),
        ("HZ1068", "sum(…) of '…' needs a number, not …"),
        ("HZ1070", "a 'derive:' mapping has no '…' (it reads what the run's other mappings wrote)"),
        ("HZ1071", "unknown derivation '…'"),
        ("HZ1072", "'from' must be a list of table names"),
        ("HZ1073", "the target model has no table …"),
        (
            "HZ1080",
            "a path a mapping reads (`files:`, lookup `file:` or `input:`) is absolute, starts with `~` or has a `..` component: it must stay inside its folder"
        ),
        (
            "HZ1081",
            "a file a mapping reads resolves, through symbolic links, outside its folder (`--input`, or the mapping's folder for lookup files)"
        ),
        ("HZ1100", "cannot read the target model"),
        ("HZ1101", "a target model must be a YAML mapping"),
        ("HZ1102", "target-model format version not supported"),
        ("HZ1103", "a table needs a name"),
        ("HZ1104", "a column of table … needs a name"),
        ("HZ1105", "column ….… has an unknown type '…'"),
        ("HZ1106", "references of ….… must read table.column"),
        ("HZ1107", "the target model declares no table"),
        ("HZ1197", "a target model's `orphans:` must name a table.column of the model (person.person_id)"),
        ("HZ1201", "unknown target table '…' in model … …"),
        ("HZ1202", "table '…' has no column '…'"),
        ("HZ1203", "required column '…' of table '…' has no expression"),
        ("HZ1205", "table '…' is targeted twice by this mapping"),
        ("HZ1206", "'update' is a list of column names"),
        ("HZ1207", "on_conflict is 'insert' (the default) or 'update', not '…'"),
        ("HZ1208", "table '…' has no primary key: its rows cannot be updated (on_conflict: update)"),
        ("HZ1209", "'update' lists the columns an update may overwrite: it needs 'on_conflict: update'"),
        ("HZ1210", "table '…' is targeted twice with different on_conflict/update"),
        ("HZ1298", "warning: `value_as_string` copies a field named like a name, an address or free text (identifying text in the output)"),
        ("HZ1300", "cannot read the profile"),
        ("HZ1301", "a profile must be a YAML mapping"),
        ("HZ1302", "profile format version not supported"),
        ("HZ1309", "a profile's dialect sets a key it cannot set (delimiter, quote, encoding and header only)"),
        ("HZ1310", "the profile changes a table that no mapping of the run reads (tables are named by their schema file)"),
        ("HZ1311", "the profile changes a field that the table's schema does not have"),
        ("HZ1312", "a profile key has a value of the wrong kind (a text, a list of texts, a mapping)"),
        ("HZ1313", "a profile field takes 'constraints' (merged) or 'replace_constraints' (replacing), not both"),
        ("HZ1400", "'tests' must be a list of cases"),
        ("HZ1401", "each test case must be a mapping (name, records or file, expect…)"),
        ("HZ1402", "test case name '…' is used twice"),
        ("HZ1403", "'file' must be a path relative to the mapping file"),
        ("HZ1404", "'lookups' must map lookup names to lists of rows"),
        ("HZ1405", "expected rows of '…' must be a list (use [] for no rows)"),
        ("HZ1406", "an expected value must be a single value (or null)"),
        ("HZ1407", "unknown reject reason, or 'rejects' is not a list of reason codes"),
        ("HZ1408", "'filtered' must be a count"),
        ("HZ1409", "test case '…' expects nothing: give 'expect', 'rejects' or 'filtered'"),
        ("HZ1410", "the mapping writes no table '…'"),
        ("HZ1411", "table '…' has no column '…'"),
        ("HZ1412", "the mapping has no lookup '…'"),
        ("HZ1413", "the source has no field '…'"),
        ("HZ1414", "inline 'records' in a test case are for csv sources"),
        ("HZ1600", "cannot read the checks file"),
        ("HZ1601", "a checks file needs 'checks:' (a list)"),
        ("HZ1602", "checks format version not supported"),
        ("HZ1603", "each check must be a mapping with name, table and rule"),
        ("HZ1604", "unknown key in a check"),
        ("HZ1605", "check name '…' is used twice"),
        ("HZ1606", "unknown table '…'"),
        ("HZ1607", "join key '…' must be a column of both … and …"),
        ("HZ1608", "threshold must be a percentage between 0 and 100"),
        ("HZ2001", "a field has an empty name"),
        ("HZ2002", "type '…' is not decoded; values are read as text"),
        ("HZ2003", "invalid date or time format in a schema field"),
        ("HZ2004", "constraint 'pattern' is not a valid regular expression"),
        ("HZ2005", "primaryKey names unknown field '…'"),
        ("HZ2006", "constraint '…' has a value that is not a valid …"),
        ("HZ2007", "… must be one ASCII character that is not a digit"),
        ("HZ2008", "… value(s) are both in trueValues and falseValues; read as true"),
        ("HZ2009", "format '…' has no year; values read as in strptime, in 1900"),
        ("HZ3001", "syntax error: …"),
        ("HZ3002", "unknown identifier '…'"),
        ("HZ3003", "unknown function '…'"),
        ("HZ3004", "wrong number of arguments"),
        ("HZ3005", "type mismatch"),
        ("HZ3006", "argument … of '…' must be a literal"),
        ("HZ3007", "invalid literal argument (pattern, format, vocabulary id)"),
        ("HZ3008", "unknown lookup '…'"),
        ("HZ3009", "a constant expression fails at compile time"),
        ("HZ6101", "`vocabulary diff`: a release cannot be opened or read (not a vocabulary store nor an Athena download folder)"),
        ("HZ6102", "`vocabulary diff --output`: the output cannot be read (not a Harmonize output, a PostgreSQL schema without a published run)"),
        ("HZ7001", "the run cannot start: an option or the plans are wrong (general configuration code)"),
        ("HZ7002", "an input folder or file is missing, or no file matches a mapping's `files:`"),
        ("HZ7003", "reading an input or writing the output failed (general I/O code)"),
        ("HZ7004", "the output could not be written, derived or published"),
        (
            "HZ7005",
            "the books of a file do not balance (read ≠ written + rejected + filtered + excluded + grouped + other shards + duplicates): an internal error"
        ),
        ("HZ7006", "a row of a person on the objection list (`--exclude`) reached the output: nothing is published"),
        ("HZ7007", "a replay's input changed since the run that rejected its records"),
        ("HZ7008", "a resource of the run failed while mapping (a vocabulary store or an on-disk index that cannot be read): the run stops"),
        ("HZ7009", "the vocabulary store cannot be read"),
        ("HZ7010", "an input changed while the run read it (size, time, identity, or bytes not all read): nothing is published"),
        ("HZ7011", "an input is not a regular file (a FIFO, a device, a socket, a folder): refused before reading"),
        ("HZ7012", "another run holds the output's lock: this run stops before writing"),
        ("HZ7020", "a PostgreSQL output URI cannot be used (a password in it, a schema name that is not a plain identifier)"),
        ("HZ7021", "the PostgreSQL server cannot be reached or refused a statement of the run: nothing is published"),
        ("HZ7022", "the command does not work on a PostgreSQL output yet: it refuses before reading anything"),
        (
            "HZ7030",
            "the message keys of a mapping that deduplicates (`source: deduplicate:`) outgrew its share of the memory budget: the run stops (raise `--memory-budget`)"
        ),
        ("HZ7100", "the preflight found problems: the run did not start (the diagnostics say which)"),
        ("HZ7101", "a mapping calls a keyed function (`pseudonym`, `pseudonym_int`, `date_shift`) but the run has no key"),
        ("HZ7102", "a mapping calls `date_shift` but the run gives no largest shift (`--date-shift-days`)"),
        ("HZ7103", "a mapping calls a vocabulary function but the run has no vocabulary store"),
        ("HZ7104", "an objection list is given but a mapping does not say whose record it reads (`source: subject:`)"),
        ("HZ7106", "a mapping updates rows (`on_conflict: update`) but the output cannot update rows"),
        ("HZ7107", "two mappings write one table with different definitions (different target models)"),
        ("HZ7108", "a call of a mapping cannot run in this run (a lookup file cannot be read, a function lacks what it needs)"),
        ("HZ7201", "a split run (`--shard i/N`, N > 1) groups records (`group:`) by keys that do not hold the mapping's subject"),
        ("HZ7202", "a split run mixes mappings with and without `source: subject:`, and one without writes rows of persons"),
        ("HZ7203", "`merge`: a file is not the published output of a shard (`run --shard i/N`)"),
        ("HZ7204", "`merge`: the shard files are of different runs (run ids, shard counts, mappings or parameters differ)"),
        ("HZ7205", "`merge`: a shard is missing or given twice"),
        ("HZ7206", "`split`: an input cannot be split by subject (not a delimited file, no subject, or mappings that disagree)"),
        ("HZ7207", "`run --shard i/N`: the shard index is not in 0 ..< N (or not a number)"),
        (
            "HZ7208",
            "a shard of a run into PostgreSQL does not fit the shards of that run id already committed (another shard count, other mappings or parameters): refused, nothing committed"
        ),
        ("HZ7209", "`publish`: not every shard of the run is in the shard ledger of the PostgreSQL schema: nothing is published"),
        ("HZ7300", "`remap`: the output holds no row lineage with vocabulary entries (it was not written with `run --lineage`): nothing is written"),
        ("HZ7301", "`remap`: a mapping named by the output's lineage is not given, or its file changed since the run (SHA-256): nothing is written"),
        (
            "HZ7302",
            "`remap`: rows of a mapping cannot be recomputed from their lineage (a value or a routing needs source values other than the recorded codes): nothing is written"
        ),
        (
            "HZ7310",
            "`run --incremental`: the output was replaced by another run after this one compared it with its inputs: nothing is published, run again"
        ),
    ]
}
