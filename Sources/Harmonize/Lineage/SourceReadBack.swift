import Crypto
import Foundation

/// Reads one source record back from its file, as written (`harmonize-run trace --show-source`):
/// the CSV row starting at the recorded line (up to the end of the record, quoted line breaks
/// included), the whole HL7 v2 message holding the recorded line, or the XML record element
/// starting at the recorded line. The file must still have the SHA-256 the run recorded.
///
/// This is the one place that shows source values, and only on explicit request.
package enum SourceReadBack {
    /// Why a record cannot be read back (no values).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// The record's text.
    public static func read(_ source: RowTrace.Source, inputDirectory: String) throws(Failure) -> String {
        let path = inputDirectory + "/" + source.path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "cannot read \(path) (give the input folder with --input)")
        }
        let digest = Hex.string(Array(SHA256.hash(data: data)))
        guard source.sha256.isEmpty || digest == source.sha256 else {
            throw Failure(description: "\(path) changed since the run (SHA-256 differs); its line numbers no longer apply")
        }
        guard let line = source.line, line > 0 else { throw Failure(description: "the lineage of this row has no line number") }
        let bytes = [UInt8](data)
        switch source.format {
        case "hl7v2": return try hl7Message(bytes, line: line)
        case "xml": return try xmlElement(bytes, line: line, recordPath: source.unit ?? "")
        default: return try csvRecord(bytes, line: line, encoding: source.encoding, quote: source.quote)
        }
    }

    /// Lines as the readers count them: CR, LF and CRLF end a line; with `hl7`, MLLP start bytes
    /// are dropped and an end-of-block byte ends a line without counting one.
    static func lines(_ b: [UInt8], hl7: Bool) -> [(number: Int, bytes: ArraySlice<UInt8>)] {
        var out: [(Int, ArraySlice<UInt8>)] = []
        var n = 1
        var start = 0
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 0x0D || c == 0x0A || (hl7 && c == 0x1C) {
                out.append((n, b[start..<i]))
                if c == 0x0D, i + 1 < b.count, b[i + 1] == 0x0A { i += 1 }
                if c != 0x1C { n += 1 }
                start = i + 1
            }
            i += 1
        }
        if start < b.count { out.append((n, b[start..<b.count])) }
        return out
    }

    static func decode(_ b: ArraySlice<UInt8>, encoding: String?) -> String {
        var bytes = Array(b)
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { bytes.removeFirst(3) }
        switch encoding.flatMap(TextEncoding.init(name:)) {
        case .latin1?: return String(bytes.map { Character(Unicode.Scalar($0)) })
        case .windows1252?: return String(data: Data(bytes), encoding: .windowsCP1252) ?? String(decoding: bytes, as: UTF8.self)
        case .utf16?: return String(data: Data(bytes), encoding: .utf16) ?? String(decoding: bytes, as: UTF8.self)
        default:
            if let s = String(validatingUTF8Bytes: bytes) { return s }
            return String(data: Data(bytes), encoding: .windowsCP1252) ?? String(decoding: bytes, as: UTF8.self)
        }
    }

    static func csvRecord(_ b: [UInt8], line: Int, encoding: String?, quote: String?) throws(Failure) -> String {
        if encoding.flatMap(TextEncoding.init(name:)) == .utf16 || (b.count >= 2 && (b[0] == 0xFF && b[1] == 0xFE || b[0] == 0xFE && b[1] == 0xFF)) {
            // UTF-16: transcode first, then count lines in the text.
            let text = String(data: Data(b), encoding: .utf16) ?? ""
            return try csvRecord(Array(text.utf8), line: line, encoding: "utf-8", quote: quote)
        }
        let all = lines(b, hl7: false)
        guard let first = all.firstIndex(where: { $0.number == line }) else { throw Failure(description: "the file has no line \(line)") }
        // A record goes on while a quoted field is open.
        let q = quote?.utf8.first
        var open = false
        var parts: [String] = []
        for k in first..<all.count {
            let l = all[k].bytes
            if let q { for c in l where c == q { open.toggle() } }
            parts.append(decode(l, encoding: encoding))
            if !open { break }
        }
        return parts.joined(separator: "\n")
    }

    static func hl7Message(_ b: [UInt8], line: Int) throws(Failure) -> String {
        let all = lines(b.filter { $0 != 0x0B }, hl7: true).filter { !$0.bytes.allSatisfy { $0 == 32 || $0 == 9 } }
        func starts(_ l: ArraySlice<UInt8>, _ id: String) -> Bool {
            var s = Array(l)
            if s.count >= 3, s[0] == 0xEF, s[1] == 0xBB, s[2] == 0xBF { s.removeFirst(3) }
            return s.starts(with: Array(id.utf8))
        }
        guard let at = all.lastIndex(where: { $0.number <= line }) else { throw Failure(description: "the file has no line \(line)") }
        var start = at
        while start > 0, !starts(all[start].bytes, "MSH") { start -= 1 }
        var end = at + 1
        while end < all.count, !["MSH", "FHS", "BHS", "BTS", "FTS"].contains(where: { starts(all[end].bytes, $0) }) { end += 1 }
        return all[start..<end].map { decode($0.bytes, encoding: nil) }.joined(separator: "\n")
    }

    static func xmlElement(_ b: [UInt8], line: Int, recordPath: String) throws(Failure) -> String {
        let all = lines(b, hl7: false)
        guard let first = all.firstIndex(where: { $0.number == line }) else { throw Failure(description: "the file has no line \(line)") }
        let text = all[first...].map { decode($0.bytes, encoding: "utf-8") }.joined(separator: "\n")
        let step = recordPath.split(separator: "/").last.map(String.init) ?? ""
        let local = step.split(separator: ":").last.map(String.init) ?? step
        guard !local.isEmpty else { throw Failure(description: "no record element recorded") }
        // The first start tag of the record element on that line, then its matching end.
        let pattern = "<(?:[A-Za-z_][\\w.-]*:)?\(NSRegularExpression.escapedPattern(for: local))(?=[\\s/>])"
        let open: NSRegularExpression
        let close: NSRegularExpression
        do {
            open = try NSRegularExpression(pattern: pattern)
            close = try NSRegularExpression(pattern: "</(?:[A-Za-z_][\\w.-]*:)?\(NSRegularExpression.escapedPattern(for: local))\\s*>")
        } catch {
            throw Failure(description: "bad record path: \(error)")
        }
        let ns = text as NSString
        guard let startMatch = open.firstMatch(in: text, range: NSRange(location: 0, length: ns.length)) else {
            throw Failure(description: "no <\(local)> element at line \(line)")
        }
        var depth = 0
        var pos = startMatch.range.location
        while pos < ns.length {
            let rest = NSRange(location: pos, length: ns.length - pos)
            let o = open.firstMatch(in: text, range: rest)
            let c = close.firstMatch(in: text, range: rest)
            if let o, o.range.location < (c?.range.location ?? Int.max) {
                // A start tag: self-closing ones do not nest.
                let tagEnd = ns.range(of: ">", options: [], range: NSRange(location: o.range.location, length: ns.length - o.range.location))
                guard tagEnd.location != NSNotFound else { break }
                let selfClosing = tagEnd.location > 0 && ns.character(at: tagEnd.location - 1) == 0x2F
                if selfClosing {
                    if depth == 0 {
                        return ns.substring(
                            with: NSRange(location: startMatch.range.location, length: tagEnd.location + 1 - startMatch.range.location))
                    }
                } else {
                    depth += 1
                }
                pos = tagEnd.location + 1
            } else if let c {
                depth -= 1
                pos = c.range.location + c.range.length
                if depth == 0 { return ns.substring(with: NSRange(location: startMatch.range.location, length: pos - startMatch.range.location)) }
            } else {
                break
            }
        }
        throw Failure(description: "the <\(local)> element at line \(line) does not end")
    }
}

extension String {
    /// The string if the bytes are valid UTF-8.
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        guard let s = String(bytes: bytes, encoding: .utf8) else { return nil }
        self = s
    }
}
