/// The data-quality check types Harmonize runs, named as in the OHDSI Data Quality Dashboard (DQD)
/// so that results compare with DQD's. Each has a Kahn category and subcategory.
package enum QualityCheckType: String, Sendable, Codable, CaseIterable, Hashable {
    case cdmTable, cdmField, isRequired, cdmDatatype, isPrimaryKey, isForeignKey, fkDomain, fkClass
    case isStandardValidConcept, measureValueCompleteness, standardConceptRecordCompleteness
    case sourceConceptRecordCompleteness, sourceValueCompleteness, plausibleValueLow, plausibleValueHigh
    case plausibleAfterBirth, plausibleBeforeDeath, plausibleStartBeforeEnd, withinVisitDates
    case measurePersonCompleteness, measureObservationPeriodOverlap
    case plausibleGenderUseDescendants, plausibleUnitConceptIds
    /// A rule written by the user in a `--checks` file.
    case userRule

    /// Kahn category: `conformance`, `completeness` or `plausibility`.
    public var category: String {
        switch self {
        case .cdmTable, .cdmField, .isRequired, .cdmDatatype, .isPrimaryKey, .isForeignKey, .fkDomain, .fkClass, .isStandardValidConcept:
            return "conformance"
        case .measureValueCompleteness, .standardConceptRecordCompleteness, .sourceConceptRecordCompleteness, .sourceValueCompleteness,
            .measurePersonCompleteness:
            return "completeness"
        case .plausibleValueLow, .plausibleValueHigh, .plausibleAfterBirth, .plausibleBeforeDeath, .plausibleStartBeforeEnd, .withinVisitDates,
            .measureObservationPeriodOverlap, .plausibleGenderUseDescendants, .plausibleUnitConceptIds, .userRule:
            return "plausibility"
        }
    }

    /// Kahn subcategory (`relational`, `value`, `computational`, `atemporal`, `temporal`) or empty.
    public var subcategory: String {
        switch self {
        case .cdmTable, .cdmField, .isRequired, .isPrimaryKey, .isForeignKey: return "relational"
        case .cdmDatatype, .fkDomain, .isStandardValidConcept: return "value"
        case .fkClass: return "computational"
        case .plausibleValueLow, .plausibleValueHigh, .plausibleGenderUseDescendants, .plausibleUnitConceptIds, .userRule: return "atemporal"
        case .plausibleAfterBirth, .plausibleBeforeDeath, .plausibleStartBeforeEnd, .measureObservationPeriodOverlap: return "temporal"
        default: return ""
        }
    }
}
