/// One self-contained HTML page about an output database: the run, rows per table, the ledger,
/// rejects by reason and mapping, quality checks, and a lineage picture (source files → mappings
/// → tables) as inline SVG. No script, no network reference; the markup is well-formed XML
/// (XHTML syntax) so it can be checked by an XML parser. Shows counts, never cell values.
package enum HTMLReport {
    /// The page for the database at `path`.
    /// With `risk`, the page also shows the re-identification risk of the release; counts of persons
    /// below its `min_k` are printed as `< k` (small-cell suppression).
    /// With `vocabularyDiff`, the page ends with what a new vocabulary release changes for the
    /// codes the output used (`vocabularyDiffSection`).
    public static func render(
        _ db: OutputDatabase, risk: ReidentificationRisk.Report? = nil, vocabularyDiff: (VocabularyDiff, VocabularyDiffInUse?)? = nil
    ) throws(OutputDatabase.Failure) -> String {
        let run = try db.latestRun()
        let quality = try db.qualityResults()
        let rejectCounts = try db.rejectCounts()
        var h = head(title: "Harmonize report") + "<h1>Harmonize report</h1>\n"
        if let run {
            h += "<p>Run <code>\(esc(run.runID))</code>: <strong>\(esc(run.status))</strong>, \(esc(run.startedAt)) → \(esc(run.finishedAt)), "
            h += "engine \(esc(run.engineVersion)), model \(esc(run.model)). \(run.readCount) records read, \(run.rejectedCount) rejected.</p>\n"
        }
        // Rows per table, with bars.
        h += "<h2>Rows per table</h2>\n"
        let tables = run?.tables ?? []
        if tables.isEmpty {
            h += "<p>No table written.</p>\n"
        } else {
            let maxRows = max(1, tables.map(\.rows).max() ?? 1)
            h += "<table><tr><th>table</th><th>rows</th><th></th></tr>\n"
            for t in tables {
                let w = Int((Double(t.rows) / Double(maxRows) * 300).rounded())
                h +=
                    "<tr><td>\(esc(t.table))</td><td class=\"n\">\(t.rows)</td><td><svg width=\"302\" height=\"14\" role=\"img\" aria-label=\"\(t.rows) rows\">"
                h += "<rect x=\"0\" y=\"2\" width=\"\(w)\" height=\"10\" fill=\"#4a78b0\"/></svg></td></tr>\n"
            }
            h += "</table>\n"
        }
        // Lineage.
        h += "<h2>Lineage</h2>\n" + (run.map(lineageSVG) ?? "<p>No run recorded.</p>\n")
        // Ledger.
        // The duplicate column only when a mapping deduplicates (`source: deduplicate:`).
        let deduplicating = (run?.ledger ?? []).contains { $0.duplicate != nil }
        h +=
            "<h2>Ledger</h2>\n<p>For every mapping and file: read = written + rejected + filtered + excluded\(deduplicating ? " + duplicate" : "").</p>\n"
        h +=
            "<table><tr><th>mapping</th><th>file</th><th>read</th><th>written</th><th>rejected</th><th>filtered</th><th>excluded</th>"
            + (deduplicating ? "<th>duplicate</th>" : "") + "<th>balances</th></tr>\n"
        for l in run?.ledger ?? [] {
            h += "<tr><td>\(esc(l.mapping))</td><td>\(esc(l.file))</td><td class=\"n\">\(l.read)</td><td class=\"n\">\(l.written)</td>"
            h += "<td class=\"n\">\(l.rejected)</td><td class=\"n\">\(l.filtered)</td><td class=\"n\">\(l.excluded)</td>"
            if deduplicating { h += "<td class=\"n\">\(l.duplicate ?? 0)</td>" }
            h += "<td>\(l.balances ? "yes" : "NO")</td></tr>\n"
        }
        h += "</table>\n"
        h += duplicatesSection(run)
        // Rejects.
        h += "<h2>Rejects by reason and mapping</h2>\n"
        if rejectCounts.isEmpty {
            h += "<p>No record was rejected.</p>\n"
        } else {
            h += "<table><tr><th>reason</th><th>mapping</th><th>rejects</th></tr>\n"
            for r in rejectCounts { h += "<tr><td>\(esc(r.reason))</td><td>\(esc(r.mapping))</td><td class=\"n\">\(r.count)</td></tr>\n" }
            h += "</table>\n<p>Details: <code>harmonize-run rejects --output FILE</code>.</p>\n"
        }
        h += try vocabularySection(db, run: run, k: risk?.min_k ?? smallCellThreshold)
        // Quality.
        h += "<h2>Data quality</h2>\n"
        if quality.isEmpty {
            h += "<p>No quality results stored (run <code>harmonize-run quality --output FILE</code>).</p>\n"
        } else {
            for s in ["passed", "failed", "not_applicable", "error"] where s != "error" || quality.contains(where: { $0.status == "error" }) {
                h += "<span class=\"badge \(s)\">\(quality.filter { $0.status == s }.count) \(s.replacingOccurrences(of: "_", with: " "))</span>"
            }
            h += "\n"
            func rows(_ list: [OutputDatabase.QualityRow]) -> String {
                var t =
                    "<table><tr><th>status</th><th>check</th><th>category</th><th>violating</th><th>checked</th><th>%</th><th>threshold %</th></tr>\n"
                for q in list {
                    t += "<tr><td class=\"\(esc(q.status))\">\(esc(q.status))</td><td class=\"id\">\(esc(q.id))</td><td>\(esc(q.category))</td>"
                    t +=
                        "<td class=\"n\">\(q.rowsViolating)</td><td class=\"n\">\(q.rowsChecked)</td><td class=\"n\">\(fmt(q.pctViolating))</td><td class=\"n\">\(fmt(q.threshold))</td></tr>\n"
                }
                return t + "</table>\n"
            }
            let bad = quality.filter { $0.status == "failed" || $0.status == "error" }
            h += bad.isEmpty ? "<p>No check failed.</p>\n" : rows(bad)
            let passed = quality.filter { $0.status == "passed" }
            if !passed.isEmpty { h += "<details><summary>\(passed.count) checks passed</summary>\n" + rows(passed) + "</details>\n" }
            let na = quality.filter { $0.status == "not_applicable" }
            if !na.isEmpty {
                h += "<details><summary>\(na.count) checks not applicable</summary>\n<table><tr><th>check</th><th>reason</th></tr>\n"
                for q in na { h += "<tr><td>\(esc(q.id))</td><td>\(esc(q.reason ?? ""))</td></tr>\n" }
                h += "</table></details>\n"
            }
        }
        if let risk { h += riskSection(risk) }
        if let (diff, inUse) = vocabularyDiff { h += vocabularyDiffSection(diff, inUse: inUse) }
        h += "</body>\n</html>\n"
        return h
    }

    /// The page's head, its style and the opening `<body>` (the report and standalone pages).
    static func head(title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <title>\(esc(title))</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 70em; color: #222; }
        h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
        table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: .25em .6em; text-align: left; }
        td.id { word-break: break-all; } td.n { text-align: right; font-variant-numeric: tabular-nums; } th { background: #f4f4f4; }
        .passed { color: #1a7f37; } .failed { color: #c62828; font-weight: bold; } .not_applicable { color: #777; } .error { color: #b26a00; font-weight: bold; }
        .badge { display: inline-block; padding: .2em .7em; border-radius: 1em; margin-right: .5em; background: #eee; }
        svg text { font-size: 12px; font-family: system-ui, sans-serif; }
        </style>
        </head>
        <body>

        """
    }

    /// Messages left out as duplicates (`source: deduplicate:`), per mapping: where each one is
    /// and the occurrence kept, by file, line and message number; the key fields by name, never
    /// their values. Empty when no mapping deduplicates.
    static func duplicatesSection(_ run: RunManifest?) -> String {
        guard let list = run?.duplicates, !list.isEmpty else { return "" }
        var h = "<h2>Duplicate messages</h2>\n"
        for d in list {
            h += "<p>Mapping <code>\(esc(d.mapping))</code>: records of re-sent messages left out: \(d.duplicates) (same "
            h += "\(esc(d.key.joined(separator: ", ")))), the \(esc(d.keep)) occurrence kept; \(d.messages) distinct messages.</p>\n"
            guard !d.occurrences.isEmpty else { continue }
            h += "<table><tr><th>duplicate (file:line)</th><th>message</th><th>kept (file:line)</th><th>message</th></tr>\n"
            for o in d.occurrences {
                h += "<tr><td>\(esc(o.file)):\(o.line)</td><td class=\"n\">\(o.message)</td>"
                h += "<td>\(esc(o.keptFile)):\(o.keptLine)</td><td class=\"n\">\(o.keptMessage)</td></tr>\n"
            }
            h += "</table>\n"
            if d.truncated { h += "<p>The list stops at \(DuplicateStatistics.occurrenceLimit) messages; the counts are exact.</p>\n" }
        }
        return h
    }

    /// The small-cell threshold used when no risk report gives one (the default `--min-k`).
    public static let smallCellThreshold = 11
    /// Most unmapped codes listed per vocabulary in the page (all of them: `harmonize-run unmapped`).
    static let unmappedCodesShown = 50

    /// Vocabulary versions, the share of codes mapped to a standard concept, and the most frequent
    /// unmapped codes (codes are not personal data, but frequencies below `k` are shown as `< k`).
    static func vocabularySection(_ db: OutputDatabase, run: RunManifest?, k: Int) throws(OutputDatabase.Failure) -> String {
        let usage = try db.vocabularyUsage()
        let versions = run?.vocabularies ?? []
        guard !usage.isEmpty || !versions.isEmpty else { return "" }
        var h = "<h2>Vocabulary mapping</h2>\n"
        if !versions.isEmpty {
            if let release = versions.first(where: { $0.id == "None" })?.version {
                h += "<p>Vocabulary release <code>\(esc(release))</code> (also in the output's <code>cdm_source</code> row).</p>\n"
            }
            h += "<p>Vocabularies: " + versions.map { "\(esc($0.id)) <code>\(esc($0.version ?? "?"))</code>" }.joined(separator: ", ") + ".</p>\n"
        }
        if usage.isEmpty {
            h += "<p>No source code was looked up.</p>\n"
            return h
        }
        h +=
            "<table><tr><th>mapping</th><th>vocabulary</th><th>codes looked up</th><th>mapped to a standard concept</th><th>%</th><th>distinct unmapped</th></tr>\n"
        for u in usage {
            h += "<tr><td>\(esc(u.mapping))</td><td>\(esc(u.vocabulary))</td><td class=\"n\">\(u.lookups)</td><td class=\"n\">\(u.mapped)</td>"
            h += "<td class=\"n\">\(fmt(u.shareMapped * 100))</td><td class=\"n\">\(u.distinctUnmapped)</td></tr>\n"
        }
        h += "</table>\n"
        let codes = try db.unmappedCodes()
        if !codes.isEmpty {
            h += "<p>Most frequent unmapped source codes (records below \(k) shown as &lt; \(k)); the full list: "
            h += "<code>harmonize-run unmapped --output FILE</code>.</p>\n"
            h += "<table><tr><th>mapping</th><th>vocabulary</th><th>source code</th><th>records</th></tr>\n"
            var shown: [String: Int] = [:]
            for c in codes {
                let key = c.mapping + "\u{0}" + c.vocabulary
                guard shown[key, default: 0] < unmappedCodesShown else { continue }
                shown[key, default: 0] += 1
                h +=
                    "<tr><td>\(esc(c.mapping))</td><td>\(esc(c.vocabulary))</td><td>\(esc(c.code))</td><td class=\"n\">\(suppressed(c.records, k: k))</td></tr>\n"
            }
            h += "</table>\n"
        }
        return h
    }

    /// Source files → mappings → tables, as three columns of boxes joined by curves.
    /// A count of persons, suppressed as `< k` when it is below the small-cell threshold.
    static func suppressed(_ n: Int, k: Int) -> String { n > 0 && n < k ? "&lt; \(k)" : "\(n)" }

    static func riskSection(_ r: ReidentificationRisk.Report) -> String {
        var h = "<h2>Re-identification risk</h2>\n"
        h += "<p><span class=\"badge \(r.passes ? "passed" : "failed")\">k = \(r.k) (minimum \(r.min_k))</span>"
        h += "quasi-identifiers: \(esc(r.quasi_identifiers.joined(separator: ", ")))</p>\n"
        h += "<table><tr><th>measure</th><th>value</th></tr>\n"
        let rows: [(String, String)] = [
            ("persons", suppressed(r.persons, k: r.min_k)),
            ("equivalence classes", "\(r.classes)"),
            ("unique persons (share)", fmt(r.unique_share * 100) + " %"),
            ("prosecutor risk, highest", fmt(r.prosecutor_risk_max)),
            ("prosecutor risk, average", fmt(r.prosecutor_risk_average)),
            ("records above the risk threshold \(fmt(r.threshold))", fmt(r.share_above_threshold * 100) + " %"),
            ("marketer risk", fmt(r.marketer_risk)),
            ("classes below k", "\(r.classes_below_min_k)"),
            ("persons in classes below k", suppressed(r.persons_below_min_k, k: r.min_k)),
        ]
        for (name, value) in rows { h += "<tr><td>\(esc(name))</td><td class=\"n\">\(value)</td></tr>\n" }
        h += "</table>\n"
        return h
    }

    static func lineageSVG(_ run: RunManifest) -> String {
        let files = ordered(run.ledger.map(\.file))
        let mappings = run.mappings.map(\.id)
        let tables = ordered(run.mappings.flatMap { $0.targets ?? [] } + run.tables.map(\.table))
        let rowH = 34
        let boxW = 220
        let xs = [10, 330, 650]
        let height = max(files.count, mappings.count, tables.count, 1) * rowH + 40
        func y(_ i: Int) -> Int { 30 + i * rowH }
        var s = "<svg width=\"880\" height=\"\(height)\" role=\"img\" aria-label=\"lineage: source files, mappings, tables\">\n"
        for (i, title) in ["source files", "mappings", "tables"].enumerated() {
            s += "<text x=\"\(xs[i])\" y=\"16\" font-weight=\"bold\">\(title)</text>\n"
        }
        func edge(_ x1: Int, _ y1: Int, _ x2: Int, _ y2: Int) -> String {
            let mid = (x1 + x2) / 2
            return "<path d=\"M\(x1),\(y1) C\(mid),\(y1) \(mid),\(y2) \(x2),\(y2)\" fill=\"none\" stroke=\"#8aa\" stroke-width=\"1.5\"/>\n"
        }
        var seen: Set<String> = []
        for l in run.ledger {
            guard let f = files.firstIndex(of: l.file), let m = mappings.firstIndex(of: l.mapping), seen.insert(l.file + "\u{0}" + l.mapping).inserted
            else { continue }
            s += edge(xs[0] + boxW, y(f) + 11, xs[1], y(m) + 11)
        }
        for (m, entry) in run.mappings.enumerated() {
            for t in entry.targets ?? [] {
                guard let ti = tables.firstIndex(of: t) else { continue }
                s += edge(xs[1] + boxW, y(m) + 11, xs[2], y(ti) + 11)
            }
        }
        func box(_ col: Int, _ i: Int, _ label: String, _ fill: String) -> String {
            let text = label.count > 32 ? String(label.prefix(31)) + "…" : label
            return "<rect x=\"\(xs[col])\" y=\"\(y(i))\" width=\"\(boxW)\" height=\"22\" rx=\"4\" fill=\"\(fill)\" stroke=\"#557\"/>"
                + "<text x=\"\(xs[col] + 6)\" y=\"\(y(i) + 15)\"><title>\(esc(label))</title>\(esc(text))</text>\n"
        }
        for (i, f) in files.enumerated() { s += box(0, i, f, "#eef4fb") }
        for (i, m) in mappings.enumerated() { s += box(1, i, m, "#fdf3e1") }
        for (i, t) in tables.enumerated() { s += box(2, i, t, "#e9f6ec") }
        return s + "</svg>\n"
    }

    private static func ordered(_ xs: [String]) -> [String] {
        var seen: Set<String> = []
        return xs.filter { seen.insert($0).inserted }
    }

    private static func fmt(_ d: Double) -> String {
        let r = (d * 100).rounded() / 100
        return r.rounded() == r ? String(Int(r)) : String(r)
    }

    /// Escapes text for HTML/XML content and attributes.
    static func esc(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
