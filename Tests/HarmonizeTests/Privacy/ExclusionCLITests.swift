import Foundation
import Testing

@testable import Harmonize

/// Patients' objections (`run --exclude FILE`) through the command line.
@Suite(.serialized) struct ExclusionCLITests {
    static let key = String(repeating: "q", count: 40)

    static func run(_ extra: [String], output: String, environment: [String: String] = [:]) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"),
                "--output", output, "--json", "--no-quality",
            ] + extra, environment: environment)
    }

    static func persons(_ db: SQLiteConnection) throws -> Set<String> {
        Set(
            try db.query("SELECT person_source_value FROM person").compactMap { r -> String? in
                if case .string(let s) = r[0] { return s }
                return nil
            })
    }

    @Test func anObjectingPersonIsAbsentFromTheNextRunAndTheLedgerBalances() throws {
        let dir = TestSupport.temporaryDirectory("exclude")
        let out = dir + "/omop.sqlite"
        let first = try Self.run([], output: out)
        #expect(first.status == 0, "\(first.stderr)")
        let before = try SQLiteConnection(path: out, readOnly: true)
        #expect(try Self.persons(before).contains("P0002"))
        #expect(try before.scalar("SELECT count(*) FROM measurement WHERE person_id = 2") != .int(0))

        // P0002 objects (written as the export has it, with spaces and lower case); P0099 is unknown.
        TestSupport.write("# objections received\n p0002 \nP0099\n", to: dir + "/objections.txt")
        let second = try Self.run(["--exclude", dir + "/objections.txt"], output: out)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(!second.stdout.contains("P0002") && !second.stdout.contains("p0002"), "entries never reach the summary")
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try !Self.persons(db).contains("P0002"))
        #expect(try Self.persons(db).count == 11)
        for table in ["person", "observation_period", "measurement", "observation"] {
            #expect(try db.scalar("SELECT count(*) FROM \(table) WHERE person_id = 2") == .int(0), "\(table)")
        }
        // Excluded, never rejected; every line of the ledger balances.
        let ledger = try db.query("SELECT read, written, rejected, filtered, excluded FROM harmonize_ledger")
        var excluded = 0
        for r in ledger {
            guard case .int(let read) = r[0], case .int(let w) = r[1], case .int(let rj) = r[2], case .int(let f) = r[3], case .int(let x) = r[4]
            else {
                Issue.record("ledger row")
                continue
            }
            #expect(read == w + rj + f + x)
            #expect(rj == 0)
            excluded += x
        }
        #expect(excluded == 1 + 3 + 2, "one patient row, three measurement rows, two questionnaire rows")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])
        let manifest = try #require(json["manifest"] as? [String: Any])
        let params = try #require(manifest["parameters"] as? [String: String])
        #expect(params["exclude_entries"] == "2")
        #expect(params["exclude_sha256"]?.count == 64)
        #expect(params["exclude_check"]?.hasPrefix("passed") == true)
        #expect(try !"\(db.scalar("SELECT manifest FROM harmonize_run"))".contains("P0002"))
    }

    @Test func pseudonymEntriesMatchWithTheKey() throws {
        let dir = TestSupport.temporaryDirectory("exclude-ps")
        let key = try PseudonymKey(bytes: Array(Self.key.utf8))
        let p = Pseudonymizer(key: key, purpose: "person").pseudonym("P0003")
        TestSupport.write(p + "\n", to: dir + "/objections.txt")
        let out = dir + "/omop.sqlite"
        let r = try Self.run(["--exclude", dir + "/objections.txt", "--key-env", "HZ_KEY"], output: out, environment: ["HZ_KEY": Self.key])
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try !Self.persons(db).contains("P0003"))
        #expect(try Self.persons(db).contains("P0002"))
        // Without the key, a pseudonym entry cannot be matched to a raw subject.
        let plain = try Self.run(["--exclude", dir + "/objections.txt"], output: out)
        #expect(plain.status == 0)
        #expect(try Self.persons(SQLiteConnection(path: out, readOnly: true)).contains("P0003"))
    }

    @Test func aMappingWithoutSubjectIsAConfigurationError() throws {
        let dir = TestSupport.temporaryDirectory("exclude-nosubject")
        TestSupport.write("id;x\n1;a\n", to: dir + "/in/t.csv")
        TestSupport.write(
            "harmonize: 1\nid: nosubject\nsource: {files: t.csv, dialect: {delimiter: \";\"}}\ntarget: person\nfields: {person_id: \"to_int(id)\", gender_concept_id: \"0\", year_of_birth: \"1950\", race_concept_id: \"0\", ethnicity_concept_id: \"0\"}\n",
            to: dir + "/m.yaml")
        TestSupport.write("1\n", to: dir + "/x.txt")
        let r = try TestSupport.runCLI([
            "run", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--output", dir + "/o.sqlite", "--exclude", dir + "/x.txt",
        ])
        #expect(r.status == 2)
        #expect(r.stderr.contains("subject"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/o.sqlite"))
    }

    @Test func theAfterRunCheckStopsAnOutputThatStillHoldsAnObjectingPerson() throws {
        // A faulty mapping: the subject is `id` but the person written is `other`.
        let dir = TestSupport.temporaryDirectory("exclude-check")
        TestSupport.write("id;other\nA;B\nB;B\n", to: dir + "/in/t.csv")
        TestSupport.write(
            """
            harmonize: 1
            id: faulty
            source: {files: t.csv, subject: id, dialect: {delimiter: ";"}}
            target: person
            fields: {person_id: "1", gender_concept_id: "0", year_of_birth: "1950", race_concept_id: "0", ethnicity_concept_id: "0", person_source_value: other}

            """, to: dir + "/m.yaml")
        TestSupport.write("B\n", to: dir + "/x.txt")
        let r = try TestSupport.runCLI([
            "run", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--output", dir + "/o.sqlite", "--exclude", dir + "/x.txt",
        ])
        #expect(r.status == 4, "a privacy violation has its own exit code: \(r.stderr)")
        #expect(r.stderr.contains("exclusion check failed"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/o.sqlite"), "nothing published")
    }
}
