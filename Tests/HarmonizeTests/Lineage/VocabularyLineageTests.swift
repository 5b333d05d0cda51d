import Foundation
import Testing

@testable import Harmonize

/// Vocabulary lineage: with `run --lineage`, the vocabulary and lookup-table entries each column
/// of a row used are recorded, and `trace` lists them (vocabulary, code, concept id; 0 for a miss).
@Suite(.serialized) struct VocabularyLineageTests {
    static let diagnoses = TestSupport.path("Tests/HarmonizeTests/Fixtures/vocabulary-run/diagnoses.yaml")
    static let diagnosesInput = TestSupport.path("Tests/HarmonizeTests/Fixtures/vocabulary-run/input")

    static func runDiagnoses(lineage: Bool) throws -> String {
        let dir = TestSupport.temporaryDirectory("vocab-lineage")
        let out = dir + "/o.sqlite"
        let r = try TestSupport.runCLI(
            [
                "run", "--mappings", diagnoses, "--input", diagnosesInput, "--output", out, "--vocabulary", TestSupport.path("fixtures/vocabulary"),
                "--no-quality", "--no-progress",
            ] + (lineage ? ["--lineage"] : []))
        #expect(r.status == 0, "\(r.stderr)")
        return out
    }

    @Test func traceListsTheVocabularyEntryOfEachConceptColumnAndAMissAsConceptZero() throws {
        let out = try Self.runDiagnoses(lineage: true)
        // I10 maps to the standard concept 320128 (source concept 2000000001).
        let hit = try TestSupport.runCLI(["trace", "--output", out, "condition_occurrence", "1"])
        #expect(hit.status == 0, "\(hit.stderr)")
        #expect(hit.stdout.contains("  vocabulary\n"), "\(hit.stdout)")
        #expect(hit.stdout.contains("    condition_concept_id:        CIM10 I10 → concept 320128 (standard_concept_id)"), "\(hit.stdout)")
        #expect(hit.stdout.contains("    condition_source_concept_id: CIM10 I10 → concept 2000000001 (source_concept_id)"), "\(hit.stdout)")
        // Columns that call no vocabulary function list nothing.
        #expect(!hit.stdout.contains("condition_source_value:"))
        #expect(!hit.stdout.contains("person_id:"))
        // E78.0 is in the vocabulary but has no standard concept: concept 0.
        let miss = try TestSupport.runCLI(["trace", "--output", out, "condition_occurrence", "5"])
        #expect(
            miss.stdout.contains("condition_concept_id:        CIM10 E78.0 → concept 0 (standard_concept_id: no standard concept)"), "\(miss.stdout)")
        #expect(miss.stdout.contains("condition_source_concept_id: CIM10 E78.0 → concept 2000000003 (source_concept_id)"), "\(miss.stdout)")
        // XXX.9 is not in the vocabulary at all.
        let unknown = try TestSupport.runCLI(["trace", "--output", out, "condition_occurrence", "7"])
        #expect(
            unknown.stdout.contains("condition_source_concept_id: CIM10 XXX.9 → concept 0 (source_concept_id: not in the vocabulary)"),
            "\(unknown.stdout)")

        // JSON: the same entries, with the function and the result.
        let json = try TestSupport.runCLI(["trace", "--output", out, "condition_occurrence", "5", "--json"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let trace = try #require((doc["traces"] as? [[String: Any]])?.first?["trace"] as? [String: Any])
        let uses = try #require(trace["vocabulary"] as? [[String: Any]])
        #expect(uses.count == 2)
        let standard = try #require(uses.first { $0["column"] as? String == "condition_concept_id" })
        #expect(standard["vocabulary"] as? String == "CIM10")
        #expect(standard["code"] as? String == "E78.0")
        #expect(standard["conceptID"] as? Int == 0)
        #expect(standard["function"] as? String == "standard_concept_id")
        #expect(standard["value"] == nil)

        // A row routed by the domain: its concept columns list their entries (the routing
        // filter's lookups are not columns of the row).
        let db = try SQLiteConnection(path: out, readOnly: true)
        let measurementID = try #require(try db.scalar("SELECT measurement_id FROM measurement").intValue)
        let m = try TestSupport.runCLI(["trace", "--output", out, "measurement", String(measurementID)])
        #expect(m.stdout.contains("measurement_concept_id:        CIM10 Z13.3 → concept 4064377 (standard_concept_id)"), "\(m.stdout)")

        // Entries are interned (one per table column and distinct lookup), and so are the lists
        // of entries rows use; each lineage row names its list. The view joins them with run ids
        // and table names, one row per output row and entry.
        let rows =
            try db.scalar(
                "SELECT (SELECT count(*) FROM condition_occurrence) + (SELECT count(*) FROM observation) + (SELECT count(*) FROM measurement)"
            ).intValue ?? -1
        #expect(try db.scalar("SELECT count(*) FROM harmonize_lineage_vocabulary") == .int(2 * rows), "two concept columns per row")
        #expect(try db.scalar("SELECT count(*) FROM harmonize_lineage WHERE lookup_set IS NULL") == .int(0))
        // Rows 5 and 6 share their code (E78.0): one list of entries.
        #expect(
            try db.scalar(
                "SELECT count(DISTINCT lookup_set) FROM harmonize_lineage l JOIN harmonize_run_table t ON t.table_id = l.table_id WHERE t.table_name = 'condition_occurrence' AND l.row_id IN (5, 6)"
            ) == .int(1))
        #expect(
            try db.scalar("SELECT count(*) FROM harmonize_lineage_entry_set")
                == .int(2 * (try db.scalar("SELECT count(DISTINCT lookup_set) FROM harmonize_lineage").intValue ?? 0)))
        let view = try db.query(
            "SELECT table_name, column_name, vocabulary, code, concept_id FROM harmonize_lineage_vocabulary WHERE table_name = 'condition_occurrence' AND row_id = 1 ORDER BY column_name"
        )
        #expect(
            view.map { $0.map(\.description) } == [
                ["condition_occurrence", "condition_concept_id", "CIM10", "I10", "320128"],
                ["condition_occurrence", "condition_source_concept_id", "CIM10", "I10", "2000000001"],
            ])
    }

    @Test func aRunWithoutLineageRecordsNoVocabularyLineage() throws {
        let out = try Self.runDiagnoses(lineage: false)
        let db = try OutputDatabase(path: out)
        #expect(!db.tables.contains("harmonize_lineage_entry"))
        #expect(!db.tables.contains("harmonize_lineage_entry_set"))
        guard case .noLineage = try db.trace(table: "condition_occurrence", id: "1") else {
            Issue.record("expected no lineage")
            return
        }
    }

    /// A CSV lookup table: the entry is the table's name and the key.
    @Test func aLookupTableEntryIsListedWithItsKey() throws {
        let dir = TestSupport.temporaryDirectory("lookup-lineage")
        let out = dir + "/o.sqlite"
        let r = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"), "--output", out,
            "--no-quality", "--lineage",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        let row = try #require(
            try db.query("SELECT measurement_source_value, measurement_concept_id FROM measurement WHERE measurement_id = 3").first)
        let code = row[0].description
        let t = try TestSupport.runCLI(["trace", "--output", out, "measurement", "3"])
        #expect(t.status == 0, "\(t.stderr)")
        let concept = row[1].intValue ?? 0
        let expected = concept == 0 ? "lookup measures \(code) → no entry" : "lookup measures \(code) → \(concept)"
        #expect(t.stdout.contains("measurement_concept_id: ") && t.stdout.contains(expected), "\(t.stdout)")
    }

    /// An output whose vocabulary lineage another writer filled (a table with the documented
    /// columns, no entry tables) is still read.
    @Test func anExternallyWrittenVocabularyTableIsStillRead() throws {
        let dir = TestSupport.temporaryDirectory("vocab-hook")
        let out = dir + "/o.sqlite"
        let r = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"), "--output", out,
            "--no-quality", "--lineage",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: out)
        let runID = try #require(try db.scalar("SELECT run_id FROM harmonize_run").text)
        try db.execute(
            """
            DROP VIEW harmonize_lineage_vocabulary; DROP TABLE harmonize_lineage_entry_set; DROP TABLE harmonize_lineage_entry;
            CREATE TABLE harmonize_lineage_vocabulary (run_id TEXT, table_name TEXT, row_id, column_name TEXT, vocabulary TEXT, code TEXT, concept_id INTEGER);
            INSERT INTO harmonize_lineage_vocabulary VALUES ('\(runID)', 'measurement', 3, 'measurement_concept_id', 'LOINC', '4548-4', 3004410);
            """)
        let t = try TestSupport.runCLI(["trace", "--output", out, "measurement", "3"])
        #expect(t.stdout.contains("  vocabulary\n    measurement_concept_id: LOINC 4548-4 → concept 3004410"), "\(t.stdout)")
        let other = try TestSupport.runCLI(["trace", "--output", out, "measurement", "4"])
        #expect(other.stdout.contains("vocabulary  none used for this row"))
    }

    /// The SNDS pack with the bundled vocabulary fixture, through the pipeline: a condition
    /// (CIM-10) and a drug (CIP13) row trace to the entry that gave their concepts.
    @Test func snDSConditionAndDrugRowsTraceToTheirVocabularyEntries() throws {
        let dir = TestSupport.temporaryDirectory("snds-vocab-lineage")
        let out = dir + "/omop.sqlite"
        let pipeline = Pipeline(
            plans: try SNDSExampleTests.plans(),
            options: try {
                var o = RunOptions.keyed(
                    TestSupport.path("fixtures/snds/input"), vocabulary: try VocabularyStore(path: TestSupport.path("fixtures/vocabulary")))
                o.recordsLineage = true
                return o
            }())
        _ = try pipeline.run(into: PipelinedSink(SQLiteSink(outputPath: out, recordsLineage: true)))
        let db = try SQLiteConnection(path: out, readOnly: true)
        let output = try OutputDatabase(path: out)

        func uses(_ table: String, _ id: Int) throws -> [RowTrace.VocabularyUse] {
            guard case .found(let traces) = try output.trace(table: table, id: String(id)) else {
                Issue.record("no trace for \(table)")
                return []
            }
            return traces.first?.vocabulary ?? []
        }
        // A long-term illness condition (IR_IMB_R) whose code maps to a standard concept.
        let condition = try #require(
            try db.query(
                "SELECT condition_occurrence_id, condition_source_value, condition_concept_id, condition_source_concept_id FROM condition_occurrence WHERE condition_concept_id <> 0 ORDER BY 1 LIMIT 1"
            ).first)
        let c = try uses("condition_occurrence", try #require(condition[0].intValue))
        let standard = try #require(c.first { $0.column == "condition_concept_id" })
        #expect(standard.vocabulary == "CIM10")
        #expect(standard.function == "standard_concept_id")
        #expect(standard.conceptID == condition[2].intValue)
        // The code looked up is the dotted form of the source value (`cim10_dotted`).
        #expect(standard.code?.replacingOccurrences(of: ".", with: "") == condition[1].description.replacingOccurrences(of: ".", with: ""))
        #expect(c.first { $0.column == "condition_source_concept_id" }?.conceptID == condition[3].intValue)

        // A drug: CIP13 code → its standard concept.
        let drug = try #require(
            try db.query("SELECT drug_exposure_id, drug_source_value, drug_concept_id FROM drug_exposure ORDER BY drug_concept_id = 0, 1 LIMIT 1")
                .first)
        let d = try uses("drug_exposure", try #require(drug[0].intValue))
        let drugUse = try #require(d.first { $0.column == "drug_concept_id" })
        #expect(drugUse.vocabulary == "CIP13")
        #expect(drugUse.code == drug[1].description)
        #expect(drugUse.conceptID == drug[2].intValue)

        // pmsi-mco-stay writes condition_occurrence twice (DP and DR): a row's trace gives the
        // rules of the target that wrote it, one per column.
        for status in ["DP", "DR"] {
            let row = try #require(
                try db.query(
                    "SELECT condition_occurrence_id FROM condition_occurrence WHERE condition_status_source_value = ? LIMIT 1", [.string(status)]
                ).first)
            guard case .found(let traces) = try output.trace(table: "condition_occurrence", id: try #require(row[0].intValue).description),
                let rules = traces.first?.rules
            else {
                Issue.record("no trace for the \(status) row")
                continue
            }
            #expect(Set(rules.map(\.column)).count == rules.count, "\(status): \(rules.map(\.column))")
            #expect(rules.first { $0.column == "condition_status_source_value" }?.rule == "'\(status)'")
            #expect(rules.first { $0.column == "condition_concept_id" }?.rule.contains(status == "DP" ? "DGN_PAL" : "DGN_REL") == true)
        }

        // A miss: a condition with concept 0 lists concept 0 for its standard concept.
        if let missing = try db.query("SELECT condition_occurrence_id FROM condition_occurrence WHERE condition_concept_id = 0 LIMIT 1").first {
            let u = try uses("condition_occurrence", try #require(missing[0].intValue))
            #expect(u.first { $0.column == "condition_concept_id" }?.conceptID == 0)
            #expect(u.first { $0.column == "condition_concept_id" }?.text.contains("→ concept 0 (standard_concept_id: no standard concept)") == true)
        } else {
            Issue.record("the SNDS fixture has a condition without a standard concept")
        }
    }

    /// Lookups made by named values count for the columns that read them (transitively); a
    /// rejected record leaves no entry; a replay adds its entries after the run's, and both
    /// trace.
    @Test func namedValuesRejectsAndReplaysKeepTheEntriesOfEachRow() throws {
        let dir = TestSupport.temporaryDirectory("lookup-lets")
        TestSupport.write(
            """
            harmonize-model: 1
            name: t
            tables:
              - name: item
                columns:
                  - {name: item_id, type: integer, required: true, primary_key: true}
                  - {name: concept, type: integer}
                  - {name: label, type: integer}
                  - {name: n, type: integer, required: true}
            """, to: dir + "/model.yaml")
        TestSupport.write("code,concept_id\na,100\nA,101\nb,200\nB,201\n", to: dir + "/c.csv")
        func mapping(_ n: String) -> String {
            """
            harmonize: 1
            id: t.items
            version: 1.0.0
            model: model.yaml
            source: {files: items.csv, dialect: {delimiter: ";"}}
            lookups:
              concepts: {file: c.csv, key: code, value: concept_id, type: integer}
            let:
              found: "lookup('concepts', code)"
              kept: "found"
            target: item
            fields:
              item_id: "to_int(id)"
              concept: "kept ?? 0"
              label: "lookup('concepts', upper(code))"
              n: "\(n)"
            """
        }
        TestSupport.write(mapping("to_int(n)"), to: dir + "/m1/items.yaml")
        TestSupport.write(mapping("if n == 'x' then 2 else to_int(n)"), to: dir + "/m2/items.yaml")
        for m in ["m1", "m2"] { TestSupport.write(try String(contentsOfFile: dir + "/model.yaml", encoding: .utf8), to: dir + "/\(m)/model.yaml") }
        for m in ["m1", "m2"] { TestSupport.write("code,concept_id\na,100\nA,101\nb,200\nB,201\n", to: dir + "/\(m)/c.csv") }
        TestSupport.write("id;code;n\n1;a;1\n2;b;x\n3;zz;3\n", to: dir + "/in/items.csv")
        let out = dir + "/o.sqlite"
        let r = try TestSupport.runCLI([
            "run", "--mappings", dir + "/m1", "--input", dir + "/in", "--output", out, "--no-quality", "--lineage", "--max-reject-rate", "1",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let one = try TestSupport.runCLI(["trace", "--output", out, "item", "1"])
        #expect(one.stdout.contains("  vocabulary\n    concept: lookup concepts a → 100\n    label:   lookup concepts A → 101"), "\(one.stdout)")
        let three = try TestSupport.runCLI(["trace", "--output", out, "item", "3"])
        #expect(three.stdout.contains("    concept: lookup concepts zz → no entry\n    label:   lookup concepts ZZ → no entry"), "\(three.stdout)")
        // Record 2 failed after its lookups: nothing of it is kept.
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM harmonize_lineage_entry WHERE code IN ('b', 'B')") == .int(0))

        let replay = try TestSupport.runCLI(["replay", "--output", out, "--mappings", dir + "/m2", "--input", dir + "/in", "--no-quality"])
        #expect(replay.status == 0, "\(replay.stderr)")
        let two = try TestSupport.runCLI(["trace", "--output", out, "item", "2"])
        #expect(two.stdout.contains("(replay of"), "\(two.stdout)")
        #expect(two.stdout.contains("    concept: lookup concepts b → 200\n    label:   lookup concepts B → 201"), "\(two.stdout)")
        let again = try TestSupport.runCLI(["trace", "--output", out, "item", "1"])
        #expect(again.stdout.contains("    concept: lookup concepts a → 100\n    label:   lookup concepts A → 101"), "\(again.stdout)")
        let after = try SQLiteConnection(path: out, readOnly: true)
        #expect(try after.scalar("SELECT count(DISTINCT run_seq) FROM harmonize_lineage_entry") == .int(2))
        #expect(try after.scalar("SELECT count(*) FROM harmonize_lineage_vocabulary WHERE table_name = 'item'") == .int(6))
    }
}
