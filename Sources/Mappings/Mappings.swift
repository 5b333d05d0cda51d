public import Harmonize
import Foundation

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
        guard let url = Bundle.module.url(forResource: "omop-cdm-5.4.model", withExtension: "yaml", subdirectory: "Resources/omop")
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
}
