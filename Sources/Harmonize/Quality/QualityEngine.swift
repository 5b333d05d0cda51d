import Foundation

/// Runs data-quality checks against an output database and stores the results in its
/// `harmonize_quality` table. Generic over the target model: the checks (and so which tables and
/// fields they concern) are data, built for OMOP from the DQD control files by the `Mappings` module.
package struct QualityEngine: Sendable {
    /// The checks to run.
    public var checks: [QualityCheck]
    /// Functions available to user rules.
    public var functions: FunctionRegistry
    /// The target model (column types of user-rule tables).
    public var model: TargetModel
    /// The model's person, visit, death and vocabulary tables and columns.
    public var conventions: QualityConventions

    /// Creates an engine.
    public init(checks: [QualityCheck], model: TargetModel, conventions: QualityConventions, functions: FunctionRegistry = .standard) {
        self.checks = checks
        self.model = model
        self.conventions = conventions
        self.functions = functions
    }

    /// A failure to open, read or write the database (not a failing check).
    public struct Failure: Error, CustomStringConvertible, Sendable {
        /// What went wrong (no values).
        public var description: String
    }

    /// Runs every check against the database at `path` (opened read-only).
    public func run(databasePath path: String, today: CivilDate? = nil) throws(Failure) -> QualityReport {
        guard FileManager.default.fileExists(atPath: path) else { throw Failure(description: "no such database: \(path)") }
        let db: SQLiteOutputConnection
        do {
            db = try SQLiteOutputConnection(path: path, readOnly: true)
        } catch {
            throw Failure(description: error.description)
        }
        return try run(on: db, runID: nil, today: today)
    }

    /// Runs every check against an output (a SQLite file, a PostgreSQL schema or a run's staging
    /// schema), for `runID` (nil: the output's latest run).
    package func run(on db: any OutputConnection, runID given: String?, today: CivilDate? = nil) throws(Failure) -> QualityReport {
        let facts: QualitySQL.Facts
        let rowCounts: [String: Int]
        let runID: String?
        do {
            let checkedTables = Set(checks.map(\.table))
            var columns: [String: Set<String>] = [:]
            var counts: [String: Int] = [:]
            for (name, cols) in try db.tableColumns() {
                columns[name] = Set(cols)
                // Row counts only for checked tables (not, say, a large harmonize_lineage).
                guard checkedTables.contains(name) else { continue }
                if let n = try db.rows("SELECT count(*) FROM \(db.dialect.quote(name))", []).first?.first?.intValue { counts[name] = n }
            }
            let now = Int(Date().timeIntervalSince1970) / 86_400
            facts = QualitySQL.Facts(
                columns: columns, today: today ?? CivilDate(daysSinceEpoch: now), conventions: conventions, dialect: db.dialect)
            rowCounts = counts
            var latest = given
            if given == nil, columns["harmonize_run"] != nil {
                latest = try db.rows("SELECT run_id FROM harmonize_run ORDER BY \(db.dialect.latestRunOrder) LIMIT 1", []).first?.first?.text
            }
            runID = latest
        } catch {
            throw Failure(description: "cannot read the tables of \(db.name): \(error)")
        }
        let vocabulary = Set(checks.filter { $0.type == .cdmTable && $0.parameters["schema"]?.uppercased() == "VOCAB" }.map(\.table))
        var results: [QualityResult] = []
        // Concept-level checks are many (one per concept); the concepts present in a field are read
        // once, so that checks on absent concepts need no scan.
        var present: [String: Set<Int>] = [:]
        for c in checks {
            if c.type == .plausibleUnitConceptIds, let f = c.field, let cid = c.conceptID, facts.has(c.table, f), (rowCounts[c.table] ?? 0) > 0 {
                let key = c.table + "." + f
                if present[key] == nil {
                    do {
                        let rows = try db.rows("SELECT DISTINCT \(db.dialect.quote(f)) FROM \(db.dialect.quote(c.table))", [])
                        present[key] = Set(rows.compactMap { $0.first?.intValue })
                    } catch {
                        // Unknown: each check of the field then runs its own query.
                        present[key] = nil
                    }
                }
                if let seen = present[key], !seen.contains(cid) {
                    results.append(QualityResult(check: c, status: .notApplicable, reason: "concept does not occur"))
                    continue
                }
            }
            results.append(evaluate(c, db: db, facts: facts, rowCounts: rowCounts, vocabulary: vocabulary))
        }
        return QualityReport(
            runID: runID, checkedAt: CivilDate.isoDateTimeString(secondsSinceEpoch: Int(Date().timeIntervalSince1970)) + "Z", results: results)
    }

    private func evaluate(
        _ c: QualityCheck, db: any OutputConnection, facts: QualitySQL.Facts, rowCounts: [String: Int], vocabulary: Set<String>
    ) -> QualityResult {
        func na(_ reason: String) -> QualityResult { QualityResult(check: c, status: .notApplicable, reason: reason) }
        switch c.type {
        case .cdmTable:
            if facts.has(c.table) { return QualityResult.evaluate(c, checked: 1, violating: 0) }
            if vocabulary.contains(c.table) { return na("vocabulary table not loaded in the output") }
            if c.parameters["isRequired"]?.lowercased() == "yes" {
                var r = QualityResult.evaluate(c, checked: 1, violating: 1)
                r.reason = "required table missing from the output"
                return r
            }
            return na("table not written by this run")
        case .cdmField:
            guard facts.has(c.table) else { return na("table not in the output") }
            return QualityResult.evaluate(c, checked: 1, violating: facts.has(c.table, c.field ?? "") ? 0 : 1)
        case .userRule:
            return UserRuleEvaluator(check: c, model: model, functions: functions).evaluate(db: db, facts: facts)
        default:
            break
        }
        guard facts.has(c.table) else { return na("table not in the output") }
        guard (rowCounts[c.table] ?? 0) > 0 else { return na("table is empty") }
        if let f = c.field, !facts.has(c.table, f) { return na("field not in the table") }
        switch QualitySQL.query(for: c, facts: facts) {
        case .failure(let n):
            return na(n.reason)
        case .success(let q):
            do {
                let row = try db.rows(q.sql, q.arguments).first ?? []
                let violating = row.first?.intValue ?? 0
                let checked = row.count > 1 ? (row[1].intValue ?? 0) : 0
                if checked == 0 { return na("no rows to check") }
                return QualityResult.evaluate(c, checked: checked, violating: violating)
            } catch {
                return QualityResult(check: c, status: .error, reason: error.description)
            }
        }
    }

    /// Stores a report in `harmonize_quality`, replacing earlier results of the same run.
    public static func store(_ report: QualityReport, databasePath path: String) throws(Failure) {
        let db: SQLiteOutputConnection
        do {
            db = try SQLiteOutputConnection(path: path, readOnly: false)
        } catch {
            throw Failure(description: "cannot store quality results in \(path): \(error)")
        }
        try store(report, on: db)
    }

    /// The columns of `harmonize_quality` (PostgreSQL adds `position`, the check's rank: its
    /// tables have no row order).
    static let sqliteQualityTable = """
        CREATE TABLE IF NOT EXISTS harmonize_quality (
          run_id TEXT, check_id TEXT NOT NULL, check_name TEXT NOT NULL, category TEXT NOT NULL, subcategory TEXT,
          table_name TEXT NOT NULL, field_name TEXT, concept_id INTEGER, unit_concept_id INTEGER, threshold REAL NOT NULL,
          status TEXT NOT NULL, rows_checked INTEGER NOT NULL, rows_violating INTEGER NOT NULL, pct_violating REAL NOT NULL,
          reason TEXT, checked_at TEXT NOT NULL)
        """

    /// Stores a report in the output's `harmonize_quality` (created when missing), replacing
    /// earlier results of the same run, in one transaction.
    package static func store(_ report: QualityReport, on db: any OutputConnection) throws(Failure) {
        let postgres = db.dialect == .postgresql
        let width = postgres ? 17 : 16
        let rows: [[Value]] = report.results.enumerated().map { i, r in
            let c = r.check
            var values: [Value] = [
                report.runID.map(Value.string) ?? .null, .string(c.id), .string(c.type.rawValue), .string(c.type.category),
                .string(c.type.subcategory), .string(c.table), c.field.map(Value.string) ?? .null, c.conceptID.map(Value.int) ?? .null,
                c.unitConceptID.map(Value.int) ?? .null, .double(c.threshold), .string(r.status.rawValue), .int(r.rowsChecked),
                .int(r.rowsViolating), .double(r.percentViolating), r.reason.map(Value.string) ?? .null, .string(report.checkedAt),
            ]
            if postgres { values.append(.int(i + 1)) }
            return values
        }
        do {
            try db.execute(postgres ? PostgreSQLDDL.qualityTable(schema: nil) : sqliteQualityTable)
            try db.inTransaction { () throws(OutputReadError) in
                _ = try db.rows(
                    "DELETE FROM harmonize_quality WHERE run_id \(postgres ? "IS NOT DISTINCT FROM" : "IS") ?1",
                    [report.runID.map(Value.string) ?? .null])
                // 50 rows per statement.
                let row = "(" + Array(repeating: "?", count: width).joined(separator: ",") + ")"
                var start = 0
                while start < rows.count {
                    let chunk = rows[start..<min(start + 50, rows.count)]
                    _ = try db.rows(
                        "INSERT INTO harmonize_quality VALUES " + Array(repeating: row, count: chunk.count).joined(separator: ","),
                        chunk.flatMap { $0 })
                    start += chunk.count
                }
            }
        } catch {
            throw Failure(description: "cannot store quality results in \(db.name): \(error)")
        }
    }
}

extension Value {
    /// The integer, if the value is one (or a whole double).
    var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d): return d.rounded() == d ? Int(d) : nil
        default: return nil
        }
    }
}
