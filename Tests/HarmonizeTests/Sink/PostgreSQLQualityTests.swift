import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// The data-quality checks, `quality`, `trace`, `report` and `risk` on a PostgreSQL output
/// (issue 14), against a real server (`PostgresTestServer`): the bundled SNDS and hospital
/// fixtures run from the command line into SQLite and into PostgreSQL give the same check results,
/// traces, report and risk figures; the checks run on the staging schema, before publication.
@Suite(.serialized) struct PostgreSQLQualityTests {
    struct Fixture: Sendable, CustomStringConvertible {
        var label: String
        var mappings: String
        var input: String
        var extra: [String]
        var description: String { label }
    }

    static let snds = Fixture(
        label: "snds", mappings: "mappings/snds", input: "fixtures/snds/input", extra: ["--vocabulary", TestSupport.path("fixtures/vocabulary")])
    static let hospital = Fixture(label: "hospital", mappings: "mappings/hospital", input: "fixtures/hospital", extra: ["--keep-orphans"])
    static let environment = ["HZ_PGQ_KEY": String(repeating: "k", count: 32)]

    /// `harmonize-run run` of a fixture, with lineage, every reject tolerated.
    static func run(_ f: Fixture, output: String, runID: String, _ extra: [String] = []) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path(f.mappings), "--input", TestSupport.path(f.input), "--output", output, "--run-id", runID,
                "--key-env", "HZ_PGQ_KEY", "--lineage", "--no-progress", "--max-reject-rate", "1",
            ] + f.extra + extra, environment: environment)
    }

    /// A fixture run into a SQLite file and into a fresh schema with the same run id.
    struct Outputs {
        var sqlite: String
        var postgres: String
        var uri: String
        var schema: String
        var runID: String
        var sqliteRun: TestSupport.CommandResult
        var postgresRun: TestSupport.CommandResult
    }

    static func both(_ f: Fixture, uri: String, _ extra: [String] = []) throws -> Outputs {
        let schema = PostgresTestServer.schema("q" + f.label)
        let runID = "pgq-\(f.label)-\(UInt32.random(in: 0...UInt32.max))"
        let sqlite = TestSupport.temporaryDirectory("pgq-" + f.label) + "/omop.sqlite"
        let postgres = PostgresTestServer.output(uri, schema: schema)
        let a = try run(f, output: sqlite, runID: runID, extra)
        let b = try run(f, output: postgres, runID: runID, extra)
        return Outputs(sqlite: sqlite, postgres: postgres, uri: uri, schema: schema, runID: runID, sqliteRun: a, postgresRun: b)
    }

    /// `check id|status|checked|violating` of the stored results of a run, sorted.
    static func stored(sqlite path: String, runID: String) throws -> [String] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        return try db.query("SELECT check_id, status, rows_checked, rows_violating FROM harmonize_quality WHERE run_id = ?1", [.string(runID)]).map {
            $0.map(\.description).joined(separator: "|")
        }.sorted()
    }

    static func stored(postgres uri: String, schema: String, runID: String) throws -> [String] {
        try PostgresTestServer.connect(uri).query(
            "SELECT check_id, status, rows_checked::text, rows_violating::text FROM \(schema).harmonize_quality WHERE run_id = $1", [runID]
        ).map { $0.map { $0 ?? "" }.joined(separator: "|") }.sorted()
    }

    // MARK: - Without a server

    @Test func placeholdersAreNumberedAsSQLiteNumbersThem() {
        #expect(
            PostgreSQLOutputConnection.numbered("SELECT ? , ?3, ?, '?', \"a?\" FROM t WHERE x = ?1")
                == "SELECT $1 , $3, $4, '?', \"a?\" FROM t WHERE x = $1")
        #expect(PostgreSQLOutputConnection.numbered("SELECT 1") == "SELECT 1")
    }

    @Test func everyCheckHasItsSQLInPostgreSQLsDialect() throws {
        let model = try Mappings.omopModel()
        let checks = try Mappings.omopQualityChecks(model: model)
        var columns: [String: Set<String>] = [:]
        for t in model.tables { columns[t.name] = Set(t.columns.map(\.name)) }
        var written = 0
        var types: Set<QualityCheckType> = []
        for dialect in [OutputDialect.sqlite, .postgresql] {
            let facts = QualitySQL.Facts(
                columns: columns, today: CivilDate(year: 2026, month: 12, day: 4), conventions: Mappings.omopQualityConventions, dialect: dialect)
            for c in checks {
                guard case .success(let q) = QualitySQL.query(for: c, facts: facts) else { continue }
                if dialect == .postgresql {
                    // None of SQLite's own functions; numbers compared as numbers.
                    for word in ["date(", "typeof(", "printf(", " days')", " day')"] { #expect(!q.sql.contains(word), "\(c.id): \(q.sql)") }
                    types.insert(c.type)
                    written += 1
                } else {
                    #expect(!q.sql.contains("CAST("), "\(c.id)")
                }
            }
        }
        #expect(written > 1000)
        for t in [QualityCheckType.plausibleBeforeDeath, .withinVisitDates, .measureObservationPeriodOverlap, .plausibleAfterBirth, .cdmDatatype] {
            #expect(types.contains(t), "\(t)")
        }
    }

    // MARK: - With a server

    @Test func qualityWaitsForNoRunAndSaysSo() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let o = try Self.both(Self.hospital, uri: uri)
        defer { PostgresTestServer.drop(uri, schema: o.schema) }
        #expect(o.postgresRun.status == 0, "\(o.postgresRun.stderr)")
        // A session holding the schema's run lock, as a run does while it writes.
        let run = try PostgresTestServer.connect(uri)
        try run.query("SELECT pg_advisory_lock(\(PostgreSQLSink.targetLockClass), hashtext($1))", [o.schema])
        let busy = try TestSupport.runCLI(["quality", "--output", o.postgres])
        #expect(busy.status == 3, "\(busy.stderr)")
        #expect(busy.stderr.contains("a run is writing schema"))
        run.close()
        let free = try TestSupport.runCLI(["quality", "--output", o.postgres])
        #expect(free.status == 0 || free.status == 1, "\(free.stderr)")
        #expect(free.stderr.contains("quality: "))
        let empty = PostgresTestServer.output(uri, schema: PostgresTestServer.schema("noruns"))
        let none = try TestSupport.runCLI(["quality", "--output", empty])
        #expect(none.status == 3)
        #expect(none.stderr.contains("no published Harmonize run"))
    }

    static func qualityLine(_ stderr: String) -> String? {
        stderr.split(separator: "\n").first { $0.hasPrefix("quality: ") }.map(String.init)
    }

    @Test(arguments: [snds, hospital])
    func theChecksOnPostgreSQLGiveTheSameResultsAsOnSQLite(_ f: Fixture) throws {
        guard let uri = PostgresTestServer.uri("checks-\(f.label)") else { return }
        let o = try Self.both(f, uri: uri)
        defer { PostgresTestServer.drop(uri, schema: o.schema) }
        #expect(o.sqliteRun.status == 0, "\(o.sqliteRun.stderr)")
        #expect(o.postgresRun.status == 0, "\(o.postgresRun.stderr)")
        let line = try #require(Self.qualityLine(o.postgresRun.stderr), "\(o.postgresRun.stderr)")
        #expect(line == Self.qualityLine(o.sqliteRun.stderr))
        #expect(!o.postgresRun.stderr.contains("HZ7022"))
        let lite = try Self.stored(sqlite: o.sqlite, runID: o.runID)
        let pg = try Self.stored(postgres: uri, schema: o.schema, runID: o.runID)
        #expect(lite.count > 100)
        #expect(pg == lite, "\(Set(pg).symmetricDifference(lite).sorted().prefix(10))")
        // Checks that looked at rows, not only not-applicable ones, and no SQL error.
        #expect(pg.contains { $0.contains("|passed|") && !$0.hasSuffix("|0|0") })
        #expect(!pg.contains { $0.contains("|error|") }, "\(pg.filter { $0.contains("|error|") })")
        // Nothing of the run is left in a staging schema.
        #expect(try PostgresTestServer.stagingSchemas(uri, runID: o.runID).isEmpty)
        // `quality` reruns them on the published schema: same results, same exit code.
        let q = try TestSupport.runCLI(["quality", "--output", o.postgres, "--json", "-"])
        let ql = try TestSupport.runCLI(["quality", "--output", o.sqlite, "--json", "-"])
        #expect(q.status == ql.status, "\(q.stderr)")
        #expect(q.status == 0 || q.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as? [String: Any])
        #expect(json["run_id"] as? String == o.runID)
        let checks = try #require(json["checks"] as? [[String: Any]])
        let rerun = checks.map { c in
            ["id", "status", "rows_checked", "rows_violating"].map { "\(c[$0] ?? "")" }.joined(separator: "|")
        }.sorted()
        #expect(rerun == lite)
        #expect(try Self.stored(postgres: uri, schema: o.schema, runID: o.runID) == lite)
    }

    @Test func failOnQualityExitsOneAsOnSQLiteAndACheckThatCannotRunPublishesNothing() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let dir = TestSupport.temporaryDirectory("pgq-fail")
        TestSupport.write("checks:\n  - {name: impossible, table: person, rule: \"person_id < 0\"}\n", to: dir + "/checks.yaml")
        let f = Self.hospital
        let o = try Self.both(f, uri: uri)
        defer { PostgresTestServer.drop(uri, schema: o.schema) }
        #expect(o.postgresRun.status == 0, "\(o.postgresRun.stderr)")
        let db = try PostgresTestServer.connect(uri)
        // A failing user check with --fail-on-quality: exit 1 on both outputs, as SQLite does
        // (the run is published; its results say which check failed).
        let strictArgs = ["--checks", dir + "/checks.yaml", "--fail-on-quality"]
        let liteStrict = try Self.run(f, output: dir + "/strict.sqlite", runID: "strict", strictArgs)
        let pgStrict = try Self.run(f, output: o.postgres, runID: "strict", strictArgs)
        #expect(liteStrict.status == 1, "\(liteStrict.stderr)")
        #expect(pgStrict.status == 1, "\(pgStrict.stderr)")
        #expect(pgStrict.stderr.contains("userRule.impossible"))
        #expect(
            try db.scalar("SELECT status FROM \(o.schema).harmonize_quality WHERE run_id = 'strict' AND check_id = 'userRule.impossible'") == "failed"
        )
        #expect(
            try Self.stored(postgres: uri, schema: o.schema, runID: "strict") == (try Self.stored(sqlite: dir + "/strict.sqlite", runID: "strict")))
        // Checks that cannot run (here: the hook fails) stop the publication: the schema keeps
        // the CDM and books it had.
        let runs = try db.scalar("SELECT count(*) FROM \(o.schema).harmonize_run")
        let before = try PostgresTestServer.content(uri, schema: o.schema)
        let target = try PostgreSQLTarget(parsing: o.postgres)
        let sink = PostgreSQLSink(target: target, runID: "unpublished")
        final class Seen { var tables: [String: [String]] = [:] }
        let seen = Seen()
        sink.beforePublish = { staging throws(SinkError) in
            // The staging schema holds the run's tables, seen before the target's.
            do {
                seen.tables = try PostgreSQLOutputConnection(staging: staging).tableColumns()
            } catch {
                throw SinkError("cannot read the staging schema: \(error)")
            }
            throw SinkError("checks could not run")
        }
        var options = RunOptions.keyed(TestSupport.path(f.input))
        options.holdsBackOrphans = false
        options.runID = "unpublished"
        #expect(throws: (any Error).self) { try Pipeline(plans: try HospitalExampleTests.plans(), options: options).run(into: PipelinedSink(sink)) }
        #expect(seen.tables["person"]?.contains("person_id") == true)
        #expect(try PostgresTestServer.content(uri, schema: o.schema) == before)
        #expect(try db.scalar("SELECT count(*) FROM \(o.schema).harmonize_run") == runs)
        #expect(try db.scalar("SELECT count(*) FROM \(o.schema).harmonize_quality WHERE run_id = 'unpublished'") == "0")
        #expect(try PostgresTestServer.stagingSchemas(uri, runID: "unpublished").isEmpty)
    }

    /// `trace` text without the run line (its start time differs between the two runs).
    static func traceText(_ output: String, table: String, id: String) throws -> (status: Int32, text: String) {
        let r = try TestSupport.runCLI(["trace", "--output", output, table, id])
        return (r.status, r.stdout.split(separator: "\n").filter { !$0.hasPrefix("  run ") }.joined(separator: "\n"))
    }

    @Test(arguments: [snds, hospital])
    func traceReportAndRiskReadAPostgreSQLOutputAsASQLiteOne(_ f: Fixture) throws {
        guard let uri = PostgresTestServer.uri("read-\(f.label)") else { return }
        let o = try Self.both(f, uri: uri)
        defer { PostgresTestServer.drop(uri, schema: o.schema) }
        #expect(o.postgresRun.status == 0, "\(o.postgresRun.stderr)")
        let lite = try SQLiteConnection(path: o.sqlite, readOnly: true)
        // trace: the first and last rows of every table with lineage name the same source file,
        // record and rules.
        var traced = 0
        for table in try lite.query("SELECT DISTINCT table_name FROM harmonize_run_table WHERE rows > 0").compactMap({ $0.first?.text }) {
            guard let t = try Mappings.omopModel().table(named: table), let k = t.lineageKeyColumn else { continue }
            let key = "\"\(t.columns[k].name)\""
            for order in ["ASC", "DESC"] {
                guard let id = try lite.query("SELECT \(key) FROM \"\(table)\" ORDER BY \(key) \(order) LIMIT 1").first?.first, !id.isNull else {
                    continue
                }
                let a = try Self.traceText(o.sqlite, table: table, id: id.description)
                let b = try Self.traceText(o.postgres, table: table, id: id.description)
                #expect(b.status == a.status, "\(table)")
                #expect(b.text == a.text, "\(table)")
                guard a.status == 0 else { continue }
                #expect(b.text.contains("  source ") && b.text.contains("  mapping "))
                traced += 1
            }
        }
        #expect(traced >= 4)
        let missing = try TestSupport.runCLI(["trace", "--output", o.postgres, "person", "not-a-number"])
        #expect(missing.status == 1, "\(missing.stderr)")
        let unknown = try TestSupport.runCLI(["trace", "--output", o.postgres, "no_such_table", "1"])
        #expect(unknown.status == 2, "\(unknown.stderr)")
        // report: the same page, but for the run's start and end times.
        let dir = TestSupport.temporaryDirectory("pgq-report")
        let qis = "gender,birth_decade,year_of_birth"
        for (output, html) in [(o.sqlite, dir + "/lite.html"), (o.postgres, dir + "/pg.html")] {
            let r = try TestSupport.runCLI(["report", "--output", output, "--html", html, "--quasi-identifiers", qis])
            #expect(r.status == 0, "\(r.stderr)")
        }
        func page(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("<p>Run <code>") }.map(String.init)
        }
        let litePage = try page(dir + "/lite.html")
        let pgPage = try page(dir + "/pg.html")
        #expect(pgPage == litePage, "\(Set(pgPage).symmetricDifference(litePage).sorted().prefix(6))")
        let sections = pgPage.filter { $0.hasPrefix("<h2>") }
        #expect(sections.contains("<h2>Data quality</h2>") && sections.contains("<h2>Re-identification risk</h2>"))
        #expect(!pgPage.contains { $0.contains("No quality results stored") })
        // risk: the same figures (and exit code).
        var names = qis
        if try lite.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'condition_occurrence'") == .int(1) { names += ",condition_3char" }
        if try lite.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'death'") == .int(1) { names += ",death" }
        let ra = try TestSupport.runCLI(["risk", "--output", o.sqlite, "--quasi-identifiers", names, "--json", "-"])
        let rb = try TestSupport.runCLI(["risk", "--output", o.postgres, "--quasi-identifiers", names, "--json", "-"])
        #expect(rb.status == ra.status, "\(rb.stderr)")
        #expect(rb.stdout == ra.stdout)
        #expect(rb.stdout.contains("\"persons\""))
        let persons = try #require(try JSONSerialization.jsonObject(with: Data(rb.stdout.utf8)) as? [String: Any])["persons"] as? Int
        #expect((persons ?? 0) > 0)
    }
}
