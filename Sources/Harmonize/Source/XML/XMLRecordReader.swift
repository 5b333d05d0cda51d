/// Options of an XML reader.
public struct XMLReaderOptions: Sendable, Hashable {
    /// The absolute path of the record element, such as `/export/sejour`.
    public var record: String
    /// Namespace prefixes used in the record and field paths.
    public var namespaces: [String: String]
    /// Deepest element nesting inside a record (default 64).
    public var maxDepth: Int
    /// Most text and attribute bytes in one record (default 16 MiB).
    public var maxRecordTextBytes: Int

    /// Creates options.
    public init(record: String, namespaces: [String: String] = [:], maxDepth: Int = 64, maxRecordTextBytes: Int = 16 << 20) {
        self.record = record
        self.namespaces = namespaces
        self.maxDepth = max(1, maxDepth)
        self.maxRecordTextBytes = max(1, maxRecordTextBytes)
    }
}

/// A failure that stops an XML reader before any record: the record path cannot be compiled or
/// libxml2 cannot start. Never carries document content.
public struct XMLReaderError: Error, Sendable, CustomStringConvertible {
    /// The file concerned.
    public var file: String
    /// What went wrong.
    public var message: String

    /// `FILE: message`.
    public var description: String { "\(file): \(message)" }
}

/// A streaming reader of records from an XML document with libxml2's reader API.
///
/// Only the current record element is held: the reader expands it, copies its subtree, then skips
/// to its next sibling. Parsing is safe for untrusted input: no entity substitution, no DTD
/// loading, no network, a deny-all external entity loader, and a document whose DOCTYPE declares
/// entities is rejected. Limits bound depth and text per record.
///
/// A record too deep or too large is rejected (`.limitExceeded`) and reading goes on; a document
/// that is not well-formed is rejected (`.structureError`, with its line) at the point of the error
/// and reading stops there (libxml2 cannot resume), keeping the records read before.
public final class XMLRecordReader {
    let reader: XMLTextReader?
    /// The file name used in locations and rejects.
    public let displayName: String
    /// The options.
    public let options: XMLReaderOptions
    let recordPath: XMLPath
    var stack: [(localName: String, namespaceURI: String?)] = []
    var positioned = false
    var finished = false
    var recordNumber = 0
    var recordLine = 0
    var paths: [XMLPath] = []
    var values: [[UInt8]] = []
    var present: [Bool] = []

    /// Opens a reader over `source`.
    /// - Throws: `XMLReaderError` for a bad record path or when libxml2 cannot start.
    public init(source: any ByteSource, displayName: String, options: XMLReaderOptions) throws(XMLReaderError) {
        self.displayName = displayName
        self.options = options
        do throws(XMLPath.Problem) {
            recordPath = try XMLPath(options.record, absolute: true, namespaces: options.namespaces)
        } catch {
            throw XMLReaderError(file: displayName, message: "invalid record path '\(options.record)' (\(error))")
        }
        guard let r = XMLTextReader(source: source, url: displayName) else {
            throw XMLReaderError(file: displayName, message: "cannot start the XML parser")
        }
        reader = r
    }

    /// Where the current record comes from: file, line of its element, record number, record path.
    public var location: SourceLocation {
        SourceLocation(file: displayName, line: recordLine > 0 ? recordLine : nil, record: recordNumber, path: options.record)
    }

    /// Bytes consumed from the source so far.
    public var bytesRead: Int64 { reader?.bytesRead ?? 0 }

    func clearValues() {
        for i in 0..<values.count {
            values[i].removeAll(keepingCapacity: true)
            present[i] = false
        }
    }

    func reject(_ reason: RejectReason, line: Int, _ message: String) -> ReadEvent {
        clearValues()
        recordLine = line
        return .rejected(Reject(reason: reason, location: location, message: message))
    }

    /// Reads the next record.
    /// - Throws: `SourceIOError` when the source cannot be read.
    public func next() throws(SourceIOError) -> ReadEvent {
        guard let r = reader, !finished else { return .end }
        while true {
            let status: Int32 = positioned ? 1 : r.read()
            positioned = false
            if status != 1 {
                finished = true
                if let e = r.ioError { throw e }
                if status == 0 { return .end }
                recordNumber += 1
                let problem = r.firstProblem
                return reject(
                    .structureError, line: problem?.line ?? 0,
                    "document is not well-formed XML (libxml2 error \(problem?.code ?? -1)); reading stops here")
            }
            let type = r.nodeType
            if type == 10 {
                if r.doctypeDeclaresEntities {
                    finished = true
                    recordNumber += 1
                    return reject(.structureError, line: r.line, "the DOCTYPE declares entities; such documents are refused")
                }
                continue
            }
            guard type == 1 else { continue }
            let depth = r.depth
            if depth > options.maxDepth + recordPath.steps.count {
                finished = true
                recordNumber += 1
                return reject(.limitExceeded, line: r.line, "elements nested deeper than \(options.maxDepth) levels")
            }
            if stack.count > depth { stack.removeSubrange(depth...) }
            let name = (r.localName, r.namespaceURI)
            guard stack.count == depth else { continue }
            stack.append(name)
            let steps = recordPath.steps
            guard stack.count == steps.count,
                zip(steps, stack).allSatisfy({ XMLPath.matches($0, localName: $1.localName, namespaceURI: $1.namespaceURI) })
            else { continue }
            // A record element: expand, copy, skip its subtree.
            recordNumber += 1
            let line = r.line
            var tooLarge = false
            let snapshot = r.expandCurrent(maxDepth: options.maxDepth, maxTextBytes: options.maxRecordTextBytes, tooLarge: &tooLarge)
            stack.removeLast()
            let after = r.skipSubtree()
            if after == 1 { positioned = true } else if after == 0 { finished = true }
            guard let snapshot else {
                if tooLarge {
                    return reject(.limitExceeded, line: line, "record larger than the limits (\(options.maxDepth) levels, \(options.maxRecordTextBytes) text bytes)")
                }
                finished = true
                return reject(.structureError, line: r.firstProblem?.line ?? line, "record element is not well-formed XML (libxml2 error \(r.firstProblem?.code ?? -1))")
            }
            recordLine = line
            for i in 0..<paths.count {
                values[i].removeAll(keepingCapacity: true)
                if let v = paths[i].value(in: snapshot) {
                    values[i].append(contentsOf: v.utf8)
                    present[i] = true
                } else {
                    present[i] = false
                }
            }
            return .record
        }
    }

    /// The UTF-8 text of bound field `position` for the current record (empty when absent).
    public func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        guard position >= 0, position < values.count else {
            return try body(UnsafeBufferPointer(start: nil, count: 0))
        }
        return try values[position].withUnsafeBufferPointer(body)
    }

    /// Whether bound field `position` is present in the current record (an empty element is present).
    public func isPresent(_ position: Int) -> Bool {
        position >= 0 && position < present.count && present[position]
    }
}

extension XMLRecordReader: RecordReader {
    /// Compiles each field name as a path relative to the record element.
    public func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] {
        var out: [Int] = []
        var missing: [(field: String, suggestion: String?)] = []
        for f in fields {
            do throws(XMLPath.Problem) {
                let p = try XMLPath(f, absolute: false, namespaces: options.namespaces)
                out.append(paths.count)
                paths.append(p)
                values.append([])
                present.append(false)
            } catch {
                if case .undeclaredPrefix(let prefix) = error {
                    missing.append((f, "declare the prefix '\(prefix)' under source.namespaces"))
                } else {
                    missing.append((f, nil))
                }
            }
        }
        if !missing.isEmpty { throw RecordReaderBindError(missing: missing, file: displayName) }
        return out
    }
}

@available(*, unavailable)
extension XMLRecordReader: Sendable {}
