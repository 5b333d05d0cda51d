/// UTF-8 validity checks over raw bytes, with an 8-bytes-at-a-time ASCII fast path.
enum UTF8Validation {
    /// Whether every byte of `b` is below 0x80, eight bytes at a time.
    static func isASCII(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = b.baseAddress else { return true }
        let n = b.count
        var i = 0
        while i &+ 8 <= n {
            if UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            i &+= 8
        }
        while i < n {
            if base[i] >= 0x80 { return false }
            i &+= 1
        }
        return true
    }

    /// Whether `count` bytes at `p` are well-formed UTF-8 (no overlongs, surrogates or code points
    /// past U+10FFFF). With `allowTruncatedTail`, an incomplete but so far valid sequence at the
    /// very end is accepted (a sample cut in the middle of a character).
    static func isValid(_ p: UnsafePointer<UInt8>, count: Int, allowTruncatedTail: Bool = false) -> Bool {
        var i = 0
        while i < count {
            // ASCII fast path, 8 bytes at a time.
            while i &+ 8 <= count {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                if w & 0x8080_8080_8080_8080 != 0 { break }
                i &+= 8
            }
            if i >= count { break }
            let c = p[i]
            if c < 0x80 {
                i &+= 1
                continue
            }
            let need: Int
            var lo: UInt8 = 0x80
            var hi: UInt8 = 0xBF
            switch c {
            case 0xC2...0xDF: need = 1
            case 0xE0:
                need = 2
                lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: need = 2
            case 0xED:
                need = 2
                hi = 0x9F
            case 0xF0:
                need = 3
                lo = 0x90
            case 0xF1...0xF3: need = 3
            case 0xF4:
                need = 3
                hi = 0x8F
            default: return false
            }
            var k = 1
            while k <= need {
                if i + k >= count { return allowTruncatedTail }
                let d = p[i + k]
                if k == 1 {
                    if d < lo || d > hi { return false }
                } else if d & 0xC0 != 0x80 {
                    return false
                }
                k += 1
            }
            i &+= need &+ 1
        }
        return true
    }

    /// Whether a buffer is valid UTF-8.
    static func isValid(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = b.baseAddress else { return true }
        return isValid(base, count: b.count)
    }
}
