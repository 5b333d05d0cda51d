import Foundation

/// Re-identification risk of the persons of an output database (`harmonize-run risk`).
///
/// Persons are grouped into equivalence classes by their quasi-identifiers; a class of size `f`
/// gives each of its persons a prosecutor risk of `1/f` (an attacker who knows the person is in
/// the data). Reported: `k` (the smallest class), the share of persons alone in their class,
/// the prosecutor risk (largest, and the share of persons above a threshold), the marketer risk
/// (expected share of persons re-identified when every record is attacked: classes / persons),
/// and the classes smaller than the required `k`, as counts only (never their values).
package enum ReidentificationRisk {
    /// A failure to read the database or an unknown quasi-identifier. Messages hold no values.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// What went wrong.
        public var description: String
        /// Whether the cause is the request (unknown quasi-identifier) rather than the file.
        public var isUsage: Bool

        /// Creates a failure.
        package init(description: String, isUsage: Bool) {
            self.description = description
            self.isUsage = isUsage
        }
    }

    /// The result (no cell values, counts only).
    public struct Report: Sendable, Codable, Hashable {
        /// The quasi-identifiers, as asked.
        public var quasi_identifiers: [String]
        /// Persons in the person table.
        public var persons: Int
        /// Equivalence classes.
        public var classes: Int
        /// The smallest class size (0 without persons).
        public var k: Int
        /// The required k.
        public var min_k: Int
        /// Persons alone in their class.
        public var unique_persons: Int
        /// unique_persons / persons.
        public var unique_share: Double
        /// 1 / k.
        public var prosecutor_risk_max: Double
        /// classes / persons: the average prosecutor risk.
        public var prosecutor_risk_average: Double
        /// The prosecutor-risk threshold.
        public var threshold: Double
        /// Persons whose prosecutor risk (1 / class size) exceeds the threshold.
        public var persons_above_threshold: Int
        /// persons_above_threshold / persons.
        public var share_above_threshold: Double
        /// Marketer risk: expected share of persons re-identified (classes / persons).
        public var marketer_risk: Double
        /// Classes smaller than min_k.
        public var classes_below_min_k: Int
        /// Persons in classes smaller than min_k.
        public var persons_below_min_k: Int
        /// Class sizes below min_k → how many classes have that size.
        public var small_class_sizes: [String: Int]
        /// Whether k ≥ min_k.
        public var passes: Bool
    }

    /// Quasi-identifiers derived from other tables (beyond the person table's own columns).
    public static let derived: [String: String] = [
        "gender": "gender concept (person.gender_concept_id)",
        "birth_decade": "decade of birth (year_of_birth / 10 × 10)",
        "department": "location.county of the person's location (location_id), else the first 2 characters of location.zip",
        "condition_3char": "the set of 3-character categories of the person's condition_source_value (dots removed, upper-cased)",
        "death": "whether the person has a death row (1/0)",
    ]

    /// Computes the report over `path` (read-only).
    public static func analyse(path: String, quasiIdentifiers: [String], minK: Int, threshold: Double) throws(Failure) -> Report {
        guard FileManager.default.fileExists(atPath: path) else { throw Failure(description: "no such output database: \(path)", isUsage: false) }
        let db: SQLiteOutputConnection
        do {
            db = try SQLiteOutputConnection(path: path, readOnly: true)
        } catch {
            throw Failure(description: error.description, isUsage: false)
        }
        return try analyse(on: db, quasiIdentifiers: quasiIdentifiers, minK: minK, threshold: threshold)
    }

    /// Computes the report over the published schema of a PostgreSQL output.
    package static func analyse(postgres target: PostgreSQLTarget, quasiIdentifiers: [String], minK: Int, threshold: Double) throws(Failure)
        -> Report
    {
        let db: PostgreSQLOutputConnection
        do {
            db = try PostgreSQLOutputConnection(target: target)
        } catch {
            throw Failure(description: error.description, isUsage: false)
        }
        return try analyse(on: db, quasiIdentifiers: quasiIdentifiers, minK: minK, threshold: threshold)
    }

    /// Computes the report over an output (the same SQL in both dialects but for the list of a
    /// person's condition categories).
    static func analyse(on db: any OutputConnection, quasiIdentifiers: [String], minK: Int, threshold: Double) throws(Failure) -> Report {
        let path = db.name
        let tables: [String: [String]]
        do {
            tables = try db.tableColumns()
        } catch {
            throw Failure(description: "cannot read \(path): \(error)", isUsage: false)
        }
        func columns(_ table: String) -> [String] { tables[table] ?? [] }
        let personColumns = columns("person")
        guard personColumns.contains("person_id") else { throw Failure(description: "\(path) has no person table", isUsage: false) }
        var expressions: [String] = []
        for q in quasiIdentifiers {
            let name = q.lowercased()
            switch name {
            case "gender" where personColumns.contains("gender_concept_id"): expressions.append("p.gender_concept_id")
            case "birth_decade" where personColumns.contains("year_of_birth"): expressions.append("(p.year_of_birth / 10) * 10")
            case "department":
                let loc = columns("location")
                guard personColumns.contains("location_id"), !loc.isEmpty else {
                    throw Failure(description: "quasi-identifier 'department' needs person.location_id and a location table", isUsage: true)
                }
                let value =
                    loc.contains("county") && loc.contains("zip")
                    ? "coalesce(l.county, substr(l.zip, 1, 2))" : loc.contains("county") ? "l.county" : "substr(l.zip, 1, 2)"
                expressions.append("(SELECT \(value) FROM location l WHERE l.location_id = p.location_id)")
            case "condition_3char":
                guard columns("condition_occurrence").contains("condition_source_value") else {
                    throw Failure(description: "quasi-identifier 'condition_3char' needs a condition_occurrence table", isUsage: true)
                }
                let category = "substr(replace(upper(trim(co.condition_source_value)), '.', ''), 1, 3)"
                let persons = "FROM condition_occurrence co WHERE co.person_id = p.person_id AND co.condition_source_value IS NOT NULL"
                expressions.append(
                    db.dialect == .sqlite
                        ? "(SELECT group_concat(c, ',') FROM (SELECT DISTINCT \(category) AS c \(persons) ORDER BY c))"
                        : "(SELECT string_agg(c, ',' ORDER BY c) FROM (SELECT DISTINCT \(category) AS c \(persons)) AS categories)")
            case "death":
                guard !columns("death").isEmpty else { throw Failure(description: "quasi-identifier 'death' needs a death table", isUsage: true) }
                expressions.append("EXISTS (SELECT 1 FROM death d WHERE d.person_id = p.person_id)")
            default:
                guard personColumns.contains(name), name.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }) else {
                    let known = (personColumns + derived.keys.sorted()).joined(separator: ", ")
                    throw Failure(description: "unknown quasi-identifier '\(q)' (known: \(known))", isUsage: true)
                }
                expressions.append("p.\(name)")
            }
        }
        let keys = expressions.isEmpty ? "1" : expressions.enumerated().map { "\($1) AS q\($0)" }.joined(separator: ", ")
        let group = expressions.isEmpty ? "" : " GROUP BY " + expressions.indices.map { "q\($0)" }.joined(separator: ", ")
        let sql = "SELECT count(*) FROM (SELECT \(keys) FROM person p) AS persons\(group)"
        let sizes: [Int]
        do {
            sizes = try db.rows(sql, []).compactMap { r -> Int? in
                if case .int(let n)? = r.first { return n }
                return nil
            }.filter { $0 > 0 }
        } catch {
            throw Failure(description: "cannot read \(path): \(error)", isUsage: false)
        }
        return report(sizes: sizes, quasiIdentifiers: quasiIdentifiers, minK: minK, threshold: threshold)
    }

    /// The report of a list of class sizes.
    public static func report(sizes: [Int], quasiIdentifiers: [String], minK: Int, threshold: Double) -> Report {
        let persons = sizes.reduce(0, +)
        let k = sizes.min() ?? 0
        let unique = sizes.filter { $0 == 1 }.count
        let above = sizes.filter { 1.0 / Double($0) > threshold }.reduce(0, +)
        let small = sizes.filter { $0 < minK }
        var histogram: [String: Int] = [:]
        for s in small { histogram[String(s), default: 0] += 1 }
        let share = { (n: Int) in persons == 0 ? 0 : Double(n) / Double(persons) }
        return Report(
            quasi_identifiers: quasiIdentifiers, persons: persons, classes: sizes.count, k: k, min_k: minK, unique_persons: unique,
            unique_share: share(unique), prosecutor_risk_max: k == 0 ? 0 : 1 / Double(k), prosecutor_risk_average: share(sizes.count),
            threshold: threshold, persons_above_threshold: above, share_above_threshold: share(above), marketer_risk: share(sizes.count),
            classes_below_min_k: small.count, persons_below_min_k: small.reduce(0, +), small_class_sizes: histogram,
            passes: persons == 0 || k >= minK)
    }
}
