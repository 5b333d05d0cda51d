/// The results of a quality run over one database, with totals per status.
package struct QualityReport: Sendable, Codable, Hashable {
    /// The run the database holds (latest `harmonize_run`), if any.
    public var runID: String?
    /// ISO-8601 time of the checks.
    public var checkedAt: String
    /// One result per check, in check order.
    public var results: [QualityResult]

    /// Creates a report.
    public init(runID: String?, checkedAt: String, results: [QualityResult]) {
        self.runID = runID
        self.checkedAt = checkedAt
        self.results = results
    }

    /// Number of results with that status.
    public func count(_ status: QualityResult.Status) -> Int { results.filter { $0.status == status }.count }

    /// `quality: N passed, M failed, K not applicable` (plus errors when there are some).
    public var summaryLine: String {
        var s = "quality: \(count(.passed)) passed, \(count(.failed)) failed, \(count(.notApplicable)) not applicable"
        if count(.error) > 0 { s += ", \(count(.error)) error\(count(.error) == 1 ? "" : "s")" }
        return s
    }

    /// The report as JSON: totals and one object per check (counts only, never values).
    public func json() -> String {
        var checks: [[String: JSONValue]] = []
        for r in results {
            var o: [String: JSONValue] = [
                "id": .string(r.check.id), "check": .string(r.check.type.rawValue), "category": .string(r.check.type.category),
                "subcategory": .string(r.check.type.subcategory), "table": .string(r.check.table), "threshold": .number(r.check.threshold),
                "status": .string(r.status.rawValue), "rows_checked": .int(r.rowsChecked), "rows_violating": .int(r.rowsViolating),
                "pct_violating": .number((r.percentViolating * 10_000).rounded() / 10_000),
            ]
            if let f = r.check.field { o["field"] = .string(f) }
            if let c = r.check.conceptID { o["concept_id"] = .int(c) }
            if let u = r.check.unitConceptID { o["unit_concept_id"] = .int(u) }
            if let reason = r.reason { o["reason"] = .string(reason) }
            checks.append(o)
        }
        let top: [String: JSONValue] = [
            "run_id": runID.map(JSONValue.string) ?? .null, "checked_at": .string(checkedAt),
            "passed": .int(count(.passed)), "failed": .int(count(.failed)), "not_applicable": .int(count(.notApplicable)),
            "error": .int(count(.error)), "checks": .array(checks.map(JSONValue.object)),
        ]
        return JSONValue.object(top).rendered()
    }
}
