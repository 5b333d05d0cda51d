extension Derivation {
    /// Plans a `derive:` mapping against the target model; throws every problem at once.
    static func plan(_ spec: MappingSpec, _ d: DeriveSpec, model: TargetModel) throws(DiagnosticsError) -> (Derivation, TargetTable) {
        var diagnostics: [Diagnostic] = []
        func report(_ code: String, _ message: String, _ at: LocatedText?) {
            diagnostics.append(Diagnostic(code: code, message: message, file: spec.file, line: at?.line, column: at?.column))
        }
        let tableName = "observation_period"
        guard let table = model.table(named: tableName) else {
            throw DiagnosticsError([
                Diagnostic(
                    code: "HZ1073", message: "the target model has no table \(tableName)", file: spec.file, line: d.kind.line, column: d.kind.column)
            ])
        }
        var typeConcept = 44_814_724  // Period covering healthcare encounters
        for (k, v) in d.parameters {
            switch k {
            case "period_type_concept_id":
                if let n = Int(v.text) { typeConcept = n } else { report("HZ1072", "'period_type_concept_id' must be an integer", v) }
            default:
                report("HZ1072", "unknown parameter '\(k)' of derivation \(d.kind.text) (known: from, period_type_concept_id)", v)
            }
        }
        if d.from.isEmpty { report("HZ1072", "derivation \(d.kind.text) needs 'with: from:' (the event tables to read)", d.kind) }
        var sources: [Source] = []
        for t in d.from {
            guard let et = model.table(named: t.text) else {
                let s = Suggestion.closest(to: t.text, in: model.tables.map(\.name))
                report("HZ1201", "unknown table '\(t.text)'" + (s.map { " (did you mean '\($0)'?)" } ?? ""), t)
                continue
            }
            let names = et.columns.map(\.name)
            guard names.contains("person_id") else {
                report("HZ1072", "table '\(et.name)' has no person_id", t)
                continue
            }
            let start =
                names.first { $0.hasSuffix("_start_date") }
                ?? names.first { $0.hasSuffix("_date") && !$0.hasSuffix("_end_date") && $0 != "birth_date" }
            guard let start else {
                report("HZ1072", "table '\(et.name)' has no date column to derive periods from", t)
                continue
            }
            let end = names.first { $0.hasSuffix("_end_date") && !$0.hasPrefix("verbatim") }
            sources.append(Source(table: et.name, start: start, end: end))
        }
        if !diagnostics.isEmpty { throw DiagnosticsError(diagnostics) }
        return (Derivation(mapping: spec.id, kind: d.kind.text, table: table.name, sources: sources, periodTypeConceptID: typeConcept), table)
    }
}
