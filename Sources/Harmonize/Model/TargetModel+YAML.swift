import Yams

extension TargetModel {
    /// The highest version of the target-model file format this engine reads.
    public static let highestFormatVersion = 1

    /// Reads a target model from YAML text in the `harmonize-model: 1` format:
    ///
    /// ```yaml
    /// harmonize-model: 1
    /// name: bench-claims
    /// version: "1"
    /// tables:
    ///   - name: claim_mapped
    ///     columns:
    ///       - {name: claim_id, type: integer, required: true, primary_key: true}
    ///       - {name: person_id, type: integer, references: person.person_id}
    /// ```
    ///
    /// - Throws: `DiagnosticsError` naming the file and line of every problem.
    public static func load(yaml text: String, file: String) throws(DiagnosticsError) -> TargetModel {
        let node: Node?
        do {
            // Composed without Yams's tag resolution (`.basic`): the default resolver tries its
            // regular expressions on every scalar, key and looked-up key, a third of the time of a
            // small run (the OMOP model is read by every run). Flags are read by `flag(_:)`.
            node = try Yams.compose(yaml: text, .basic)
        } catch {
            throw DiagnosticsError([YAMLSupport.diagnostic(for: error, file: file)])
        }
        var diagnostics: [Diagnostic] = []
        func fail(_ code: String, _ message: String, _ n: Node?) {
            diagnostics.append(
                Diagnostic(code: code, message: message, file: file, line: n?.mark.map { $0.line }, column: n?.mark.map { $0.column }))
        }
        guard let root = node?.mapping.map(YAMLFields.init) else {
            throw DiagnosticsError([Diagnostic(code: "HZ1101", message: "a target model must be a YAML mapping", file: file)])
        }
        if let v = root["harmonize-model"]?.int, v > highestFormatVersion {
            fail(
                "HZ1102", "target-model format version \(v) is not supported (highest supported is \(highestFormatVersion))", root["harmonize-model"])
        }
        let name = root["name"]?.string ?? "custom"
        let version = root["version"]?.string ?? "1"
        var tables: [TargetTable] = []
        for tableNode in root["tables"]?.sequence ?? [] {
            guard let t = tableNode.mapping.map(YAMLFields.init), let tname = t["name"]?.string else {
                fail("HZ1103", "a table needs a name", tableNode)
                continue
            }
            var columns: [TargetColumn] = []
            for colNode in t["columns"]?.sequence ?? [] {
                guard let c = colNode.mapping.map(YAMLFields.init), let cname = c["name"]?.string else {
                    fail("HZ1104", "a column of table \(tname) needs a name", colNode)
                    continue
                }
                let spelling = c["type"]?.string ?? "varchar(max)"
                guard let type = ColumnType(spelling: spelling) else {
                    fail("HZ1105", "column \(tname).\(cname) has an unknown type '\(spelling)'", c["type"])
                    continue
                }
                var fk: ForeignKey?
                if let ref = c["references"]?.string {
                    let parts = ref.split(separator: ".", maxSplits: 1).map(String.init)
                    if parts.count == 2 {
                        fk = ForeignKey(table: parts[0], column: parts[1])
                    } else {
                        fail("HZ1106", "references of \(tname).\(cname) must read table.column", c["references"])
                    }
                }
                columns.append(
                    TargetColumn(
                        name: cname, type: type, isRequired: flag(c["required"]) ?? false,
                        isPrimaryKey: flag(c["primary_key"]) ?? false, foreignKey: fk,
                        foreignKeyDomain: c["domain"]?.string, foreignKeyClass: c["class"]?.string))
            }
            tables.append(TargetTable(name: tname, columns: columns, description: t["description"]?.string))
        }
        if tables.isEmpty { fail("HZ1107", "the target model declares no table", root["tables"]) }
        var orphans: ForeignKey?
        if let ref = root["orphans"]?.string {
            let parts = ref.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 2, tables.contains(where: { $0.name == parts[0] && $0.columnIndex(named: parts[1]) != nil }) {
                orphans = ForeignKey(table: parts[0], column: parts[1])
            } else {
                fail("HZ1197", "orphans must name a table.column of the model (person.person_id)", root["orphans"])
            }
        }
        if !diagnostics.isEmpty { throw DiagnosticsError(diagnostics) }
        var model = TargetModel(name: name, version: version, tables: tables)
        model.orphans = orphans
        return model
    }

    /// A YAML 1.1 boolean written plain (`true`/`false`, `yes`/`no`, `on`/`off`, any case), as
    /// Yams's default resolver reads one; nil for anything else (a quoted `"true"` is text).
    static func flag(_ n: Node?) -> Bool? {
        guard let s = n?.scalar, s.style == .plain || s.style == .any else { return nil }
        switch s.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    /// Reads a target model file (see `load(yaml:file:)`).
    public static func load(path: String) throws(DiagnosticsError) -> TargetModel {
        let text: String
        do {
            text = try FileText.read(path)
        } catch {
            throw DiagnosticsError([Diagnostic(code: "HZ1100", message: "cannot read target model: \(error)", file: path)])
        }
        return try load(yaml: text, file: path)
    }

    /// The model as `harmonize-model: 1` YAML (round-trips through `load(yaml:file:)`).
    public func yaml() -> String {
        var out = "harmonize-model: 1\nname: \(YAMLSupport.quote(name))\nversion: \(YAMLSupport.quote(version))\n"
        if let o = orphans { out += "orphans: \(o.table).\(o.column)\n" }
        out += "tables:\n"
        for t in tables {
            out += "  - name: \(t.name)\n"
            if let d = t.description { out += "    description: \(YAMLSupport.quote(d))\n" }
            out += "    columns:\n"
            for c in t.columns {
                var parts = ["name: \(c.name)", "type: \(YAMLSupport.quote(c.type.description))"]
                if c.isRequired { parts.append("required: true") }
                if c.isPrimaryKey { parts.append("primary_key: true") }
                if let fk = c.foreignKey { parts.append("references: \(fk.table).\(fk.column)") }
                if let d = c.foreignKeyDomain { parts.append("domain: \(YAMLSupport.quote(d))") }
                if let k = c.foreignKeyClass { parts.append("class: \(YAMLSupport.quote(k))") }
                out += "      - {" + parts.joined(separator: ", ") + "}\n"
            }
        }
        return out
    }
}
