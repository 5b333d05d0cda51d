import Harmonize

/// `check`'s warning for a mapping that copies a source field that looks like free text or an
/// identifier (a name, an address, a comment) into a `value_as_string` column, where it reaches
/// the output unmasked (issue 16). A warning: it never blocks a run.
enum FreeTextCheck {
    /// Words in a source field's name that suggest free text or an identifier.
    static let words: [(String, [String])] = [
        ("a name", ["nom", "name", "prenom", "prénom", "surname"]),
        ("an address", ["adresse", "address", "addr", "street", "rue"]),
        ("free text", ["comment", "commentaire", "texte", "text", "note", "libre", "remarque", "free"]),
    ]

    /// The warnings (code HZ1298) for `plan`: one per `value_as_string` column that reads such a
    /// field without masking it.
    static func warnings(_ plan: MappingPlan) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for lineage in ColumnLineage.derive(from: plan) {
            for c in lineage.columns where c.column == "value_as_string" {
                for input in c.inputs where input.masked != true && input.kind != .lookup {
                    let field = input.field.lowercased()
                    guard let (what, _) = words.first(where: { $0.1.contains { field.contains($0) } }) else { continue }
                    out.append(
                        Diagnostic(
                            code: "HZ1298", severity: .warning,
                            message: "\(lineage.table).value_as_string copies the source field '\(input.field)', which looks like \(what): "
                                + "it reaches the output as written (map it to a code, or leave it out)",
                            file: plan.spec.file, line: c.line, column: nil))
                }
            }
        }
        return out
    }
}
