import CHarmonizeScan
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
    /// once per value. Sixteen bytes at a time (`harmonize_hex_lower`: SSE2 on x86-64), where
    /// four bytes at a time in Swift cost 265 instructions a claim, 2 % of a claims run's
    /// mapping thread (`bench/instructions.py`), and a store per digit 3 %.
    package static func string(_ bytes: UnsafePointer<UInt8>, count: Int) -> String {
        String(unsafeUninitializedCapacity: 2 * count) { out in
            guard let base = out.baseAddress else { return 0 }
            harmonize_hex_lower(bytes, count, base)
            return 2 * count
        }
    }

    /// The lowercase hex digit of a nibble (0…15).
    @inline(__always)
    static func digit(_ n: UInt8) -> UInt8 { n < 10 ? 48 + n : 87 + n }

    /// The SHA-256 of `bytes`, in lowercase hexadecimal.
    package static func sha256(_ bytes: some Collection<UInt8>) -> String {
        string(Array(SHA256.hash(data: Array(bytes))))
    }
}
