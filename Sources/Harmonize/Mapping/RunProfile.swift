import Yams

/// Per-extract overrides of the mappings' source dialects and formats, so that a run reads an
/// extract in its own dialect (comma instead of semicolon, UTF-8 instead of Latin-1, ISO dates…)
/// without anyone editing the mappings. Given by `--profile FILE` or by flags.
///
/// ```yaml
/// harmonize-profile: 1
/// dialect: {delimiter: ",", encoding: utf-8}
/// date_formats: ["yyyy-MM-dd"]
/// decimal_char: "."
/// missing_values: ["", "NA"]
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

    /// Creates an empty profile.
    public init() { schema = SchemaOverride() }

    /// Whether the profile changes nothing.
    public var isEmpty: Bool {
        delimiter == nil && quote == nil && encoding == nil && header == nil && schema.dateFormats == nil
            && schema.decimalChar == nil && schema.missingValues == nil
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

    /// The schema with the overrides applied.
    package func apply(to schema: SourceSchema) -> SourceSchema { self.schema.applied(to: schema) }

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
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw DiagnosticsError([YAMLSupport.diagnostic(for: error, file: path)])
        }
        guard let m = node?.mapping else {
            throw DiagnosticsError([Diagnostic(code: "HZ1301", message: "a profile must be a YAML mapping", file: path)])
        }
        let allowed: Set<String> = ["harmonize-profile", "dialect", "date_formats", "decimal_char", "missing_values", "description"]
        for (k, v) in m {
            let key = k.string ?? ""
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
            case "date_formats":
                p.schema.dateFormats = v.sequence?.compactMap(\.string) ?? v.string.map { [$0] }
            case "decimal_char":
                p.schema.decimalChar = v.string
            case "missing_values":
                p.schema.missingValues = v.sequence?.compactMap(\.string)
            default:
                d.error("HZ1004", "unknown key '\(key)' in the profile", k, suggest: key, among: allowed)
            }
        }
        if !d.diagnostics.isEmpty { throw DiagnosticsError(d.diagnostics) }
        return p
    }
}
