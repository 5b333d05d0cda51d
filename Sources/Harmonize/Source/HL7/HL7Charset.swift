/// Character sets of HL7 table 0211 that the reader transcodes to UTF-8 (rule R12).
enum HL7Charset {
    /// How the bytes of a message are read.
    enum Kind: Equatable {
        /// `ASCII` or no MSH-18: valid UTF-8 is kept, anything else is read as ISO 8859-1 (R12 fallback).
        case asciiOrUTF8
        /// `UNICODE UTF-8`: must be valid UTF-8.
        case utf8
        /// `8859/1`.
        case latin1
        /// `8859/15`.
        case latin9
    }

    /// The kind for an MSH-18 value; nil when unsupported.
    static func kind(named name: String) -> Kind? {
        switch name.uppercased() {
        case "", "ASCII": return .asciiOrUTF8
        case "UNICODE UTF-8", "UTF-8", "UTF8": return .utf8
        case "8859/1", "ISO-8859-1", "ISO8859-1", "ISO 8859-1", "LATIN1": return .latin1
        case "8859/15", "ISO-8859-15", "ISO 8859-15": return .latin9
        default: return nil
        }
    }

    /// Appends `line` as UTF-8; false when it is not valid in the charset.
    static func append(_ line: ArraySlice<UInt8>, charset: Kind, to out: inout [UInt8]) -> Bool {
        if line.withUnsafeBufferPointer(UTF8Validation.isASCII) {
            out.append(contentsOf: line)
            return true
        }
        switch charset {
        case .utf8, .asciiOrUTF8:
            let valid = line.withUnsafeBufferPointer { UTF8Validation.isValid($0) }
            if valid {
                out.append(contentsOf: line)
                return true
            }
            if charset == .utf8 { return false }
            for b in line { appendLatin(b, latin9: false, to: &out) }
            return true
        case .latin1, .latin9:
            for b in line { appendLatin(b, latin9: charset == .latin9, to: &out) }
            return true
        }
    }

    /// Appends one ISO 8859-1 (or -15) byte as UTF-8.
    static func appendLatin(_ b: UInt8, latin9: Bool, to out: inout [UInt8]) {
        var scalar = UInt32(b)
        if latin9 {
            switch b {
            case 0xA4: scalar = 0x20AC
            case 0xA6: scalar = 0x0160
            case 0xA8: scalar = 0x0161
            case 0xB4: scalar = 0x017D
            case 0xB8: scalar = 0x017E
            case 0xBC: scalar = 0x0152
            case 0xBD: scalar = 0x0153
            case 0xBE: scalar = 0x0178
            default: break
            }
        }
        appendScalar(scalar, to: &out)
    }

    /// Appends a Unicode scalar (BMP) as UTF-8.
    static func appendScalar(_ s: UInt32, to out: inout [UInt8]) {
        if s < 0x80 {
            out.append(UInt8(s))
        } else if s < 0x800 {
            out.append(UInt8(0xC0 | (s >> 6)))
            out.append(UInt8(0x80 | (s & 0x3F)))
        } else {
            out.append(UInt8(0xE0 | (s >> 12)))
            out.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (s & 0x3F)))
        }
    }
}
