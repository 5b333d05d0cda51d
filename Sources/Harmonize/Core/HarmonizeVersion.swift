import Foundation

/// The engine version.
public enum HarmonizeVersion {
    /// Semantic version of the engine.
    public static let current = "0.1.0"
}

/// Timestamps of runs and stores: ISO 8601, UTC, to the second.
enum Timestamp {
    /// Now.
    static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date())
    }
}
