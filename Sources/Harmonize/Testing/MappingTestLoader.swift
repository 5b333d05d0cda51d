import Yams

/// Reads the `tests:` list of a mapping file into `MappingTestCase`s, collecting every problem
/// with its line and column (codes HZ1400–HZ1409).
package enum MappingTestLoader {
    static let caseKeys: Set<String> = ["name", "description", "records", "file", "text", "lookups", "joins", "expect", "rejects", "filtered"]

    /// Loads the cases of a mapping file (an empty list when it has no `tests:`).
    public static func load(path: String) throws(DiagnosticsError) -> [MappingTestCase] {
        let text: String
        do {
            text = try FileText.read(path)
        } catch {
            throw DiagnosticsError([Diagnostic(code: "HZ1000", message: "cannot read mapping file: \(error)", file: path)])
        }
        return try load(yaml: text, file: path)
    }

    /// Parses the cases from mapping YAML text; `file` names it in diagnostics.
    public static func load(yaml text: String, file: String) throws(DiagnosticsError) -> [MappingTestCase] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw DiagnosticsError([YAMLSupport.diagnostic(for: error, file: file)])
        }
        guard let tests = root?.mapping?["tests"] else { return [] }
        var d = Collector(file: file)
        guard let seq = tests.sequence else {
            d.error("HZ1400", "'tests' must be a list of cases", tests)
            throw DiagnosticsError(d.diagnostics)
        }
        var cases: [MappingTestCase] = []
        var names: Set<String> = []
        for (i, node) in seq.enumerated() {
            guard let m = node.mapping else {
                d.error("HZ1401", "each test case must be a mapping (name, records or file, expect…)", node)
                continue
            }
            for (k, _) in m where !caseKeys.contains(k.string ?? "") {
                d.error("HZ1004", "unknown key '\(k.string ?? "")' in a test case", k, suggest: k.string ?? "", among: caseKeys)
            }
            let name = m["name"]?.string ?? "case \(i + 1)"
            if !names.insert(name).inserted { d.error("HZ1402", "test case name '\(name)' is used twice", m["name"] ?? node) }
            var input = MappingTestCase.Input.records([])
            let given = ["records", "file", "text"].filter { m[$0] != nil }
            if given.count == 1, let key = given.first, let value = m[key] {
                switch key {
                case "records":
                    if let rows = rows(value, what: "records", d: &d) { input = .records(rows) }
                case "file":
                    if let s = value.string {
                        input = .file(s)
                    } else {
                        d.error("HZ1403", "'file' must be a path relative to the mapping file", value)
                    }
                default:
                    if let s = value.string {
                        input = .text(s)
                    } else {
                        d.error("HZ1403", "'text' must be the source text (a block scalar: `text: |`)", value)
                    }
                }
            } else if given.isEmpty {
                d.error("HZ1403", "test case '\(name)' needs 'records' (a list of field → text maps), 'file' or 'text'", node)
            } else {
                d.error("HZ1403", "test case '\(name)' gives " + given.map { "'\($0)'" }.joined(separator: " and ") + ": give only one of them", node)
            }
            var lookups: [String: [[String: String]]] = [:]
            if let l = m["lookups"] {
                if let lm = l.mapping {
                    for (k, v) in lm {
                        if let key = k.string, let r = rows(v, what: "lookup rows", d: &d) { lookups[key] = r }
                    }
                } else {
                    d.error("HZ1404", "'lookups' must map lookup names to lists of rows", l)
                }
            }
            var joins: [String: [[String: String]]] = [:]
            if let l = m["joins"] {
                if let lm = l.mapping {
                    for (k, v) in lm {
                        if let key = k.string, let r = rows(v, what: "joined rows", d: &d) { joins[key] = r }
                    }
                } else {
                    d.error("HZ1404", "'joins' must map join names to lists of rows", l)
                }
            }
            var expected: [MappingTestCase.ExpectedTable] = []
            if let e = m["expect"] {
                if let em = e.mapping {
                    for (k, v) in em {
                        guard let table = k.string else { continue }
                        guard let rowsNode = v.sequence else {
                            d.error("HZ1405", "expected rows of '\(table)' must be a list (use [] for no rows)", v)
                            continue
                        }
                        var rows: [[(field: String, value: MappingTestCase.ExpectedValue)]] = []
                        for r in rowsNode {
                            guard let rm = r.mapping else {
                                d.error("HZ1405", "an expected row must map fields to values", r)
                                continue
                            }
                            var row: [(field: String, value: MappingTestCase.ExpectedValue)] = []
                            for (fk, fv) in rm {
                                guard let field = fk.string, let s = fv.scalar else {
                                    d.error("HZ1406", "an expected value must be a single value (or null)", fv)
                                    continue
                                }
                                row.append((field, isNull(s) ? .null : .text(s.string)))
                            }
                            rows.append(row)
                        }
                        expected.append(.init(table: table, rows: rows))
                    }
                } else {
                    d.error("HZ1405", "'expect' must map target tables to lists of rows", e)
                }
            }
            var rejects: [String]?
            if let r = m["rejects"] {
                if let rs = r.sequence {
                    rejects = []
                    for x in rs {
                        guard let code = x.string, RejectReason(rawValue: code) != nil else {
                            d.error(
                                "HZ1407", "unknown reject reason '\(x.string ?? "")'", x, suggest: x.string ?? "",
                                among: RejectReason.allCases.map(\.rawValue))
                            continue
                        }
                        rejects?.append(code)
                    }
                } else {
                    d.error("HZ1407", "'rejects' must be a list of reason codes (type-error, lookup-miss…)", r)
                }
            }
            var filtered: Int?
            if let f = m["filtered"] {
                if let n = f.int, n >= 0 { filtered = n } else { d.error("HZ1408", "'filtered' must be a count", f) }
            }
            if m["expect"] == nil, m["rejects"] == nil, m["filtered"] == nil {
                d.error("HZ1409", "test case '\(name)' expects nothing: give 'expect', 'rejects' or 'filtered'", node)
            }
            var c = MappingTestCase(
                name: name, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0, input: input, lookups: lookups, expected: expected,
                rejects: rejects, filtered: filtered)
            c.joins = joins
            cases.append(c)
        }
        if !d.diagnostics.isEmpty { throw DiagnosticsError(d.diagnostics) }
        return cases
    }

    /// A plain `null`, `~` or empty scalar (a quoted `'null'` is text).
    static func isNull(_ s: Node.Scalar) -> Bool {
        s.style == .plain && ["null", "Null", "NULL", "~", ""].contains(s.string)
    }

    /// A list of maps of column → text; null cells become empty text.
    static func rows(_ node: Node, what: String, d: inout Collector) -> [[String: String]]? {
        guard let seq = node.sequence else {
            d.error("HZ1403", "\(what) must be a list of maps (field: text)", node)
            return nil
        }
        var out: [[String: String]] = []
        for r in seq {
            guard let m = r.mapping else {
                d.error("HZ1403", "each entry of \(what) must map fields to text", r)
                continue
            }
            var row: [String: String] = [:]
            for (k, v) in m {
                guard let key = k.string, let s = v.scalar else {
                    d.error("HZ1403", "each cell of \(what) must be a single value", v)
                    continue
                }
                row[key] = isNull(s) ? "" : s.string
            }
            out.append(row)
        }
        return out
    }
}
