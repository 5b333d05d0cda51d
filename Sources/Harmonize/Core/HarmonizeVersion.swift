import Foundation

/// The engine version.
public enum HarmonizeVersion {
    /// Semantic version of the engine.
    public static let current = "0.1.0"
}

/// Timestamps of runs and stores: ISO 8601, UTC, to the second.
enum Timestamp {
    /// Now (`yyyy-MM-ddTHH:mm:ssZ`), from the civil date of the epoch seconds: no formatter.
    static func now() -> String {
        let seconds = Int(Date().timeIntervalSince1970)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return CivilDate(daysSinceEpoch: days).isoString + "T" + two(rest / 3600) + ":" + two(rest / 60 % 60) + ":" + two(rest % 60) + "Z"
    }
}
