/// The character encoding of a delimited-text source.
///
/// Every encoding is transcoded to UTF-8 before tokenizing, so fields are always exposed as UTF-8.
package enum TextEncoding: String, Sendable, Hashable, Codable, CaseIterable {
    /// Byte-order-mark sniffing, then UTF-8 when the first 64 KiB are valid UTF-8, else Windows-1252.
    case auto
    /// UTF-8, with or without a byte order mark.
    case utf8
    /// ISO-8859-1: every byte is the code point of the same value.
    case latin1 = "latin-1"
    /// Windows-1252: Latin-1 with printable characters (`€`, `œ`, `’`…) in 0x80–0x9F.
    case windows1252 = "windows-1252"
    /// UTF-16; the byte order comes from the byte order mark (little-endian when there is none
    /// and the zero bytes do not say otherwise).
    case utf16 = "utf-16"

    /// Parses an encoding name case-insensitively, accepting common aliases
    /// (`utf8`, `iso-8859-1`, `latin1`, `cp1252`, `utf16`, `utf-16le`…).
    public init?(name: String) {
        let n = String(name.lowercased().map { $0 == "_" ? "-" : $0 })
        switch n {
        case "auto", "detect": self = .auto
        case "utf-8", "utf8", "utf-8-sig": self = .utf8
        case "latin-1", "latin1", "iso-8859-1", "iso8859-1", "l1", "iso-latin-1": self = .latin1
        case "windows-1252", "cp1252", "win-1252", "windows1252", "1252": self = .windows1252
        case "utf-16", "utf16", "utf-16le", "utf-16be", "utf16le", "utf16be": self = .utf16
        default: return nil
        }
    }

    /// Decodes either the canonical raw value or one of the aliases accepted by `init?(name:)`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let value = TextEncoding(name: name) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "unknown text encoding name")
        }
        self = value
    }
}

/// A concrete encoding with its byte order, as resolved from a declared `TextEncoding` and the input.
enum ConcreteEncoding: Sendable, Hashable {
    case utf8, latin1, windows1252, utf16LE, utf16BE

    /// The public encoding this resolves to.
    var textEncoding: TextEncoding {
        switch self {
        case .utf8: return .utf8
        case .latin1: return .latin1
        case .windows1252: return .windows1252
        case .utf16LE, .utf16BE: return .utf16
        }
    }

    /// Whether UTF-8 validation of records is needed after transcoding (UTF-8 input, or UTF-16
    /// whose unpaired surrogates are turned into an invalid byte).
    var needsValidation: Bool {
        switch self {
        case .utf8, .utf16LE, .utf16BE: return true
        case .latin1, .windows1252: return false
        }
    }

    /// Resolves `declared` for input starting with `prefix` (the first raw bytes; at least 64 KiB
    /// unless the input is shorter). Returns the encoding and the length of the byte order mark to drop.
    static func resolve(_ declared: TextEncoding, prefix: UnsafeRawBufferPointer, atEnd: Bool) -> (
        ConcreteEncoding, bomLength: Int
    ) {
        let b = prefix
        let hasUTF8BOM = b.count >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF
        let hasLEBOM = b.count >= 2 && b[0] == 0xFF && b[1] == 0xFE
        let hasBEBOM = b.count >= 2 && b[0] == 0xFE && b[1] == 0xFF
        switch declared {
        case .latin1: return (.latin1, 0)
        case .windows1252: return (.windows1252, 0)
        case .utf8: return (.utf8, hasUTF8BOM ? 3 : 0)
        case .utf16:
            if hasLEBOM { return (.utf16LE, 2) }
            if hasBEBOM { return (.utf16BE, 2) }
            return (guessUTF16Order(b) ?? .utf16LE, 0)
        case .auto:
            if hasUTF8BOM { return (.utf8, 3) }
            if hasLEBOM { return (.utf16LE, 2) }
            if hasBEBOM { return (.utf16BE, 2) }
            if let order = guessUTF16Order(b) { return (order, 0) }
            guard let base = b.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return (.utf8, 0) }
            let valid = UTF8Validation.isValid(base, count: b.count, allowTruncatedTail: !atEnd)
            return (valid ? .utf8 : .windows1252, 0)
        }
    }

    /// Guesses a UTF-16 byte order from zero bytes in even or odd positions (ASCII-heavy text
    /// without a byte order mark); nil when the sample does not look like UTF-16.
    static func guessUTF16Order(_ b: UnsafeRawBufferPointer) -> ConcreteEncoding? {
        let n = min(b.count, 4096) & ~1
        guard n >= 4 else { return nil }
        var zeroEven = 0
        var zeroOdd = 0
        var i = 0
        while i < n {
            if b[i] == 0 { zeroEven += 1 }
            if b[i + 1] == 0 { zeroOdd += 1 }
            i += 2
        }
        let units = n / 2
        if zeroOdd * 10 >= units * 7 && zeroEven * 10 <= units { return .utf16LE }
        if zeroEven * 10 >= units * 7 && zeroOdd * 10 <= units { return .utf16BE }
        return nil
    }
}
