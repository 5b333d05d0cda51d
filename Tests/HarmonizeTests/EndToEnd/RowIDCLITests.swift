import Foundation
import Testing

@testable import Harmonize

/// Ids for rows whose source has none (`row_id`), null-safe joining (`concat_ws`), a duplicate
/// primary key that names its rows, and `run --json` on every exit (issue 16).
@Suite struct RowIDCLITests {
    static let key = String(repeating: "k", count: 40)

    /// A folder with a one-table model, an input file and a mapping whose fields are `fields`.
    func project(_ fields: String, input: String = "k;x;y\nA;1;\nB;2;b\nA;3;c\n") -> (dir: String, args: [String]) {
        let dir = TestSupport.temporaryDirectory("rowid")
        TestSupport.write(input, to: dir + "/in/t.csv")
        TestSupport.write(
            """
            harmonize-model: 1
            name: t
            tables:
              - name: t
                columns: [{name: id, type: integer, required: true, primary_key: true}, {name: s, type: "varchar(64)"}]
            """, to: dir + "/model.yaml")
        TestSupport.write(
            "harmonize: 1\nid: rows\nmodel: model.yaml\nsource: {files: t.csv, dialect: {delimiter: \";\"}}\ntarget: t\nfields: {\(fields)}\n",
            to: dir + "/m.yaml")
        return (dir, ["run", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--output", dir + "/o.sqlite", "--key-env", "HZ_TEST_KEY"])
    }

    func ids(_ path: String) throws -> [Int] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        let st = try db.prepare("SELECT id FROM t ORDER BY rowid")
        var out: [Int] = []
        while try st.step() {
            if case .int(let i) = st.column(0) { out.append(i) }
        }
        return out
    }

    @Test func rowIDWithoutArgumentsIsStableAcrossReruns() throws {
        let (dir, args) = project("id: \"row_id()\", s: \"concat_ws('|', k, y)\"")
        let first = try TestSupport.runCLI(args, environment: ["HZ_TEST_KEY": Self.key])
        #expect(first.status == 0, "\(first.stderr)")
        let a = try ids(dir + "/o.sqlite")
        #expect(a.count == 3)
        #expect(Set(a).count == 3)
        #expect(a.allSatisfy { $0 >= 0 })
        let again = try TestSupport.runCLI(args, environment: ["HZ_TEST_KEY": Self.key])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try ids(dir + "/o.sqlite") == a, "the same ids on a rerun")
        // concat_ws skips the null part instead of nulling the whole text.
        let db = try SQLiteConnection(path: dir + "/o.sqlite", readOnly: true)
        #expect(try db.scalar("SELECT s FROM t ORDER BY rowid LIMIT 1") == .string("A"))
        #expect(try db.scalar("SELECT s FROM t ORDER BY rowid LIMIT 1 OFFSET 1") == .string("B|b"))
    }

    @Test func rowIDOfANaturalKeyDependsOnTheKeyOnly() throws {
        let (dir, args) = project("id: \"row_id(k, x)\"")
        let r = try TestSupport.runCLI(args, environment: ["HZ_TEST_KEY": Self.key])
        #expect(r.status == 0, "\(r.stderr)")
        let a = try ids(dir + "/o.sqlite")
        // Records in another order (and another file name): the same ids for the same keys.
        let (dir2, args2) = project("id: \"row_id(k, x)\"", input: "k;x;y\nA;3;c\nB;2;b\nA;1;\n")
        #expect(try TestSupport.runCLI(args2, environment: ["HZ_TEST_KEY": Self.key]).status == 0)
        #expect(Set(try ids(dir2 + "/o.sqlite")) == Set(a))
        // A null part keeps its position: (A, null) and (null, A) differ.
        let (dir3, args3) = project("id: \"row_id(y, k)\"", input: "k;x;y\nA;1;\n;2;A\n")
        #expect(try TestSupport.runCLI(args3, environment: ["HZ_TEST_KEY": Self.key]).status == 0)
        #expect(Set(try ids(dir3 + "/o.sqlite")).count == 2)
        // A key of more than three parts (the call's arguments on the stack): the same ids
        // whatever the order of the records, one per record.
        let (dir4, args4) = project("id: \"row_id(k, x, y, k)\"")
        #expect(try TestSupport.runCLI(args4, environment: ["HZ_TEST_KEY": Self.key]).status == 0)
        let (dir5, args5) = project("id: \"row_id(k, x, y, k)\"", input: "k;x;y\nA;3;c\nB;2;b\nA;1;\n")
        #expect(try TestSupport.runCLI(args5, environment: ["HZ_TEST_KEY": Self.key]).status == 0)
        let four = try ids(dir4 + "/o.sqlite")
        let reordered = try ids(dir5 + "/o.sqlite")
        #expect(Set(four).count == 3 && Set(reordered) == Set(four) && Set(four) != Set(a))
        // Without a key, a run that calls row_id does not start.
        let none = try TestSupport.runCLI(Array(args.dropLast(2)))
        #expect(none.status == 2)
    }

    @Test func aDuplicateKeyNamesTheMappingsFilesAndRecords() throws {
        let (_, args) = project("id: \"row_id(k)\"")
        let r = try TestSupport.runCLI(args, environment: ["HZ_TEST_KEY": Self.key])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("target-pk-duplicate"))
        #expect(r.stderr.contains("mapping rows, t.csv line 2 record 1 and mapping rows, t.csv line 4 record 3"), "\(r.stderr)")
        let j = try TestSupport.runCLI(args + ["--json"], environment: ["HZ_TEST_KEY": Self.key])
        #expect(j.status == 2)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        #expect(doc["exitCode"] as? Int == 2)
        let duplicate = try #require(doc["duplicate"] as? [String: Any])
        #expect(duplicate["table"] as? String == "t")
        let rows = duplicate["rows"] as? [[String: Any]] ?? []
        #expect(rows.map { $0["record"] as? Int } == [1, 3])
        #expect(rows.allSatisfy { $0["mapping"] as? String == "rows" && $0["file"] as? String == "t.csv" })
        #expect(!j.stdout.contains("\"A\""), "no key value in the document")
    }

    @Test func jsonPrintsOneDocumentOnMappingErrors() throws {
        let (_, args) = project("id: \"row_id(k)\", s: \"to_int(k\"")
        let r = try TestSupport.runCLI(args + ["--json"], environment: ["HZ_TEST_KEY": Self.key])
        #expect(r.status == 2)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(doc["status"] as? String == "error")
        let diagnostics = doc["diagnostics"] as? [[String: Any]] ?? []
        #expect(diagnostics.contains { ($0["code"] as? String)?.hasPrefix("HZ") == true && ($0["line"] as? Int) != nil })
        let missing = try TestSupport.runCLI(["run", "--mappings", "/nonexistent.yaml", "--input", "/nonexistent", "--sink", "none", "--json"])
        #expect(missing.status == 3)
        #expect((try? JSONSerialization.jsonObject(with: Data(missing.stdout.utf8))) != nil, "\(missing.stdout)")
    }
}
