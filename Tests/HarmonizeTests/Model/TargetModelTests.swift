import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

@Suite struct TargetModelTests {
    @Test func loadsTheHarmonizeModelFormat() throws {
        let yaml = """
            harmonize-model: 1
            name: tiny
            version: "2"
            tables:
              - name: item
                columns:
                  - {name: item_id, type: integer, required: true, primary_key: true}
                  - {name: label, type: "varchar(20)"}
                  - {name: owner_id, type: bigint, references: owner.owner_id}
                  - {name: when, type: date}
            """
        let m = try TargetModel.load(yaml: yaml, file: "tiny.yaml")
        #expect(m.name == "tiny")
        #expect(m.version == "2")
        let t = try #require(m.table(named: "ITEM"))
        #expect(t.primaryKey == ["item_id"])
        #expect(t.columns.map(\.type) == [.integer, .varchar(20), .bigint, .date])
        #expect(t.columns[0].isRequired)
        #expect(t.columns[2].foreignKey == ForeignKey(table: "owner", column: "owner_id"))
        // Round trip through the writer.
        #expect(try TargetModel.load(yaml: m.yaml(), file: "again.yaml") == m)
    }

    /// Flags are YAML 1.1 booleans written plain, in any case (the model is composed without
    /// Yams's tag resolution, and read as its default resolver would); quoted text is not a flag.
    @Test func flagsReadAsYAMLBooleans() throws {
        let yaml = """
            harmonize-model: 1
            tables:
              - name: t
                columns:
                  - {name: a, type: integer, required: yes, primary_key: On}
                  - {name: b, type: integer, required: TRUE}
                  - {name: c, type: integer, required: "true"}
                  - {name: d, type: integer, required: no, primary_key: false}
                  - {name: e, type: integer, required: 1}
            """
        let t = try #require(try TargetModel.load(yaml: yaml, file: "flags.yaml").table(named: "t"))
        #expect(t.columns.map(\.isRequired) == [true, true, false, false, false])
        #expect(t.columns.map(\.isPrimaryKey) == [true, false, false, false, false])
    }

    @Test func reportsEveryProblemWithItsLine() {
        let yaml = """
            harmonize-model: 7
            tables:
              - name: a
                columns:
                  - {name: x, type: quaternion}
                  - {type: integer}
            """
        do {
            _ = try TargetModel.load(yaml: yaml, file: "bad.yaml")
            Issue.record("expected diagnostics")
        } catch {
            let codes = error.diagnostics.map(\.code)
            #expect(codes.contains("HZ1102"))
            #expect(codes.contains("HZ1105"))
            #expect(codes.contains("HZ1104"))
            #expect(error.diagnostics.first { $0.code == "HZ1105" }?.line == 5)
            #expect(error.description.contains("highest supported is 1"))
        }
    }

    @Test func columnTypeSpellings() {
        #expect(ColumnType(spelling: "Integer") == .integer)
        #expect(ColumnType(spelling: "varchar(MAX)") == .varchar(nil))
        #expect(ColumnType(spelling: "varchar(50)") == .varchar(50))
        #expect(ColumnType(spelling: "varchar(0)") == nil)
        #expect(ColumnType(spelling: "blob") == nil)
        #expect(ColumnType.float.valueType == .number)
    }

    /// The bundled OMOP model is generated from OHDSI's field-level CSV; re-derive it with the
    /// engine's own CSV reader and compare, so the two never drift.
    @Test func omopModelMatchesTheFieldLevelSpecification() throws {
        let model = try Mappings.omopModel()
        #expect(model.tables.count == 39)
        #expect(model.tables.reduce(0) { $0 + $1.columns.count } == 432)
        let path = try #require(Mappings.omopFieldLevelSpecificationPath())
        let reader = try DelimitedReader(path: path, dialect: Dialect(delimiter: UInt8(ascii: ","), encoding: .utf8))
        let names = reader.columnNames
        func col(_ n: String) throws -> Int { try #require(names.firstIndex(of: n)) }
        let (tI, fI, rI, dI, pkI, fkI, fkT, fkF) = (
            try col("cdmTableName"), try col("cdmFieldName"), try col("isRequired"), try col("cdmDatatype"), try col("isPrimaryKey"),
            try col("isForeignKey"), try col("fkTableName"), try col("fkFieldName")
        )
        var rows = 0
        while case .record = try reader.next() {
            rows += 1
            let table = try #require(model.table(named: reader.string(tI)))
            // The spec quotes SQL reserved words (`"offset"`); the column itself has no quotes.
            let field = reader.string(fI).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let ci = try #require(table.columnIndex(named: field))
            let c = table.columns[ci]
            #expect(c.type == ColumnType(spelling: reader.string(dI)))
            #expect(c.isRequired == (reader.string(rI) == "Yes"))
            #expect(c.isPrimaryKey == (reader.string(pkI) == "Yes"))
            if reader.string(fkI) == "Yes", reader.string(fkT) != "NA" {
                #expect(c.foreignKey == ForeignKey(table: reader.string(fkT).lowercased(), column: reader.string(fkF).lowercased()))
            }
        }
        #expect(rows == 432)
        let person = try #require(model.table(named: "person"))
        #expect(person.primaryKey == ["person_id"])
        #expect(person.columns.first { $0.name == "gender_concept_id" }?.foreignKeyDomain == "Gender")
    }

    /// The bundled OMOP model is derived from OHDSI's CSV when first asked for; its file in the
    /// `harmonize-model: 1` format (written by `Scripts/generate_omop_model.py`, for people to
    /// read) is the same model, table for table and column for column.
    @Test func theOMOPModelFileIsTheModelRunsUse() throws {
        let path = try #require(Mappings.omopModelFilePath())
        let fromFile = try TargetModel.load(path: path)
        let derived = try Mappings.omopModel()
        #expect(fromFile.orphans != nil && fromFile.tables.contains { $0.columns.contains { $0.foreignKeyClass != nil } })
        #expect(fromFile.name == derived.name && fromFile.version == derived.version && fromFile.orphans == derived.orphans)
        #expect(fromFile.tables.map(\.name) == derived.tables.map(\.name))
        for (a, b) in zip(fromFile.tables, derived.tables) {
            #expect(a.columns.map(\.name) == b.columns.map(\.name), "table \(a.name)")
            for (x, y) in zip(a.columns, b.columns) where x != y { Issue.record("\(a.name).\(x.name): \(x) in the file, \(y) derived") }
        }
    }

    @Test func sqliteDDLCreatesEveryOMOPTable() throws {
        let model = try Mappings.omopModel()
        let dir = TestSupport.temporaryDirectory("ddl")
        let db = try SQLiteConnection(path: dir + "/omop.sqlite")
        for t in model.tables {
            try db.execute(SQLiteDDL.createTable(t))
            try db.execute(SQLiteDDL.indexes(t))
        }
        let n = try db.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        #expect(n == .int(39))
    }

    /// The index of a nullable foreign key holds its non-null rows only (so building it after
    /// the load sorts no empty keys), and lookups and joins on the column still use it; a
    /// required column's index is whole.
    @Test func nullableForeignKeysHavePartialIndexesThatLookupsStillUse() throws {
        let model = try Mappings.omopModel()
        let db = try SQLiteConnection(path: TestSupport.temporaryDirectory("ddl-partial") + "/omop.sqlite")
        for name in ["measurement", "visit_occurrence"] {
            let t = try #require(model.table(named: name))
            try db.execute(SQLiteDDL.createTable(t))
        }
        try db.execute(
            """
            WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 1000)
            INSERT INTO measurement (measurement_id, person_id, measurement_concept_id, measurement_date, measurement_type_concept_id, visit_occurrence_id)
            SELECT value, value % 7, 0, '2024-01-01', 32817, CASE WHEN value % 10 = 0 THEN value END FROM s;
            """
        )
        for name in ["measurement", "visit_occurrence"] { try db.execute(SQLiteDDL.indexes(try #require(model.table(named: name)))) }
        func sql(_ index: String) throws -> String { try db.scalar("SELECT sql FROM sqlite_master WHERE name = ?", [.string(index)]).text ?? "" }
        #expect(try sql("idx_measurement_visit_occurrence_id").hasSuffix("WHERE \"visit_occurrence_id\" IS NOT NULL"))
        #expect(try !sql("idx_measurement_person_id").contains("WHERE"))
        #expect(try sql("pk_measurement").hasPrefix("CREATE UNIQUE INDEX"))
        // The partial index has the 100 non-null rows, and an equality uses it.
        #expect(
            try db.scalar("SELECT count(*) FROM measurement INDEXED BY idx_measurement_visit_occurrence_id WHERE visit_occurrence_id > 0")
                == .int(100))
        func plan(_ query: String) throws -> String { try db.query("EXPLAIN QUERY PLAN " + query).map { $0[3].text ?? "" }.joined(separator: "; ") }
        #expect(
            try plan("SELECT * FROM measurement WHERE visit_occurrence_id = 30").contains(
                "INDEX idx_measurement_visit_occurrence_id (visit_occurrence_id=?)"))
        #expect(
            try plan("SELECT count(*) FROM visit_occurrence v CROSS JOIN measurement m ON m.visit_occurrence_id = v.visit_occurrence_id")
                .contains("INDEX idx_measurement_visit_occurrence_id (visit_occurrence_id=?)"))
    }
}
