import Foundation
import Testing

@testable import Harmonize

/// Rows whose person is not in the output are held back as rejects (the target model's
/// `orphans:`, on in the bundled OMOP model), counted in a ledger that still balances (issue 16).
@Suite struct OrphanCLITests {
    func project() -> (dir: String, args: [String]) {
        let dir = TestSupport.temporaryDirectory("orphans")
        TestSupport.write("id;sex\n1;1\n2;2\n", to: dir + "/in/persons.csv")
        TestSupport.write("ev;id;code\n10;1;a\n11;3;b\n12;2;c\n13;3;d\n", to: dir + "/in/events.csv")
        TestSupport.write(
            """
            harmonize-model: 1
            name: t
            orphans: person.person_id
            tables:
              - name: person
                columns: [{name: person_id, type: integer, required: true, primary_key: true}, {name: sex, type: integer}]
              - name: event
                columns: [{name: event_id, type: integer, required: true, primary_key: true}, {name: person_id, type: integer, references: person.person_id}, {name: code, type: "varchar(10)"}]
            """, to: dir + "/m/model.yaml")
        TestSupport.write(
            "harmonize: 1\nid: persons\nmodel: model.yaml\nsource: {files: persons.csv, dialect: {delimiter: \";\"}}\ntarget: person\nfields: {person_id: \"to_int(id)\", sex: \"to_int(sex)\"}\n",
            to: dir + "/m/persons.yaml")
        // Events are mapped first (file order): the check must wait for every mapping.
        TestSupport.write(
            "harmonize: 1\nid: events\nmodel: model.yaml\nsource: {files: events.csv, dialect: {delimiter: \";\"}}\ntarget: event\nfields: {event_id: \"to_int(ev)\", person_id: \"to_int(id)\", code: code}\n",
            to: dir + "/m/a-events.yaml")
        return (dir, ["run", "--mappings", dir + "/m", "--input", dir + "/in", "--output", dir + "/o.sqlite"])
    }

    @Test(arguments: [false, true]) func orphanRowsAreHeldBackAsRejects(lineage: Bool) throws {
        let (dir, args) = project()
        let r = try TestSupport.runCLI(args + (lineage ? ["--lineage", "--json"] : ["--json"]))
        #expect(r.status == 1, "two records rejected, above the default rate: \(r.stderr)")
        let db = try SQLiteConnection(path: dir + "/o.sqlite", readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM event") == .int(2))
        #expect(try db.scalar("SELECT count(*) FROM event WHERE person_id NOT IN (SELECT person_id FROM person)") == .int(0))
        let rejects = try db.query("SELECT mapping, file, reason, field, line, record, rule FROM harmonize_reject ORDER BY record")
        #expect(
            rejects.map { $0.map(\.description) } == [
                ["events", "events.csv", "target-fk-missing", "person_id", "3", "2", "orphans"],
                ["events", "events.csv", "target-fk-missing", "person_id", "5", "4", "orphans"],
            ])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let manifest = doc["manifest"] as? [String: Any] ?? [:]
        let ledger = (manifest["ledger"] as? [[String: Any]] ?? []).first { $0["mapping"] as? String == "events" } ?? [:]
        #expect(ledger["read"] as? Int == 4)
        #expect(ledger["written"] as? Int == 2)
        #expect(ledger["rejected"] as? Int == 2)
        if lineage {
            #expect(
                try db.scalar("SELECT count(*) FROM harmonize_lineage l WHERE l.table_id = 1") == .int(2),
                "the held-back rows' lineage goes with them")
        }
        #expect(!r.stderr.contains(";3;"), "no value in the logs")
    }

    @Test func aModelWithoutOrphansKeepsEveryRow() throws {
        let (dir, args) = project()
        let model = try String(contentsOfFile: dir + "/m/model.yaml", encoding: .utf8).replacingOccurrences(
            of: "orphans: person.person_id\n", with: "")
        TestSupport.write(model, to: dir + "/m/model.yaml")
        let r = try TestSupport.runCLI(args)
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: dir + "/o.sqlite", readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM event") == .int(4))
    }
}
