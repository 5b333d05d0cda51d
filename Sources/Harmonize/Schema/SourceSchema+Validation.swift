extension SourceSchema {
    /// Problems that decoding the schema lets through, each naming its field. Codes:
    ///
    /// - `HZ2001` duplicate field name (or an empty name)
    /// - `HZ2002` unknown type (error), or a spec type read as text (warning)
    /// - `HZ2003` invalid date/time format pattern
    /// - `HZ2004` invalid regular expression in `pattern`
    /// - `HZ2005` `primaryKey` or a foreign key names an unknown field
    /// - `HZ2006` a `minimum`, `maximum` or `enum` value that is not of the field's type
    /// - `HZ2007` invalid `decimalChar` or `groupChar`
    /// - `HZ2008` a value both in `trueValues` and `falseValues` (warning)
    /// - `HZ2009` a date format without a year (warning)
    ///
    /// `file`, when given, is set on every diagnostic.
    public func validate(file: String? = nil) -> [Diagnostic] {
        compile(file: file).diagnostics
    }

    /// One decoder per field, in field order.
    /// - Throws: `DiagnosticsError` with every diagnostic `validate()` finds, when one is an error.
    public func decoders() throws(DiagnosticsError) -> [FieldDecoder] {
        let (decoders, diagnostics) = compile(file: nil)
        guard !diagnostics.contains(where: { $0.severity == .error }) else { throw DiagnosticsError(diagnostics) }
        return decoders
    }

    /// The decoders of the fields that compile, and every diagnostic of the schema.
    private func compile(file: String?) -> (decoders: [FieldDecoder], diagnostics: [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        var decoders: [FieldDecoder] = []
        var seen = Set<String>()
        for field in fields {
            if field.name.isEmpty {
                diagnostics.append(Diagnostic(code: "HZ2001", message: "a field has an empty name"))
            } else if !seen.insert(field.name).inserted {
                diagnostics.append(Diagnostic(code: "HZ2001", message: "field '\(field.name)' is declared twice"))
            }
            if let d = FieldDecoder.compile(
                field: field, missingValues: missingValues(for: field),
                isPrimaryKey: primaryKey.contains(field.name), diagnostics: &diagnostics)
            {
                decoders.append(d)
            }
        }
        let names = Set(fields.map(\.name))
        for key in primaryKey where !names.contains(key) {
            diagnostics.append(
                Diagnostic(
                    code: "HZ2005", message: "primaryKey names unknown field '\(key)'",
                    notes: Suggestion.closest(to: key, in: names).map { ["did you mean '\($0)'?"] } ?? []))
        }
        for foreignKey in foreignKeys ?? [] {
            for key in foreignKey.fields where !names.contains(key) {
                diagnostics.append(
                    Diagnostic(
                        code: "HZ2005", message: "a foreign key names unknown field '\(key)'",
                        notes: Suggestion.closest(to: key, in: names).map { ["did you mean '\($0)'?"] } ?? []))
            }
        }
        if let file {
            for i in diagnostics.indices { diagnostics[i].file = file }
        }
        return (decoders, diagnostics)
    }
}
