import Yams

/// Per-extract overrides of the mappings' source dialects, formats and constraints, so that a run
/// reads an extract in its own dialect (comma instead of semicolon, UTF-8 instead of Latin-1, ISO
/// dates, a relaxed constraint…) without anyone editing the mappings. Given by `--profile FILE`
/// or by flags. The format is documented key by key in `docs/profiles.md`.
///
/// ```yaml
/// harmonize-profile: 1
/// dialect: {delimiter: ",", encoding: utf-8}
/// date_formats: ["yyyy-MM-dd"]
/// decimal_char: "."
/// missing_values: ["", "NA"]
/// tables:
///   IR_BEN_R:
///     fields:
///       BEN_NAI_ANN: {constraints: {pattern: null, minimum: 1900}}
/// ```
public struct RunProfile: Sendable {
    /// Delimiter override.
    public var delimiter: UInt8?
    /// Quote override.
    public var quote: UInt8??
    /// Encoding override.
    package var encoding: TextEncoding?
    /// Header override.
    public var header: Bool?
    /// Schema overrides (date formats, decimal character, missing values).
    package var schema: SchemaOverride
    /// Overrides of one table's schema, by table name: the schema file's name without its
    /// extension (`schemas/IR_BEN_R.json` is `IR_BEN_R`). Applied after `schema`.
    package var tables: [String: TableOverride] = [:]
    /// Where each setting was given (`date_formats`, `tables.T`, `tables.T.fields.F`…), so that a
    /// problem points at the profile's line or at the flag.
    package var origins: [String: Origin] = [:]

    /// Where a setting of the profile comes from: a line of the profile file, or a flag.
    package struct Origin: Sendable, Hashable {
        /// The profile file, or the flag (`--date-format`).
        package var file: String
        /// Line in the file (nil for a flag).
        package var line: Int?
        /// Column in the file (nil for a flag).
        package var column: Int?

        /// Creates an origin.
        package init(file: String, line: Int? = nil, column: Int? = nil) {
            self.file = file
            self.line = line
            self.column = column
        }
    }

    /// The changes to one table.
    package struct TableOverride: Sendable, Hashable {
        /// Formats, decimal character and missing values of the table's fields.
        package var schema = SchemaOverride()
        /// Changes to single fields, by field name.
        package var fields: [String: FieldOverride] = [:]
        package init() {}
    }

    /// The changes to one field (nil: unchanged).
    package struct FieldOverride: Sendable, Hashable {
        /// Date/time formats tried in order (replace `format`/`formats`).
        package var formats: [String]?
        /// The decimal character.
        package var decimalChar: String?
        /// The field's missing values.
        package var missingValues: [String]?
        /// When true, the field's constraints are dropped before `constraints` is applied
        /// (`replace_constraints:`); otherwise `constraints` is merged into them.
        package var replaceConstraints = false
        /// The constraints set (their keys are in `setConstraints`).
        package var constraints = FieldConstraints()
        /// The constraint keys given a value.
        package var setConstraints: Set<String> = []
        /// The constraint keys given `null`: the constraint is removed.
        package var removedConstraints: Set<String> = []
        package init() {}

        /// `field` with this override applied.
        func applied(to field: SchemaField) -> SchemaField {
            var f = field
            if let formats {
                f.formats = formats
                f.format = nil
            }
            if let decimalChar { f.decimalChar = decimalChar }
            if let missingValues { f.missingValues = missingValues }
            var c = replaceConstraints ? FieldConstraints() : f.constraints
            for key in removedConstraints.union(setConstraints) {
                let set = setConstraints.contains(key)
                switch key {
                case "required": c.required = set ? constraints.required : false
                case "unique": c.unique = set ? constraints.unique : false
                case "minLength": c.minLength = set ? constraints.minLength : nil
                case "maxLength": c.maxLength = set ? constraints.maxLength : nil
                case "minimum": c.minimum = set ? constraints.minimum : nil
                case "maximum": c.maximum = set ? constraints.maximum : nil
                case "pattern": c.pattern = set ? constraints.pattern : nil
                case "enum": c.enum = set ? constraints.enum : nil
                default: break
                }
            }
            f.constraints = c
            return f
        }
    }

    /// The constraint keys a profile may set or remove (Table Schema's).
    static let constraintKeys = ["required", "unique", "minLength", "maxLength", "minimum", "maximum", "pattern", "enum"]

    /// Creates an empty profile.
    public init() { schema = SchemaOverride() }

    /// Whether the profile changes nothing.
    public var isEmpty: Bool {
        delimiter == nil && quote == nil && encoding == nil && header == nil && schema == SchemaOverride() && tables.isEmpty
    }

    /// The dialect with the overrides applied.
    package func apply(to dialect: Dialect) -> Dialect {
        var d = dialect
        if let delimiter { d.delimiter = delimiter }
        if let quote { d.quote = quote }
        if let encoding { d.encoding = encoding }
        if let header { d.header = header }
        return d
    }

    /// The schema with the overrides applied (those of every table, not of one table).
    package func apply(to schema: SourceSchema) -> SourceSchema { self.schema.applied(to: schema) }

    /// The schema of table `table` with the overrides applied: the profile's, then the table's
    /// formats, decimal character and missing values, then its fields' changes.
    package func apply(to schema: SourceSchema, table: String?) -> SourceSchema {
        var s = self.schema.applied(to: schema)
        guard let table, let t = tables[table] else { return s }
        s = t.schema.applied(to: s)
        for i in s.fields.indices {
            if let f = t.fields[s.fields[i].name] { s.fields[i] = f.applied(to: s.fields[i]) }
        }
        return s
    }

    /// The table name of a schema file: its name without folder or extension.
    package static func tableName(ofSchemaFile path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// Problems of the profile against the schemas of the run's tables (by table name): a table
    /// or field no mapping reads (with a did-you-mean), and every schema error the profile's
    /// changes cause (an invalid date format, a bound of the wrong type…), each reported once, at
    /// the profile line or the flag that made it, never at the mapping files.
    package func check(tables schemas: [String: SourceSchema], inline: [SourceSchema] = []) -> [Diagnostic] {
        var out: [Diagnostic] = []
        var seen: Set<String> = []
        func add(_ code: String, _ message: String, at key: String, notes: [String] = []) {
            let o = origins[key] ?? origins["profile"] ?? Origin(file: "profile")
            let d = Diagnostic(code: code, message: message, file: o.file, line: o.line, column: o.column, notes: notes)
            if seen.insert(d.description).inserted { out.append(d) }
        }
        for (name, t) in tables.sorted(by: { $0.key < $1.key }) {
            guard let schema = schemas[name] else {
                let sug = Suggestion.closest(to: name, in: schemas.keys)
                add(
                    "HZ1310", "the profile changes table '\(name)', which no mapping of the run reads (a table is named by its schema file)",
                    at: "tables.\(name)", notes: sug.map { ["did you mean '\($0)'?"] } ?? [])
                continue
            }
            let names = schema.fields.map(\.name)
            for field in t.fields.keys.sorted() where !names.contains(field) {
                let sug = Suggestion.closest(to: field, in: names)
                add(
                    "HZ1311", "table '\(name)' has no field '\(field)'", at: "tables.\(name).fields.\(field)",
                    notes: sug.map { ["did you mean '\($0)'?"] } ?? [])
            }
        }
        // Schema errors the profile adds (inline schemas have no table name: "").
        for (name, schema) in schemas.sorted(by: { $0.key < $1.key }) + inline.map({ ("", $0) }) {
            let before = Set(schema.validate().filter { $0.severity == .error }.map(\.message))
            let changed = apply(to: schema, table: name.isEmpty ? nil : name)
            for d in changed.validate() where d.severity == .error && !before.contains(d.message) {
                // "field 'F': message"
                var field: String?
                var message = d.message
                if message.hasPrefix("field '"), let end = message.range(of: "': ") {
                    field = String(message[message.index(message.startIndex, offsetBy: 7)..<end.lowerBound])
                    message = String(message[end.upperBound...])
                }
                let type = field.flatMap { f in changed.fields.first { $0.name == f } }?.type
                var keys: [String] = []
                if let field { keys.append("tables.\(name).fields.\(field)") }
                switch d.code {
                case "HZ2003", "HZ2009":
                    if type == .datetime { keys += ["tables.\(name).datetime_formats", "datetime_formats"] }
                    keys += ["tables.\(name).date_formats", "date_formats"]
                case "HZ2007": keys += ["tables.\(name).decimal_char", "decimal_char"]
                default: keys.append("tables.\(name)")
                }
                let key = keys.first { origins[$0] != nil } ?? "profile"
                let what = key.contains(".fields.") ? "\(name).\(field ?? "?")" : key.hasPrefix("tables.") ? name : nil
                add(d.code, (what.map { "\($0): " } ?? "") + message, at: key, notes: d.notes)
            }
        }
        return out
    }

    /// Reads a profile file.
    public static func load(path: String) throws(DiagnosticsError) -> RunProfile {
        let text: String
        do {
            text = try FileText.read(path)
        } catch {
            throw DiagnosticsError([Diagnostic(code: "HZ1300", message: "cannot read profile: \(error)", file: path)])
        }
        var d = Collector(file: path)
        var p = RunProfile()
        p.origins["profile"] = Origin(file: path, line: 1, column: 1)
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw DiagnosticsError([YAMLSupport.diagnostic(for: error, file: path)])
        }
        guard let m = node?.mapping else {
            throw DiagnosticsError([Diagnostic(code: "HZ1301", message: "a profile must be a YAML mapping", file: path)])
        }
        func origin(_ key: String, _ n: Node) { p.origins[key] = Origin(file: path, line: n.mark?.line, column: n.mark?.column) }
        func texts(_ v: Node, _ key: String) -> [String]? {
            if let s = v.scalar, v.null == nil { return [s.string] }
            guard let seq = v.sequence else {
                d.error("HZ1312", "'\(key)' must be a text or a list of texts", v)
                return nil
            }
            var out: [String] = []
            for item in seq {
                guard let s = item.scalar, item.null == nil else {
                    d.error("HZ1312", "'\(key)' must be a text or a list of texts", item)
                    continue
                }
                out.append(s.string)
            }
            return out
        }
        func oneText(_ v: Node, _ key: String) -> String? {
            guard let s = v.scalar, v.null == nil else {
                d.error("HZ1312", "'\(key)' must be a text", v)
                return nil
            }
            return s.string
        }
        /// The keys shared by the profile and its tables: formats, decimal character, missing values.
        func schemaKey(_ key: String, _ v: Node, into o: inout SchemaOverride) -> Bool {
            switch key {
            case "date_formats": o.dateFormats = texts(v, key)
            case "datetime_formats": o.dateTimeFormats = texts(v, key)
            case "decimal_char": o.decimalChar = oneText(v, key)
            case "missing_values": o.missingValues = texts(v, key)
            default: return false
            }
            return true
        }
        let allowed = ["harmonize-profile", "description", "dialect", "date_formats", "datetime_formats", "decimal_char", "missing_values", "tables"]
        for (k, v) in m {
            let key = k.string ?? ""
            if schemaKey(key, v, into: &p.schema) {
                origin(key, v)
                continue
            }
            switch key {
            case "harmonize-profile":
                if let n = v.int, n > 1 { d.error("HZ1302", "profile format version \(n) is not supported (highest supported is 1)", v) }
            case "description": break
            case "dialect":
                let dialect = MappingLoader.loadDialect(v, d: &d)
                let keys = Set(v.mapping?.keys.compactMap(\.string) ?? [])
                // Only these are applied: say so rather than ignore skip_lines, columns… silently.
                let dialectKeys: [Node] = v.mapping.map { Array($0.keys) } ?? []
                for k in dialectKeys where !["delimiter", "quote", "encoding", "header"].contains(k.string ?? "") {
                    d.error("HZ1309", "a profile's dialect can set delimiter, quote, encoding and header, not '\(k.string ?? "")'", k)
                }
                if keys.contains("delimiter") { p.delimiter = dialect.delimiter }
                if keys.contains("quote") { p.quote = .some(dialect.quote) }
                if keys.contains("encoding") { p.encoding = dialect.encoding }
                if keys.contains("header") { p.header = dialect.header }
            case "tables":
                guard let tables = v.mapping else {
                    d.error("HZ1312", "'tables' must be a mapping of table names to their changes", v)
                    continue
                }
                for (tk, tv) in tables {
                    let table = tk.string ?? ""
                    origin("tables.\(table)", tk)
                    var t = TableOverride()
                    guard let tm = tv.mapping else {
                        d.error(
                            "HZ1312", "table '\(table)' must be a mapping (fields, date_formats, datetime_formats, decimal_char, missing_values)", tv)
                        continue
                    }
                    for (fk, fv) in tm {
                        let key = fk.string ?? ""
                        if schemaKey(key, fv, into: &t.schema) {
                            origin("tables.\(table).\(key)", fv)
                            continue
                        }
                        guard key == "fields" else {
                            d.error(
                                "HZ1004", "unknown key '\(key)' in table '\(table)' of the profile", fk, suggest: key,
                                among: ["fields", "date_formats", "datetime_formats", "decimal_char", "missing_values"])
                            continue
                        }
                        guard let fields = fv.mapping else {
                            d.error("HZ1312", "'fields' must be a mapping of field names to their changes", fv)
                            continue
                        }
                        for (nk, nv) in fields {
                            let field = nk.string ?? ""
                            origin("tables.\(table).fields.\(field)", nk)
                            t.fields[field] = loadField(nv, table: table, field: field, d: &d)
                        }
                    }
                    p.tables[table] = t
                }
            default:
                d.error("HZ1004", "unknown key '\(key)' in the profile", k, suggest: key, among: allowed)
            }
        }
        if !d.diagnostics.isEmpty { throw DiagnosticsError(d.diagnostics) }
        return p
    }

    /// One field's changes: `format`, `decimal_char`, `missing_values`, and `constraints` (merged:
    /// a key set to `null` removes that constraint) or `replace_constraints` (the field's
    /// constraints become exactly these).
    static func loadField(_ node: Node, table: String, field: String, d: inout Collector) -> FieldOverride {
        var f = FieldOverride()
        guard let m = node.mapping else {
            d.error("HZ1312", "field '\(field)' of table '\(table)' must be a mapping (format, decimal_char, missing_values, constraints)", node)
            return f
        }
        let allowed = ["format", "decimal_char", "missing_values", "constraints", "replace_constraints"]
        var sawConstraints: Node?
        for (k, v) in m {
            let key = k.string ?? ""
            switch key {
            case "format":
                if let s = v.scalar, v.null == nil {
                    f.formats = [s.string]
                } else if let seq = v.sequence {
                    f.formats = seq.compactMap { $0.null == nil ? $0.scalar?.string : nil }
                } else {
                    d.error("HZ1312", "'format' must be a pattern or a list of patterns", v)
                }
            case "decimal_char":
                if let s = v.scalar, v.null == nil { f.decimalChar = s.string } else { d.error("HZ1312", "'decimal_char' must be a text", v) }
            case "missing_values":
                if let seq = v.sequence {
                    f.missingValues = seq.compactMap(\.scalar?.string)
                } else {
                    d.error("HZ1312", "'missing_values' must be a list of texts", v)
                }
            case "constraints", "replace_constraints":
                if let other = sawConstraints {
                    d.error("HZ1313", "a field takes 'constraints' (merged) or 'replace_constraints' (replacing), not both", other)
                }
                sawConstraints = k
                f.replaceConstraints = key == "replace_constraints"
                guard let cm = v.mapping else {
                    if v.null != nil && key == "replace_constraints" { continue }  // no constraint at all
                    d.error("HZ1312", "'\(key)' must be a mapping of constraint names to values (null removes one)", v)
                    continue
                }
                var set: [(Node, Node)] = []
                for (ck, cv) in cm {
                    let name = ck.string ?? ""
                    guard constraintKeys.contains(name) else {
                        d.error("HZ1004", "unknown constraint '\(name)'", ck, suggest: name, among: constraintKeys)
                        continue
                    }
                    if cv.null != nil {
                        f.removedConstraints.insert(name)
                    } else {
                        f.setConstraints.insert(name)
                        set.append((ck, cv))
                    }
                }
                do {
                    f.constraints = try YAMLDecoder().decode(FieldConstraints.self, from: Node.mapping(Node.Mapping(set)))
                } catch {
                    d.error("HZ1312", "'\(key)' has a value of the wrong kind (lengths are integers, enum a list)", v)
                }
            default:
                d.error("HZ1004", "unknown key '\(key)' in field '\(field)' of the profile", k, suggest: key, among: allowed)
            }
        }
        return f
    }
}

extension RunProfile {
    /// The schemas the mappings read, by table name (schema files of sources and joins, relative
    /// to their mapping), and the inline ones; for `check(tables:inline:)`. A schema file that
    /// cannot be read is left out (planning the mapping reports it).
    package static func schemas(of specs: [MappingSpec]) -> (tables: [String: SourceSchema], inline: [SourceSchema]) {
        var tables: [String: SourceSchema] = [:]
        var inline: [SourceSchema] = []
        for spec in specs {
            let dir = MappingPlanner.directory(of: spec.file)
            for ref in [spec.source.schema] + spec.joins.map(\.schema) {
                switch ref {
                case .none: break
                case .inline(let s): inline.append(s)
                case .file(let p):
                    let name = RunProfile.tableName(ofSchemaFile: p.text)
                    guard tables[name] == nil else { continue }
                    do {
                        tables[name] = try SourceSchema.load(jsonFile: MappingPlanner.resolve(p.text, against: dir))
                    } catch {
                        continue  // reported by the planner, against the mapping
                    }
                }
            }
        }
        return (tables, inline)
    }
}
