import CHarmonizeScan
import Crypto

/// Lowercase hexadecimal text of bytes (hashes, fingerprints).
package enum Hex {
    /// The bytes as lowercase hexadecimal text (through `string(_:count:)`; a collection that is
    /// not contiguous is copied into an array first).
    package static func string(_ bytes: some Collection<UInt8>) -> String {
        if let text = bytes.withContiguousStorageIfAvailable({ b in b.baseAddress.map { string($0, count: b.count) } ?? "" }) {
            return text
        }
        return string(Array(bytes))
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

    /// The SHA-256 of `bytes`, in lowercase hexadecimal.
    package static func sha256(_ bytes: some Collection<UInt8>) -> String {
        string(Array(SHA256.hash(data: Array(bytes))))
    }
}
