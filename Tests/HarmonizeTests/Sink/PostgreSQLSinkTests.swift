import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

#if canImport(Glibc)
    import Glibc
#endif

/// The PostgreSQL output (issue 14) against a real server (`PostgresTestServer`): the bundled
/// fixtures give the same rows as into SQLite, a run killed during its COPY leaves the published
/// schema untouched, a rerun of a published run id changes nothing, and the printed DDL runs.
@Suite struct PostgreSQLSinkTests {
    // MARK: - Without a server

    @Test func theURIGivesLibpqItsOwnPartsAndKeepsTheSchema() throws {
        let t = try PostgreSQLTarget(parsing: "postgresql://me@db.example:5433/omop?schema=cdm&sslmode=require")
        #expect(t.schema == "cdm")
        #expect(t.connectionURI == "postgresql://me@db.example:5433/omop?sslmode=require")
        #expect(t.displayURI == "postgresql://me@db.example:5433/omop?sslmode=require&schema=cdm")
        #expect(try PostgreSQLTarget(parsing: "postgres://me@h/db").schema == "public")
        #expect(try PostgreSQLTarget(parsing: "postgresql://me@h/db?schema=cdm").connectionURI == "postgresql://me@h/db")
    }

    @Test func aPasswordOrAQuotedSchemaIsRefused() {
        for uri in [
            "postgresql://me:secret@h/db?schema=cdm", "postgresql://me@h/db?password=secret", "postgresql://me@h/db?schema=Cdm",
            "postgresql://me@h/db?schema=a;b",
        ] {
            do throws(HarmonizeError) {
                _ = try PostgreSQLTarget(parsing: uri)
                Issue.record("accepted \(uri)")
            } catch {
                #expect(error.code == .postgresURIInvalid)
                #expect(!error.message.contains("secret"))
            }
        }
    }

    @Test func copyTextEscapesTheFieldAndLineSeparators() {
        var out: [UInt8] = []
        for v: Value in [.string("a\tb\nc\\d\re"), .null, .int(-3), .double(2.5), .double(3), .date(0), .bool(true)] {
            PostgreSQLSink.append(v, to: &out)
            out.append(UInt8(ascii: "|"))
        }
        #expect(String(decoding: out, as: UTF8.self) == "a\\tb\\nc\\\\d\\re|\\N|-3|2.5|3|1970-01-01|t|")
    }

    @Test func theDDLHasItsFourSectionsInOHDSIOrder() throws {
        let text = DDLText.postgreSQL(try Mappings.omopModel().tables, schema: nil, model: "OMOP")
        let sections = ["-- Tables", "-- Primary keys", "-- Constraints", "-- Indices"].map { text.range(of: $0)?.lowerBound }
        #expect(sections.allSatisfy { $0 != nil })
        #expect(sections.compactMap { $0 } == sections.compactMap { $0 }.sorted())
        #expect(text.contains("ALTER TABLE person ADD CONSTRAINT xpk_person PRIMARY KEY (person_id);"))
        #expect(text.contains("ADD CONSTRAINT fpk_visit_occurrence_person_id FOREIGN KEY (person_id) REFERENCES person (person_id);"))
        #expect(text.contains("CREATE INDEX idx_measurement_person_id ON measurement (person_id);"))
        // A nullable foreign key's index holds its non-null rows only.
        #expect(text.contains("CREATE INDEX idx_measurement_visit_detail_id ON measurement (visit_detail_id) WHERE visit_detail_id IS NOT NULL;"))
        #expect(text.contains("  person_id bigint NOT NULL"))
        #expect(text.contains("  \"offset\" varchar(50)"))
    }

    // MARK: - With a server

    @Test func thePrintedDDLRunsOnPostgreSQLAndSQLite() throws {
        let pg = try TestSupport.runCLI(["ddl", "--dialect", "postgresql"])
        #expect(pg.status == 0)
        let lite = try TestSupport.runCLI(["ddl", "--dialect", "sqlite"])
        #expect(lite.status == 0)
        let db = try SQLiteConnection(path: TestSupport.temporaryDirectory("ddl") + "/ddl.sqlite")
        try db.execute(lite.stdout)
        #expect(try db.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'").intValue == (try Mappings.omopModel().tables.count))
        guard let uri = PostgresTestServer.uri() else { return }
        let schema = PostgresTestServer.schema("ddl")
        defer { PostgresTestServer.drop(uri, schema: schema) }
        let conn = try PostgresTestServer.connect(uri)
        try conn.execute("CREATE SCHEMA \(schema); SET search_path = \(schema)")
        try conn.execute(pg.stdout)
        #expect(try conn.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = $1", [schema]) == String(try Mappings.omopModel().tables.count))
        #expect(try conn.scalar("SELECT count(*) FROM pg_constraint WHERE conname = 'xpk_person'") != "0")
    }

    /// Runs `plans` into SQLite and into a fresh PostgreSQL schema; every OMOP table holds the
    /// same rows (in any order), and so do the rejects.
    private func assertSameRows(_ label: String, plans: [MappingPlan], options: RunOptions) throws {
        guard let uri = PostgresTestServer.uri(label) else { return }
        let schema = PostgresTestServer.schema(label)
        defer { PostgresTestServer.drop(uri, schema: schema) }
        let sqlitePath = TestSupport.temporaryDirectory(label) + "/omop.sqlite"
        let liteManifest = try Pipeline(plans: plans, options: options).run(
            into: PipelinedSink(SQLiteSink(outputPath: sqlitePath, recordsLineage: options.recordsLineage)))
        var o = options
        o.runID = "same-rows-\(label)-\(UInt32.random(in: 0...UInt32.max))"
        let target = try PostgreSQLTarget(parsing: PostgresTestServer.output(uri, schema: schema))
        let pgManifest = try Pipeline(plans: plans, options: o).run(
            into: PipelinedSink(PostgreSQLSink(target: target, runID: o.runID ?? "", recordsLineage: o.recordsLineage)))
        #expect(liteManifest.tables == pgManifest.tables)
        #expect(liteManifest.ledger == pgManifest.ledger)
        let lite = try SQLiteConnection(path: sqlitePath, readOnly: true)
        let pg = try PostgresTestServer.connect(uri)
        var compared = 0
        for entry in liteManifest.tables {
            guard let t = try Mappings.omopModel().table(named: entry.table) else { continue }
            let a = try PostgresTestServer.rows(sqlite: lite, t)
            let b = try PostgresTestServer.rows(postgres: pg, schema: schema, t)
            #expect(a == b, "table \(t.name): \(a.count) rows in SQLite, \(b.count) in PostgreSQL")
            compared += a.count
        }
        #expect(compared > 0)
        let liteRejects = try lite.query("SELECT mapping, reason, field, line FROM harmonize_reject").map {
            $0.map(\.description).joined(separator: ",")
        }
        .sorted()
        let pgRejects = try pg.query("SELECT mapping, reason, field, line FROM \(schema).harmonize_reject").map {
            $0.map { $0 ?? "" }.joined(separator: ",")
        }.sorted()
        #expect(liteRejects == pgRejects)
        // `rejects` reads them back from either output alike.
        let fromLite = try TestSupport.runCLI(["rejects", "--output", sqlitePath, "--format", "csv"])
        let fromPG = try TestSupport.runCLI(["rejects", "--output", PostgresTestServer.output(uri, schema: schema), "--format", "csv"])
        #expect(fromPG.status == 0, "\(fromPG.stderr)")
        #expect(fromLite.stdout.split(separator: "\n").sorted() == fromPG.stdout.split(separator: "\n").sorted())
        let unmappedLite = try TestSupport.runCLI(["unmapped", "--output", sqlitePath, "--format", "json"])
        let unmappedPG = try TestSupport.runCLI(["unmapped", "--output", PostgresTestServer.output(uri, schema: schema), "--format", "json"])
        #expect(unmappedPG.status == 0, "\(unmappedPG.stderr)")
        #expect(unmappedLite.stdout == unmappedPG.stdout)
        // Lineage (with `recordsLineage`): as many rows, naming the same rows, mappings and records.
        let lineage = "SELECT table_id, row_id, mapping_id, file_id, line, record, target FROM harmonize_lineage"
        let liteLineage = try lite.query(lineage).map { $0.map(\.description).joined(separator: "|") }.sorted()
        let pgLineage = try pg.query(lineage.replacingOccurrences(of: "FROM ", with: "FROM \(schema).")).map {
            $0.map { $0 ?? "" }.joined(separator: "|")
        }.sorted()
        #expect(liteLineage == pgLineage)
        #expect(options.recordsLineage == !pgLineage.isEmpty)
        #expect(try pg.scalar("SELECT count(*) FROM \(schema).harmonize_run WHERE run_id = $1", [o.runID]) == "1")
        #expect(try PostgresTestServer.stagingSchemas(uri, runID: o.runID ?? "").isEmpty)
    }

    @Test func theSNDSFixturesGiveTheSameRowsAsIntoSQLite() throws {
        let options = RunOptions.keyed(
            TestSupport.path("fixtures/snds/input"), vocabulary: try VocabularyStore(path: TestSupport.path("fixtures/vocabulary")))
        try assertSameRows("snds", plans: try SNDSExampleTests.plans(), options: options)
    }

    @Test func theHospitalFixturesGiveTheSameRowsAsIntoSQLite() throws {
        var options = RunOptions.keyed(TestSupport.path("fixtures/hospital"))
        options.holdsBackOrphans = false
        try assertSameRows("hospital", plans: try HospitalExampleTests.plans(), options: options)
    }

    @Test func theResearchFixturesGiveTheSameRowsAsIntoSQLiteWithLineage() throws {
        var options = RunOptions(inputDirectory: TestSupport.path("fixtures/research/input"))
        options.recordsLineage = true
        try assertSameRows("research", plans: try ResearchExampleTests.plans(), options: options)
    }

    /// The research input with `mesures.csv` grown to `copies` times its records (new ids), so a
    /// run's COPY takes long enough to be caught.
    static func bigResearchInput(copies: Int) throws -> String {
        let dir = TestSupport.temporaryDirectory("pg-big-input")
        let source = TestSupport.path("fixtures/research/input")
        for f in ["patients.csv", "questionnaire.csv"] { try FileManager.default.copyItem(atPath: source + "/" + f, toPath: dir + "/" + f) }
        let text = try String(contentsOfFile: source + "/mesures.csv", encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        var out = String(lines[0]) + "\n"
        let records = lines.dropFirst()
        for k in 0..<copies {
            for line in records {
                let fields = line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
                guard fields.count == 2, let id = Int(fields[0]) else { continue }
                out += "\(k * 1000 + id);\(fields[1])\n"
            }
        }
        TestSupport.write(out, to: dir + "/mesures.csv")
        return dir
    }

    static func runArguments(input: String, output: String, runID: String) -> [String] {
        ["run", "--mappings", TestSupport.path("mappings/research"), "--input", input, "--output", output, "--run-id", runID, "--no-progress"]
    }

    @Test func aRerunOfAPublishedRunIDChangesNothing() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let schema = PostgresTestServer.schema("rerun")
        defer { PostgresTestServer.drop(uri, schema: schema) }
        let output = PostgresTestServer.output(uri, schema: schema)
        let input = TestSupport.path("fixtures/research/input")
        let first = try TestSupport.runCLI(Self.runArguments(input: input, output: output, runID: "rerun-1"))
        #expect(first.status == 0, "\(first.stderr)")
        let db = try PostgresTestServer.connect(uri)
        let before = try PostgresTestServer.content(uri, schema: schema)
        let published = try db.query("SELECT run_id, published_at::text FROM \(schema).harmonize_run")
        #expect(before["person"]?.isEmpty == false)
        let again = try TestSupport.runCLI(Self.runArguments(input: input, output: output, runID: "rerun-1"))
        #expect(again.status == 0)
        #expect(again.stderr.contains("already published"))
        #expect(try PostgresTestServer.content(uri, schema: schema) == before)
        #expect(try db.query("SELECT run_id, published_at::text FROM \(schema).harmonize_run") == published)
        #expect(try db.scalar("SELECT count(*) FROM \(schema).harmonize_ledger") == String(published.count * 3))
        // A new run id publishes again: same CDM rows, two runs in the books.
        let other = try TestSupport.runCLI(Self.runArguments(input: input, output: output, runID: "rerun-2"))
        #expect(other.status == 0, "\(other.stderr)")
        #expect(try PostgresTestServer.content(uri, schema: schema) == before)
        #expect(try db.scalar("SELECT count(*) FROM \(schema).harmonize_run") == "2")
        // The manifest records the URI, never a password, and the books balance.
        let manifest = try #require(try db.scalar("SELECT manifest FROM \(schema).harmonize_run WHERE run_id = 'rerun-2'"))
        #expect(manifest.contains("schema=\(schema)"))
    }

    @Test func aRunKilledDuringItsCopyLeavesThePublishedSchemaUntouched() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let schema = PostgresTestServer.schema("kill")
        let reference = PostgresTestServer.schema("killref")
        defer {
            PostgresTestServer.drop(uri, schema: schema)
            PostgresTestServer.drop(uri, schema: reference)
        }
        let output = PostgresTestServer.output(uri, schema: schema)
        // A published run first: the schema a killed run must leave alone.
        let first = try TestSupport.runCLI(Self.runArguments(input: TestSupport.path("fixtures/research/input"), output: output, runID: "kill-base"))
        #expect(first.status == 0, "\(first.stderr)")
        let before = try PostgresTestServer.content(uri, schema: schema)
        let big = try Self.bigResearchInput(copies: 600)
        let runID = "kill-\(UInt32.random(in: 0...UInt32.max))"
        let db = try PostgresTestServer.connect(uri)
        let staging = "harmonize_stage_" + runID.replacingOccurrences(of: "-", with: "_")
        let process = try CLIProcess(Self.runArguments(input: big, output: output, runID: runID))
        // Killed as soon as one of its COPY statements is running.
        var caught = false
        let deadline = Date().addingTimeInterval(120)
        while process.process.isRunning, Date() < deadline {
            let copying = try db.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1", ["COPY " + staging + "%"])
            if copying != "0" {
                process.kill()
                caught = true
                break
            }
            usleep(1_000)
        }
        let killed = process.wait(timeout: 60)
        #expect(caught, "the run ended before a COPY was seen: \(killed.result.stderr)")
        #expect(killed.result.status == -9)
        #expect(try PostgresTestServer.content(uri, schema: schema) == before)
        #expect(try db.scalar("SELECT count(*) FROM \(schema).harmonize_run") == "1")
        // The rerun publishes what an uninterrupted run gives and leaves no staging schema.
        let rerun = try CLIProcess.run(Self.runArguments(input: big, output: output, runID: runID), timeout: 300)
        #expect(rerun.result.status == 0, "\(rerun.result.stderr)")
        let ref = try CLIProcess.run(
            Self.runArguments(input: big, output: PostgresTestServer.output(uri, schema: reference), runID: "kill-reference"), timeout: 300)
        #expect(ref.result.status == 0, "\(ref.result.stderr)")
        let after = try PostgresTestServer.content(uri, schema: schema)
        #expect(after == (try PostgresTestServer.content(uri, schema: reference)))
        #expect((after["measurement"]?.count ?? 0) > (before["measurement"]?.count ?? 0))
        #expect(try PostgresTestServer.stagingSchemas(uri, runID: runID).isEmpty)
        #expect(try db.scalar("SELECT count(*) FROM \(schema).harmonize_run") == "2")
    }

    @Test func replayAndTheReadersSayTheyCannotConnect() throws {
        // `replay` reads the schema's rejects first: no server there is an I/O error, before anything is read.
        let replay = try TestSupport.runCLI([
            "replay", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"), "--output",
            "postgresql://me@127.0.0.1:1/db?schema=cdm",
        ])
        #expect(replay.status == 3, "\(replay.stderr)")
        #expect(!replay.stderr.contains("HZ7022"))
        // The commands that read an output back read a PostgreSQL one: no server there is an I/O error.
        for command in [
            ["report", "--html", "/dev/null"], ["quality"], ["trace", "person", "1"], ["risk", "--quasi-identifiers", "year_of_birth"],
            ["rejects"],
        ] {
            let r = try TestSupport.runCLI(command + ["--output", "postgresql://me@127.0.0.1:1/db?schema=cdm"])
            #expect(r.status == 3, "\(command): \(r.stderr)")
            #expect(!r.stderr.contains("HZ7022"), "\(command): \(r.stderr)")
        }
        let bad = try TestSupport.runCLI(["trace", "person", "1", "--output", "postgresql://me:hunter2@127.0.0.1:1/db?schema=cdm"])
        #expect(bad.status == 2, "\(bad.stderr)")
        #expect(!bad.stderr.contains("hunter2"))
        let r = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"), "--output",
            "postgresql://me:hunter2@127.0.0.1:1/db?schema=cdm",
        ])
        #expect(r.status == 2)
        #expect(r.stderr.contains("HZ7020"))
        #expect(!r.stderr.contains("hunter2"))
    }
}
