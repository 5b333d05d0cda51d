import Harmonize

/// Writes mapping test results as JUnit XML (one test suite per mapping).
enum JUnitReport {
    static func xml(_ reports: [MappingTestReport]) -> String {
        let tests = reports.reduce(0) { $0 + $1.results.count }
        let failures = reports.reduce(0) { $0 + $1.results.filter { !$0.passed }.count }
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<testsuites name=\"harmonize mapping tests\" tests=\"\(tests)\" failures=\"\(failures)\">\n"
        for r in reports {
            let f = r.results.filter { !$0.passed }.count
            x += "  <testsuite name=\"\(escape(r.mappingID))\" tests=\"\(r.results.count)\" failures=\"\(f)\" file=\"\(escape(r.file))\">\n"
            x += "    <properties><property name=\"coverage\" value=\"\(escape(r.coverage.summary))\"/></properties>\n"
            for c in r.results {
                x += "    <testcase classname=\"\(escape(r.mappingID))\" name=\"\(escape(c.name))\" file=\"\(escape(r.file))\" line=\"\(c.line)\""
                if c.passed {
                    x += "/>\n"
                } else {
                    x += ">\n      <failure message=\"\(escape(c.failures.first?.path ?? "failed")): \(escape(c.failures.first?.message ?? ""))\">"
                    x += escape(c.failures.map(\.description).joined(separator: "\n"))
                    x += "</failure>\n    </testcase>\n"
                }
            }
            x += "  </testsuite>\n"
        }
        return x + "</testsuites>\n"
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "\n", "\t": out.unicodeScalars.append(ch)
            default:
                if ch.value < 0x20 { continue }
                out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
