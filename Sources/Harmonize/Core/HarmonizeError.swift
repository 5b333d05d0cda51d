/// The error of Harmonize: a stable code, a category that decides the exit code, a message in
/// plain words, where it happened, and what caused it. Messages name files, lines, records and
/// fields, never cell values, identifiers or keys.
///
/// Every code is declared in `ErrorCode` (one file, with its meaning) and documented in
/// `docs/errors.md`; problems found before any data is read are `Diagnostic`s carried by the
/// error (`diagnostics`). The category maps to the exit code of `harmonize-run`:
///
/// | category | exit code | meaning |
/// | --- | --- | --- |
/// | (none) | 0 | the run succeeded |
/// | (data) | 1 | rejected records or failed quality checks above the thresholds the caller set |
/// | `configuration` | 2 | a mapping, model, profile, flag or option is wrong; nothing was read |
/// | `io` | 3 | reading an input or writing the output failed; nothing was published |
/// | `privacy` | 4 | a privacy rule would be broken (an objecting person in the output); nothing was published |
/// | `accounting` | 70 | an internal inconsistency (the books do not balance): a bug; nothing was published |
public struct HarmonizeError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure it is; decides the exit code.
    public enum Kind: String, Sendable, CaseIterable {
        /// Mapping, model, profile, option or flag problems (exit code 2).
        case configuration
        /// Reading inputs or writing the output failed (exit code 3).
        case io
        /// A privacy rule would be broken, such as an objection not honoured (exit code 4).
        case privacy
        /// The accounting did not balance: an internal inconsistency (exit code 70).
        case accounting

        /// The process exit code of this category.
        public var exitCode: Int32 {
            switch self {
            case .configuration: return 2
            case .io: return 3
            case .privacy: return 4
            case .accounting: return 70
            }
        }

        /// The code used when a throw site gives none.
        var defaultCode: ErrorCode {
            switch self {
            case .configuration: return .runConfiguration
            case .io: return .runIO
            case .privacy: return .objectionInOutput
            case .accounting: return .booksDoNotBalance
            }
        }
    }

    /// Where the failure was met (a file, and within it a line, column or record number).
    public struct Location: Sendable, Hashable, CustomStringConvertible {
        /// The file (relative to the input folder for inputs).
        public var file: String
        /// 1-based line.
        public var line: Int?
        /// 1-based column.
        public var column: Int?
        /// 1-based record number.
        public var record: Int?

        /// Creates a location.
        public init(file: String, line: Int? = nil, column: Int? = nil, record: Int? = nil) {
            self.file = file
            self.line = line
            self.column = column
            self.record = record
        }

        /// `file:line:column` (and `record N` when known).
        public var description: String {
            var s = file
            if let line {
                s += ":\(line)"
                if let column { s += ":\(column)" }
            }
            if let record { s += " (record \(record))" }
            return s
        }
    }

    /// The stable code (`HZ7003`).
    public var code: ErrorCode
    /// The category.
    public var kind: Kind
    /// The message.
    public var message: String
    /// Where it happened, when one place is to blame.
    public var location: Location?
    /// What caused it (the underlying error's description: never a cell value).
    public var cause: String?
    /// Diagnostics behind a configuration failure (every problem found before reading).
    public var diagnostics: [Diagnostic]

    /// Creates the error; without a code, the category's general code.
    public init(
        _ kind: Kind, _ message: String, diagnostics: [Diagnostic] = [], code: ErrorCode? = nil, location: Location? = nil,
        cause: (any Error)? = nil
    ) {
        self.kind = kind
        self.message = message
        self.diagnostics = diagnostics
        self.code = code ?? kind.defaultCode
        self.location = location
        self.cause = cause.map { String(describing: $0) }
    }

    /// The category (`kind`).
    public var category: Kind { kind }

    /// The process exit code (`kind.exitCode`).
    public var exitCode: Int32 { kind.exitCode }

    /// The message, then one diagnostic per line.
    public var description: String {
        ([message] + diagnostics.map(\.description)).joined(separator: "\n")
    }

    /// `[HZ7003] file:line: message`, the form logs and `--json` use.
    public var summary: String {
        "[\(code.rawValue)] " + (location.map { "\($0): " } ?? "") + message
    }
}

/// The name the run APIs have used for `HarmonizeError`.
public typealias RunError = HarmonizeError
