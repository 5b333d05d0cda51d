/// Converts Latin-1, Windows-1252 or UTF-16 bytes to UTF-8, chunk by chunk.
///
/// State carried between chunks: a dangling odd byte and a high surrogate of UTF-16. Unpaired
/// surrogates and a dangling odd byte at the end become the byte 0xFF, which is never valid UTF-8,
/// so the record holding them is rejected with `encoding-error` by the reader's validation.
struct Transcoder {
    /// The source encoding (never `.utf8`).
    let encoding: ConcreteEncoding
    private var pendingByte: UInt8? = nil
    private var pendingHigh: UInt32? = nil

    /// Creates a transcoder from `encoding` to UTF-8.
    init(_ encoding: ConcreteEncoding) {
        self.encoding = encoding
    }

    /// The largest UTF-8 output for `n` input bytes (plus carried state).
    static func maxOutput(forInput n: Int) -> Int { n * 3 + 8 }

    /// The UTF-8 encoding of the Windows-1252 characters 0x80–0x9F (undefined ones map to the
    /// C1 control of the same value, as WHATWG does).
    private static let cp1252High: [UInt32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
        0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ]

    /// Transcodes `input` into `out`, which must have room for `maxOutput(forInput: input.count)`
    /// bytes; returns the number of bytes written.
    mutating func transcode(_ input: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) -> Int {
        guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
        let n = input.count
        switch encoding {
        case .latin1, .windows1252:
            let table = encoding == .windows1252
            var o = 0
            var i = 0
            while i < n {
                let c = base[i]
                i &+= 1
                if c < 0x80 {
                    out[o] = c
                    o &+= 1
                } else if table && c < 0xA0 {
                    o &+= Transcoder.put(Transcoder.cp1252High[Int(c &- 0x80)], out + o)
                } else {
                    out[o] = 0xC0 | (c >> 6)
                    out[o &+ 1] = 0x80 | (c & 0x3F)
                    o &+= 2
                }
            }
            return o
        case .utf16LE, .utf16BE:
            return transcodeUTF16(base, n, out, littleEndian: encoding == .utf16LE)
        case .utf8:
            out.update(from: base, count: n)
            return n
        }
    }

    private mutating func transcodeUTF16(
        _ base: UnsafePointer<UInt8>, _ n: Int, _ out: UnsafeMutablePointer<UInt8>, littleEndian: Bool
    ) -> Int {
        var o = 0
        var i = 0
        if let first = pendingByte, n > 0 {
            pendingByte = nil
            let second = base[0]
            i = 1
            let unit = littleEndian ? UInt32(first) | UInt32(second) << 8 : UInt32(first) << 8 | UInt32(second)
            o &+= unitOut(unit, out + o)
        }
        while i &+ 1 < n {
            let a = UInt32(base[i])
            let b = UInt32(base[i &+ 1])
            i &+= 2
            let unit = littleEndian ? a | b << 8 : a << 8 | b
            if unit < 0x80 && pendingHigh == nil {
                out[o] = UInt8(truncatingIfNeeded: unit)
                o &+= 1
            } else {
                o &+= unitOut(unit, out + o)
            }
        }
        if i < n { pendingByte = base[i] }
        return o
    }

    /// Emits one UTF-16 code unit, pairing surrogates.
    private mutating func unitOut(_ unit: UInt32, _ out: UnsafeMutablePointer<UInt8>) -> Int {
        var o = 0
        if let high = pendingHigh {
            pendingHigh = nil
            if unit >= 0xDC00 && unit <= 0xDFFF {
                let scalar = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)
                return Transcoder.put(scalar, out)
            }
            out[0] = 0xFF  // unpaired high surrogate
            o = 1
        }
        if unit >= 0xD800 && unit <= 0xDBFF {
            pendingHigh = unit
            return o
        }
        if unit >= 0xDC00 && unit <= 0xDFFF {
            out[o] = 0xFF  // unpaired low surrogate
            return o + 1
        }
        return o + Transcoder.put(unit, out + o)
    }

    /// Flushes the carried state at end of input; returns the bytes written (at most 2).
    mutating func finish(into out: UnsafeMutablePointer<UInt8>) -> Int {
        var o = 0
        if pendingHigh != nil {
            pendingHigh = nil
            out[o] = 0xFF
            o += 1
        }
        if pendingByte != nil {
            pendingByte = nil
            out[o] = 0xFF
            o += 1
        }
        return o
    }

    /// Writes the UTF-8 encoding of a scalar; returns its length.
    @inline(__always)
    static func put(_ v: UInt32, _ out: UnsafeMutablePointer<UInt8>) -> Int {
        if v < 0x80 {
            out[0] = UInt8(truncatingIfNeeded: v)
            return 1
        } else if v < 0x800 {
            out[0] = UInt8(truncatingIfNeeded: 0xC0 | (v >> 6))
            out[1] = UInt8(truncatingIfNeeded: 0x80 | (v & 0x3F))
            return 2
        } else if v < 0x10000 {
            out[0] = UInt8(truncatingIfNeeded: 0xE0 | (v >> 12))
            out[1] = UInt8(truncatingIfNeeded: 0x80 | ((v >> 6) & 0x3F))
            out[2] = UInt8(truncatingIfNeeded: 0x80 | (v & 0x3F))
            return 3
        } else {
            out[0] = UInt8(truncatingIfNeeded: 0xF0 | (v >> 18))
            out[1] = UInt8(truncatingIfNeeded: 0x80 | ((v >> 12) & 0x3F))
            out[2] = UInt8(truncatingIfNeeded: 0x80 | ((v >> 6) & 0x3F))
            out[3] = UInt8(truncatingIfNeeded: 0x80 | (v & 0x3F))
            return 4
        }
    }
}
