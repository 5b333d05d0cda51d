internal import CLibXML2

/// What the push parser reports, as raw UTF-8 spans valid only during the call (no C type leaves
/// this file). Subclassed by `XMLRecordCollector` and `XMLEventFanOut`; the methods here ignore
/// the events.
///
/// A class rather than a protocol: the parser calls it for every SAX event through an uncounted
/// reference (`Unmanaged`), which an existential cannot be called through; calling through an
/// `unowned(unsafe)` existential counted a reference per event (5 % of the reading thread).
class XMLSAXEvents {
    init() {}
    /// An element starts; `attributes` holds (local name, namespace URI or nil, value) spans.
    func startElement(localName: UnsafePointer<UInt8>, namespaceURI: UnsafePointer<UInt8>?, attributes: XMLAttributeSpans, line: Int) {}
    /// The innermost open element ends.
    func endElement() {}
    /// Text (character data, CDATA, character and predefined entity references decoded).
    func characters(_ text: UnsafeBufferPointer<UInt8>) {}
    /// The DOCTYPE declares an entity: the document is refused.
    func entityDeclared(line: Int) {}
    /// A reference to an entity nobody declared (`&ent;` in a document with an external DOCTYPE,
    /// which libxml2 only warns about and drops): the record, or the document, is refused.
    /// `inStartTag`: in an attribute value (else in text).
    func undeclaredEntity(line: Int, inStartTag: Bool) {}
}

@available(*, unavailable)
extension XMLSAXEvents: Sendable {}

/// The attributes of a start tag as libxml2 hands them to SAX2: five pointers per attribute
/// (local name, prefix, URI, value start, value end).
struct XMLAttributeSpans {
    fileprivate let base: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
    /// Number of attributes.
    let count: Int

    /// The local name of attribute `i` (NUL-terminated).
    @inline(__always)
    func localName(_ i: Int) -> UnsafePointer<UInt8>? { base?[i &* 5] }
    /// The namespace URI of attribute `i`, if any (NUL-terminated).
    @inline(__always)
    func namespaceURI(_ i: Int) -> UnsafePointer<UInt8>? { base?[i &* 5 &+ 2] }
    /// The value of attribute `i`. Without entity substitution libxml2 keeps `&` as `&#38;` in
    /// attribute values (other references are decoded); `XMLRecordCollector` turns it back.
    @inline(__always)
    func value(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        guard let base, let start = base[i &* 5 &+ 3], let end = base[i &* 5 &+ 4] else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: start, count: end - start)
    }

    /// The bytes of every attribute value together (what a record's text limit counts).
    @inline(__always)
    var valueBytes: Int {
        guard let base else { return 0 }
        var n = 0
        var p = base + 3
        for _ in 0..<count {
            if let start = p[0], let end = p[1] { n &+= end - start }
            p += 5
        }
        return n
    }
}

/// Per-parse state libxml2's callbacks reach through their user-data pointer.
final class XMLPushTarget {
    /// Not counted: the events' owner (`XMLRecordReader`) holds them and the parser, and frees
    /// the parser first; a counted (`unowned`) reference cost an atomic check per SAX event.
    /// Called with `_withUnsafeGuaranteedRef` (`withEvents`).
    let events: Unmanaged<XMLSAXEvents>
    var context: xmlParserCtxtPtr?
    var problems: [XMLParseProblem] = []
    var stopped = false

    init(events: XMLSAXEvents) { self.events = .passUnretained(events) }

    /// Runs `body` with the events, without counting a reference to them.
    @inline(__always)
    func withEvents(_ body: (XMLSAXEvents) -> Void) { events._withUnsafeGuaranteedRef(body) }

    var line: Int {
        guard let c = context, let input = c.pointee.input else { return 0 }
        return Int(input.pointee.line)
    }

    /// Stops the parser from inside a callback (the document is refused or reading must end).
    func stop() {
        stopped = true
        if let c = context { xmlStopParser(c) }
    }
}

private func target(_ ctx: UnsafeMutableRawPointer?) -> XMLPushTarget? {
    guard let ctx else { return nil }
    return Unmanaged<XMLPushTarget>.fromOpaque(ctx).takeUnretainedValue()
}

/// Runs `body` with the parse's target without counting a reference to it (the parser holds
/// it for the whole parse): the callbacks of every element go through here.
@inline(__always)
private func withTarget(_ ctx: UnsafeMutableRawPointer?, _ body: (XMLPushTarget) -> Void) {
    guard let ctx else { return }
    Unmanaged<XMLPushTarget>.fromOpaque(ctx)._withUnsafeGuaranteedRef(body)
}

private func onStart(
    _ ctx: UnsafeMutableRawPointer?, _ localname: UnsafePointer<xmlChar>?, _ prefix: UnsafePointer<xmlChar>?, _ uri: UnsafePointer<xmlChar>?,
    _ nbNamespaces: Int32, _ namespaces: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?, _ nbAttributes: Int32, _ nbDefaulted: Int32,
    _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
) {
    guard let localname else { return }
    withTarget(ctx) { t in
        guard !t.stopped else { return }
        // Attributes defaulted by a DTD ATTLIST come last: they are not in the document, never applied.
        let written = max(0, Int(nbAttributes) - Int(nbDefaulted))
        let line = t.line
        t.withEvents {
            $0.startElement(localName: localname, namespaceURI: uri, attributes: XMLAttributeSpans(base: attributes, count: written), line: line)
        }
    }
}

private func onEnd(
    _ ctx: UnsafeMutableRawPointer?, _ localname: UnsafePointer<xmlChar>?, _ prefix: UnsafePointer<xmlChar>?, _ uri: UnsafePointer<xmlChar>?
) {
    withTarget(ctx) { t in if !t.stopped { t.withEvents { $0.endElement() } } }
}

private func onCharacters(_ ctx: UnsafeMutableRawPointer?, _ ch: UnsafePointer<xmlChar>?, _ len: Int32) {
    guard let ch, len > 0 else { return }
    withTarget(ctx) { t in if !t.stopped { t.withEvents { $0.characters(UnsafeBufferPointer(start: ch, count: Int(len))) } } }
}

private func onEntityDecl(
    _ ctx: UnsafeMutableRawPointer?, _ name: UnsafePointer<xmlChar>?, _ type: Int32, _ publicId: UnsafePointer<xmlChar>?,
    _ systemId: UnsafePointer<xmlChar>?, _ content: UnsafeMutablePointer<xmlChar>?
) {
    guard let t = target(ctx), !t.stopped else { return }
    let line = t.line
    t.withEvents { $0.entityDeclared(line: line) }
    t.stop()
}

private func onError(_ ctx: UnsafeMutableRawPointer?, _ error: xmlErrorPtr?) {
    guard let t = target(ctx), let error else { return }
    let code = error.pointee.code
    if code == Int32(XML_WAR_UNDECLARED_ENTITY.rawValue) || code == Int32(XML_ERR_UNDECLARED_ENTITY.rawValue), !t.stopped {
        // In a start tag (an attribute value) when, looking back from the parser's position, a
        // '<' comes before a '>'; unknown (the buffer starts first) counts as a start tag.
        var inStartTag = true
        if let c = t.context, let input = c.pointee.input, let cur = input.pointee.cur, let base = input.pointee.base {
            var p = cur
            while p > base {
                p -= 1
                if p.pointee == 0x3C { break }
                if p.pointee == 0x3E {
                    inStartTag = false
                    break
                }
            }
        }
        let line = Int(error.pointee.line)
        t.withEvents { $0.undeclaredEntity(line: line, inStartTag: inStartTag) }
    }
    if t.problems.count < 16 {
        t.problems.append(XMLParseProblem(code: error.pointee.code, line: Int(error.pointee.line), fatal: error.pointee.level == XML_ERR_FATAL))
    }
}

/// Refuses every external entity and DTD (same policy as `XMLTextReader`).
private func denyAllEntityLoader(_ url: UnsafePointer<CChar>?, _ id: UnsafePointer<CChar>?, _ context: xmlParserCtxtPtr?) -> xmlParserInputPtr? {
    nil
}

/// A libxml2 SAX2 push parser over a `ByteSource`: the caller feeds it chunk by chunk and gets
/// events as they are parsed, so everything before a well-formedness error has been reported when
/// the error stops the parser (libxml2's reader API, which parses ahead, loses it).
///
/// Safe for untrusted input: no entity substitution (never `XML_PARSE_NOENT`), no DTD loading, no
/// network, a deny-all external entity loader; no tree is built (only the callbacks below are
/// set), a DOCTYPE that declares an entity stops parsing (`entityDeclared`), a reference to an
/// undeclared entity is reported (`undeclaredEntity`) rather than dropped, and attributes a DTD
/// `ATTLIST` would default are never passed on. libxml2 reports
/// errors to `problems` (code, line, severity), never to standard error.
final class XMLPushParser {
    private let source: any ByteSource
    private let box: Unmanaged<XMLPushTarget>
    private let context: xmlParserCtxtPtr
    private var buffer: [UInt8]
    /// Bytes pulled from the source so far.
    private(set) var bytesRead: Int64 = 0
    /// Whether the whole document has been fed (or parsing stopped).
    private(set) var done = false

    /// Creates the parser; nil when libxml2 cannot create a context.
    init?(source: any ByteSource, url: String, events: XMLSAXEvents, chunkSize: Int = 1 << 16) {
        xmlSetExternalEntityLoader(denyAllEntityLoader)
        self.source = source
        self.buffer = [UInt8](repeating: 0, count: max(16, chunkSize))
        var sax = xmlSAXHandler()
        sax.initialized = XML_SAX2_MAGIC
        sax.startElementNs = onStart
        sax.endElementNs = onEnd
        sax.characters = onCharacters
        sax.ignorableWhitespace = onCharacters
        sax.cdataBlock = onCharacters
        sax.entityDecl = onEntityDecl
        sax.serror = onError
        let target = XMLPushTarget(events: events)
        let box = Unmanaged.passRetained(target)
        guard let ctxt = xmlCreatePushParserCtxt(&sax, box.toOpaque(), nil, 0, url) else {
            box.release()
            return nil
        }
        _ = xmlCtxtUseOptions(ctxt, harmonize_xml_safe_options())
        // xmlCtxtUseOptions drops the CDATA callback for XML_PARSE_NOCDATA: CDATA then arrives as
        // characters, which is what records want.
        self.box = box
        self.context = ctxt
        target.context = ctxt
    }

    deinit {
        box.takeUnretainedValue().context = nil
        if let doc = context.pointee.myDoc { xmlFreeDoc(doc) }
        xmlFreeParserCtxt(context)
        box.release()
    }

    /// The first fatal problem libxml2 reported (else the first problem), if any.
    var firstProblem: XMLParseProblem? {
        let p = box.takeUnretainedValue().problems
        return p.first(where: \.fatal) ?? p.first
    }

    /// Whether a callback stopped the parser (a refused DOCTYPE, a limit).
    var stopped: Bool { box.takeUnretainedValue().stopped }

    /// Stops parsing: later `feed()` calls do nothing.
    func stop() {
        box.takeUnretainedValue().stop()
        done = true
    }

    /// Reads one chunk from the source and parses it (the last call also ends the document).
    /// Returns false when the document is not well-formed (parsing has stopped) or was stopped.
    /// - Throws: `SourceIOError` when the source cannot be read.
    func feed() throws(SourceIOError) -> Bool {
        guard !done else { return true }
        var n = 0
        var failure: SourceIOError?
        buffer.withUnsafeMutableBytes { raw in
            do throws(SourceIOError) {
                n = try source.read(into: raw)
            } catch {
                failure = error
            }
        }
        if let failure {
            done = true
            throw failure
        }
        bytesRead += Int64(n)
        buffer.withUnsafeBytes { raw in
            let p = raw.bindMemory(to: CChar.self).baseAddress
            _ = xmlParseChunk(context, n > 0 ? p : nil, Int32(n), n == 0 ? 1 : 0)
        }
        if n == 0 { done = true }
        if stopped {
            done = true
            return false
        }
        // Only a fatal error (not a namespace warning, which also sets the error number) stops.
        if context.pointee.wellFormed == 0 {
            done = true
            return false
        }
        return true
    }
}

@available(*, unavailable)
extension XMLPushParser: Sendable {}
