import Yams

/// Loads user checks from a YAML file (`--checks FILE.yaml`):
///
/// ```yaml
/// harmonize-checks: 1
/// checks:
///   - name: measurement_value_not_negative
///     table: measurement
///     rule: "value_as_number is null or value_as_number >= 0"
///     threshold: 0            # percentage of violating rows tolerated (default 0)
///   - name: measurement_after_birth_year
///     table: measurement
///     join: {table: person, key: person_id}   # joined columns are `person.year_of_birth`
///     rule: "year(measurement_date) >= `person.year_of_birth`"
/// ```
///
/// Rules are checked against the target model when the file is loaded (diagnostics with
/// file:line:column; codes HZ16xx and the expression codes HZ30xx).
package enum UserRuleFile {
    /// The checks of the file at `path`, compiled against `model` and `functions`.
    public static func load(path: String, model: TargetModel, functions: FunctionRegistry) throws(DiagnosticsError) -> [QualityCheck] {
        let text: String
        do {
            text = try FileText.read(path)
        } catch {
            throw DiagnosticsError([Diagnostic(code: "HZ1600", message: "cannot read checks file: \(error)", file: path)])
        }
        return try parse(text, file: path, model: model, functions: functions)
    }

    /// The checks of a YAML text.
    public static func parse(_ text: String, file: String, model: TargetModel, functions: FunctionRegistry) throws(DiagnosticsError) -> [QualityCheck]
    {
        var d = Collector(file: file)
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw DiagnosticsError([YAMLSupport.diagnostic(for: error, file: file)])
        }
        guard let root = node?.mapping, let list = root["checks"]?.sequence else {
            throw DiagnosticsError([Diagnostic(code: "HZ1601", message: "a checks file needs 'checks:' (a list)", file: file, line: 1, column: 1)])
        }
        if let v = root["harmonize-checks"]?.int, v > 1 {
            d.error("HZ1602", "checks format version \(v) is not supported (highest supported is 1)", root["harmonize-checks"])
        }
        var out: [QualityCheck] = []
        var names: Set<String> = []
        let allowed: Set<String> = ["name", "table", "rule", "threshold", "join", "description"]
        for item in list {
            guard let m = item.mapping else {
                d.error("HZ1603", "each check must be a mapping with name, table and rule", item)
                continue
            }
            for (k, _) in m where !allowed.contains(k.string ?? "") {
                d.error("HZ1604", "unknown key '\(k.string ?? "")' in a check", k, suggest: k.string, among: allowed)
            }
            guard let name = d.requiredString(m, "name", item), let tableName = d.requiredString(m, "table", item),
                let rule = d.requiredString(m, "rule", item)
            else { continue }
            if !names.insert(name).inserted { d.error("HZ1605", "check name '\(name)' is used twice", m["name"]) }
            guard let table = model.table(named: tableName) else {
                d.error("HZ1606", "unknown table '\(tableName)'", m["table"], suggest: tableName, among: model.tables.map(\.name))
                continue
            }
            var params = ["name": name, "rule": rule]
            var joined: TargetTable?
            if let j = m["join"] {
                guard let jm = j.mapping, let jt = d.requiredString(jm, "table", j), let key = d.requiredString(jm, "key", j) else { continue }
                guard let t2 = model.table(named: jt) else {
                    d.error("HZ1606", "unknown table '\(jt)'", jm["table"], suggest: jt, among: model.tables.map(\.name))
                    continue
                }
                guard table.columnIndex(named: key) != nil, t2.columnIndex(named: key) != nil else {
                    d.error("HZ1607", "join key '\(key)' must be a column of both \(table.name) and \(t2.name)", jm["key"])
                    continue
                }
                params["join"] = t2.name
                params["key"] = key.lowercased()
                joined = t2
            }
            var threshold = 0.0
            if let t = m["threshold"] {
                if let v = t.float, (0...100).contains(v) {
                    threshold = v
                } else {
                    d.error("HZ1608", "threshold must be a percentage between 0 and 100", t)
                }
            }
            let ruleNode = m["rule"]
            let scope = UserRuleEvaluator.scope(table: table, joined: joined)
            let compiler = ExpressionCompiler(functions: functions, scope: scope.scope, lookups: nil)
            let line = ruleNode?.mark?.line ?? 1
            var column = ruleNode?.mark?.column ?? 1
            if case .some(.scalar(let s)) = ruleNode, s.style == .doubleQuoted || s.style == .singleQuoted { column += 1 }
            if case .failure(let e) = compiler.compile(rule, file: file, line: line, column: column, expected: .boolean) {
                d.diagnostics.append(contentsOf: e.diagnostics)
                continue
            }
            out.append(QualityCheck(type: .userRule, table: table.name, threshold: threshold, parameters: params))
        }
        if !d.diagnostics.isEmpty { throw DiagnosticsError(d.diagnostics) }
        return out
    }
}
