import Crypto

/// Lowercase hexadecimal text of bytes (hashes, fingerprints).
package enum Hex {
    /// The bytes as lowercase hexadecimal text, written straight into the string's storage (no
    /// intermediate array).
    package static func string(_ bytes: some Collection<UInt8>) -> String {
        String(unsafeUninitializedCapacity: 2 * bytes.count) { out in
            var k = 0
            for b in bytes {
                out[k] = digit(b >> 4)
                out[k + 1] = digit(b & 15)
                k += 2
            }
            return k
        }
    }

    /// `count` bytes at `bytes` as lowercase hexadecimal text: the keyed pseudonyms' hex form,
    /// once per value. Four bytes at a time: their nibbles spread over a 64-bit word, turned into
    /// eight digits with additions, and stored at once (where a store per digit took 3 % of a
    /// claims run's mapping thread).
    package static func string(_ bytes: UnsafePointer<UInt8>, count: Int) -> String {
        String(unsafeUninitializedCapacity: 2 * count) { out in
            guard let base = out.baseAddress else { return 0 }
            let o = UnsafeMutableRawPointer(base)
            var k = 0
            while k + 4 <= count {
                let word = UnsafeRawPointer(bytes + k).loadUnaligned(as: UInt32.self)
                o.storeBytes(of: digits(UInt32(littleEndian: word)).littleEndian, toByteOffset: 2 * k, as: UInt64.self)
                k += 4
            }
            while k < count {
                let b = bytes[k]
                base[2 * k] = digit(b >> 4)
                base[2 * k + 1] = digit(b & 15)
                k += 1
            }
            return 2 * count
        }
    }

    /// The eight lowercase hex digits of four bytes (`b0` the lowest), as the bytes of a word in
    /// memory order: `b0`'s high digit first.
    @inline(__always)
    static func digits(_ four: UInt32) -> UInt64 {
        var x = UInt64(four)
        x = (x | x << 16) & 0x0000_FFFF_0000_FFFF
        x = (x | x << 8) & 0x00FF_00FF_00FF_00FF  // byte 2i: b_i
        let v = (x >> 4) & 0x000F_000F_000F_000F | (x & 0x000F_000F_000F_000F) << 8  // byte 2i: high digit, 2i+1: low
        let letters = ((v &+ 0x0606_0606_0606_0606) & 0x1010_1010_1010_1010) >> 4  // 1 where the digit is 10…15
        return v &+ 0x3030_3030_3030_3030 &+ letters &* 39
    }

    /// The lowercase hex digit of a nibble (0…15).
    @inline(__always)
    static func digit(_ n: UInt8) -> UInt8 { n < 10 ? 48 + n : 87 + n }

    /// The SHA-256 of `bytes`, in lowercase hexadecimal.
    package static func sha256(_ bytes: some Collection<UInt8>) -> String {
        string(Array(SHA256.hash(data: Array(bytes))))
    }
}
