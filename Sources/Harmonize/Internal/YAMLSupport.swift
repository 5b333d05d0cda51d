import Yams

/// Small helpers shared by the YAML loaders (mappings, models, profiles).
enum YAMLSupport {
    /// A diagnostic for a YAML syntax error, with its position when Yams gives one.
    static func diagnostic(for error: any Error, file: String) -> Diagnostic {
        if let y = error as? YamlError {
            switch y {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                let what = context.map { "\($0.text) " } ?? ""
                return Diagnostic(code: "HZ1001", message: "YAML syntax error: \(what)\(problem)", file: file, line: mark.line, column: mark.column)
            case .reader(let problem, let offset, _, let yaml):
                // Bytes that are not text: the position is counted from the byte offset.
                var line: Int?
                var column: Int?
                if let offset, offset >= 0 {
                    let prefix = yaml.utf8.prefix(offset)
                    line = 1 + prefix.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
                    column = 1 + (prefix.lastIndex(of: 10).map { prefix.distance(from: $0, to: prefix.endIndex) - 1 } ?? prefix.count)
                }
                return Diagnostic(code: "HZ1001", message: "YAML syntax error: \(problem)", file: file, line: line, column: column)
            case .duplicatedKeysInMapping(let duplicates, let context):
                return Diagnostic(
                    code: "HZ1001",
                    message:
                        "YAML syntax error: \(duplicates.count == 1 ? "a key is" : "keys are") repeated in one mapping (\(duplicates.sorted().joined(separator: ", ")))",
                    file: file, line: context.mark.line, column: context.mark.column)
            default:
                break
            }
        }
        // Without a position from Yams, the message stays free of file text.
        return Diagnostic(code: "HZ1001", message: "YAML syntax error", file: file, line: 1, column: 1)
    }

    /// Quotes a scalar for YAML output when needed.
    static func quote(_ s: String) -> String {
        let plain =
            !s.isEmpty
            && s.unicodeScalars.allSatisfy { c in
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "-" || c == "." || c == " "
            } && s.first != " " && s.last != " " && Double(s) == nil && !["true", "false", "null", "yes", "no", "on", "off"].contains(s.lowercased())
        if plain { return s }
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }
}

/// A YAML mapping's values by key text, indexed once. Yams's `Node.Mapping[String]` builds a key
/// node (a tag object) for each lookup and compares it with every key in turn: the OMOP model's
/// seven lookups per column took 12.8 M of the 145 M instructions of a run over 100 XML stays
/// (`callgrind`). Keys are plain texts here; a mapping's repeated keys are refused by Yams
/// before this reads them.
struct YAMLFields {
    /// The mapping itself.
    let mapping: Node.Mapping
    private let byKey: [String: Node]

    /// Indexes `mapping` by the text of its scalar keys.
    init(_ mapping: Node.Mapping) {
        self.mapping = mapping
        var byKey: [String: Node] = [:]
        byKey.reserveCapacity(mapping.count)
        for (key, value) in mapping {
            if let text = key.scalar?.string { byKey[text] = value }
        }
        self.byKey = byKey
    }

    /// The value of key `key`, or nil.
    subscript(_ key: String) -> Node? { byKey[key] }
}
