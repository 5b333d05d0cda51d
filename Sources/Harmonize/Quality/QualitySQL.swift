import Foundation

/// Every SQL text of the built-in checks, one case per check type, after the OHDSI DQD templates
/// (`sql/*.sql`), in the output's dialect (SQLite or PostgreSQL: they differ in date arithmetic
/// and type tests only, `OutputDialect`). Each query returns one row: violating rows, rows
/// checked. Identifiers are quoted by the dialect; values are bound (`?1`, `?2`, …).
enum QualitySQL {
    /// A query and its bound arguments.
    struct Query {
        var sql: String
        var arguments: [Value] = []
    }

    /// What the database holds, as far as the SQL needs it.
    struct Facts {
        /// Table → column names (lower case).
        var columns: [String: Set<String>]
        /// Today as `yyyy-MM-dd` (for DQD's `GETDATE()` bounds).
        var today: CivilDate
        /// Model tables and columns the checks rely on.
        var conventions: QualityConventions
        /// The SQL dialect of the output.
        var dialect: OutputDialect = .sqlite

        func has(_ table: String) -> Bool { columns[table] != nil }
        func has(_ table: String, _ column: String) -> Bool { columns[table]?.contains(column) == true }
    }

    /// The query of a check, or the reason it does not apply.
    static func query(for c: QualityCheck, facts: Facts) -> Result<Query, NotApplicable> {
        let d = facts.dialect
        let q = d.quote
        let t = q(c.table)
        let f = q(c.field ?? "")
        let all = "(SELECT count(*) FROM \(t))"
        let k = facts.conventions
        switch c.type {
        case .cdmTable, .cdmField, .userRule:
            return .failure(NotApplicable("evaluated without SQL"))
        case .isRequired:
            return .success(Query(sql: "SELECT (SELECT count(*) FROM \(t) WHERE \(f) IS NULL), \(all)"))
        case .cdmDatatype:
            // PostgreSQL: a value whose text is not an integer's (a bigint column has none).
            let notInteger = d == .sqlite ? "typeof(\(f)) <> 'integer'" : "CAST(\(f) AS text) !~ '^-?[0-9]+$'"
            return .success(Query(sql: "SELECT (SELECT count(*) FROM \(t) WHERE \(f) IS NOT NULL AND \(notInteger)), \(all)"))
        case .isPrimaryKey:
            return .success(
                Query(
                    sql: """
                        SELECT (SELECT count(*) FROM \(t) WHERE \(f) IN (SELECT \(f) FROM \(t) WHERE \(f) IS NOT NULL GROUP BY \(f) HAVING count(*) > 1)), \(all)
                        """))
        case .isForeignKey:
            guard let rt = c.parameters["fkTableName"]?.lowercased(), let rc = c.parameters["fkFieldName"]?.lowercased() else {
                return .failure(NotApplicable("no referenced table in the check"))
            }
            guard facts.has(rt, rc) else {
                return .failure(NotApplicable("the referenced table \(rt) is not in the output"))
            }
            return .success(
                Query(
                    sql: """
                        SELECT (SELECT count(*) FROM \(t) a WHERE a.\(f) IS NOT NULL AND NOT EXISTS \
                        (SELECT 1 FROM \(q(rt)) b WHERE b.\(q(rc)) = a.\(f))), \(all)
                        """))
        case .fkDomain, .fkClass, .isStandardValidConcept:
            guard facts.has(k.conceptTable) else { return .failure(NotApplicable("no \(k.conceptTable) table (vocabulary) in the output")) }
            let condition: String
            var args: [Value] = []
            switch c.type {
            case .fkDomain:
                condition = "co.domain_id <> ?1"
                args = [.string(c.parameters["fkDomain"] ?? "")]
            case .fkClass:
                condition = "co.concept_class_id <> ?1"
                args = [.string(c.parameters["fkClass"] ?? "")]
            default:
                condition = "(co.standard_concept IS NULL OR co.standard_concept <> 'S' OR co.invalid_reason IS NOT NULL)"
            }
            return .success(
                Query(
                    sql: """
                        SELECT (SELECT count(*) FROM \(t) a JOIN \(q(k.conceptTable)) co ON co.concept_id = a.\(f) WHERE co.concept_id <> 0 AND \(condition)), \(all)
                        """, arguments: args))
        case .measureValueCompleteness:
            return .success(Query(sql: "SELECT (SELECT count(*) FROM \(t) WHERE \(f) IS NULL), \(all)"))
        case .standardConceptRecordCompleteness, .sourceConceptRecordCompleteness:
            // As DQD: 0, or, for a nullable field, null while its source value is not
            // (`unit_concept_id` / `unit_source_concept_id` → `unit_source_value`).
            var condition = "\(f) = 0"
            let name = c.field ?? ""
            let stem =
                name.hasSuffix("_source_concept_id") ? String(name.dropLast(18)) : name.hasSuffix("_concept_id") ? String(name.dropLast(11)) : ""
            if c.parameters["isRequired"]?.lowercased() != "yes", !stem.isEmpty, facts.has(c.table, stem + "_source_value") {
                condition += " OR (\(f) IS NULL AND \(q(stem + "_source_value")) IS NOT NULL)"
            }
            return .success(Query(sql: "SELECT (SELECT count(*) FROM \(t) WHERE \(condition)), \(all)"))
        case .sourceValueCompleteness:
            guard let s = c.parameters["standardConceptFieldName"]?.lowercased(), facts.has(c.table, s) else {
                return .failure(NotApplicable("no standard concept field for this source value"))
            }
            return .success(
                Query(
                    sql: """
                        SELECT (SELECT count(DISTINCT \(f)) FROM \(t) WHERE \(q(s)) = 0), (SELECT count(DISTINCT \(f)) FROM \(t))
                        """))
        case .plausibleValueLow, .plausibleValueHigh:
            let low = c.type == .plausibleValueLow
            guard let raw = c.parameters[low ? "plausibleValueLow" : "plausibleValueHigh"] else {
                return .failure(NotApplicable("no plausible value in the check"))
            }
            let isDate = ["date", "datetime"].contains(c.parameters["cdmDatatype"] ?? "")
            guard let bound = plausibleBound(raw, isDate: isDate, today: facts.today) else {
                return .failure(NotApplicable("unsupported plausible value expression"))
            }
            let op = low ? "<" : ">"
            let lhs = isDate ? d.date(f) : f
            let rhs = isDate ? "?1" : d.number("?1")
            return .success(
                Query(
                    sql:
                        "SELECT (SELECT count(*) FROM \(t) WHERE \(f) IS NOT NULL AND \(lhs) \(op) \(rhs)), (SELECT count(*) FROM \(t) WHERE \(f) IS NOT NULL)",
                    arguments: [bound]))
        case .plausibleStartBeforeEnd:
            guard let endName = c.parameters["plausibleStartBeforeEndFieldName"]?.lowercased(), facts.has(c.table, endName) else {
                return .failure(NotApplicable("the end field is not in the table"))
            }
            let e = q(endName)
            let both = "\(f) IS NOT NULL AND \(e) IS NOT NULL"
            return .success(
                Query(
                    sql: "SELECT (SELECT count(*) FROM \(t) WHERE \(both) AND \(d.date(f)) > \(d.date(e))), (SELECT count(*) FROM \(t) WHERE \(both))"
                ))
        case .plausibleAfterBirth:
            guard facts.has(k.personTable), facts.has(c.table, k.personKey) else {
                return .failure(NotApplicable("no \(k.personTable) table in the output"))
            }
            let key = q(k.personKey)
            // The birth date as ISO text (compared as text, as SQLite does: a day that does not
            // exist is no error).
            let (year, month, day) = ("p.\(q(k.birthYear))", "COALESCE(p.\(q(k.birthMonth)), 1)", "COALESCE(p.\(q(k.birthDay)), 1)")
            let birth =
                d == .sqlite
                ? "COALESCE(date(p.\(q(k.birthDateTime))), printf('%04d-%02d-%02d', \(year), \(month), \(day)))"
                : "COALESCE(CAST(CAST(p.\(q(k.birthDateTime)) AS date) AS text), to_char(\(year), 'FM0000') || '-' || to_char(\(month), 'FM00') || '-' || to_char(\(day), 'FM00'))"
            let event = d == .sqlite ? "date(a.\(f))" : "CAST(CAST(a.\(f) AS date) AS text)"
            return .success(
                Query(
                    sql: """
                        SELECT (SELECT count(*) FROM \(t) a JOIN \(q(k.personTable)) p ON a.\(key) = p.\(key) WHERE a.\(f) IS NOT NULL AND \(event) < \
                        \(birth)), (SELECT count(*) FROM \(t) WHERE \(f) IS NOT NULL)
                        """))
        case .plausibleBeforeDeath:
            guard facts.has(k.deathTable), facts.has(c.table, k.personKey) else {
                return .failure(NotApplicable("no \(k.deathTable) table in the output"))
            }
            let key = q(k.personKey)
            return .success(
                Query(
                    sql: """
                        SELECT (SELECT count(*) FROM \(t) a JOIN \(q(k.deathTable)) dt ON a.\(key) = dt.\(key) WHERE a.\(f) IS NOT NULL \
                        AND \(d.date("a." + f)) > \(d.date("dt." + q(k.deathDate), plusDays: 60))), (SELECT count(*) FROM \(t) WHERE \(f) IS NOT NULL)
                        """))
        case .withinVisitDates:
            guard facts.has(k.visitTable), facts.has(c.table, k.visitKey) else {
                return .failure(NotApplicable("no \(k.visitTable) table in the output"))
            }
            let join = "FROM \(t) a JOIN \(q(k.visitTable)) v ON a.\(q(k.visitKey)) = v.\(q(k.visitKey))"
            return .success(
                Query(
                    sql: """
                        SELECT (SELECT count(*) \(join) WHERE \(d.date("a." + f)) < \(d.date("v." + q(k.visitStart), plusDays: -7)) \
                        OR \(d.date("a." + f)) > \(d.date("v." + q(k.visitEnd), plusDays: 7))), (SELECT count(*) \(join))
                        """))
        case .measurePersonCompleteness:
            guard facts.has(k.personTable), facts.has(c.table, k.personKey) else {
                return .failure(NotApplicable("no \(k.personTable) table in the output"))
            }
            let (pt, key) = (q(k.personTable), q(k.personKey))
            return .success(
                Query(
                    sql: """
                        SELECT (SELECT count(*) FROM \(pt) p WHERE NOT EXISTS (SELECT 1 FROM \(t) a WHERE a.\(key) = p.\(key))), \
                        (SELECT count(*) FROM \(pt))
                        """))
        case .measureObservationPeriodOverlap:
            guard facts.has(c.table, k.periodStart), facts.has(c.table, k.periodEnd), facts.has(c.table, k.periodKey) else {
                return .failure(NotApplicable("the table has no period columns"))
            }
            let (s, e, id, key) = (q(k.periodStart), q(k.periodEnd), q(k.periodKey), q(k.personKey))
            return .success(
                Query(
                    sql: """
                        SELECT (SELECT count(DISTINCT a.\(key)) FROM \(t) a JOIN \(t) b ON a.\(key) = b.\(key) \
                        AND a.\(id) <> b.\(id) WHERE (a.\(s) <= b.\(e) AND a.\(e) >= b.\(s)) \
                        OR \(d.date("a." + e, plusDays: 1)) = \(d.date("b." + s)) OR \(d.date("b." + e, plusDays: 1)) = \(d.date("a." + s))), \
                        (SELECT count(DISTINCT \(key)) FROM \(t))
                        """))
        case .plausibleGenderUseDescendants:
            guard facts.has(k.conceptAncestorTable) else {
                return .failure(NotApplicable("no \(k.conceptAncestorTable) table (vocabulary) in the output"))
            }
            guard facts.has(k.personTable), let cid = c.conceptID else { return .failure(NotApplicable("no \(k.personTable) table in the output")) }
            guard let gender = k.genderConcepts[(c.parameters["plausibleGender"] ?? "").lowercased()] else {
                return .failure(NotApplicable("unknown plausible gender"))
            }
            let ancestors = (c.parameters["conceptIds"] ?? "").split(separator: ",").compactMap { Int($0) }
            // Parsed integers, so they can be written into the SQL text.
            let list = (ancestors.isEmpty ? [cid] : ancestors).map(String.init).joined(separator: ", ")
            let from = """
                FROM \(t) a JOIN \(q(k.personTable)) p ON p.\(q(k.personKey)) = a.\(q(k.personKey)) WHERE a.\(f) IN \
                (SELECT descendant_concept_id FROM \(q(k.conceptAncestorTable)) WHERE ancestor_concept_id IN (\(list)))
                """
            return .success(
                Query(sql: "SELECT (SELECT count(*) \(from) AND p.\(q(k.personGender)) <> ?1), (SELECT count(*) \(from))", arguments: [.int(gender)]))
        case .plausibleUnitConceptIds:
            guard let cid = c.conceptID, facts.has(c.table, k.unitField) else { return .failure(NotApplicable("no unit field")) }
            let unit = q(k.unitField)
            let units = (c.parameters["plausibleUnitConceptIds"] ?? "").split(separator: ",").compactMap {
                Int($0.trimmingCharacters(in: .whitespaces))
            }
            guard !units.isEmpty else { return .failure(NotApplicable("no plausible units in the check")) }
            let condition: String
            if units == [-1] {
                condition = "\(unit) <> 0"
            } else {
                // The ids are parsed integers, so they can be written into the SQL text.
                condition = "\(unit) NOT IN (\((units + [0]).map(String.init).joined(separator: ", ")))"
            }
            return .success(
                Query(
                    sql: """
                        SELECT (SELECT count(*) FROM \(t) WHERE \(f) = ?1 AND \(unit) IS NOT NULL AND \(condition)), \
                        (SELECT count(*) FROM \(t) WHERE \(f) = ?1)
                        """, arguments: [.int(cid)]))
        }
    }

    /// A DQD plausible-value bound as a value to compare with: `'19500101'` → `1950-01-01`,
    /// `YEAR(GETDATE())+1` → next year, `DATEADD(dd,1,GETDATE())` → tomorrow, numbers as numbers.
    static func plausibleBound(_ raw: String, isDate: Bool, today: CivilDate) -> Value? {
        let s = raw.trimmingSpaces()
        let compact = s.replacingOccurrences(of: " ", with: "").uppercased()
        if compact == "YEAR(GETDATE())+1" { return .int(today.year + 1) }
        if compact == "DATEADD(DD,1,GETDATE())" {
            let d = CivilDate(daysSinceEpoch: today.daysSinceEpoch + 1)
            return .string(d.isoString)
        }
        let unquoted = s.trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        if isDate {
            let digits = Array(unquoted.utf8)
            guard digits.count == 8, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return .string("\(unquoted.prefix(4))-\(unquoted.dropFirst(4).prefix(2))-\(unquoted.suffix(2))")
        }
        if let i = Int(unquoted) { return .int(i) }
        if let d = Double(unquoted) { return .double(d) }
        return nil
    }

    /// Why a check does not apply.
    struct NotApplicable: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
