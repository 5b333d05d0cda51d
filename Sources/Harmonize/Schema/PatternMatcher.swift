import Foundation

/// A compiled `pattern` constraint that must match the whole cell text (XML Schema patterns are
/// implicitly anchored). Uses `NSRegularExpression`, which is `Sendable`; Swift's `Regex` is not.
final class PatternMatcher: Sendable {
    let source: String
    private let regex: NSRegularExpression

    /// Compiles `pattern` wrapped as `\A(?:pattern)\z`; nil when it is not a valid expression.
    init?(_ pattern: String) {
        guard let regex = try? NSRegularExpression(pattern: "\\A(?:" + pattern + ")\\z") else { return nil }
        self.source = pattern
        self.regex = regex
    }

    /// Whether the whole of `text` matches.
    func matches(_ text: String) -> Bool {
        return regex.firstMatch(in: text, options: [.anchored], range: NSRange(location: 0, length: text.utf16.count)) != nil
    }
}
