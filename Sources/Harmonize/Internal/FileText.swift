import Foundation

/// Reading and writing small text files (mappings, models, profiles, reports); never data files.
enum FileText {
    /// Reads a whole UTF-8 text file.
    static func read(_ path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let s = String(data: data, encoding: .utf8) else {
            throw FileTextError(path: path, message: "not valid UTF-8")
        }
        return s
    }

    /// Writes a text file atomically.
    static func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// A problem reading a small text file.
struct FileTextError: Error, CustomStringConvertible {
    var path: String
    var message: String
    var description: String { "\(path): \(message)" }
}
