import Foundation

/// A failure that stops a vocabulary load or the opening of a store. Names files, lines and
/// columns, never cell values.
public struct VocabularyError: Error, Sendable, CustomStringConvertible {
    /// Why it stopped: decides the CLI exit code.
    public enum Kind: String, Sendable {
        /// A missing `CONCEPT.csv`, a missing required column, a file that is not a store (exit 2).
        case configuration
        /// Reading a file or writing the store failed (exit 3).
        case io
    }

    /// The kind.
    public var kind: Kind
    /// The message.
    public var message: String

    /// Creates the error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// What a vocabulary load did: rows loaded and rejected per file, and the first rejects.
package struct VocabularyLoadReport: Sendable, Codable, Hashable {
    /// One file of the download.
    public struct FileEntry: Sendable, Codable, Hashable {
        /// The file name as found in the folder (e.g. `CONCEPT.csv`).
        public var file: String
        /// The store table it was loaded into.
        public var table: String
        /// `tab` or `,`.
        public var delimiter: String
        /// Rows inserted.
        public var rows: Int
        /// Rows rejected (bad cell count, a non-integer id, a date that is neither `yyyyMMdd` nor
        /// `yyyy-MM-dd`, a duplicate `concept_id`).
        public var rejected: Int
        /// SHA-256 of the file's bytes.
        public var sha256: String
    }

    /// One rejected row: where and why, never the value.
    public struct Reject: Sendable, Codable, Hashable {
        /// File name.
        public var file: String
        /// 1-based physical line.
        public var line: Int
        /// The column concerned, when one is.
        public var column: String?
        /// A reason code (`missing-cell`, `extra-cell`, `type-error`, `required-missing`,
        /// `duplicate-concept-id`, `encoding-error`, …).
        public var reason: String
    }

    /// Files loaded, in load order.
    public var files: [FileEntry]
    /// The first rejects (at most `VocabularyLoader.rejectsKept`).
    public var rejects: [Reject]
    /// Total rows rejected.
    public var rejectedCount: Int { files.reduce(0) { $0 + $1.rejected } }
}

/// Loads an OMOP vocabulary in the Athena download format into an indexed SQLite store.
///
/// The folder holds `CONCEPT.csv` (required), and when present `CONCEPT_RELATIONSHIP.csv`,
/// `CONCEPT_ANCESTOR.csv`, `VOCABULARY.csv` and `SOURCE_TO_CONCEPT_MAP.csv` (file names matched
/// case-insensitively). Each file is tab-delimited without quoting (as Athena ships it) or
/// comma-delimited with RFC 4180 quotes (as some exports are), detected from its header line;
/// header names may be upper- or lower-case; dates are `yyyyMMdd` (Athena) or `yyyy-MM-dd` and
/// are stored as ISO text; an empty cell is null.
///
/// Rows are streamed with `DelimitedReader` through prepared inserts in large transactions: no row
/// is kept in memory, so a full download (tens of millions of rows) loads in flat memory. Indexes
/// are built after the load; the store is written to a staging file next to the output and renamed
/// over it only when the load succeeds, like `SQLiteSink`.
package enum VocabularyLoader {
    /// How many rejects the report keeps (the count is always complete).
    public static let rejectsKept = 100

    enum Kind { case int, text, date }

    struct Column {
        let name: String
        let kind: Kind
        let required: Bool
    }

    struct TableSpec {
        let file: String
        let table: String
        let required: Bool
        let columns: [Column]
        let ddl: String
    }

    static func c(_ name: String, _ kind: Kind, required: Bool = false) -> Column { Column(name: name, kind: kind, required: required) }

    static let tables: [TableSpec] = [
        TableSpec(
            file: "CONCEPT.csv", table: "concept", required: true,
            columns: [
                c("concept_id", .int, required: true), c("concept_name", .text), c("domain_id", .text, required: true),
                c("vocabulary_id", .text, required: true), c("concept_class_id", .text), c("standard_concept", .text),
                c("concept_code", .text, required: true), c("valid_start_date", .date), c("valid_end_date", .date), c("invalid_reason", .text),
            ],
            ddl: """
                CREATE TABLE concept (concept_id INTEGER PRIMARY KEY, concept_name TEXT, domain_id TEXT NOT NULL, vocabulary_id TEXT NOT NULL,
                  concept_class_id TEXT, standard_concept TEXT, concept_code TEXT NOT NULL, valid_start_date DATE, valid_end_date DATE, invalid_reason TEXT);
                """),
        TableSpec(
            file: "CONCEPT_RELATIONSHIP.csv", table: "concept_relationship", required: false,
            columns: [
                c("concept_id_1", .int, required: true), c("concept_id_2", .int, required: true), c("relationship_id", .text, required: true),
                c("valid_start_date", .date), c("valid_end_date", .date), c("invalid_reason", .text),
            ],
            ddl: """
                CREATE TABLE concept_relationship (concept_id_1 INTEGER NOT NULL, concept_id_2 INTEGER NOT NULL, relationship_id TEXT NOT NULL,
                  valid_start_date DATE, valid_end_date DATE, invalid_reason TEXT);
                """),
        TableSpec(
            file: "CONCEPT_ANCESTOR.csv", table: "concept_ancestor", required: false,
            columns: [
                c("ancestor_concept_id", .int, required: true), c("descendant_concept_id", .int, required: true),
                c("min_levels_of_separation", .int), c("max_levels_of_separation", .int),
            ],
            ddl: """
                CREATE TABLE concept_ancestor (ancestor_concept_id INTEGER NOT NULL, descendant_concept_id INTEGER NOT NULL,
                  min_levels_of_separation INTEGER, max_levels_of_separation INTEGER);
                """),
        TableSpec(
            file: "VOCABULARY.csv", table: "vocabulary", required: false,
            columns: [
                c("vocabulary_id", .text, required: true), c("vocabulary_name", .text), c("vocabulary_reference", .text),
                c("vocabulary_version", .text), c("vocabulary_concept_id", .int),
            ],
            ddl: """
                CREATE TABLE vocabulary (vocabulary_id TEXT NOT NULL, vocabulary_name TEXT, vocabulary_reference TEXT, vocabulary_version TEXT,
                  vocabulary_concept_id INTEGER);
                """),
        TableSpec(
            file: "SOURCE_TO_CONCEPT_MAP.csv", table: "source_to_concept_map", required: false,
            columns: [
                c("source_code", .text, required: true), c("source_concept_id", .int), c("source_vocabulary_id", .text, required: true),
                c("source_code_description", .text), c("target_concept_id", .int, required: true), c("target_vocabulary_id", .text),
                c("valid_start_date", .date), c("valid_end_date", .date), c("invalid_reason", .text),
            ],
            ddl: """
                CREATE TABLE source_to_concept_map (source_code TEXT NOT NULL, source_concept_id INTEGER, source_vocabulary_id TEXT NOT NULL,
                  source_code_description TEXT, target_concept_id INTEGER NOT NULL, target_vocabulary_id TEXT, valid_start_date DATE,
                  valid_end_date DATE, invalid_reason TEXT);
                """),
    ]

    static let indexes = """
        CREATE INDEX concept_vocabulary_code ON concept (vocabulary_id, concept_code);
        CREATE INDEX concept_relationship_1 ON concept_relationship (concept_id_1, relationship_id);
        CREATE INDEX concept_ancestor_descendant ON concept_ancestor (descendant_concept_id);
        CREATE INDEX concept_ancestor_ancestor ON concept_ancestor (ancestor_concept_id);
        CREATE INDEX source_to_concept_map_code ON source_to_concept_map (source_vocabulary_id, source_code);
        CREATE INDEX vocabulary_id ON vocabulary (vocabulary_id);
        """

    static let bookkeeping = """
        CREATE TABLE harmonize_vocabulary_store (format INTEGER NOT NULL, engine_version TEXT NOT NULL, loaded_at TEXT NOT NULL, report TEXT NOT NULL);
        CREATE TABLE harmonize_vocabulary_file (file TEXT NOT NULL, table_name TEXT NOT NULL, rows INTEGER NOT NULL, rejected INTEGER NOT NULL, sha256 TEXT NOT NULL);
        """

    /// The store format written by this version (checked when a store is opened).
    public static let storeFormat = 1

    /// Loads the download in `directory` into a new store at `output` (replacing it atomically).
    /// - Parameters:
    ///   - transactionRows: rows per transaction (large: the staging file has no journal).
    ///   - progress: called now and then with the file being loaded and the rows inserted so far.
    /// - Returns: rows loaded and rejected per file. Rejected rows do not stop the load.
    /// - Throws: `VocabularyError` (`.configuration` for a folder without `CONCEPT.csv` or a file
    ///   missing a required column; `.io` for read or write failures). The previous store, if
    ///   any, stays untouched.
    @discardableResult
    public static func load(
        directory: String, output: String, transactionRows: Int = 500_000, progress: ((String, Int) -> Void)? = nil
    ) throws(VocabularyError) -> VocabularyLoadReport {
        guard FileOps.isDirectory(directory) else { throw VocabularyError(.configuration, "not a folder: \(directory)") }
        let present: [String]
        do {
            present = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw VocabularyError(.io, "cannot list \(directory)")
        }
        func find(_ name: String) -> String? { present.sorted().first { $0.lowercased() == name.lowercased() } }
        guard find("CONCEPT.csv") != nil else {
            throw VocabularyError(
                .configuration,
                "\(directory): no CONCEPT.csv (an Athena download folder holds CONCEPT.csv, CONCEPT_RELATIONSHIP.csv, VOCABULARY.csv…)")
        }
        let dir = (output as NSString).deletingLastPathComponent
        let base = (output as NSString).lastPathComponent
        let staging = (dir.isEmpty ? "." : dir) + "/.\(base).staging-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        var report = VocabularyLoadReport(files: [], rejects: [])
        do throws(VocabularyError) {
            let db: SQLiteConnection
            do {
                db = try SQLiteConnection(path: staging)
                try db.execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE; PRAGMA cache_size=-65536;")
                for t in tables { try db.execute(t.ddl) }
                try db.execute(bookkeeping)
            } catch {
                throw VocabularyError(.io, "cannot create the staging store next to \(output): \(error)")
            }
            for t in tables {
                guard let name = find(t.file) else { continue }
                let entry = try loadFile(
                    directory + "/" + name, displayName: name, spec: t, into: db, transactionRows: transactionRows, report: &report,
                    progress: progress)
                report.files.append(entry)
            }
            do {
                try db.execute(indexes)
                try db.execute("PRAGMA analysis_limit=1000; ANALYZE")
                let st = try db.prepare("INSERT INTO harmonize_vocabulary_store VALUES (?,?,?,?)")
                st.bind(.int(storeFormat), at: 1)
                st.bind(.string(HarmonizeVersion.current), at: 2)
                st.bind(.string(Timestamp.now()), at: 3)
                let reportJSON: String
                do {
                    reportJSON = try JSONText.encode(report)
                } catch {
                    throw SQLiteError(code: 1, message: "the load report cannot be encoded as JSON: \(error)", sql: nil)
                }
                st.bind(.string(reportJSON), at: 4)
                try st.step()
                let f = try db.prepare("INSERT INTO harmonize_vocabulary_file VALUES (?,?,?,?,?)")
                for e in report.files {
                    for (i, v) in [Value.string(e.file), .string(e.table), .int(e.rows), .int(e.rejected), .string(e.sha256)].enumerated() {
                        f.bind(v, at: Int32(i + 1))
                    }
                    try f.step()
                    f.reset()
                }
                try db.execute("PRAGMA locking_mode=NORMAL; PRAGMA journal_mode=DELETE;")
            } catch {
                throw VocabularyError(.io, "cannot complete the store: \(error)")
            }
        } catch {
            FileOps.remove(staging)
            throw error
        }
        do {
            try FileOps.fsync(path: staging)
            try FileOps.rename(staging, to: output)
        } catch {
            FileOps.remove(staging)
            throw VocabularyError(.io, "cannot publish \(output): \(error)")
        }
        return report
    }

    /// The delimiter of a file, from its first line: a tab when the line has one, else a comma.
    static func sniffDelimiter(path: String) throws(VocabularyError) -> UInt8 {
        guard let h = FileHandle(forReadingAtPath: path) else { throw VocabularyError(.io, "cannot read \(path)") }
        defer { h.closeAfterReading() }
        let head = (try? h.read(upToCount: 64 << 10)) ?? Data()
        let line = head.prefix { $0 != 10 && $0 != 13 }
        return line.contains(9) ? 9 : UInt8(ascii: ",")
    }

    // swiftlint:disable:next function_body_length
    static func loadFile(
        _ path: String, displayName: String, spec: TableSpec, into db: SQLiteConnection, transactionRows: Int,
        report: inout VocabularyLoadReport, progress: ((String, Int) -> Void)?
    ) throws(VocabularyError) -> VocabularyLoadReport.FileEntry {
        let delimiter = try sniffDelimiter(path: path)
        // Athena's tab-delimited files are not quoted (names may hold a lone `"`); comma exports are.
        let dialect = Dialect(delimiter: delimiter, quote: delimiter == 9 ? nil : UInt8(ascii: "\""), encoding: .utf8)
        let source: FileByteSource
        do throws(SourceIOError) {
            source = try FileByteSource(path: path)
        } catch {
            throw VocabularyError(.io, "cannot read \(displayName): \(error)")
        }
        let hashing = HashingByteSource(source)
        let reader: DelimitedReader
        do {
            reader = try DelimitedReader(source: hashing, displayName: displayName, dialect: dialect)
        } catch {
            if case .io = error.kind { throw VocabularyError(.io, "\(error)") }
            throw VocabularyError(.configuration, "\(error)")
        }
        var lowered: [String: Int] = [:]
        for (i, n) in reader.columnNames.enumerated() where lowered[n.lowercased()] == nil { lowered[n.lowercased()] = i }
        let positions = spec.columns.map { lowered[$0.name] }
        let missing = zip(spec.columns, positions).filter { $0.0.required && $0.1 == nil }.map(\.0.name)
        if !missing.isEmpty {
            throw VocabularyError(.configuration, "\(displayName): missing column\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", "))")
        }
        let names = spec.columns.map(\.name)
        let sql =
            "INSERT INTO \(spec.table) (\(names.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: names.count).joined(separator: ",")))"
        var entry = VocabularyLoadReport.FileEntry(
            file: displayName, table: spec.table, delimiter: delimiter == 9 ? "tab" : ",", rows: 0, rejected: 0, sha256: "")
        func reject(line: Int, column: String?, reason: String) {
            entry.rejected += 1
            if report.rejects.count < rejectsKept {
                report.rejects.append(.init(file: displayName, line: line, column: column, reason: reason))
            }
        }
        func failed(_ e: SQLiteError) -> VocabularyError { VocabularyError(.io, "cannot load \(displayName) into the store: \(e)") }
        let st: SQLiteStatement
        do throws(SQLiteError) {
            st = try db.prepare(sql)
            try db.execute("BEGIN")
        } catch {
            throw failed(error)
        }
        var inTransaction = 0
        var values = [Value](repeating: .null, count: spec.columns.count)
        rows: while true {
            let event: ReadEvent
            do throws(DelimitedReaderError) {
                event = try reader.next()
            } catch {
                throw VocabularyError(.io, "cannot read \(displayName): \(error)")
            }
            switch event {
            case .end: break rows
            case .rejected(let r):
                reject(line: r.location.line ?? 0, column: r.field, reason: r.reason.rawValue)
                continue rows
            case .record: break
            }
            let line = reader.location.line ?? 0
            for (k, col) in spec.columns.enumerated() {
                guard let p = positions[k] else {
                    values[k] = .null
                    continue
                }
                let v = reader.withField(p) { bytes in parse(bytes, col.kind) }
                guard let v else {
                    reject(line: line, column: col.name, reason: RejectReason.typeError.rawValue)
                    continue rows
                }
                if v.isNull && col.required {
                    reject(line: line, column: col.name, reason: RejectReason.requiredMissing.rawValue)
                    continue rows
                }
                values[k] = v
            }
            for (k, v) in values.enumerated() { st.bind(v, at: Int32(k + 1)) }
            switch step(st) {
            case .inserted: break
            case .duplicate:
                reject(line: line, column: spec.columns[0].name, reason: "duplicate-concept-id")
                continue rows
            case .failed(let e): throw failed(e)
            }
            entry.rows += 1
            inTransaction += 1
            if inTransaction >= transactionRows {
                do throws(SQLiteError) {
                    try db.execute("COMMIT; BEGIN")
                } catch {
                    throw failed(error)
                }
                inTransaction = 0
                progress?(displayName, entry.rows)
            }
        }
        do throws(SQLiteError) {
            try db.execute("COMMIT")
        } catch {
            throw failed(error)
        }
        progress?(displayName, entry.rows)
        entry.sha256 = hashing.hexDigest()
        return entry
    }

    enum StepOutcome {
        case inserted
        case duplicate
        case failed(SQLiteError)
    }

    /// Runs a prepared insert; a constraint failure (a duplicate `concept_id`) is a duplicate.
    static func step(_ st: SQLiteStatement) -> StepOutcome {
        defer { st.reset() }
        do throws(SQLiteError) {
            try st.step()
            return .inserted
        } catch {
            return error.code & 0xFF == 19 ? .duplicate : .failed(error)
        }
    }

    /// A cell as a value: nil when it does not parse; `.null` when empty.
    @inline(__always)
    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ kind: Kind) -> Value? {
        if b.isEmpty { return .null }
        switch kind {
        case .text:
            return .string(String(decoding: b, as: UTF8.self))
        case .int:
            var i = 0
            var negative = false
            if b[0] == UInt8(ascii: "-") {
                negative = true
                i = 1
            }
            guard i < b.count, b.count - i <= 18 else { return nil }
            var n = 0
            while i < b.count {
                let d = Int(b[i]) - 48
                guard d >= 0 && d <= 9 else { return nil }
                n = n * 10 + d
                i += 1
            }
            return .int(negative ? -n : n)
        case .date:
            func digits(_ from: Int, _ count: Int) -> Int? {
                var n = 0
                for k in from..<(from + count) {
                    let d = Int(b[k]) - 48
                    guard d >= 0 && d <= 9 else { return nil }
                    n = n * 10 + d
                }
                return n
            }
            let y: Int?
            let m: Int?
            let d: Int?
            if b.count == 8 {
                (y, m, d) = (digits(0, 4), digits(4, 2), digits(6, 2))
            } else if b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") {
                (y, m, d) = (digits(0, 4), digits(5, 2), digits(8, 2))
            } else {
                return nil
            }
            guard let y, let m, let d, (1...12).contains(m), d >= 1, d <= CivilDate.daysInMonth(year: y, month: m) else { return nil }
            return .date(CivilDate(year: y, month: m, day: d).daysSinceEpoch)
        }
    }
}
