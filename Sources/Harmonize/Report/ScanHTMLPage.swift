/// `harmonize-run scan --html FILE`: the profiles of scanned files as one self-contained HTML page
/// (built as the run report, `HTMLReport`: inline style, no script, no external reference,
/// well-formed XHTML syntax). Frequent values keep the profile's small-cell suppression (`<11`);
/// identifying columns show why their values are not listed, never the values or their range.
package enum ScanHTMLPage {
    /// The page for `files`, profiled from `source` (the path given to `scan`).
    package static func render(_ files: [ScanFileProfile], source: String) -> String {
        let esc = HTMLReport.esc
        var h = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8"/>
            <title>Harmonize scan</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em auto; padding: 0 1em; max-width: 90em; color: #222; }
            h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
            table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; } th { background: #f4f4f4; }
            .withheld { color: #8a4b00; font-style: italic; } .note { color: #555; font-size: .9em; }
            code { background: #f4f4f4; padding: 0 .2em; } ul.frequent { margin: 0; padding-left: 1.2em; } td.n { white-space: nowrap; }
            </style>
            </head>
            <body>
            <h1>Harmonize scan</h1>

            """
        h += "<p>Profile of <code>\(esc(source))</code>: \(files.count) file\(files.count == 1 ? "" : "s"). "
        h += "Frequent values counted fewer than \(ColumnProfiler.smallCell) times are shown as &lt;\(ColumnProfiler.smallCell); "
        h += "values of columns that look identifying are never listed.</p>\n"
        for f in files {
            h += "<h2>\(esc(f.file))</h2>\n"
            h +=
                "<p class=\"layout\">\(f.records) record\(f.records == 1 ? "" : "s"), \(f.rejected) rejected; encoding <code>\(esc(f.encoding))</code>, "
            h += "delimiter <code>\(esc(f.delimiter))</code>, skip_lines \(f.skipLines), header \(f.header)</p>\n"
            if !f.evidence.isEmpty {
                h += "<ul class=\"evidence\">\n" + f.evidence.map { "<li>\(esc($0))</li>\n" }.joined() + "</ul>\n"
            }
            h += "<table class=\"columns\"><tr><th>#</th><th>column</th><th>type</th><th>read as type</th><th>empty %</th><th>distinct</th>"
            h += "<th>length</th><th>range</th><th>frequent values</th></tr>\n"
            for c in f.columns {
                let g = c.guess
                var type = esc(g.type)
                if let fmt = g.format { type += " <span class=\"note\">format <code>\(esc(fmt))</code></span>" }
                if let dc = g.decimalChar { type += " <span class=\"note\">decimalChar <code>\(esc(dc))</code></span>" }
                for n in g.notes { type += "<br/><span class=\"note\">\(esc(n))</span>" }
                if !g.formatsSeen.isEmpty { type += "<br/><span class=\"note\">formats seen: \(esc(g.formatsSeen.joined(separator: ", ")))</span>" }
                let parsing = g.values > 0 ? "\(g.parsing) of \(g.values)" : "–"
                let length = g.minLength.flatMap { lo in g.maxLength.map { "\(lo)–\($0)" } } ?? "–"
                let range = c.min.flatMap { lo in c.max.map { "\(number(lo))…\(number($0))" } } ?? "–"
                let frequent: String
                if let why = c.identifying {
                    frequent = "<span class=\"withheld\">not listed: \(esc(why))</span>"
                } else if c.frequent.isEmpty {
                    frequent = "–"
                } else {
                    frequent =
                        "<ul class=\"frequent\">" + c.frequent.map { "<li><code>\(esc($0.value))</code> \(esc($0.count))</li>" }.joined() + "</ul>"
                }
                h += "<tr><td class=\"n\">\(c.position)</td><td>\(esc(c.name))</td><td>\(type)</td><td class=\"n\">\(parsing)</td>"
                h += "<td class=\"n\">\(percent(c.nullShare))</td><td class=\"n\">\(c.distinctEstimated ? "~" : "")\(c.distinct)</td>"
                h += "<td class=\"n\">\(length)</td><td class=\"n\">\(range)</td><td>\(frequent)</td></tr>\n"
            }
            h += "</table>\n"
        }
        h += "</body>\n</html>\n"
        return h
    }

    static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }

    static func percent(_ share: Double) -> String {
        let tenths = (share * 1000).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }
}
