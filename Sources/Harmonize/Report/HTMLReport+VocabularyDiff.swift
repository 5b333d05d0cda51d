extension HTMLReport {
    /// Most changed codes listed per kind in a page (the text and JSON of `vocabulary diff` list
    /// them all).
    static let changedCodesShown = 200

    /// A self-contained page with the vocabulary diff alone (`vocabulary diff --html FILE`).
    package static func vocabularyDiffPage(_ diff: VocabularyDiff, inUse: VocabularyDiffInUse?, output: String?) -> String {
        var h = head(title: "Harmonize vocabulary diff") + "<h1>Harmonize vocabulary diff</h1>\n"
        if let output { h += "<p>Output: <code>\(esc(output))</code>.</p>\n" }
        return h + vocabularyDiffSection(diff, inUse: inUse) + "</body>\n</html>\n"
    }

    /// What a new vocabulary release changes: releases, versions changed, then (for an output)
    /// the summary of the codes its rows used, or the counts per vocabulary, then the codes per
    /// kind of change. Codes and concept names are vocabulary content, not personal data; row
    /// counts are counts of output rows, not of persons.
    package static func vocabularyDiffSection(_ d: VocabularyDiff, inUse: VocabularyDiffInUse?) -> String {
        var h = "<h2>Vocabulary release diff</h2>\n"
        h += "<p>Release <code>\(esc(d.oldRelease ?? "none"))</code> (\(esc(d.oldPath))) → <code>\(esc(d.newRelease ?? "none"))</code> "
        h += "(\(esc(d.newPath))).</p>\n"
        if !d.versions.isEmpty {
            h += "<table><tr><th>vocabulary</th><th>old version</th><th>new version</th></tr>\n"
            for v in d.versions { h += "<tr><td>\(esc(v.vocabulary))</td><td>\(esc(v.old ?? "-"))</td><td>\(esc(v.new ?? "-"))</td></tr>\n" }
            h += "</table>\n"
        }
        var rowsOf: [[String]: Int] = [:]
        if let inUse {
            if inUse.basis == .unmappedCodes {
                h += "<p>The output was written without <code>--lineage</code>: only its unmapped codes are known.</p>\n"
            }
            h += "<ul>\n"
            for s in inUse.summaries { h += "<li>\(esc(inUse.sentence(s)))</li>\n" }
            h += inUse.summaries.isEmpty ? "<li>The output used no vocabulary code.</li>\n" : ""
            h += "</ul>\n"
            for c in inUse.codes { rowsOf[[c.change.vocabulary, c.change.code]] = c.rows }
        } else {
            let kinds = VocabularyDiff.Kind.allCases
            h += "<table><tr><th>vocabulary</th><th>codes old</th><th>codes new</th>" + kinds.map { "<th>\(esc($0.rawValue))</th>" }.joined()
            h += "</tr>\n"
            for c in d.counts where !c.changes.isEmpty || c.oldCodes != c.newCodes {
                h += "<tr><td>\(esc(c.vocabulary))</td><td class=\"n\">\(c.oldCodes)</td><td class=\"n\">\(c.newCodes)</td>"
                h += kinds.map { "<td class=\"n\">\(c.changes[$0] ?? 0)</td>" }.joined() + "</tr>\n"
            }
            h += "</table>\n"
        }
        for k in VocabularyDiff.Kind.allCases {
            let changes = d.changes(k).filter { inUse == nil || rowsOf[[$0.vocabulary, $0.code]] != nil }
            guard !changes.isEmpty else { continue }
            h += "<h3>\(esc(k.rawValue)) (\(changes.count))</h3>\n<table><tr><th>vocabulary</th><th>code</th><th>old</th><th>new</th>"
            h += inUse == nil ? "</tr>\n" : "<th>rows</th></tr>\n"
            for c in changes.prefix(changedCodesShown) {
                func side(_ s: VocabularyDiff.Side?) -> String {
                    guard let s else { return "absent" }
                    let target = s.targetID.map { "\($0) \(s.targetName ?? "") (\(s.targetDomain ?? "?"))" } ?? "no standard concept"
                    let concept = [s.conceptID.map(String.init) ?? "-", s.domain, s.invalidReason.map { "invalid \($0)" }].compactMap { $0 }
                    return concept.joined(separator: " ") + "; maps to " + target
                }
                h += "<tr><td>\(esc(c.vocabulary))</td><td>\(esc(c.code))</td><td>\(esc(side(c.old)))</td><td>\(esc(side(c.new)))</td>"
                h += rowsOf[[c.vocabulary, c.code]].map { "<td class=\"n\">\($0)</td>" } ?? ""
                h += "</tr>\n"
            }
            h += "</table>\n"
            if changes.count > changedCodesShown { h += "<p>… and \(changes.count - changedCodesShown) more.</p>\n" }
        }
        return h
    }
}

extension OutputDatabase {
    /// What `new` changes compared with `old` for the codes this output used (from its lineage,
    /// else its unmapped codes: `VocabularyDiffInUse.Basis`).
    /// - Throws: `OutputDatabase.Failure` (the output) or `VocabularyError` (a store).
    package func vocabularyDiff(old: VocabularyStore, new: VocabularyStore) throws -> (VocabularyDiff, VocabularyDiffInUse) {
        let lineage = try vocabularyCodesUsed()
        let uses = try lineage ?? unmappedCodeUses()
        let diff = try VocabularyDiff.compare(old: old, new: new, codes: uses.map { ($0.vocabulary, $0.code) })
        return (diff, VocabularyDiffInUse(diff: diff, uses: uses, basis: lineage == nil ? .unmappedCodes : .lineage))
    }
}
