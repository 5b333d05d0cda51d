public import Harmonize

/// The health-domain pack: the OMOP CDM v5.4 target model, French code-system functions and the
/// catalogue of bundled mapping files.
public enum Mappings {}
