/// The element and attribute paths of an XML document with their counts and a sample value, read
/// in one streaming pass with the same safe parser as `XMLRecordReader` (for `harmonize-run inspect`).
package struct XMLOutline: Sendable {
    /// One path: `/export/sejour`, `/export/sejour/@id`.
    public struct Entry: Sendable, Hashable {
        /// The path, with qualified names as written.
        public var path: String
        /// How many times it occurs.
        public var count: Int
        /// The first non-blank value (text of the element, or the attribute's value).
        public var sample: String?
    }

    /// The paths in order of first occurrence.
    public var entries: [Entry]
    /// A reject when the document is refused or not well-formed (its records before are counted).
    public var reject: Reject?

    /// Reads `source` once.
    /// - Throws: `SourceIOError`, or `XMLReaderError` when the parser cannot start.
    public init(source: any ByteSource, displayName: String, maxSampleLength: Int = 60) throws {
        guard let r = XMLTextReader(source: source, url: displayName) else {
            throw XMLReaderError(file: displayName, message: "cannot start the XML parser")
        }
        var index: [String: Int] = [:]
        var entries: [Entry] = []
        var stack: [String] = []
        var reject: Reject? = nil
        func note(_ path: String, sample: String?, counting: Bool) {
            let trimmed = sample.map { $0.trimmingSpaces() }.flatMap { $0.isEmpty ? nil : String($0.prefix(maxSampleLength)) }
            if let i = index[path] {
                if counting { entries[i].count += 1 }
                if entries[i].sample == nil { entries[i].sample = trimmed }
            } else {
                index[path] = entries.count
                entries.append(Entry(path: path, count: counting ? 1 : 0, sample: trimmed))
            }
        }
        while true {
            let status = r.read()
            if status == 0 { break }
            if status != 1 {
                if let e = r.ioError { throw e }
                let p = r.firstProblem
                reject = Reject(
                    reason: .structureError, location: SourceLocation(file: displayName, line: p?.line ?? 0, record: 1),
                    message: "document is not well-formed XML (libxml2 error \(p?.code ?? -1))")
                break
            }
            switch r.nodeType {
            case 10:
                if r.doctypeDeclaresEntities {
                    reject = Reject(
                        reason: .structureError, location: SourceLocation(file: displayName, line: r.line, record: 1),
                        message: "the DOCTYPE declares entities; such documents are refused")
                }
            case 1:
                let depth = r.depth
                if stack.count > depth { stack.removeSubrange(depth...) }
                guard stack.count == depth, depth < 256 else { continue }
                stack.append(r.qualifiedName)
                let path = "/" + stack.joined(separator: "/")
                note(path, sample: nil, counting: true)
                for a in r.attributes() { note(path + "/@" + a.name, sample: a.value, counting: true) }
                if r.isEmptyElement { stack.removeLast() }
            case 3, 4:
                if !stack.isEmpty { note("/" + stack.joined(separator: "/"), sample: r.value, counting: false) }
            default:
                continue
            }
            if reject != nil { break }
        }
        self.entries = entries
        self.reject = reject
    }
}
