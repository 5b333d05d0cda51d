/// A problem found in a mapping file, a schema or a configuration before any data is read.
///
/// Codes are stable, with a range per stage: `HZ1xxx` mapping load and plan, `HZ2xxx` source and
/// schema, `HZ3xxx` expressions, `HZ4xxx` validation, `HZ5xxx` sink, `HZ6xxx` vocabulary.
public struct Diagnostic: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Error or warning.
    public enum Severity: String, Sendable, Hashable, Codable {
        /// Stops the run.
        case error
        /// Reported, does not stop the run.
        case warning
    }

    /// Stable code such as `HZ3001`.
    public var code: String
    /// Severity.
    public var severity: Severity
    /// The message in plain words (never a cell value).
    public var message: String
    /// The file concerned.
    public var file: String?
    /// 1-based line.
    public var line: Int?
    /// 1-based column.
    public var column: Int?
    /// Extra notes, such as a did-you-mean suggestion.
    public var notes: [String]

    /// Creates a diagnostic.
    public init(
        code: String, severity: Severity = .error, message: String, file: String? = nil, line: Int? = nil,
        column: Int? = nil, notes: [String] = []
    ) {
        self.code = code
        self.severity = severity
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.notes = notes
    }

    /// `file:line:column: error: message (note; note) [code]`.
    public var description: String {
        var s = ""
        if let file {
            s += file
            if let line {
                s += ":\(line)"
                if let column { s += ":\(column)" }
            }
            s += ": "
        }
        s += "\(severity.rawValue): \(message)"
        if !notes.isEmpty { s += " (" + notes.joined(separator: "; ") + ")" }
        s += " [\(code)]"
        return s
    }
}

/// Thrown when one or more error diagnostics were collected; carries all of them.
public struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    /// Every diagnostic collected (errors and warnings).
    public var diagnostics: [Diagnostic]

    /// Creates the error.
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    /// One diagnostic per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Suggests the closest candidate to a misspelt name (Levenshtein distance, case-insensitive).
package enum Suggestion {
    /// The best candidate within a distance of about a third of the name's length, or nil.
    public static func closest(to name: String, in candidates: some Sequence<String>) -> String? {
        let target = Array(name.lowercased().utf8)
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(target, Array(candidate.lowercased().utf8))
            if let current = best, current.1 <= d { continue }
            best = (candidate, d)
        }
        guard let (c, d) = best, d > 0 || c != name, d <= max(2, target.count / 3) else { return nil }
        return c
    }

    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}
