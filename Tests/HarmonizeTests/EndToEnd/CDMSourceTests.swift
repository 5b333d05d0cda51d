import Crypto
import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// OMOP's `cdm_source` row (issue 17): every run of the OMOP model writes one, with the
/// vocabulary release, the CDM version, the dates and the ETL reference (engine version and the
/// mappings' hash), into SQLite and PostgreSQL alike; a replay keeps it, shards write it once.
@Suite(.serialized) struct CDMSourceTests {
    static let environment = ["HZ_CDM_KEY": String(repeating: "c", count: 32)]

    static func run(_ output: String, vocabulary: String? = "fixtures/vocabulary", _ extra: [String] = []) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("mappings/snds"), "--input", TestSupport.path("fixtures/snds/input"), "--output", output,
                "--key-env", "HZ_CDM_KEY", "--max-reject-rate", "0.05", "--no-progress",
            ] + (vocabulary.map { ["--vocabulary", TestSupport.path($0)] } ?? []) + extra, environment: environment)
    }

    /// The UTC day of a time, ISO.
    static func day(_ date: Date) -> String {
        CivilDate(daysSinceEpoch: Int(date.timeIntervalSince1970) / 86_400).isoString
    }

    /// The newest modification day of the SNDS fixture's input files.
    static func newestInputDay() throws -> String {
        let dir = TestSupport.path("fixtures/snds/input")
        let dates = try FileManager.default.contentsOfDirectory(atPath: dir).map { f in
            try #require(try FileManager.default.attributesOfItem(atPath: dir + "/" + f)[.modificationDate] as? Date)
        }
        return day(try #require(dates.max()))
    }

    /// The mappings' hash as documented: SHA-256 of the lines `id sha256` sorted.
    static func mappingsHash(_ db: SQLiteConnection) throws -> String {
        let lines = try db.query("SELECT mapping, sha256 FROM harmonize_run_mapping").map { "\($0[0].description) \($0[1].description)\n" }
        return Hex.string(Array(SHA256.hash(data: Array(lines.sorted().joined().utf8))))
    }

    @Test func aRunWritesOneCDMSourceRowWithTheReleaseTheCDMVersionAndTheETLReference() throws {
        let out = TestSupport.temporaryDirectory("cdm-source") + "/omop.sqlite"
        let before = Self.day(Date())
        let r = try Self.run(out, ["--cdm-holder", "Hôpital test", "--cdm-source-name", "SNDS extract (fixture)"])
        #expect(r.status == 0, "\(r.stderr)")
        let after = Self.day(Date())
        let db = try SQLiteConnection(path: out, readOnly: true)
        let rows = try db.query(
            """
            SELECT cdm_source_name, cdm_source_abbreviation, cdm_holder, cdm_etl_reference, source_release_date, cdm_release_date,
              cdm_version, cdm_version_concept_id, vocabulary_version, source_description FROM cdm_source
            """)
        #expect(rows.count == 1)
        let row = try #require(rows.first).map(\.description)
        #expect(row[0] == "SNDS extract (fixture)")
        #expect(row[1] == "snds", "the mappings' id prefix")
        #expect(row[2] == "Hôpital test")
        #expect(row[3] == "Harmonize \(HarmonizeVersion.current); mappings sha256:\(try Self.mappingsHash(db))")
        #expect(row[4] == (try Self.newestInputDay()))
        #expect(row[5] == before || row[5] == after)
        #expect(row[6] == "v5.4")
        #expect(row[7] == "756265")
        #expect(row[8] == "v5.0 09-APR-22")
        #expect(row[9].contains("vocabulary release: v5.0 09-APR-22"))
        // The manifest counts the row; the run's vocabulary table has the release too.
        #expect(try db.scalar("SELECT rows FROM harmonize_run_table WHERE table_name = 'cdm_source'") == .int(1))
        #expect(try db.scalar("SELECT vocabulary_version FROM harmonize_run_vocabulary WHERE vocabulary_id = 'None'") == .string("v5.0 09-APR-22"))
        // The data-quality checks ran on it and none failed because of it.
        #expect(try db.scalar("SELECT count(*) FROM harmonize_quality WHERE table_name = 'cdm_source' AND status IN ('failed', 'error')") == .int(0))
    }

    @Test func theVocabularyVersionIsCutToItsColumnAndANoVocabularyRunSaysNone() throws {
        let out = TestSupport.temporaryDirectory("cdm-source-next") + "/omop.sqlite"
        let r = try Self.run(out, vocabulary: "fixtures/vocabulary-next")
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        // varchar(20): the release `v5.0 30-NOV-26 (Harmonize fixture next)` cut; the manifest keeps it whole.
        #expect(try db.scalar("SELECT vocabulary_version FROM cdm_source") == .string("v5.0 30-NOV-26 (Harm"))
        #expect(try db.scalar("SELECT manifest FROM harmonize_run").description.contains("v5.0 30-NOV-26 (Harmonize fixture next)"))

        // The research mappings use no vocabulary store.
        let research = TestSupport.temporaryDirectory("cdm-source-research") + "/omop.sqlite"
        let rr = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"), "--output", research,
            "--no-progress",
        ])
        #expect(rr.status == 0, "\(rr.stderr)")
        let rdb = try SQLiteConnection(path: research, readOnly: true)
        #expect(
            try rdb.query("SELECT vocabulary_version, cdm_source_abbreviation, cdm_holder FROM cdm_source").map { $0.map(\.description) } == [
                ["none", "research", "not stated"]
            ])
    }

    @Test func shardsWriteTheRowOnceAndTheMergedOutputHasOne() throws {
        let dir = TestSupport.temporaryDirectory("cdm-source-shards")
        var shards: [String] = []
        for i in 0..<2 {
            let out = dir + "/shard-\(i).sqlite"
            let r = try Self.run(out, ["--shard", "\(i)/2", "--run-id", "cdm-shards", "--no-quality"])
            #expect(r.status == 0, "\(r.stderr)")
            let count = try SQLiteConnection(path: out, readOnly: true).scalar("SELECT count(*) FROM cdm_source")
            #expect(count == .int(i == 0 ? 1 : 0), "shard \(i)")
            shards.append(out)
        }
        let merged = dir + "/merged.sqlite"
        let m = try TestSupport.runCLI(["merge", "--output", merged, "--no-quality"] + shards)
        #expect(m.status == 0, "\(m.stderr)")
        #expect(try SQLiteConnection(path: merged, readOnly: true).scalar("SELECT count(*) FROM cdm_source") == .int(1))
    }

    @Test func aPostgreSQLOutputHasTheSameRow() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let schema = PostgresTestServer.schema("cdmsource")
        defer { PostgresTestServer.drop(uri, schema: schema) }
        let sqlite = TestSupport.temporaryDirectory("cdm-source-pg") + "/omop.sqlite"
        let a = try Self.run(sqlite, ["--run-id", "cdm-pg"])
        #expect(a.status == 0, "\(a.stderr)")
        let b = try Self.run(PostgresTestServer.output(uri, schema: schema), ["--run-id", "cdm-pg"])
        #expect(b.status == 0, "\(b.stderr)")
        let table = try #require(try Mappings.omopModel().table(named: "cdm_source"))
        let fromSQLite = try PostgresTestServer.rows(sqlite: SQLiteConnection(path: sqlite, readOnly: true), table)
        let fromPostgres = try PostgresTestServer.rows(postgres: PostgresTestServer.connect(uri), schema: schema, table)
        #expect(fromSQLite.count == 1)
        #expect(fromPostgres == fromSQLite)
    }
}
