/// A compiled XML path: the record path (`/export/sejour`) or a field path relative to the record
/// element (`patient/@id`, `diagnostic/code`, `@date`, `h:acte/h:code`, `.` for the record's own text).
///
/// A step is `name` or `prefix:name`; the last step may be `@attribute`. A step with a prefix
/// matches elements in the namespace the mapping declares for it (`namespaces: {h: "urn:…"}`); a
/// step without a prefix matches the local name in any namespace. A field reads the text of the
/// first matching element (its text and its descendants' text, in document order) or the
/// attribute's value; absent gives empty.
///
/// A relative path may start with `..` steps (`../@id`, `../../h:patient/@ipp`): it is read from an
/// ancestor of the record, as far as the document has been read when the record starts: the
/// ancestor's attributes, and attributes of the first matching elements under it that start before
/// the record. Such a path must end with an attribute: an ancestor's text is not known yet while
/// streaming (`Problem.ancestorText`).
package struct XMLPath: Sendable, Hashable, CustomStringConvertible {
    /// One step: a local name and, when prefixed, the namespace URI it must be in.
    public struct Step: Sendable, Hashable {
        /// The local name.
        public var localName: String
        /// The namespace URI required, or nil for any.
        public var namespaceURI: String?
    }

    /// The element steps.
    public var steps: [Step]
    /// Leading `..` steps: 0 for a path under the record, n for one under its n-th ancestor.
    public var ups: Int = 0
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
        /// A `..` path that reads text: an ancestor's text is not available while streaming.
        case ancestorText
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
        var parts = body.split(separator: "/", omittingEmptySubsequences: false)
        if !absolute {
            while parts.first == ".." {
                ups += 1
                parts.removeFirst()
            }
            if ups > 0 && parts.isEmpty { throw .ancestorText }
        }
        for (i, raw) in parts.enumerated() {
            var part = raw
            let isAttribute = part.hasPrefix("@")
            if isAttribute {
                guard i == parts.count - 1, !absolute else { throw .syntax }
                part = part.dropFirst()
            }
            if part == "text()" && i == parts.count - 1 && !isAttribute { break }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2, pieces.allSatisfy({ !$0.isEmpty && Self.isName($0) && $0 != ".." && $0 != "." }) else { throw .syntax }
            var step = Step(localName: String(pieces[pieces.count - 1]), namespaceURI: nil)
            if pieces.count == 2 {
                guard let uri = prefixes[String(pieces[0])] else { throw .undeclaredPrefix(String(pieces[0])) }
                step.namespaceURI = uri
            }
            if isAttribute { attribute = step } else { steps.append(step) }
        }
        if ups > 0 && attribute == nil { throw .ancestorText }
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
}
