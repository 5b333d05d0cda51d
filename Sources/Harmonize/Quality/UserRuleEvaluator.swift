/// Evaluates a user rule by streaming the rows of its table (joined to a second table when the
/// rule says so) from the output (SQLite or PostgreSQL) into an `EvaluationFrame`: a row violates the rule when the rule is
/// false or null; a row whose evaluation fails is counted as violating.
struct UserRuleEvaluator {
    var check: QualityCheck
    var model: TargetModel
    var functions: FunctionRegistry

    /// The expression scope: the table's columns by name, the joined table's as `table.column`.
    static func scope(table: TargetTable, joined: TargetTable?) -> (scope: StaticExpressionScope, columns: [(String, ColumnType)]) {
        var cols: [(String, ColumnType)] = table.columns.map { ($0.name, $0.type) }
        if let joined { cols += joined.columns.map { (joined.name + "." + $0.name, $0.type) } }
        return (StaticExpressionScope(cols.map { (name: $0.0, type: $0.1.valueType) }), cols)
    }

    func evaluate(db: any OutputConnection, facts: QualitySQL.Facts) -> QualityResult {
        let q = db.dialect.quote
        func na(_ r: String) -> QualityResult { QualityResult(check: check, status: .notApplicable, reason: r) }
        guard let table = model.table(named: check.table) else { return na("table not in the model") }
        guard facts.has(table.name.lowercased()) else { return na("table not in the output") }
        var joined: TargetTable?
        if let j = check.parameters["join"] {
            joined = model.table(named: j)
            guard facts.has(j.lowercased()) else { return na("joined table \(j) not in the output") }
        }
        let (scope, cols) = Self.scope(table: table, joined: joined)
        let compiler = ExpressionCompiler(functions: functions, scope: scope, lookups: nil)
        guard case .success(let rule) = compiler.compile(check.parameters["rule"] ?? "", file: nil, line: 1, column: 1, expected: .boolean) else {
            return QualityResult(check: check, status: .error, reason: "the rule does not compile")
        }
        // Only the columns the rule reads are selected; others stay null in the frame.
        let used = Set(rule.referencedIdentifiers)
        var select: [String] = []
        var slots: [(slot: Int, type: ColumnType)] = []
        for (i, c) in cols.enumerated() where used.contains(c.0) {
            let parts = c.0.split(separator: ".", maxSplits: 1).map(String.init)
            select.append(parts.count == 2 ? "b.\(q(parts[1]))" : "a.\(q(c.0))")
            slots.append((i, c.1))
        }
        var sql = "SELECT \(select.isEmpty ? "1" : select.joined(separator: ", ")) FROM \(q(table.name)) a"
        if let joined, let key = check.parameters["key"] {
            sql += " JOIN \(q(joined.name)) b ON a.\(q(key)) = b.\(q(key))"
        }
        let frame = EvaluationFrame(slotCount: cols.count)
        var checked = 0
        var violating = 0
        do {
            try db.forEachRow(sql) { row in
                for (k, s) in slots.enumerated() where k < row.count { frame.slots[s.slot] = Self.value(row[k], as: s.type) }
                checked += 1
                do {
                    if try !rule.evaluateCondition(frame) { violating += 1 }
                } catch {
                    violating += 1
                }
            }
        } catch {
            return QualityResult(check: check, status: .error, reason: error.description)
        }
        if checked == 0 { return na("no rows to check") }
        return QualityResult.evaluate(check, checked: checked, violating: violating)
    }

    /// A stored value as the column's expression type (dates are stored as ISO text).
    static func value(_ v: Value, as type: ColumnType) -> Value {
        switch (type, v) {
        case (.date, .string(let s)): return CivilDate.parseISODate(s).map { .date($0.daysSinceEpoch) } ?? .null
        case (.datetime, .string(let s)):
            guard let d = CivilDate.parseISODate(String(s.prefix(10))) else { return .null }
            var secs = d.daysSinceEpoch * 86_400
            let t = s.dropFirst(11).split(separator: ":").compactMap { Int($0.prefix(2)) }
            if t.count >= 2 { secs += t[0] * 3600 + t[1] * 60 + (t.count > 2 ? t[2] : 0) }
            return .dateTime(secs)
        case (.float, .int(let i)): return .double(Double(i))
        default: return v
        }
    }
}

extension CivilDate {
    /// Parses `yyyy-MM-dd` (nil for anything else or an impossible date).
    static func parseISODate(_ s: String) -> CivilDate? {
        let p = s.split(separator: "-")
        guard p.count == 3, p[0].count == 4, let y = Int(p[0]), let m = Int(p[1]), let d = Int(p[2]), (1...12).contains(m),
            d >= 1, d <= CivilDate.daysInMonth(year: y, month: m)
        else { return nil }
        return CivilDate(year: y, month: m, day: d)
    }
}
