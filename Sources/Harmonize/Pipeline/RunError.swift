/// A failure that stops a run. Its kind decides the exit code: configuration → 2, I/O → 3.
/// Messages name files, lines and fields, never cell values.
public struct RunError: Error, Sendable, CustomStringConvertible {
    /// Why the run stopped.
    public enum Kind: String, Sendable {
        /// Mapping, model, profile or flag problems (exit code 2).
        case configuration
        /// Reading inputs or writing the output failed (exit code 3).
        case io
        /// The accounting did not balance (a bug; exit code 3).
        case accounting
    }

    /// The kind.
    public var kind: Kind
    /// The message.
    public var message: String
    /// Diagnostics behind a configuration failure.
    public var diagnostics: [Diagnostic]

    /// Creates the error.
    public init(_ kind: Kind, _ message: String, diagnostics: [Diagnostic] = []) {
        self.kind = kind
        self.message = message
        self.diagnostics = diagnostics
    }

    /// The message, then one diagnostic per line.
    public var description: String {
        ([message] + diagnostics.map(\.description)).joined(separator: "\n")
    }
}
