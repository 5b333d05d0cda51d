/// One data-quality check to run: its type, the table and field it is about, its inputs and its
/// threshold. Built from a control file (OMOP: OHDSI DQD's) or from a user's `--checks` file.
package struct QualityCheck: Sendable, Hashable, Codable {
    /// The check type.
    public var type: QualityCheckType
    /// The table checked (lower case).
    public var table: String
    /// The field checked, for field- and concept-level checks.
    public var field: String?
    /// The concept id, for concept-level checks (the first one when the check names several, in
    /// `parameters["conceptIds"]`).
    public var conceptID: Int?
    /// The unit concept id, for concept-level checks that have one.
    public var unitConceptID: Int?
    /// The percentage (0–100) of violating rows tolerated: the check fails when
    /// `100 * violating / checked > threshold`.
    public var threshold: Double
    /// Check inputs, by DQD column name (`plausibleValueLow`, `plausibleStartBeforeEndFieldName`,
    /// `standardConceptFieldName`, `fkTableName`, `fkFieldName`, `fkDomain`, `fkClass`,
    /// `plausibleGender`, `plausibleUnitConceptIds`, `cdmDatatype`) or, for user rules, `rule`,
    /// `join`, `key`, `name`.
    public var parameters: [String: String]

    /// Creates a check.
    public init(
        type: QualityCheckType, table: String, field: String? = nil, conceptID: Int? = nil, unitConceptID: Int? = nil,
        threshold: Double = 0, parameters: [String: String] = [:]
    ) {
        self.type = type
        self.table = table.lowercased()
        self.field = field?.lowercased()
        self.conceptID = conceptID
        self.unitConceptID = unitConceptID
        self.threshold = threshold
        self.parameters = parameters
    }

    /// A stable id: the type, table, field and concept ids joined by dots, e.g.
    /// `isRequired.person.gender_concept_id`; a user rule's id is `userRule.<name>`.
    public var id: String {
        if type == .userRule { return "userRule." + (parameters["name"] ?? table) }
        var parts = [type.rawValue, table]
        if let field { parts.append(field) }
        if let list = parameters["conceptIds"] { parts.append(list) } else if let conceptID { parts.append(String(conceptID)) }
        if let unitConceptID { parts.append(String(unitConceptID)) }
        return parts.joined(separator: ".")
    }
}
