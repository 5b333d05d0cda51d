import CHarmonizeSHA

/// HMAC-SHA-256 (RFC 2104, FIPS 198-1; SHA-256 of FIPS 180-4) for one fixed key, with the states
/// after the inner and outer key pads computed once.
///
/// A keyed pseudonym hashes a short identifier: two SHA-256 blocks. Through swift-crypto's generic
/// `HMAC` each call also copied the hash contexts (heap allocations), went through `DataProtocol`
/// iteration and built arrays, about ten times the cost of the two compressions. Here a call
/// compresses into buffers owned by the instance: no allocation. The results are checked against
/// swift-crypto's `HMAC<SHA256>` by the tests (every length from 0 to 300 bytes, keys shorter and
/// longer than a block).
///
/// The compression runs on the processor's SHA extensions when it has them (`CHarmonizeSHA`, about
/// ten times faster than the portable Swift compression kept for other processors); both are
/// checked against swift-crypto by the tests.
///
/// One instance is used by one thread at a time (it holds its scratch buffers).
final class PreparedHMAC {
    /// Whether this processor has the SHA extensions the accelerated compression uses.
    static let processorAccelerated = harmonize_sha256_accelerated() != 0
    /// Whether this instance compresses with the SHA extensions.
    let accelerated: Bool
    /// Words: inner pad state (8), outer pad state (8), working state (8), schedule (64).
    private let words: UnsafeMutablePointer<UInt32>
    private let block: UnsafeMutablePointer<UInt8>

    private static let iv: [UInt32] = [
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]
    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    private var inner: UnsafeMutablePointer<UInt32> { words }
    private var outer: UnsafeMutablePointer<UInt32> { words + 8 }
    private var state: UnsafeMutablePointer<UInt32> { words + 16 }
    private var schedule: UnsafeMutablePointer<UInt32> { words + 24 }

    /// Prepares the HMAC of `key` (any length; a key longer than a block is hashed first).
    /// `accelerated: false` keeps the portable compression (tests compare the two).
    init(key: [UInt8], accelerated: Bool = PreparedHMAC.processorAccelerated) {
        self.accelerated = accelerated && Self.processorAccelerated
        words = .allocate(capacity: 88)
        words.initialize(repeating: 0, count: 88)
        block = .allocate(capacity: 64)
        block.initialize(repeating: 0, count: 64)
        var k0 = key
        if k0.count > 64 {
            k0 = k0.withUnsafeBufferPointer { b in
                for i in 0..<8 { state[i] = Self.iv[i] }
                finish(b, consumed: 0)
                return digestBytes()
            }
        }
        k0.append(contentsOf: [UInt8](repeating: 0, count: 64 - k0.count))
        for (pad, target) in [(UInt8(0x36), inner), (UInt8(0x5c), outer)] {
            for i in 0..<64 { block[i] = k0[i] ^ pad }
            for i in 0..<8 { state[i] = Self.iv[i] }
            compress(UnsafePointer(block))
            target.update(from: state, count: 8)
        }
    }

    deinit {
        // The pad states are as good as the key: wipe them (and the scratch) before freeing.
        for i in 0..<88 { (words + i).pointee = 0 }
        for i in 0..<64 { (block + i).pointee = 0 }
        words.deallocate()
        block.deallocate()
    }

    /// Computes the HMAC of `message`; the result is read with `prefix64` or `digestBytes`.
    @inline(__always)
    func authenticate(_ message: UnsafeBufferPointer<UInt8>) {
        state.update(from: inner, count: 8)
        finish(message, consumed: 64)
        // Outer hash: the 32-byte inner digest, padded, after the outer key pad.
        writeDigest(into: block)
        block[32] = 0x80
        (block + 33).update(repeating: 0, count: 23)
        Self.putLength(UInt64(64 + 32) &* 8, into: block)
        state.update(from: outer, count: 8)
        compress(UnsafePointer(block))
    }

    /// The first 8 bytes of the last result, big-endian.
    var prefix64: UInt64 { UInt64(state[0]) &<< 32 | UInt64(state[1]) }

    /// The 32 bytes of the last result.
    func digestBytes() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { out, count in
            if let base = out.baseAddress { writeDigest(into: base) }
            count = 32
        }
    }

    /// Writes the 32 bytes of the last result (big-endian words) to `out`.
    @inline(__always)
    func writeDigest(into out: UnsafeMutablePointer<UInt8>) {
        for i in 0..<8 {
            let w = state[i]
            out[4 * i] = UInt8(truncatingIfNeeded: w &>> 24)
            out[4 * i + 1] = UInt8(truncatingIfNeeded: w &>> 16)
            out[4 * i + 2] = UInt8(truncatingIfNeeded: w &>> 8)
            out[4 * i + 3] = UInt8(truncatingIfNeeded: w)
        }
    }

    /// The 32 bytes of the last result as 64 lowercase hexadecimal digits.
    func hexDigest() -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { d in
            guard let base = d.baseAddress else { return "" }
            writeDigest(into: base)
            return Hex.string(base, count: 32)
        }
    }

    /// Hashes `message` into `state` (which already absorbed `consumed` bytes, a multiple of 64)
    /// and pads the end.
    private func finish(_ message: UnsafeBufferPointer<UInt8>, consumed: Int) {
        let n = message.count
        var p = 0
        if let base = message.baseAddress {
            while n - p >= 64 {
                compress(base + p)
                p += 64
            }
            if n > p { block.update(from: base + p, count: n - p) }
        }
        let r = n - p
        block[r] = 0x80
        if r + 1 > 56 {
            (block + r + 1).update(repeating: 0, count: 63 - r)
            compress(UnsafePointer(block))
            block.update(repeating: 0, count: 56)
        } else {
            (block + r + 1).update(repeating: 0, count: 55 - r)
        }
        Self.putLength(UInt64(consumed + n) &* 8, into: block)
        compress(UnsafePointer(block))
    }

    @inline(__always)
    private static func putLength(_ bits: UInt64, into block: UnsafeMutablePointer<UInt8>) {
        for i in 0..<8 { block[56 + i] = UInt8(truncatingIfNeeded: bits &>> UInt64(56 - 8 * i)) }
    }

    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x &>> n) | (x &<< (32 &- n)) }

    /// One SHA-256 compression of a 64-byte block into `state`.
    @inline(__always)
    private func compress(_ b: UnsafePointer<UInt8>) {
        if accelerated {
            harmonize_sha256_compress_blocks(state, b, 1)
        } else {
            compressPortable(b)
        }
    }

    /// The compression in portable Swift (FIPS 180-4, section 6.2.2).
    private func compressPortable(_ b: UnsafePointer<UInt8>) {
        let w = schedule
        for i in 0..<16 {
            w[i] = UInt32(b[4 * i]) &<< 24 | UInt32(b[4 * i + 1]) &<< 16 | UInt32(b[4 * i + 2]) &<< 8 | UInt32(b[4 * i + 3])
        }
        for i in 16..<64 {
            let x = w[i - 15]
            let y = w[i - 2]
            let s0 = Self.rotr(x, 7) ^ Self.rotr(x, 18) ^ (x &>> 3)
            let s1 = Self.rotr(y, 17) ^ Self.rotr(y, 19) ^ (y &>> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        let h0 = state
        var a = h0[0]
        var bb = h0[1]
        var c = h0[2]
        var d = h0[3]
        var e = h0[4]
        var f = h0[5]
        var g = h0[6]
        var h = h0[7]
        Self.k.withUnsafeBufferPointer { k in
            for i in 0..<64 {
                let s1 = Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = h &+ s1 &+ ch &+ k[i] &+ w[i]
                let s0 = Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)
                let maj = (a & bb) ^ (a & c) ^ (bb & c)
                let t2 = s0 &+ maj
                h = g
                g = f
                f = e
                e = d &+ t1
                d = c
                c = bb
                bb = a
                a = t1 &+ t2
            }
        }
        h0[0] &+= a
        h0[1] &+= bb
        h0[2] &+= c
        h0[3] &+= d
        h0[4] &+= e
        h0[5] &+= f
        h0[6] &+= g
        h0[7] &+= h
    }
}

@available(*, unavailable)
extension PreparedHMAC: Sendable {}
