internal import CLibXML2

/// Where libxml2 pulls bytes from: a `ByteSource`, with the error it raised, if any.
final class XMLInputBox {
    let source: any ByteSource
    var bytesRead: Int64 = 0
    var ioError: SourceIOError? = nil

    init(source: any ByteSource) { self.source = source }
}

/// A libxml2 error, reduced to its code and line (libxml2's message may quote document content).
struct XMLParseProblem {
    var code: Int32
    var line: Int
    /// Whether libxml2 called it fatal (the document is not well-formed).
    var fatal: Bool = true
}

/// The error sink libxml2 calls back; collects the first problems.
final class XMLErrorBox {
    var problems: [XMLParseProblem] = []
}

private func harmonizeXMLRead(_ context: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<CChar>?, _ length: Int32) -> Int32 {
    guard let context, let buffer, length > 0 else { return -1 }
    let box = Unmanaged<XMLInputBox>.fromOpaque(context).takeUnretainedValue()
    do throws(SourceIOError) {
        let n = try box.source.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: Int(length)))
        box.bytesRead += Int64(n)
        return Int32(n)
    } catch {
        box.ioError = error
        return -1
    }
}

private func harmonizeXMLClose(_ context: UnsafeMutableRawPointer?) -> Int32 { 0 }

private func harmonizeXMLError(_ context: UnsafeMutableRawPointer?, _ error: xmlErrorPtr?) {
    guard let context, let error else { return }
    let box = Unmanaged<XMLErrorBox>.fromOpaque(context).takeUnretainedValue()
    if box.problems.count < 16 {
        box.problems.append(XMLParseProblem(code: error.pointee.code, line: Int(error.pointee.line)))
    }
}

/// Refuses every external entity, external DTD and XInclude: nothing is read from disk or network.
private func harmonizeDenyAllEntityLoader(
    _ url: UnsafePointer<CChar>?, _ id: UnsafePointer<CChar>?, _ context: xmlParserCtxtPtr?
) -> xmlParserInputPtr? {
    nil
}

/// Owns one `xmlTextReaderPtr` over a `ByteSource` with safe options: no entity substitution
/// (never `XML_PARSE_NOENT`), no DTD loading, no network (`XML_PARSE_NONET`), and a deny-all
/// external entity loader installed process-wide. Not `Sendable`; frees the reader in `deinit`.
final class XMLTextReader {
    private let reader: OpaquePointer
    private let input: Unmanaged<XMLInputBox>
    private let errors: Unmanaged<XMLErrorBox>

    /// Installs the deny-all external entity loader once per process.
    static let installEntityLoader: Bool = {
        xmlSetExternalEntityLoader(harmonizeDenyAllEntityLoader)
        return true
    }()

    /// Opens a reader; nil when libxml2 cannot create one.
    init?(source: any ByteSource, url: String) {
        _ = Self.installEntityLoader
        let box = Unmanaged.passRetained(XMLInputBox(source: source))
        let errs = Unmanaged.passRetained(XMLErrorBox())
        let options = harmonize_xml_safe_options()
        guard let r = xmlReaderForIO(harmonizeXMLRead, harmonizeXMLClose, box.toOpaque(), url, nil, options) else {
            box.release()
            errs.release()
            return nil
        }
        reader = r
        input = box
        errors = errs
        xmlTextReaderSetStructuredErrorHandler(r, harmonizeXMLError, errs.toOpaque())
    }

    deinit {
        xmlFreeTextReader(reader)
        input.release()
        errors.release()
    }

    /// Bytes pulled from the source so far.
    var bytesRead: Int64 { input.takeUnretainedValue().bytesRead }
    /// The I/O error that stopped reading, if any.
    var ioError: SourceIOError? { input.takeUnretainedValue().ioError }
    /// The first parse problem libxml2 reported, if any.
    var firstProblem: XMLParseProblem? { errors.takeUnretainedValue().problems.first }

    /// Moves to the next node: 1 when there is one, 0 at the end, -1 on an error.
    func read() -> Int32 { xmlTextReaderRead(reader) }
    /// Skips the current node's subtree: 1, 0 or -1 as `read()`.
    func skipSubtree() -> Int32 { xmlTextReaderNext(reader) }
    /// The node type (1 element, 10 document type, 15 end of element…).
    var nodeType: Int32 { xmlTextReaderNodeType(reader) }
    /// The depth of the current node (0 for the root element).
    var depth: Int { Int(xmlTextReaderDepth(reader)) }
    /// Whether the current element is empty (`<a/>`).
    var isEmptyElement: Bool { xmlTextReaderIsEmptyElement(reader) == 1 }
    /// The local name of the current node.
    var localName: String { xmlTextReaderConstLocalName(reader).map { String(cString: $0) } ?? "" }
    /// The namespace URI of the current node, if any.
    var namespaceURI: String? { xmlTextReaderConstNamespaceUri(reader).map { String(cString: $0) } }
    /// The line of the current node.
    var line: Int {
        guard let node = xmlTextReaderCurrentNode(reader) else { return 0 }
        let n = Int(xmlGetLineNo(node))
        return n > 0 ? n : 0
    }

    /// The attributes of the current element as (qualified name, value); leaves the reader on the element.
    func attributes() -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        guard xmlTextReaderHasAttributes(reader) == 1 else { return out }
        var status = xmlTextReaderMoveToFirstAttribute(reader)
        while status == 1 {
            let name = xmlTextReaderConstName(reader).map { String(cString: $0) } ?? ""
            let value = xmlTextReaderConstValue(reader).map { String(cString: $0) } ?? ""
            if !name.hasPrefix("xmlns") { out.append((name, value)) }
            status = xmlTextReaderMoveToNextAttribute(reader)
        }
        _ = xmlTextReaderMoveToElement(reader)
        return out
    }

    /// The qualified name of the current node (`prefix:local`).
    var qualifiedName: String { xmlTextReaderConstName(reader).map { String(cString: $0) } ?? "" }

    /// The text of the current text or CDATA node.
    var value: String { xmlTextReaderConstValue(reader).map { String(cString: $0) } ?? "" }

    /// Whether the document's DOCTYPE declares entities (internal or parameter).
    var doctypeDeclaresEntities: Bool {
        guard let doc = xmlTextReaderCurrentDoc(reader) else { return false }
        if let dtd = doc.pointee.intSubset, dtd.pointee.entities != nil || dtd.pointee.pentities != nil { return true }
        if let dtd = doc.pointee.extSubset, dtd.pointee.entities != nil || dtd.pointee.pentities != nil { return true }
        return false
    }
}

@available(*, unavailable)
extension XMLTextReader: Sendable {}
