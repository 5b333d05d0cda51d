import Crypto

/// Lowercase hexadecimal text of bytes (hashes, fingerprints).
package enum Hex {
    /// The bytes as lowercase hexadecimal text, written straight into the string's storage (no
    /// intermediate array).
    package static func string(_ bytes: some Collection<UInt8>) -> String {
        String(unsafeUninitializedCapacity: 2 * bytes.count) { out in
            var k = 0
            for b in bytes {
                let hi = b >> 4
                let lo = b & 15
                out[k] = hi < 10 ? 48 + hi : 87 + hi
                out[k + 1] = lo < 10 ? 48 + lo : 87 + lo
                k += 2
            }
            return k
        }
    }

    /// `count` bytes at `bytes` as lowercase hexadecimal text: the keyed pseudonyms' hex form,
    /// once per value.
    package static func string(_ bytes: UnsafePointer<UInt8>, count: Int) -> String {
        string(UnsafeBufferPointer(start: bytes, count: count))
    }

    /// The SHA-256 of `bytes`, in lowercase hexadecimal.
    package static func sha256(_ bytes: some Collection<UInt8>) -> String {
        string(Array(SHA256.hash(data: Array(bytes))))
    }
}
