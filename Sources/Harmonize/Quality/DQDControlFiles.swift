/// Builds checks from OHDSI Data Quality Dashboard control files (`*_Table_Level.csv`,
/// `*_Field_Level.csv`, `*_Concept_Level.csv`): which check applies to which table and field,
/// its inputs and its threshold. Only tables of the given model are kept.
package enum DQDControlFiles {
    /// The checks described by the three control files' texts, for the tables of `model`.
    public static func checks(tableLevel: String, fieldLevel: String, conceptLevel: String, model: TargetModel) -> [QualityCheck] {
        var out: [QualityCheck] = []
        let tables = Set(model.tables.map { $0.name.lowercased() })
        func threshold(_ row: [String: String], _ name: String) -> Double {
            Double(row[name + "Threshold"]?.trimmingSpaces() ?? "") ?? 0
        }
        func yes(_ row: [String: String], _ name: String) -> Bool { row[name]?.trimmingSpaces().lowercased() == "yes" }

        for row in CSVText.records(tableLevel) {
            let t = (row["cdmTableName"] ?? "").lowercased()
            guard tables.contains(t), row["schema"]?.uppercased() != "COHORT" else { continue }
            out.append(QualityCheck(type: .cdmTable, table: t, parameters: ["isRequired": row["isRequired"] ?? "No", "schema": row["schema"] ?? ""]))
            for type in [QualityCheckType.measurePersonCompleteness, .measureObservationPeriodOverlap] where yes(row, type.rawValue) {
                out.append(QualityCheck(type: type, table: t, threshold: threshold(row, type.rawValue)))
            }
        }

        let fieldTypes: [QualityCheckType] = [
            .isRequired, .cdmDatatype, .isPrimaryKey, .isForeignKey, .fkDomain, .fkClass, .isStandardValidConcept, .measureValueCompleteness,
            .standardConceptRecordCompleteness, .sourceConceptRecordCompleteness, .sourceValueCompleteness, .plausibleValueLow,
            .plausibleValueHigh, .plausibleStartBeforeEnd, .plausibleAfterBirth, .plausibleBeforeDeath, .withinVisitDates,
        ]
        let inputs = [
            "isRequired", "cdmDatatype", "fkTableName", "fkFieldName", "fkDomain", "fkClass", "standardConceptFieldName", "plausibleValueLow",
            "plausibleValueHigh", "plausibleStartBeforeEndFieldName",
        ]
        for row in CSVText.records(fieldLevel) {
            let t = (row["cdmTableName"] ?? "").lowercased()
            guard tables.contains(t), let f = row["cdmFieldName"]?.lowercased(), !f.isEmpty else { continue }
            var params: [String: String] = [:]
            for k in inputs { if let v = row[k]?.trimmingSpaces(), !v.isEmpty { params[k] = v } }
            out.append(QualityCheck(type: .cdmField, table: t, field: f, parameters: params))
            for type in fieldTypes {
                let applies: Bool
                switch type {
                // These checks run when their input column holds a value (DQD evaluationFilter).
                case .cdmDatatype: applies = params["cdmDatatype"] == "integer"
                case .fkDomain: applies = params["fkDomain"] != nil
                case .fkClass: applies = params["fkClass"] != nil
                case .plausibleValueLow: applies = params["plausibleValueLow"] != nil
                case .plausibleValueHigh: applies = params["plausibleValueHigh"] != nil
                case .plausibleStartBeforeEnd: applies = yes(row, type.rawValue) && params["plausibleStartBeforeEndFieldName"] != nil
                default: applies = yes(row, type.rawValue)
                }
                guard applies else { continue }
                out.append(QualityCheck(type: type, table: t, field: f, threshold: threshold(row, type.rawValue), parameters: params))
            }
        }

        for row in CSVText.records(conceptLevel) {
            let t = (row["cdmTableName"] ?? "").lowercased()
            // `conceptId` is one id, or for plausibleGenderUseDescendants a list of ancestors ("1, 2").
            let ids = (row["conceptId"] ?? "").split(separator: ",").compactMap { Int(String($0).trimmingSpaces()) }
            guard tables.contains(t), let f = row["cdmFieldName"]?.lowercased(), let cid = ids.first else { continue }
            let unit = Int(row["unitConceptId"] ?? "")
            let list = ids.map(String.init).joined(separator: ",")
            if let g = row["plausibleGenderUseDescendants"]?.trimmingSpaces(), !g.isEmpty {
                out.append(
                    QualityCheck(
                        type: .plausibleGenderUseDescendants, table: t, field: f, conceptID: cid, unitConceptID: unit,
                        threshold: threshold(row, "plausibleGenderUseDescendants"), parameters: ["plausibleGender": g, "conceptIds": list]))
            }
            if let u = row["plausibleUnitConceptIds"]?.trimmingSpaces(), !u.isEmpty {
                out.append(
                    QualityCheck(
                        type: .plausibleUnitConceptIds, table: t, field: f, conceptID: cid, unitConceptID: unit,
                        threshold: threshold(row, "plausibleUnitConceptIds"), parameters: ["plausibleUnitConceptIds": u, "conceptIds": list]))
            }
        }
        return out
    }
}
