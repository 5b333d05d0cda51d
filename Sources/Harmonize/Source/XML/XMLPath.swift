/// A compiled XML path: the record path (`/export/sejour`) or a field path relative to the record
/// element (`patient/@id`, `diagnostic/code`, `@date`, `h:acte/h:code`, `.` for the record's own text).
///
/// A step is `name` or `prefix:name`; the last step may be `@attribute`. A step with a prefix
/// matches elements in the namespace the mapping declares for it (`namespaces: {h: "urn:…"}`); a
/// step without a prefix matches the local name in any namespace. A field reads the text of the
/// first matching element (its text and its descendants' text, in document order) or the
/// attribute's value; absent gives empty.
public struct XMLPath: Sendable, Hashable, CustomStringConvertible {
    /// One step: a local name and, when prefixed, the namespace URI it must be in.
    public struct Step: Sendable, Hashable {
        /// The local name.
        public var localName: String
        /// The namespace URI required, or nil for any.
        public var namespaceURI: String?
    }

    /// The element steps.
    public var steps: [Step]
    /// The attribute read at the end, if any.
    public var attribute: Step?
    /// The text the path was compiled from.
    public var description: String

    /// Why a path cannot be compiled.
    public enum Problem: Error, Sendable, Equatable {
        /// Empty steps, bad characters, or `@` before the last step.
        case syntax
        /// A prefix the mapping does not declare.
        case undeclaredPrefix(String)
    }

    /// Compiles `text` with the namespace `prefixes` of the mapping.
    /// - Throws: `XMLPath.Problem`.
    public init(_ text: String, absolute: Bool, namespaces prefixes: [String: String]) throws(Problem) {
        description = text
        var body = Substring(text)
        if absolute {
            guard body.hasPrefix("/") else { throw .syntax }
            body = body.dropFirst()
        }
        steps = []
        attribute = nil
        if body == "." || body == "text()" || body.isEmpty {
            if absolute && body.isEmpty { throw .syntax }
            return
        }
        let parts = body.split(separator: "/", omittingEmptySubsequences: false)
        for (i, raw) in parts.enumerated() {
            var part = raw
            let isAttribute = part.hasPrefix("@")
            if isAttribute {
                guard i == parts.count - 1, !absolute else { throw .syntax }
                part = part.dropFirst()
            }
            if part == "text()" && i == parts.count - 1 && !isAttribute { break }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2, pieces.allSatisfy({ !$0.isEmpty && Self.isName($0) }) else { throw .syntax }
            var step = Step(localName: String(pieces[pieces.count - 1]), namespaceURI: nil)
            if pieces.count == 2 {
                guard let uri = prefixes[String(pieces[0])] else { throw .undeclaredPrefix(String(pieces[0])) }
                step.namespaceURI = uri
            }
            if isAttribute { attribute = step } else { steps.append(step) }
        }
    }

    static func isName(_ s: Substring) -> Bool {
        s.unicodeScalars.allSatisfy { c in
            c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "-" || c == "."
        }
    }

    /// Whether `step` matches an element or attribute name.
    static func matches(_ step: Step, localName: String, namespaceURI: String?) -> Bool {
        step.localName == localName && (step.namespaceURI == nil || step.namespaceURI == namespaceURI)
    }

    /// The value of this (relative) path in `record`; nil when absent.
    func value(in record: XMLElementSnapshot) -> String? {
        var current = record
        for s in steps {
            guard let next = current.children.first(where: { Self.matches(s, localName: $0.localName, namespaceURI: $0.namespaceURI) }) else {
                return nil
            }
            current = next
        }
        if let a = attribute {
            return current.attributes.first(where: { Self.matches(a, localName: $0.localName, namespaceURI: $0.namespaceURI) })?.value
        }
        return Self.textContent(current)
    }

    /// The element's text and its descendants' text, in document order (own text first, then children).
    static func textContent(_ e: XMLElementSnapshot) -> String {
        if e.children.isEmpty { return e.ownText }
        var out = e.ownText
        for c in e.children { out += textContent(c) }
        return out
    }
}
