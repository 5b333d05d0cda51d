import Yams

/// Small helpers shared by the YAML loaders (mappings, models, profiles).
enum YAMLSupport {
    /// A diagnostic for a YAML syntax error, with its position when Yams gives one.
    static func diagnostic(for error: any Error, file: String) -> Diagnostic {
        if let y = error as? YamlError {
            switch y {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
                let what = context.map { "\($0.text) " } ?? ""
                return Diagnostic(code: "HZ1001", message: "YAML syntax error: \(what)\(problem)", file: file, line: mark.line, column: mark.column)
            default:
                break
            }
        }
        return Diagnostic(code: "HZ1001", message: "YAML syntax error: \(error)", file: file)
    }

    /// Quotes a scalar for YAML output when needed.
    static func quote(_ s: String) -> String {
        let plain = !s.isEmpty && s.unicodeScalars.allSatisfy { c in
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
