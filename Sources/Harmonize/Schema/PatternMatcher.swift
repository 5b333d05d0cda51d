/// A compiled `pattern` constraint that must match the whole cell text (XML Schema patterns are
/// implicitly anchored), in time linear in the text (`LinearRegex`, a Pike VM).
final class PatternMatcher: Sendable {
    let source: String
    private let regex: LinearRegex

    /// Compiles `pattern` to match the whole text (`\A(?:pattern)\z`); nil when it is not a valid
    /// expression or uses syntax the linear-time matcher lacks (`problem(_:)` says which).
    init?(_ pattern: String) {
        // nil here is not a silent skip: the field decoder reports the pattern (HZ2004) at
        // planning, before any data is read.
        do {
            self.regex = try LinearRegex(pattern, wholeText: true)
        } catch {
            return nil
        }
        self.source = pattern
    }

    /// Why `pattern` cannot be compiled, or nil.
    static func problem(_ pattern: String) -> String? {
        do {
            _ = try LinearRegex(pattern, wholeText: true)
            return nil
        } catch {
            return error.message
        }
    }

    /// Whether the whole of `text` matches.
    func matches(_ text: String) -> Bool {
        regex.matches(text)
    }
}
