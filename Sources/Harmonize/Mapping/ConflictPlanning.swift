/// Resolves a target's `on_conflict:` and `update:` against its table (used by `MappingPlanner`).
enum ConflictPlanning {
    /// A problem found: code, message, position, notes.
    typealias Problem = (code: String, message: String, at: LocatedText?, notes: [String])

    /// The policy of target `t` on `table`, whose columns with an expression are `mapped`.
    static func policy(_ t: TargetSpec, table: TargetTable, mapped: [Bool]) -> (ConflictPolicy, [Problem]) {
        var problems: [Problem] = []
        let mode = t.onConflict?.text ?? "insert"
        guard mode == "update" else {
            if mode != "insert" {
                problems.append(("HZ1207", "on_conflict is 'insert' (the default) or 'update', not '\(mode)'", t.onConflict, []))
            }
            if let u = t.updateColumns {
                problems.append(
                    ("HZ1209", "'update' lists the columns an update may overwrite: it needs 'on_conflict: update'", u.first ?? t.table, []))
            }
            return (.insert, problems)
        }
        let key = table.columns.indices.filter { table.columns[$0].isPrimaryKey }
        if key.isEmpty {
            problems.append(
                ("HZ1208", "table '\(table.name)' has no primary key: its rows cannot be updated (on_conflict: update)", t.onConflict, []))
            return (.insert, problems)
        }
        guard let list = t.updateColumns else {
            return (.update(columns: table.columns.indices.filter { !table.columns[$0].isPrimaryKey && mapped[$0] }), problems)
        }
        var columns: [Int] = []
        for c in list {
            guard let i = table.columnIndex(named: c.text) else {
                let s = Suggestion.closest(to: c.text, in: table.columns.map(\.name))
                problems.append(("HZ1209", "table '\(table.name)' has no column '\(c.text)'", c, s.map { ["did you mean '\($0)'?"] } ?? []))
                continue
            }
            if table.columns[i].isPrimaryKey {
                problems.append(("HZ1209", "'\(c.text)' is the primary key of '\(table.name)': it identifies the row and cannot be updated", c, []))
            } else if !mapped[i] {
                problems.append(("HZ1209", "column '\(c.text)' has no expression in this target: nothing would update it", c, []))
            } else if !columns.contains(i) {
                columns.append(i)
            }
        }
        return (.update(columns: columns), problems)
    }
}
