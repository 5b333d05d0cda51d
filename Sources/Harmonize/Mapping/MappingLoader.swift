import Crypto
import Yams

/// Reads mapping files (YAML, format version 1) into `MappingSpec`s, collecting every problem
/// with its file, line and column before throwing once.
public enum MappingLoader {
    /// The highest mapping format version this engine reads.
    public static let highestFormatVersion = 1

    static let topLevelKeys: Set<String> = [
        "harmonize", "id", "version", "description", "model", "source", "lookups", "filter", "let", "target",
        "targets", "fields", "tests", "documentation", "joins", "group", "derive", "with",
    ]

    /// The derivations `derive:` accepts.
    public static let derivations = ["observation_period"]

    /// Loads a mapping file.
    public static func load(path: String) throws(DiagnosticsError) -> MappingSpec {
        let text: String
        do {
            text = try FileText.read(path)
        } catch {
            throw DiagnosticsError([Diagnostic(code: "HZ1000", message: "cannot read mapping file: \(error)", file: path)])
        }
        return try load(yaml: text, file: path)
    }

    /// Parses mapping YAML text; `file` names it in diagnostics and resolves relative paths.
    public static func load(yaml text: String, file: String) throws(DiagnosticsError) -> MappingSpec {
        var d = Collector(file: file)
        let root: Node
        do {
            guard let n = try Yams.compose(yaml: text) else {
                throw DiagnosticsError([Diagnostic(code: "HZ1002", message: "the mapping file is empty", file: file)])
            }
            root = n
        } catch let e as DiagnosticsError {
            throw e
        } catch {
            throw DiagnosticsError([YAMLSupport.diagnostic(for: error, file: file)])
        }
        guard let map = root.mapping else {
            throw DiagnosticsError([
                Diagnostic(
                    code: "HZ1003", message: "a mapping file must be a YAML mapping", file: file, line: root.mark?.line, column: root.mark?.column)
            ])
        }
        for (k, _) in map {
            guard let key = k.string, !topLevelKeys.contains(key) else { continue }
            d.error("HZ1004", "unknown key '\(key)'", k, suggest: key, among: topLevelKeys)
        }
        var formatVersion = 1
        if let v = map["harmonize"] {
            if let n = v.int {
                formatVersion = n
                if n > highestFormatVersion || n < 1 {
                    d.error("HZ1005", "mapping format version \(n) is not supported (highest supported is \(highestFormatVersion))", v)
                }
            } else {
                d.error("HZ1005", "'harmonize' must be the format version number (1)", v)
            }
        } else {
            d.error("HZ1006", "missing 'harmonize: 1' (the mapping format version)", root)
        }
        let id = d.requiredString(map, "id", root) ?? "unnamed"
        let version = map["version"].flatMap { $0.string } ?? "0"
        let description = map["description"]?.string
        let model = map["model"].flatMap { d.located($0) }

        if let dv = map["derive"] {
            return try loadDerived(
                map, derive: dv, root: root, text: text, file: file, id: id, version: version, description: description, model: model,
                formatVersion: formatVersion, d: &d)
        }
        let source = loadSource(map["source"], root: root, d: &d)
        var joins: [JoinSpec] = []
        if let js = map["joins"] {
            if let seq = js.sequence {
                for j in seq {
                    if let spec = loadJoin(j, d: &d) {
                        if joins.contains(where: { $0.name.text == spec.name.text }) {
                            d.error("HZ1062", "join '\(spec.name.text)' is declared twice", j)
                        }
                        joins.append(spec)
                    }
                }
            } else {
                d.error("HZ1060", "'joins' must be a list of joined sources", js)
            }
        }
        let group = map["group"].flatMap { loadGroup($0, d: &d) }
        var lookups: [LookupSpec] = []
        if let lk = map["lookups"] {
            if let m = lk.mapping {
                for (k, v) in m {
                    if let name = d.located(k), let l = loadLookup(name: name, v, d: &d) { lookups.append(l) }
                }
            } else {
                d.error("HZ1007", "'lookups' must map names to lookup tables", lk)
            }
        }
        let filter = map["filter"].flatMap { d.expression($0) }
        var lets: [(name: LocatedText, expression: LocatedText)] = []
        if let l = map["let"] {
            if let m = l.mapping {
                for (k, v) in m {
                    if let name = d.located(k), let e = d.expression(v) { lets.append((name, e)) }
                }
            } else {
                d.error("HZ1008", "'let' must map names to expressions", l)
            }
        }
        var targets: [TargetSpec] = []
        if let t = map["target"] {
            if let name = d.located(t) {
                targets.append(TargetSpec(table: name, filter: nil, fields: loadFields(map["fields"], owner: t, d: &d)))
            }
            if map["targets"] != nil { d.error("HZ1009", "use either 'target' with 'fields', or 'targets', not both", t) }
        } else if let ts = map["targets"] {
            if map["fields"] != nil { d.error("HZ1009", "'fields' belongs inside each entry of 'targets'", map["fields"]) }
            for entry in ts.sequence ?? [] {
                guard let em = entry.mapping, let tableNode = em["table"], let table = d.located(tableNode) else {
                    d.error("HZ1010", "each entry of 'targets' needs a 'table'", entry)
                    continue
                }
                let targetKeys = ["table", "filter", "fields", "description", "on_conflict", "update"]
                for (k, _) in em where !targetKeys.contains(k.string ?? "") {
                    d.error("HZ1004", "unknown key '\(k.string ?? "")' in a target", k, suggest: k.string ?? "", among: targetKeys)
                }
                var spec = TargetSpec(
                    table: table, filter: em["filter"].flatMap { d.expression($0) }, fields: loadFields(em["fields"], owner: entry, d: &d))
                spec.onConflict = em["on_conflict"].flatMap { d.located($0) }
                if let u = em["update"] {
                    if let list = u.sequence {
                        spec.updateColumns = list.compactMap { d.located($0) }
                    } else {
                        d.error("HZ1206", "'update' is a list of column names", u)
                    }
                }
                targets.append(spec)
            }
            if ts.sequence == nil { d.error("HZ1010", "'targets' must be a list", ts) }
        } else {
            d.error("HZ1011", "missing 'target' (a table name with 'fields') or 'targets'", root)
        }
        d.diagnostics += PathContainment.check(source: source, joins: joins, lookups: lookups, file: file)
        if !d.diagnostics.filter({ $0.severity == .error }).isEmpty { throw DiagnosticsError(d.diagnostics) }
        let hash = Hex.string(Array(SHA256.hash(data: Array(text.utf8))))
        var spec = MappingSpec(
            file: file, contentHash: hash, formatVersion: formatVersion, id: id, version: version, description: description,
            model: model, source: source ?? SourceSpec.placeholder, lookups: lookups, filter: filter, lets: lets, targets: targets)
        spec.joins = joins
        spec.group = group
        return spec
    }

    /// A `derive:` mapping: no source, no targets; a derivation and its parameters.
    static func loadDerived(
        _ map: Node.Mapping, derive dv: Node, root: Node, text: String, file: String, id: String, version: String, description: String?,
        model: LocatedText?, formatVersion: Int, d: inout Collector
    ) throws(DiagnosticsError) -> MappingSpec {
        for key in ["source", "lookups", "filter", "let", "target", "targets", "fields", "joins", "group"] {
            if let n = map[key] { d.error("HZ1070", "a 'derive:' mapping has no '\(key)' (it reads what the run's other mappings wrote)", n) }
        }
        let kind = d.located(dv) ?? LocatedText(text: "", line: 1, column: 1)
        if !kind.text.isEmpty, !derivations.contains(kind.text) {
            d.error("HZ1071", "unknown derivation '\(kind.text)'", dv, suggest: kind.text, among: derivations)
        }
        var parameters: [String: LocatedText] = [:]
        var from: [LocatedText] = []
        if let w = map["with"] {
            if let m = w.mapping {
                for (k, v) in m {
                    guard let key = k.string else { continue }
                    if key == "from" {
                        if let seq = v.sequence {
                            from = seq.compactMap { d.located($0) }
                        } else {
                            d.error("HZ1072", "'from' must be a list of table names", v)
                        }
                    } else if let t = d.located(v) {
                        parameters[key] = t
                    }
                }
            } else {
                d.error("HZ1072", "'with' must map parameter names to values", w)
            }
        }
        if !d.diagnostics.filter({ $0.severity == .error }).isEmpty { throw DiagnosticsError(d.diagnostics) }
        let hash = Hex.string(Array(SHA256.hash(data: Array(text.utf8))))
        var spec = MappingSpec(
            file: file, contentHash: hash, formatVersion: formatVersion, id: id, version: version, description: description,
            model: model, source: SourceSpec.placeholder, lookups: [], filter: nil, lets: [], targets: [])
        spec.derive = DeriveSpec(kind: kind, parameters: parameters, from: from)
        return spec
    }

    static func loadJoin(_ node: Node, d: inout Collector) -> JoinSpec? {
        guard let m = node.mapping else {
            d.error("HZ1060", "each join is a mapping (name, files, on…)", node)
            return nil
        }
        let allowed: Set<String> = ["name", "files", "dialect", "schema", "on", "where", "on_miss", "description"]
        for (k, _) in m where !allowed.contains(k.string ?? "") {
            d.error("HZ1004", "unknown key '\(k.string ?? "")' in a join", k, suggest: k.string ?? "", among: allowed)
        }
        guard let nameNode = m["name"], let name = d.located(nameNode) else {
            d.error("HZ1061", "a join needs a 'name' (the prefix of its fields: name.FIELD)", node)
            return nil
        }
        let validName =
            name.text.utf8.first.map { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 } ?? false
            && name.text.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
        if !validName { d.error("HZ1061", "join name '\(name.text)' must be a plain identifier (letters, digits, _)", nameNode) }
        guard let filesNode = m["files"], let files = d.located(filesNode) else {
            d.error("HZ1022", "join '\(name.text)' needs 'files' (a file name or pattern relative to the input folder)", node)
            return nil
        }
        var schema = SchemaReference.none
        if let sn = m["schema"] {
            if let path = sn.scalar.flatMap({ _ in d.located(sn) }) {
                schema = .file(path)
            } else {
                do {
                    schema = .inline(try YAMLDecoder().decode(SourceSchema.self, from: sn))
                } catch {
                    d.error("HZ1023", "invalid inline schema: \(decodingMessage(error))", sn)
                }
            }
        }
        var on: [(column: LocatedText, expression: LocatedText)] = []
        if let o = m["on"] {
            if let seq = o.sequence {
                for c in seq { if let col = d.located(c) { on.append((col, col)) } }
            } else if let om = o.mapping {
                for (k, v) in om {
                    if let col = d.located(k), let e = d.expression(v) { on.append((col, e)) }
                }
            } else if let col = d.located(o) {
                on.append((col, col))
            }
        }
        if on.isEmpty { d.error("HZ1063", "join '\(name.text)' needs 'on': its key columns (a list, or column: expression)", node) }
        var missIsNull = false
        if let o = m["on_miss"] {
            switch o.string {
            case "reject": missIsNull = false
            case "null": missIsNull = true
            default: d.error("HZ1045", "'on_miss' is 'reject' (default, reason join-missing) or 'null'", o)
            }
        }
        return JoinSpec(
            name: name, files: files, dialect: loadDialect(m["dialect"], d: &d), schema: schema, on: on,
            whereClause: m["where"].flatMap { d.expression($0) }, missIsNull: missIsNull)
    }

    /// The aggregate functions `group: aggregate:` accepts.
    public static let aggregateFunctions = ["sum", "count", "min", "max", "first", "last"]

    static func loadGroup(_ node: Node, d: inout Collector) -> GroupSpec? {
        guard let m = node.mapping else {
            d.error("HZ1065", "'group' must be a mapping (by, aggregate, having)", node)
            return nil
        }
        let allowed: Set<String> = ["by", "aggregate", "having", "description"]
        for (k, _) in m where !allowed.contains(k.string ?? "") {
            d.error("HZ1004", "unknown key '\(k.string ?? "")' in 'group'", k, suggest: k.string ?? "", among: allowed)
        }
        var by: [(name: LocatedText, expression: LocatedText)] = []
        if let b = m["by"] {
            if let bm = b.mapping {
                for (k, v) in bm { if let n = d.located(k), let e = d.expression(v) { by.append((n, e)) } }
            } else if let seq = b.sequence {
                for c in seq { if let n = d.located(c) { by.append((n, n)) } }
            } else {
                d.error("HZ1065", "'by' maps names to expressions (or lists field names)", b)
            }
        }
        if by.isEmpty { d.error("HZ1065", "'group' needs 'by' (the grouping keys)", node) }
        var aggregates: [GroupSpec.Aggregate] = []
        if let a = m["aggregate"] {
            guard let am = a.mapping else {
                d.error("HZ1066", "'aggregate' maps names to sum(…), count(), min(…), max(…), first(…) or last(…)", a)
                return nil
            }
            for (k, v) in am {
                guard let n = d.located(k), let e = d.expression(v) else { continue }
                let t = e.text.trimmingSpaces()
                guard let open = t.firstIndex(of: "("), t.hasSuffix(")") else {
                    d.error("HZ1066", "aggregate '\(n.text)' must be sum(…), count(), min(…), max(…), first(…) or last(…)", v)
                    continue
                }
                let fn = String(t[..<open]).trimmingSpaces().lowercased()
                guard aggregateFunctions.contains(fn) else {
                    d.error("HZ1066", "unknown aggregate function '\(fn)'", v, suggest: fn, among: aggregateFunctions)
                    continue
                }
                let inner = String(t[t.index(after: open)..<t.index(before: t.endIndex)])
                let lead = e.text.utf8.count - e.text.drop(while: { $0 == " " }).utf8.count
                let offset = lead + t.distance(from: t.startIndex, to: open) + 1
                let arg = inner.trimmingSpaces().isEmpty ? nil : LocatedText(text: inner, line: e.line, column: e.column + offset)
                if arg == nil, fn != "count" { d.error("HZ1066", "\(fn)(…) needs an argument", v) }
                aggregates.append(GroupSpec.Aggregate(name: n, function: fn, argument: arg))
            }
        }
        let pos = LocatedText(text: "group", line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        return GroupSpec(by: by, aggregates: aggregates, having: m["having"].flatMap { d.expression($0) }, position: pos)
    }

    static func loadFields(_ node: Node?, owner: Node, d: inout Collector) -> [(column: LocatedText, expression: LocatedText)] {
        guard let node else {
            d.error("HZ1012", "missing 'fields' (one expression per target column)", owner)
            return []
        }
        guard let m = node.mapping else {
            d.error("HZ1012", "'fields' must map target columns to expressions", node)
            return []
        }
        var out: [(column: LocatedText, expression: LocatedText)] = []
        var seen: Set<String> = []
        for (k, v) in m {
            guard let c = d.located(k), let e = d.expression(v) else { continue }
            if !seen.insert(c.text.lowercased()).inserted {
                d.error("HZ1013", "column '\(c.text)' is mapped twice", k)
            }
            out.append((c, e))
        }
        return out
    }

    static func loadSource(_ node: Node?, root: Node, d: inout Collector) -> SourceSpec? {
        guard let node, let m = node.mapping else {
            d.error("HZ1020", "missing 'source' (format, files, dialect, schema)", node ?? root)
            return nil
        }
        let allowed: Set<String> = [
            "format", "files", "dialect", "schema", "validate", "description", "record", "namespaces", "max-record-bytes", "subject",
            "on_bad_segment", "deduplicate",
        ]
        for (k, _) in m where !allowed.contains(k.string ?? "") {
            d.error("HZ1004", "unknown key '\(k.string ?? "")' in 'source'", k, suggest: k.string ?? "", among: allowed)
        }
        let format = m["format"].flatMap { d.located($0) } ?? LocatedText(text: "csv", line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        let formats = ["csv", "hl7v2", "xml"]
        let fmt = format.text.lowercased()
        if !formats.contains(fmt) {
            d.error("HZ1021", "unknown source format '\(format.text)'", m["format"], suggest: format.text, among: formats)
        }
        var record: LocatedText? = nil
        if let r = m["record"] {
            if fmt == "csv" {
                d.error("HZ1026", "'record' applies to hl7v2 and xml sources only", r)
            } else if let t = d.located(r) {
                record = t
                if fmt == "hl7v2" {
                    let ok =
                        t.text == "message" || (t.text.utf8.count == 3 && t.text.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) })
                    if !ok { d.error("HZ1026", "hl7v2 'record' is 'message' or a segment id such as OBX", r) }
                } else if fmt == "xml" && !t.text.hasPrefix("/") {
                    d.error("HZ1026", "xml 'record' is an absolute element path such as /export/sejour", r)
                }
            }
        } else if fmt == "xml" {
            d.error("HZ1026", "missing 'record' (the path of the record element, such as /export/sejour)", node)
        }
        var namespaces: [String: String] = [:]
        if let n = m["namespaces"] {
            if fmt != "xml" {
                d.error("HZ1027", "'namespaces' applies to xml sources only", n)
            } else if let nm = n.mapping {
                for (k, v) in nm {
                    if let key = k.string, let value = v.string {
                        namespaces[key] = value
                    } else {
                        d.error("HZ1027", "'namespaces' maps prefixes to namespace URIs", k)
                    }
                }
            } else {
                d.error("HZ1027", "'namespaces' maps prefixes to namespace URIs", n)
            }
        }
        var maxRecordBytes: Int? = nil
        if let v = m["max-record-bytes"] {
            if let t = v.string, let n = Int(t), n > 0 {
                maxRecordBytes = n
            } else {
                d.error("HZ1028", "'max-record-bytes' is a positive integer", v)
            }
        }
        guard let filesNode = m["files"], let files = d.located(filesNode) else {
            d.error("HZ1022", "missing 'files' (a file name or pattern relative to the input folder)", node)
            return nil
        }
        let dialect = loadDialect(m["dialect"], d: &d)
        var schema = SchemaReference.none
        if let s = m["schema"] {
            if let path = s.scalar.flatMap({ _ in d.located(s) }) {
                schema = .file(path)
            } else {
                do {
                    schema = .inline(try YAMLDecoder().decode(SourceSchema.self, from: s))
                } catch {
                    d.error("HZ1023", "invalid inline schema: \(decodingMessage(error))", s)
                }
            }
        }
        var all = false
        if let v = m["validate"] {
            switch v.string {
            case "all": all = true
            case "used": all = false
            default: d.error("HZ1024", "'validate' is 'used' (default) or 'all'", v)
            }
        }
        let pos = LocatedText(text: "source", line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        var spec = SourceSpec(format: format, files: files, dialect: dialect, schema: schema, validateAllFields: all, position: pos)
        spec.record = record
        spec.namespaces = namespaces
        spec.maxRecordBytes = maxRecordBytes
        spec.subject = m["subject"].flatMap { d.expression($0) }
        if let v = m["on_bad_segment"] { spec.skipBadSegments = loadBadSegmentPolicy(v, format: fmt, d: &d) }
        if let v = m["deduplicate"] { spec.deduplicate = loadDeduplicate(v, format: fmt, d: &d) }
        return spec
    }

    /// `deduplicate: {on: control-id, keep: first | last}` (hl7v2 only; `keep` defaults to `first`).
    static func loadDeduplicate(_ node: Node, format: String, d: inout Collector) -> DeduplicateSpec? {
        guard format == "hl7v2" else {
            d.error("HZ1038", "'deduplicate' applies to hl7v2 sources only", node)
            return nil
        }
        guard let m = node.mapping else {
            d.error("HZ1038", "'deduplicate' is a mapping: {on: control-id, keep: first | last}", node)
            return nil
        }
        let allowed = ["on", "keep", "description"]
        for (k, _) in m where !allowed.contains(k.string ?? "") {
            d.error("HZ1038", "unknown key '\(k.string ?? "")' in 'deduplicate'", k, suggest: k.string ?? "", among: allowed)
        }
        let keys = ["control-id"]
        if let on = m["on"] {
            if on.scalar == nil || !keys.contains(on.string ?? "") {
                d.error(
                    "HZ1038", "'deduplicate: on:' is 'control-id' (MSH-10 with MSH-3 and MSH-4)", on, suggest: on.string ?? "", among: keys)
            }
        } else {
            d.error("HZ1038", "'deduplicate' needs 'on: control-id' (MSH-10 with MSH-3 and MSH-4)", node)
        }
        var keep = DeduplicateSpec.Keep.first
        if let k = m["keep"] {
            let values = ["first", "last"]
            if k.scalar != nil, let v = k.string.flatMap(DeduplicateSpec.Keep.init(rawValue:)) {
                keep = v
            } else {
                d.error("HZ1038", "'deduplicate: keep:' is 'first' (default) or 'last'", k, suggest: k.string ?? "", among: values)
            }
        }
        let pos = LocatedText(text: "deduplicate", line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        return DeduplicateSpec(keep: keep, position: pos)
    }

    /// `on_bad_segment: reject-message | skip-segment` (hl7v2 only); true for `skip-segment`.
    static func loadBadSegmentPolicy(_ v: Node, format: String, d: inout Collector) -> Bool {
        let values = ["reject-message", "skip-segment"]
        guard format == "hl7v2" else {
            d.error("HZ1029", "'on_bad_segment' applies to hl7v2 sources only", v)
            return false
        }
        guard let t = v.string, values.contains(t) else {
            d.error("HZ1029", "'on_bad_segment' is 'reject-message' (default) or 'skip-segment'", v, suggest: v.string ?? "", among: values)
            return false
        }
        return t == "skip-segment"
    }

    static func decodingMessage(_ error: any Error) -> String {
        if let e = error as? DecodingError {
            switch e {
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
                let path = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                return path.isEmpty ? c.debugDescription : "\(path): \(c.debugDescription)"
            @unknown default:
                return "\(e)"
            }
        }
        return "\(error)"
    }

    /// Reads a `dialect:` node (also used by profiles and lookups).
    static func loadDialect(_ node: Node?, d: inout Collector) -> Dialect {
        var dialect = Dialect()
        guard let node else { return dialect }
        guard let m = node.mapping else {
            d.error("HZ1030", "'dialect' must be a mapping", node)
            return dialect
        }
        let allowed: Set<String> = [
            "delimiter", "quote", "escape", "header", "columns", "encoding", "skip_lines", "ragged_rows", "trim", "stray_quotes",
        ]
        for (k, v) in m {
            let key = k.string ?? ""
            switch key {
            case "delimiter":
                let s = v.string ?? ""
                switch s.lowercased() {
                case "auto", "detect": dialect.delimiter = nil
                case "tab", "\\t", "\t": dialect.delimiter = 9
                default:
                    if s.utf8.count == 1, let b = s.utf8.first {
                        dialect.delimiter = b
                    } else {
                        d.error("HZ1031", "'delimiter' must be one character, 'tab' or 'auto'", v)
                    }
                }
            case "quote", "escape":
                let s = v.string ?? ""
                let b: UInt8?
                if s.isEmpty || s.lowercased() == "none" {
                    b = nil
                } else if s.utf8.count == 1 {
                    b = s.utf8.first
                } else {
                    d.error("HZ1031", "'\(key)' must be one character or 'none'", v)
                    continue
                }
                if key == "quote" { dialect.quote = b } else { dialect.escape = b }
            case "header":
                if let b = v.bool { dialect.header = b } else { d.error("HZ1032", "'header' must be true or false", v) }
            case "columns":
                if let seq = v.sequence {
                    dialect.columns = seq.compactMap { $0.string }
                } else {
                    d.error("HZ1033", "'columns' must be a list of names", v)
                }
            case "encoding":
                if let s = v.string, let e = TextEncoding(name: s) {
                    dialect.encoding = e
                } else {
                    d.error("HZ1034", "unknown encoding '\(v.string ?? "")' (utf-8, latin-1, windows-1252, utf-16, auto)", v)
                }
            case "skip_lines":
                if let n = v.int, n >= 0 { dialect.skipLines = n } else { d.error("HZ1035", "'skip_lines' must be a count", v) }
            case "ragged_rows":
                if let s = v.string, let p = RaggedRowPolicy(rawValue: s) {
                    dialect.raggedRows = p
                } else {
                    d.error("HZ1036", "'ragged_rows' is 'reject' or 'pad'", v)
                }
            case "trim":
                dialect.trimUnquotedSpaces = v.bool ?? false
            case "stray_quotes":
                switch v.string {
                case "reject": dialect.keepTextAfterQuote = false
                case "keep": dialect.keepTextAfterQuote = true
                default: d.error("HZ1037", "'stray_quotes' is 'reject' (default) or 'keep'", v, suggest: v.string ?? "", among: ["reject", "keep"])
                }
            default:
                d.error("HZ1004", "unknown key '\(key)' in 'dialect'", k, suggest: key, among: allowed)
            }
        }
        return dialect
    }

    static func loadLookup(name: LocatedText, _ node: Node, d: inout Collector) -> LookupSpec? {
        guard let m = node.mapping else {
            d.error("HZ1040", "lookup '\(name.text)' must be a mapping (file or input, key, value)", node)
            return nil
        }
        let allowed: Set<String> = ["file", "input", "dialect", "where", "key", "value", "type", "on_miss", "description"]
        for (k, _) in m where !allowed.contains(k.string ?? "") {
            d.error("HZ1004", "unknown key '\(k.string ?? "")' in lookup '\(name.text)'", k, suggest: k.string ?? "", among: allowed)
        }
        var path: LocatedText?
        var relativeToInput = false
        if let f = m["file"] { path = d.located(f) }
        if let i = m["input"] {
            path = d.located(i)
            relativeToInput = true
        }
        guard let path else {
            d.error("HZ1041", "lookup '\(name.text)' needs 'file' (relative to the mapping) or 'input' (relative to the input folder)", node)
            return nil
        }
        var keys: [LocatedText] = []
        if let k = m["key"] {
            if let seq = k.sequence { keys = seq.compactMap { d.located($0) } } else if let one = d.located(k) { keys = [one] }
        }
        if keys.isEmpty { d.error("HZ1042", "lookup '\(name.text)' needs 'key' (one or more columns)", node) }
        guard let valueNode = m["value"], let value = d.located(valueNode) else {
            d.error("HZ1043", "lookup '\(name.text)' needs 'value' (the column it returns)", node)
            return nil
        }
        var type = ValueType.string
        if let t = m["type"] {
            if let s = t.string, let vt = ValueType(rawValue: s), vt != .null, vt != .any {
                type = vt
            } else {
                d.error(
                    "HZ1044", "unknown lookup value type '\(t.string ?? "")'", t, suggest: t.string ?? "",
                    among: ["string", "integer", "number", "boolean", "date", "datetime"])
            }
        }
        var fatal = false
        if let o = m["on_miss"] {
            switch o.string {
            case "null": fatal = false
            case "reject": fatal = true
            default: d.error("HZ1045", "'on_miss' is 'null' (default) or 'reject'", o)
            }
        }
        return LookupSpec(
            name: name, path: path, relativeToInput: relativeToInput, dialect: loadDialect(m["dialect"], d: &d),
            whereClause: m["where"].flatMap { d.expression($0) }, keys: keys, value: value, valueType: type, missIsFatal: fatal)
    }
}

extension SourceSpec {
    static let placeholder = SourceSpec(
        format: LocatedText(text: "csv", line: 1, column: 1), files: LocatedText(text: "", line: 1, column: 1), dialect: Dialect(),
        schema: .none, validateAllFields: false, position: LocatedText(text: "source", line: 1, column: 1))
}

/// Collects diagnostics for one file while a loader walks its YAML.
struct Collector {
    let file: String
    var diagnostics: [Diagnostic] = []

    mutating func error(_ code: String, _ message: String, _ node: Node?, suggest: String? = nil, among: some Sequence<String> = [String]()) {
        var notes: [String] = []
        if let suggest, let s = Suggestion.closest(to: suggest, in: among) { notes.append("did you mean '\(s)'?") }
        diagnostics.append(Diagnostic(code: code, message: message, file: file, line: node?.mark?.line, column: node?.mark?.column, notes: notes))
    }

    mutating func requiredString(_ map: Node.Mapping, _ key: String, _ owner: Node) -> String? {
        guard let n = map[key] else {
            error("HZ1014", "missing '\(key)'", owner)
            return nil
        }
        guard let s = n.string, !s.isEmpty else {
            error("HZ1015", "'\(key)' must be a non-empty text", n)
            return nil
        }
        return s
    }

    /// A scalar's text with its position.
    mutating func located(_ node: Node) -> LocatedText? {
        guard let s = node.scalar else {
            error("HZ1016", "expected a single value here", node)
            return nil
        }
        return LocatedText(text: s.string, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    /// An expression scalar, positioned at its first character (after an opening quote).
    mutating func expression(_ node: Node) -> LocatedText? {
        guard let s = node.scalar else {
            error("HZ1017", "expected an expression (a single text value) here; quote it if it contains ':' or '#'", node)
            return nil
        }
        var line = node.mark?.line ?? 1
        var column = node.mark?.column ?? 1
        switch s.style {
        case .singleQuoted, .doubleQuoted: column += 1
        case .literal, .folded:
            line += 1
            column = 1
        default: break
        }
        return LocatedText(text: s.string, line: line, column: column)
    }
}
