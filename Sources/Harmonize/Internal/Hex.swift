import Crypto

/// Lowercase hexadecimal text of bytes (hashes, fingerprints).
package enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The bytes as lowercase hexadecimal text.
    package static func string(_ bytes: some Collection<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `count` bytes at `bytes` as lowercase hexadecimal text, written straight into the string's
    /// storage (no intermediate array): the keyed pseudonyms' hex form, once per value.
    package static func string(_ bytes: UnsafePointer<UInt8>, count: Int) -> String {
        String(unsafeUninitializedCapacity: 2 * count) { out in
            for k in 0..<count {
                let hi = bytes[k] >> 4
                let lo = bytes[k] & 15
                out[2 * k] = hi < 10 ? 48 + hi : 87 + hi
                out[2 * k + 1] = lo < 10 ? 48 + lo : 87 + lo
            }
            return 2 * count
        }
    }

    /// The SHA-256 of `bytes`, in lowercase hexadecimal.
    package static func sha256(_ bytes: some Collection<UInt8>) -> String {
        string(Array(SHA256.hash(data: Array(bytes))))
    }
}
