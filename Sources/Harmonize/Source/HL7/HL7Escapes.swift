/// Decodes HL7 v2 escape sequences in one pass (rules R9–R11), after splitting.
///
/// `\F\ \S\ \T\ \R\ \E\` become the message's declared delimiters, `\Xhh…\` the bytes it names
/// (read with the message charset), `\.br\` a line feed; `\H\` and `\N\` (highlighting) are
/// dropped; any other sequence, and an escape character without its closing one, is kept verbatim.
/// Single pass: `\E\F\E\` decodes to the three characters `\F\`.
enum HL7Escapes {
    static func decode(
        _ value: ArraySlice<UInt8>, delimiters d: HL7Message.Delimiters, charset: HL7Charset.Kind, into out: inout [UInt8]
    ) {
        let esc = d.escape
        guard value.contains(esc) else {
            out.append(contentsOf: value)
            return
        }
        var i = value.startIndex
        let end = value.endIndex
        while i < end {
            let c = value[i]
            guard c == esc, let close = value[(i + 1)..<end].firstIndex(of: esc), close > i + 1 else {
                out.append(c)
                i += 1
                continue
            }
            let body = value[(i + 1)..<close]
            if body.count == 1 {
                switch body[body.startIndex] {
                case UInt8(ascii: "F"): out.append(d.field)
                case UInt8(ascii: "S"): out.append(d.component)
                case UInt8(ascii: "T"): out.append(d.subcomponent)
                case UInt8(ascii: "R"): out.append(d.repetition)
                case UInt8(ascii: "E"): out.append(d.escape)
                case UInt8(ascii: "H"), UInt8(ascii: "N"): break
                default: out.append(contentsOf: value[i...close])
                }
            } else if body.elementsEqual(".br".utf8) {
                out.append(10)
            } else if body.first == UInt8(ascii: "X"), body.count >= 3, (body.count - 1) % 2 == 0,
                let decoded = hex(body.dropFirst())
            {
                appendDecodedBytes(decoded, charset: charset, to: &out)
            } else {
                out.append(contentsOf: value[i...close])
            }
            i = close + 1
        }
    }

    static func hex(_ digits: ArraySlice<UInt8>) -> [UInt8]? {
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 65...70: return c - 55
            case 97...102: return c - 87
            default: return nil
            }
        }
        var out: [UInt8] = []
        var i = digits.startIndex
        while i + 1 < digits.endIndex + 1, i < digits.endIndex {
            guard let h = nibble(digits[i]), let l = nibble(digits[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }

    /// Hex-escaped bytes are read with the message charset (R10); bytes that are not valid UTF-8
    /// in a UTF-8/ASCII message are read as ISO 8859-1 so the value stays valid UTF-8.
    static func appendDecodedBytes(_ bytes: [UInt8], charset: HL7Charset.Kind, to out: inout [UInt8]) {
        switch charset {
        case .latin1, .latin9:
            for b in bytes { HL7Charset.appendLatin(b, latin9: charset == .latin9, to: &out) }
        case .utf8, .asciiOrUTF8:
            if bytes.withUnsafeBufferPointer({ UTF8Validation.isValid($0) }) {
                out.append(contentsOf: bytes)
            } else {
                for b in bytes { HL7Charset.appendLatin(b, latin9: false, to: &out) }
            }
        }
    }
}
