import Foundation
public import Harmonize

/// The health-domain pack: the OMOP CDM v5.4 target model, French code-system functions and the
/// catalogue of bundled mapping files.
public enum Mappings {
    /// A problem reading a bundled resource (a packaging bug, not an input problem).
    public struct ResourceError: Error, CustomStringConvertible {
        /// What is missing.
        public var description: String
    }

    /// The OMOP CDM v5.4 model, derived from OHDSI's field-level specification
    /// (`Resources/omop/OMOP_CDMv5.4_Field_Level.csv`) once per process, as
    /// `Scripts/generate_omop_model.py` derives `Resources/omop/omop-cdm-5.4.model.yaml`: the same
    /// model in the `harmonize-model: 1` format, for people to read and to start their own models
    /// from (a test checks that the two are equal). The CSV is read with the engine's CSV reader:
    /// composing the YAML with Yams took 41 M instructions, 30 % of a run of 100 stays
    /// (`callgrind`), for every run.
    public static func omopModel() throws -> TargetModel {
        try derivedOMOPModel.get()
    }

    private static let derivedOMOPModel: Result<TargetModel, any Error> = Result {
        guard let path = omopFieldLevelSpecificationPath() else {
            throw ResourceError(description: "the bundled OMOP field-level specification is missing")
        }
        return try omopModel(fieldLevelSpecification: path)
    }

    /// The target model that OHDSI's field-level specification CSV at `path` describes: its
    /// tables in order of first appearance, each field a column (`cdmDatatype` its type,
    /// `isRequired`, `isPrimaryKey`, the foreign key when `isForeignKey` names a table, with its
    /// `fkDomain` and `fkClass`), and rows whose `person_id` names no person held back
    /// (`orphans: person.person_id`, Harmonize's policy).
    static func omopModel(fieldLevelSpecification path: String) throws -> TargetModel {
        let reader = try DelimitedReader(path: path, dialect: Dialect(delimiter: UInt8(ascii: ","), encoding: .utf8))
        let names = reader.columnNames
        func column(_ name: String) throws -> Int {
            guard let i = names.firstIndex(of: name) else {
                throw ResourceError(description: "\(path): the OMOP field-level specification has no column \(name)")
            }
            return i
        }
        let (table, field, type, required, primaryKey) = (
            try column("cdmTableName"), try column("cdmFieldName"), try column("cdmDatatype"), try column("isRequired"),
            try column("isPrimaryKey")
        )
        let (foreignKey, fkTable, fkField, fkDomain, fkClass) = (
            try column("isForeignKey"), try column("fkTableName"), try column("fkFieldName"), try column("fkDomain"),
            try column("fkClass")
        )
        func given(_ text: String) -> String? { text == "NA" || text.isEmpty ? nil : text }
        // The spec quotes SQL reserved words (`"offset"`); the column is named without the quotes.
        func unquoted(_ text: String) -> String {
            var t = Substring(text)
            while t.first == "\"" { t = t.dropFirst() }
            while t.last == "\"" { t = t.dropLast() }
            return String(t)
        }
        var tables: [TargetTable] = []
        var tableIndex: [String: Int] = [:]
        while case .record = try reader.next() {
            let spelling = reader.string(type).lowercased()
            guard let columnType = ColumnType(spelling: spelling) else {
                throw ResourceError(description: "\(path), record \(reader.location.record ?? 0): unknown cdmDatatype '\(spelling)'")
            }
            var fk: ForeignKey?
            if reader.string(foreignKey) == "Yes", let t = given(reader.string(fkTable)) {
                fk = ForeignKey(table: t.lowercased(), column: reader.string(fkField).lowercased())
            }
            let c = TargetColumn(
                name: unquoted(reader.string(field)), type: columnType,
                isRequired: reader.string(required) == "Yes", isPrimaryKey: reader.string(primaryKey) == "Yes", foreignKey: fk,
                foreignKeyDomain: given(reader.string(fkDomain)), foreignKeyClass: given(reader.string(fkClass)))
            let name = reader.string(table)
            if let i = tableIndex[name] {
                tables[i].columns.append(c)
            } else {
                tableIndex[name] = tables.count
                tables.append(TargetTable(name: name, columns: [c]))
            }
        }
        var model = TargetModel(name: "omop-cdm", version: "5.4", tables: tables)
        model.orphans = ForeignKey(table: "person", column: "person_id")
        return model
    }

    /// Path of the OMOP model in the `harmonize-model: 1` format bundled with the module (what
    /// `omopModel()` gives, written out by `Scripts/generate_omop_model.py`).
    public static func omopModelFilePath() -> String? {
        (Bundle.module.url(forResource: "omop-cdm-5.4.model", withExtension: "yaml", subdirectory: "Resources/omop")
            ?? Bundle.module.url(forResource: "omop-cdm-5.4.model", withExtension: "yaml"))?.path
    }

    /// Path of OHDSI's field-level specification CSV bundled with the module.
    public static func omopFieldLevelSpecificationPath() -> String? {
        (Bundle.module.url(forResource: "OMOP_CDMv5.4_Field_Level", withExtension: "csv", subdirectory: "Resources/omop")
            ?? Bundle.module.url(forResource: "OMOP_CDMv5.4_Field_Level", withExtension: "csv"))?.path
    }

    /// The OHDSI Data Quality Dashboard checks for OMOP CDM v5.4 (control files bundled in
    /// `Resources/dqd`, Apache-2.0), for the tables of `model` (the OMOP model by default), with
    /// DQD's default thresholds.
    package static func omopQualityChecks(model: TargetModel? = nil) throws -> [QualityCheck] {
        func text(_ name: String) throws -> String {
            guard
                let url = Bundle.module.url(forResource: name, withExtension: "csv", subdirectory: "Resources/dqd")
                    ?? Bundle.module.url(forResource: name, withExtension: "csv")
            else { throw ResourceError(description: "the bundled DQD control file \(name).csv is missing") }
            return try String(contentsOf: url, encoding: .utf8)
        }
        return DQDControlFiles.checks(
            tableLevel: try text("OMOP_CDMv5.4_Table_Level"), fieldLevel: try text("OMOP_CDMv5.4_Field_Level"),
            conceptLevel: try text("OMOP_CDMv5.4_Concept_Level"), model: try model ?? omopModel())
    }

    /// The OMOP CDM v5.4 tables and columns the person-, visit-, death- and vocabulary-aware
    /// quality checks rely on (gender concepts: 8507 male, 8532 female).
    package static let omopQualityConventions = QualityConventions(
        personTable: "person", personKey: "person_id", birthDateTime: "birth_datetime", birthYear: "year_of_birth",
        birthMonth: "month_of_birth", birthDay: "day_of_birth", personGender: "gender_concept_id", genderConcepts: ["male": 8507, "female": 8532],
        deathTable: "death", deathDate: "death_date", visitTable: "visit_occurrence", visitKey: "visit_occurrence_id",
        visitStart: "visit_start_date", visitEnd: "visit_end_date", periodKey: "observation_period_id",
        periodStart: "observation_period_start_date", periodEnd: "observation_period_end_date", conceptTable: "concept",
        conceptAncestorTable: "concept_ancestor", unitField: "unit_concept_id")
}
