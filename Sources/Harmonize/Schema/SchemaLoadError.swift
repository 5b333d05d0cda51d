/// A schema file that cannot be read or decoded. Names the file and, when known, the path of the
/// offending key (`fields[3].constraints.minLength`); never a data value.
package struct SchemaLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file concerned.
    public var file: String
    /// The path of the key concerned inside the document, when known.
    public var path: String?
    /// What is wrong.
    public var message: String

    /// Creates the error.
    public init(file: String, path: String?, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    init(file: String, decodingError: DecodingError) {
        let context: DecodingError.Context
        let message: String
        switch decodingError {
        case .typeMismatch(_, let c):
            context = c
            message = "wrong type: \(c.debugDescription)"
        case .valueNotFound(_, let c):
            context = c
            message = "missing value"
        case .keyNotFound(let key, let c):
            context = DecodingError.Context(codingPath: c.codingPath + [key], debugDescription: c.debugDescription)
            message = "missing key '\(key.stringValue)'"
        case .dataCorrupted(let c):
            context = c
            message = c.codingPath.isEmpty ? "not valid JSON" : "invalid value: \(c.debugDescription)"
        @unknown default:
            context = DecodingError.Context(codingPath: [], debugDescription: "")
            message = "not a valid schema"
        }
        self.init(file: file, path: SchemaLoadError.render(context.codingPath), message: message)
    }

    /// `fields[3].constraints.minLength`, or nil for the document root.
    static func render(_ codingPath: [any CodingKey]) -> String? {
        guard !codingPath.isEmpty else { return nil }
        var s = ""
        for key in codingPath {
            if let i = key.intValue {
                s += "[\(i)]"
            } else {
                if !s.isEmpty { s += "." }
                s += key.stringValue
            }
        }
        return s
    }

    /// `file: at path: message`.
    public var description: String {
        if let path { return "\(file): at \(path): \(message)" }
        return "\(file): \(message)"
    }
}
