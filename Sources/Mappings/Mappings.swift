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

    /// The OMOP CDM v5.4 model, generated from OHDSI's field-level specification
    /// (`Resources/omop/omop-cdm-5.4.model.yaml`, made by `Scripts/generate_omop_model.py`).
    public static func omopModel() throws -> TargetModel {
        guard
            let url = Bundle.module.url(forResource: "omop-cdm-5.4.model", withExtension: "yaml", subdirectory: "Resources/omop")
                ?? Bundle.module.url(forResource: "omop-cdm-5.4.model", withExtension: "yaml")
        else {
            throw ResourceError(description: "the bundled OMOP model resource is missing")
        }
        return try TargetModel.load(path: url.path)
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
