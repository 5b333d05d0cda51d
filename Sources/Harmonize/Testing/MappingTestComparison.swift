import Foundation

/// Compares what a case expects with what an in-memory run produced.
enum MappingTestComparison {
    static func compare(_ c: MappingTestCase, _ run: InMemoryRun, plan: MappingPlan) -> [MappingTestFailure] {
        var out: [MappingTestFailure] = []
        let tables = Set(plan.targets.map(\.table.name))
        for e in c.expected {
            guard tables.contains(e.table) else {
                out.append(
                    .init(
                        testCase: c.name, table: e.table,
                        message: "the mapping writes no table '\(e.table)' (it writes \(tables.sorted().joined(separator: ", ")))"))
                continue
            }
            let actual = run.rows(e.table)
            if actual.count != e.rows.count {
                out.append(
                    .init(
                        testCase: c.name, table: e.table, expected: "\(e.rows.count) row(s)", actual: "\(actual.count) row(s)",
                        message: "row count differs"))
            }
            for (i, row) in e.rows.enumerated() where i < actual.count {
                for (field, want) in row {
                    guard let got = actual[i][field] else {
                        out.append(
                            .init(testCase: c.name, table: e.table, row: i, field: field, message: "table '\(e.table)' has no column '\(field)'"))
                        continue
                    }
                    if !matches(want, got) {
                        out.append(
                            .init(
                                testCase: c.name, table: e.table, row: i, field: field, expected: want.description,
                                actual: got.isNull ? "null" : got.description,
                                message: "value differs"))
                    }
                }
            }
        }
        let reasons = run.rejects.map(\.reason.rawValue)
        if let want = c.rejects {
            if want != reasons {
                out.append(
                    .init(
                        testCase: c.name, field: "rejects", expected: "[\(want.joined(separator: ", "))]",
                        actual: "[\(reasons.joined(separator: ", "))]",
                        message: "rejects differ" + rules(run)))
            }
        } else if !run.rejects.isEmpty {
            out.append(
                .init(
                    testCase: c.name, field: "rejects", expected: "[]", actual: "[\(reasons.joined(separator: ", "))]",
                    message: "unexpected rejects" + rules(run)))
        }
        if let f = c.filtered, f != run.ledger.filtered {
            out.append(
                .init(testCase: c.name, field: "filtered", expected: "\(f)", actual: "\(run.ledger.filtered)", message: "filtered count differs"))
        }
        return out
    }

    /// ` (record 1: rule measurement.person_id; …)`: where the rejects come from, without values.
    static func rules(_ run: InMemoryRun) -> String {
        guard !run.rejects.isEmpty else { return "" }
        let parts = run.rejects.map { r in "record \(r.location.record.map(String.init) ?? "?"): \(r.rule ?? r.field ?? r.reason.rawValue)" }
        return " (" + parts.joined(separator: "; ") + ")"
    }

    /// Null matches null; otherwise canonical text, or numbers by value.
    static func matches(_ want: MappingTestCase.ExpectedValue, _ got: Value) -> Bool {
        switch want {
        case .null: return got.isNull
        case .text(let t):
            if got.isNull { return false }
            let a = got.description
            if a == t { return true }
            switch got {
            case .int, .double:
                if let x = Double(t), let y = Double(a) { return x == y }
                return false
            case .bool(let b):
                return ["true", "yes", "on"].contains(t.lowercased()) == b && ["true", "false", "yes", "no", "on", "off"].contains(t.lowercased())
            case .dateTime: return a == t.replacingOccurrences(of: " ", with: "T") || a == t + ":00"
            default: return false
            }
        }
    }
}
