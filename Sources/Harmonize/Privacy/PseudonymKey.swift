import CHarmonizeSHA
import Crypto
import Foundation

/// The data controller's secret key for keyed pseudonyms (HMAC-SHA-256).
///
/// The key is read from a file or an environment variable named at run time; it is never written
/// anywhere. Each purpose (person, visit, date shift…) derives its own sub-key, and a project label
/// adds a project-specific layer, so two projects' outputs cannot be linked without both keys.
public struct PseudonymKey: Sendable {
    /// Minimum key length in bytes.
    public static let minimumLength = 32
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }
    /// The project label mixed into every sub-key (empty for none).
    public let project: String

    /// A failure to obtain a usable key. Messages name the file or variable, never the key.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// The fixed, **public** key that `harmonize-run test` and `docs` run mapping tests with, so
    /// that a case can expect a pseudonym (`pseudonym_int(x, 'person')`) as a fixed number. Its
    /// bytes are published here: never use it for real data (`run` takes its key only from
    /// `--key-file` or `--key-env`).
    public static let mappingTests = PseudonymKey(fixed: Array("harmonize/mapping-tests/public-test-key/never-for-real-data".utf8))

    /// The fixed, **public** key that spreads subjects over shards when a sharded run has no key
    /// (`ShardAssignment`): stable, but anyone can compute a subject's shard.
    static let shardingWithoutKey = PseudonymKey(fixed: Array("harmonize/shards/public-key/no-run-key-given".utf8))

    /// A key from constant bytes of this file (longer than the minimum): nothing to check.
    private init(fixed bytes: [UInt8]) {
        self.keyBytes = bytes
        self.project = ""
    }

    /// Wraps raw key bytes (at least 32).
    public init(bytes: [UInt8], project: String = "") throws(Failure) {
        guard bytes.count >= Self.minimumLength else {
            throw Failure(description: "the pseudonymisation key has \(bytes.count) bytes; at least \(Self.minimumLength) are required")
        }
        self.keyBytes = bytes
        self.project = project
    }

    /// Reads the key from a file (its bytes, with one trailing line end removed).
    public static func load(file path: String, project: String = "") throws(Failure) -> PseudonymKey {
        guard var data = FileManager.default.contents(atPath: path).map(Array.init) else {
            throw Failure(description: "cannot read the key file \(path)")
        }
        if data.last == 10 { data.removeLast() }
        if data.last == 13 { data.removeLast() }
        do {
            return try PseudonymKey(bytes: data, project: project)
        } catch {
            throw Failure(description: "key file \(path): \(error.description)")
        }
    }

    /// Reads the key from an environment variable: `base64:…` and `hex:…` values are decoded,
    /// any other value is the key as raw text (its UTF-8 bytes).
    public static func load(environment name: String, project: String = "") throws(Failure) -> PseudonymKey {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw Failure(description: "the environment variable \(name) holding the key is not set")
        }
        let bytes = try environmentKeyBytes(value, name: name)
        do {
            return try PseudonymKey(bytes: bytes, project: project)
        } catch {
            throw Failure(description: "key in \(name): \(error.description)")
        }
    }

    /// The key bytes of an environment value: `base64:` (standard alphabet, padding optional) or
    /// `hex:` (two digits a byte, either case) prefixes are decoded; without a prefix, the text's
    /// UTF-8 bytes. A malformed encoded value fails (the message never shows it).
    static func environmentKeyBytes(_ value: String, name: String) throws(Failure) -> [UInt8] {
        if value.hasPrefix("base64:") {
            var text = String(value.dropFirst(7)).trimmingCharacters(in: .whitespacesAndNewlines)
            while text.utf8.count % 4 != 0 { text += "=" }
            guard let data = Data(base64Encoded: text) else {
                throw Failure(description: "the key in \(name) starts with 'base64:' but is not valid base64")
            }
            return Array(data)
        }
        if value.hasPrefix("hex:") {
            let digits = Array(value.dropFirst(4).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
            func nibble(_ c: UInt8) -> UInt8? {
                switch c {
                case 48...57: return c - 48
                case 65...70: return c - 55
                case 97...102: return c - 87
                default: return nil
                }
            }
            var out: [UInt8] = []
            var i = 0
            while i + 1 < digits.count, let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) {
                out.append(hi << 4 | lo)
                i += 2
            }
            guard i == digits.count else {
                throw Failure(description: "the key in \(name) starts with 'hex:' but is not an even number of hexadecimal digits")
            }
            return out
        }
        return Array(value.utf8)
    }

    /// The sub-key for a purpose: HMAC(key, "harmonize/v1/" + purpose + "/" + project).
    func subKey(purpose: String) -> SymmetricKey {
        let label = "harmonize/v1/\(purpose)/\(project)"
        let mac = HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: key)
        return SymmetricKey(data: Array(mac))
    }

    /// A fingerprint safe to publish in manifests: the first 16 hex digits of a keyed hash of a
    /// fixed label. It identifies which key was used without revealing it.
    public var fingerprint: String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("harmonize/v1/key-fingerprint".utf8), using: key)
        return Hex.string(Array(mac.prefix(8)))
    }
}

/// Computes keyed pseudonyms for one purpose, with a bounded per-run cache (identifiers repeat:
/// about twenty claims per beneficiary in SNDS extracts).
///
/// The cache is direct-mapped: a cheap hash of the identifier's bytes picks one slot of a flat
/// table, which holds the identifier's bytes (compared exactly: a hit is never a guess) and its
/// 32-byte digest, from which the hex pseudonym and the integer form are read. A colliding
/// identifier replaces the slot's; identifiers longer than `maxCachedBytes` are not cached. A slot
/// is one 64-byte cache line (the table is page-aligned), so a lookup reads one line: the probe of
/// a table of megabytes is a cache miss (84 % of `pseudonym`'s samples, `perf annotate`), and a
/// 72-byte slot, whose digest crossed into the next line, took two. The
/// table holds at most `cacheLimit` identifiers in `cacheLimit` × 64 bytes, whatever the number of
/// distinct identifiers in the input (a cache of `String`s held a heap copy of each identifier and
/// of each hex pseudonym: 2.6 times the memory, and peak RSS that grew with the input until the
/// cache was full). Its pages take memory only once used: a run with few identifiers pays little.
///
/// The cache is judged twice, each time on lookups made after others filled it (an
/// identifier's first lookup is a miss whatever the data): early, when not one of lookups 8,192
/// to 16,383 found its identifier, then on the second `judgedAfter` lookups, when fewer than a
/// quarter of them did. Identifiers that do not repeat (such as the key of each diagnosis of a
/// stay) would make every later lookup a cache miss into a table of megabytes for nothing (8–9 %
/// of an XML run's CPU time, `perf annotate`; with two workers, each probed its table for 131k of
/// its 150k diagnoses before it was judged): the pseudonymizer then gives the table's pages back
/// to the system and computes pseudonyms, except for a sample of the identifiers (one in 16, by
/// their hash) kept in a sixteenth of the table, which measures whether identifiers start to
/// repeat: when a quarter of 4,096 sampled lookups are hits, the whole cache is used again. The
/// pseudonyms are the same either way. (The claims benchmark's beneficiaries: 51 % of hits in
/// the first window, 84 % in the second.)
///
/// Values are normalised before hashing (surrounding spaces trimmed, letters upper-cased), so that
/// ` ab12 ` and `AB12` give the same pseudonym.
package final class Pseudonymizer {
    private let hmac: PreparedHMAC
    /// `mask + 1` slots of `slotBytes`: the key's length + 1 (0: empty slot), the key's bytes,
    /// then the digest at `digestOffset`. Mapped from the system (`mmap`): its pages are zero and
    /// take memory only once a slot in them is used, and go back to the system on `deinit`.
    private let table: UnsafeMutablePointer<UInt8>
    private let mask: Int
    /// Whether `table` is a mapping (else the one-slot fallback).
    private let mapped: Bool
    /// The 4 KiB blocks of `table` written so far, one bit each. A slot in a block never written
    /// is empty, and is not read: reading a page of a fresh mapping maps the shared zero page,
    /// and the first write then replaces it, a copy-on-write fault that flushes the page from
    /// every core the run's threads are on (an interprocessor interrupt each: 10 % of a worker's
    /// samples on 20k ORU messages, `perf`). Written first, a page is allocated without one.
    private let written: UnsafeMutablePointer<UInt64>
    private static let blockShift = 12
    private static let slotBytes = 64
    private static let digestOffset = 32
    /// The longest identifier (in UTF-8 bytes) the cache holds (SNDS and hospital identifiers
    /// are 13 to 20 bytes long).
    static let maxCachedBytes = 31
    /// Lookups that fill the cache, then lookups after which it is judged (kept when a quarter
    /// of these or more were hits).
    static let judgedAfter = 1 << 16
    /// Lookups that fill the cache before its early judgement, which is made after as many more
    /// (given up when none of these was a hit).
    static let earlyFill = 1 << 13
    /// Sampled lookups after which a cache given up is judged again (used again when a quarter of
    /// them or more were hits).
    static let sampleWindow = 1 << 12
    // The counters and the judgement below are read and written on every pseudonym, by the one
    // thread that owns this pseudonymizer (each worker has its own), never while another access
    // to them is open: the dynamic exclusivity checks of these class properties (a
    // `swift_beginAccess` per pseudonym and per prefetch, about 60 instructions each) are off.
    /// Cache lookups since the cache was last used whole, the hits counted from `countFrom` on,
    /// and the lookup at which it is next judged.
    @exclusivity(unchecked) private var lookups = 0
    @exclusivity(unchecked) private var hits = 0
    @exclusivity(unchecked) private var countFrom = Pseudonymizer.earlyFill
    @exclusivity(unchecked) private var nextJudgement = 2 * Pseudonymizer.earlyFill
    /// Sampled lookups and their hits while the cache is given up.
    @exclusivity(unchecked) private var sampledLookups = 0
    @exclusivity(unchecked) private var sampledHits = 0
    /// Whether the cache was judged useless: pseudonyms are computed every time, except for the
    /// sample of identifiers that measures whether they start to repeat.
    @exclusivity(unchecked) package private(set) var bypassesCache = false

    /// Creates a pseudonymizer for `purpose`; the cache holds at most `cacheLimit` identifiers
    /// (rounded down to a power of two).
    public init(key: PseudonymKey, purpose: String, cacheLimit: Int = 1 << 17) {
        self.hmac = PreparedHMAC(key: key.subKey(purpose: purpose).withUnsafeBytes { Array($0) })
        var n = 1
        while n * 2 <= max(1, cacheLimit) { n *= 2 }
        let p = mmap(nil, n * Self.slotBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if let p, p != MAP_FAILED {
            table = p.assumingMemoryBound(to: UInt8.self)
            mask = n - 1
            mapped = true
        } else {
            // No mapping to be had: a cache of one slot (pseudonyms computed nearly every time).
            table = .allocate(capacity: Self.slotBytes)
            table.initialize(repeating: 0, count: Self.slotBytes)
            mask = 0
            mapped = false
        }
        let blocks = ((mask + 1) * Self.slotBytes + (1 << Self.blockShift) - 1) >> Self.blockShift
        let words = (blocks + 63) / 64
        written = .allocate(capacity: words)
        // The one-slot fallback was written (with zeros) already.
        written.initialize(repeating: mapped ? 0 : ~0, count: words)
    }

    deinit {
        if mapped {
            munmap(table, (mask + 1) * Self.slotBytes)
        } else {
            table.deallocate()
        }
        written.deallocate()
    }

    /// Whether the block of `slot` was written (else the slot is empty, and not to be read).
    @inline(__always)
    private func isWritten(_ slot: UnsafeMutablePointer<UInt8>) -> Bool {
        let block = (slot - table) >> Self.blockShift
        return written[block >> 6] & (1 << UInt64(block & 63)) != 0
    }

    /// Notes that the block of `slot` is written (called before writing to it).
    @inline(__always)
    private func noteWritten(_ slot: UnsafeMutablePointer<UInt8>) {
        let block = (slot - table) >> Self.blockShift
        written[block >> 6] |= 1 << UInt64(block & 63)
    }

    /// The table's number of slots.
    var tableSlots: Int { mask + 1 }

    /// The digest of the identifier whose UTF-8 bytes are `u` in its cache slot, computed and
    /// stored on a miss; nil when the identifier is not cached (too long, or the cache given up
    /// and the identifier not in its sample): then `hmac` holds its HMAC.
    @inline(__always)
    private func digest(_ u: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<UInt8>? {
        if bypassesCache { return sampledDigest(u) }
        if lookups == nextJudgement {
            // Judged before this lookup (the previous one's digest was read from the table).
            judgeCache()
            if bypassesCache { return sampledDigest(u) }
        }
        guard let probe = probe(u, sampled: false) else {
            authenticate(u)
            return nil
        }
        if probe.hit {
            if lookups >= countFrom { hits += 1 }
        } else {
            store(u, in: probe.slot)
        }
        lookups += 1
        return probe.slot + Self.digestOffset
    }

    /// `digest` while the cache is given up: an identifier of the sample is looked up in the
    /// table's first sixteenth; the others are computed. Every `sampleWindow` sampled lookups,
    /// the cache is used whole again when a quarter of them were hits.
    private func sampledDigest(_ u: UnsafeBufferPointer<UInt8>) -> UnsafeMutablePointer<UInt8>? {
        guard let probe = probe(u, sampled: true) else {
            authenticate(u)
            return nil
        }
        if probe.hit {
            sampledHits += 1
        } else {
            store(u, in: probe.slot)
        }
        sampledLookups += 1
        if sampledLookups == Self.sampleWindow {
            if sampledHits * 4 >= Self.sampleWindow {
                // Identifiers repeat again: the whole cache, judged anew (the sample's slots
                // hold exact identifiers and digests, and are replaced as others come).
                bypassesCache = false
                (lookups, hits, countFrom, nextJudgement) = (0, 0, Self.earlyFill, 2 * Self.earlyFill)
            }
            (sampledLookups, sampledHits) = (0, 0)
        }
        return probe.slot + Self.digestOffset
    }

    /// Computes the digest of the identifier `u` (a miss) into `slot`, which holds its bytes
    /// already, and marks the slot used.
    @inline(__always)
    private func store(_ u: UnsafeBufferPointer<UInt8>, in slot: UnsafeMutablePointer<UInt8>) {
        authenticate(u)
        hmac.writeDigest(into: slot + Self.digestOffset)
        slot[0] = UInt8(u.count + 1)
    }

    /// The slot of the identifier `u`, and whether it holds it already; a slot that does not
    /// takes the identifier's bytes (marked used once its digest is in). Nil when the identifier
    /// is too long to be cached, or (`sampled`) not in the sample.
    @inline(__always)
    private func probe(_ u: UnsafeBufferPointer<UInt8>, sampled: Bool) -> (slot: UnsafeMutablePointer<UInt8>, hit: Bool)? {
        let n = u.count
        guard n <= Self.maxCachedBytes else { return nil }
        let h = Self.hash(u)
        let slot: UnsafeMutablePointer<UInt8>
        if sampled {
            // One identifier in 16, by the hash's top bits (the slot is chosen by its low ones).
            guard h >> 60 == 0 else { return nil }
            slot = self.slot(h, mask: mask >> 4)
        } else {
            slot = self.slot(h, mask: mask)
        }
        guard isWritten(slot) else {
            // An empty slot of a block never written: a miss, without reading it.
            noteWritten(slot)
            if let base = u.baseAddress, n > 0 { (slot + 1).update(from: base, count: n) }
            return (slot, false)
        }
        guard let base = u.baseAddress, n > 0 else { return (slot, Int(slot[0]) == n + 1) }
        if Int(slot[0]) == n + 1 && memcmp(slot + 1, base, n) == 0 { return (slot, true) }
        slot[0] = 0
        (slot + 1).update(from: base, count: n)
        return (slot, false)
    }

    /// The hash of an identifier's bytes: eight bytes at a time, each word mixed in with a
    /// multiplication, then splitmix64's finaliser (the sample is chosen by the top bits, the
    /// slot by the low ones). FNV-1a took a dependent multiplication per byte: a diagnosis's
    /// 24-byte key cost more to hash than to look up (`perf`, 400k stays).
    @inline(__always)
    static func hash(_ u: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let n = u.count
        var h: UInt64 = 0x9e37_79b9_7f4a_7c15 ^ UInt64(truncatingIfNeeded: n)
        guard let base = u.baseAddress else { return h }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= n {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xbf58_476d_1ce4_e5b9
            h ^= h >> 31
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(base[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x94d0_49bb_1331_11eb
        h ^= h >> 30
        h &*= 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27
        h &*= 0x94d0_49bb_1331_11eb
        return h ^ (h >> 31)
    }

    /// The cache slot of a hash among the first `mask + 1` slots.
    @inline(__always)
    private func slot(_ h: UInt64, mask: Int) -> UnsafeMutablePointer<UInt8> {
        table + (Int(truncatingIfNeeded: h ^ (h >> 31)) & mask) * Self.slotBytes
    }

    /// Brings the cache slot of `identifier` into the processor's cache without waiting: called
    /// when the field it is read from is decoded, a few hundred nanoseconds before its pseudonym
    /// is asked for (the probe of a table of megabytes was a cache miss: 84 % of `pseudonym`'s
    /// samples, `perf annotate`). Changes nothing else; nothing while the cache is given up.
    func prefetch(_ identifier: String) {
        identifier.withUTF8Bytes { prefetch(utf8: $0) }
    }

    /// `prefetch(_:)` of the identifier whose UTF-8 text is `u`.
    func prefetch(utf8 u: UnsafeBufferPointer<UInt8>) {
        guard !bypassesCache, u.count <= Self.maxCachedBytes else { return }
        let slot = slot(Self.hash(u), mask: mask)
        // A block never written holds no identifier (and is not to be read: `written`).
        if isWritten(slot) { harmonize_prefetch(slot) }
    }

    /// The early judgement gives the cache up when none of its lookups from `earlyFill` on was
    /// a hit, and otherwise schedules the second; the second gives it up when fewer than a
    /// quarter of the lookups after the first `judgedAfter` were hits.
    private func judgeCache() {
        let givesUp: Bool
        if nextJudgement == 2 * Self.earlyFill {
            givesUp = hits == 0
            (hits, countFrom, nextJudgement) = (0, Self.judgedAfter, 2 * Self.judgedAfter)
        } else {
            givesUp = hits * 4 < Self.judgedAfter
            nextJudgement = Int.max
        }
        guard givesUp, mapped else { return }
        bypassesCache = true
        (sampledLookups, sampledHits) = (0, 0)
        // The pages go back to the system (they read as zeros again, so no block is written).
        _ = madvise(table, (mask + 1) * Self.slotBytes, MADV_DONTNEED)
        let blocks = ((mask + 1) * Self.slotBytes + (1 << Self.blockShift) - 1) >> Self.blockShift
        written.update(repeating: 0, count: (blocks + 63) / 64)
    }

    /// The canonical form hashed: trimmed, upper-cased.
    public static func normalize(_ s: String) -> String {
        s.trimmingSpaces().uppercased()
    }

    /// The pseudonym of `identifier` as 64 lowercase hex digits.
    public func pseudonym(_ identifier: String) -> String {
        identifier.withUTF8Bytes { pseudonym(utf8: $0) }
    }

    /// The pseudonym of the identifier whose UTF-8 text is `u` (what `pseudonym(_:)` gives for
    /// that text), as 64 lowercase hex digits.
    public func pseudonym(utf8 u: UnsafeBufferPointer<UInt8>) -> String {
        if let d = digest(u) { return Hex.string(d, count: 32) }
        return hmac.hexDigest()
    }

    /// A non-negative 63-bit integer derived from the pseudonym (for integer ids such as `person_id`).
    public func integer(_ identifier: String) -> Int {
        identifier.withUTF8Bytes { integer(utf8: $0) }
    }

    /// `integer(_:)` of the identifier whose UTF-8 text is `u`.
    public func integer(utf8 u: UnsafeBufferPointer<UInt8>) -> Int {
        guard let d = digest(u) else { return Int(hmac.prefix64 & 0x7FFF_FFFF_FFFF_FFFF) }
        var v: UInt64 = 0
        for k in 0..<8 { v = v << 8 | UInt64(d[k]) }
        return Int(v & 0x7FFF_FFFF_FFFF_FFFF)
    }

    /// HMACs the normalised identifier `u` (result in `hmac`). ASCII text with nothing to trim
    /// is upper-cased byte by byte (what `normalize` gives for it) without building a `String`.
    private func authenticate(_ u: UnsafeBufferPointer<UInt8>) {
        let n = u.count
        asText: if n > 0, n <= 256, Self.untrimmed(u[0]), Self.untrimmed(u[n - 1]) {
            var lower = false
            for b in u {
                if b >= 0x80 { break asText }
                if b >= 97 && b <= 122 { lower = true }
            }
            guard lower else {
                hmac.authenticate(u)
                return
            }
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { t in
                for k in 0..<n {
                    let b = u[k]
                    t[k] = b >= 97 && b <= 122 ? b - 32 : b
                }
                hmac.authenticate(UnsafeBufferPointer(t))
            }
            return
        }
        var normalized = Self.normalize(String(decoding: u, as: UTF8.self))
        normalized.withUTF8 { hmac.authenticate($0) }
    }

    /// Whether an edge byte is kept by `trimmingSpaces` (not a space, tab, LF or CR).
    @inline(__always)
    private static func untrimmed(_ b: UInt8) -> Bool { b != 32 && b != 9 && b != 10 && b != 13 }
}

@available(*, unavailable)
extension Pseudonymizer: Sendable {}
