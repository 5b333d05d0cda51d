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

    /// The SHA-256 of `bytes`, in lowercase hexadecimal.
    package static func sha256(_ bytes: some Collection<UInt8>) -> String {
        string(Array(SHA256.hash(data: Array(bytes))))
    }
}
