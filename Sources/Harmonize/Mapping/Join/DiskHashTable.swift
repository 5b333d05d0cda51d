import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An I/O failure of the temporary file of a join index or a lookup table (never names a key or
/// a value).
struct JoinIndexError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }

    /// Runs `body` inside a non-throwing closure (the buffer-pointer methods rethrow untyped).
    @inline(__always)
    static func capture<T>(_ body: () throws(JoinIndexError) -> T) -> Result<T, JoinIndexError> {
        do { return .success(try body()) } catch { return .failure(error) }
    }
}

/// The on-disk part of a join index: a static hash table in one temporary file, built once, then
/// read with `pread` through the operating system's page cache (so it does not count in the
/// process's memory).
///
/// Loading appends entries to 256 partitions (by the top byte of the key's hash), each through a
/// small buffer written to the file in chunks. `finish` then builds each partition's open-addressing
/// table in memory, one partition at a time (16 bytes per entry of that partition at most), and
/// appends it to the file: memory stays at the buffers (4 MiB) plus one partition's table,
/// whatever the number of rows. A lookup reads a few slots and then the entry: two `pread`s in
/// the common case. The design is that of D. J. Bernstein's constant database (cdb), with 64-bit
/// offsets.
///
/// Entry: `[hash u64 LE][key length varint][payload length varint][key][payload]`. Slot (u64):
/// bits 0–46 the entry's offset + 1 (0 = empty), bit 47 "ambiguous" (the key is on several
/// rows), bits 48–63 a fingerprint of the hash (bits 40–55), so that a slot of another key is
/// skipped without reading its entry.
///
/// The file is unlinked as soon as it is created: it disappears when the index closes, or when
/// the process ends in any way.
final class DiskHashTable {
    static let partitionCount = 256
    static let bufferSize = 16 << 10
    /// Memory the partition buffers take while loading.
    static let bufferBytes = partitionCount * bufferSize
    private static let offsetMask: UInt64 = (1 << 47) - 1
    private static let ambiguousBit: UInt64 = 1 << 47

    /// The open, unlinked file (internal: tests damage it to check that a read error stops the run).
    let fd: Int32
    /// What the file holds, in messages: `join index` or `lookup table`.
    private let label: String
    private var fileEnd = 0
    private var buffers: [[UInt8]]
    private var chunks: [[(offset: Int, length: Int)]]
    private var partitionEntries: [Int]
    /// Each partition's table: file offset and mask (-1: empty partition).
    private var tables: [(offset: Int, mask: Int)] = []
    /// The buffers of lookups made without buffers of their own, and of `finish`.
    private let ownBuffers = ReadBuffers()
    /// Entries appended.
    private(set) var entries = 0
    /// Distinct keys in the table (after `finish`), not counting keys the caller said it holds.
    private(set) var distinctKeys = 0
    /// Keys found on more than one row of the table (after `finish`).
    private(set) var ambiguousKeys = 0

    /// Creates the (already unlinked) temporary file in `directory`, named `PREFIX-PID-RANDOM.idx`
    /// (`harmonize-join` or `harmonize-lookup`) for the instant it exists; `label` names what it
    /// holds in messages.
    init(directory: String, prefix: String = "harmonize-join", label: String = "join index") throws(JoinIndexError) {
        guard let fd = FileOps.unlinkedTemporaryFile(in: directory, prefix: prefix, suffix: "idx") else {
            throw Self.error("cannot create an on-disk \(label) in \(directory.isEmpty ? "." : directory)")
        }
        self.fd = fd
        self.label = label
        buffers = Array(repeating: [], count: Self.partitionCount)
        chunks = Array(repeating: [], count: Self.partitionCount)
        partitionEntries = Array(repeating: 0, count: Self.partitionCount)
    }

    deinit { close(fd) }

    private static func error(_ what: String) -> JoinIndexError {
        JoinIndexError(message: "\(what): \(String(cString: strerror(errno)))")
    }

    @inline(__always)
    private static func varintLength(_ v: Int) -> Int {
        var n = 1
        var v = v >> 7
        while v > 0 {
            n += 1
            v >>= 7
        }
        return n
    }

    /// Appends an entry (loading phase).
    func append(hash: UInt64, key: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) throws(JoinIndexError) {
        let p = Int(hash >> 56)
        let size = 8 + Self.varintLength(key.count) + Self.varintLength(payload.count) + key.count + payload.count
        if !buffers[p].isEmpty && buffers[p].count + size > Self.bufferSize { try flush(p) }
        if buffers[p].capacity == 0 { buffers[p].reserveCapacity(Self.bufferSize) }
        var le = hash.littleEndian
        withUnsafeBytes(of: &le) { buffers[p].append(contentsOf: $0) }
        ValueCodec.appendVarint(UInt64(key.count), &buffers[p])
        ValueCodec.appendVarint(UInt64(payload.count), &buffers[p])
        buffers[p].append(contentsOf: key)
        buffers[p].append(contentsOf: payload)
        partitionEntries[p] += 1
        entries += 1
        if buffers[p].count >= Self.bufferSize { try flush(p) }
    }

    private func flush(_ p: Int) throws(JoinIndexError) {
        guard !buffers[p].isEmpty else { return }
        let at = fileEnd
        try buffers[p].withUnsafeBytes { b in JoinIndexError.capture { () throws(JoinIndexError) in try writeAll(b, at: at) } }.get()
        chunks[p].append((fileEnd, buffers[p].count))
        fileEnd += buffers[p].count
        buffers[p].removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(JoinIndexError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.error("cannot write the on-disk \(label)")
            }
            done += n
        }
    }

    /// Reads up to `count` bytes at `offset` into `buffer` (grown as needed); returns the bytes read.
    private func read(_ count: Int, at offset: Int, into buffer: inout [UInt8]) throws(JoinIndexError) -> Int {
        if buffer.count < count { buffer = [UInt8](repeating: 0, count: count) }
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.error("cannot read the on-disk \(label)")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    @inline(__always)
    private static func fingerprint(_ hash: UInt64) -> UInt64 { (hash >> 40) & 0xFFFF }

    /// Parses the entry at the start of `b`: hash, key range, payload range; nil when cut short.
    @inline(__always)
    private static func parse(_ b: UnsafeRawBufferPointer, from start: Int) -> (hash: UInt64, key: Range<Int>, payload: Range<Int>)? {
        guard start + 8 <= b.count else { return nil }
        let h = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: start, as: UInt64.self))
        var p = start + 8
        guard let k = ValueCodec.readVarint(b, &p), let n = ValueCodec.readVarint(b, &p) else { return nil }
        let key = p..<(p + Int(k))
        let payload = key.upperBound..<(key.upperBound + Int(n))
        return (h, key, payload)
    }

    /// Reads the entry at `offset` into `buffers.entry`; returns its parts (ranges in it).
    private func entry(at offset: Int, _ buffers: ReadBuffers) throws(JoinIndexError) -> (hash: UInt64, key: Range<Int>, payload: Range<Int>) {
        var got = try read(256, at: offset, into: &buffers.entry)
        var parts = buffers.entry.withUnsafeBytes { Self.parse(UnsafeRawBufferPointer(rebasing: $0[0..<got]), from: 0) }
        if let e = parts, e.payload.upperBound > got {
            got = try read(e.payload.upperBound, at: offset, into: &buffers.entry)
            parts = buffers.entry.withUnsafeBytes { Self.parse(UnsafeRawBufferPointer(rebasing: $0[0..<got]), from: 0) }
        }
        guard let e = parts, e.payload.upperBound <= got else {
            throw JoinIndexError(message: "the on-disk \(label) is damaged (entry at byte \(offset))")
        }
        return e
    }

    /// Ends loading: builds every partition's table. `held(hash, key)` says whether the caller
    /// holds the key already (in memory): such entries are left out of the table (the caller
    /// marks its own entry ambiguous, or keeps it). A key appended twice is marked ambiguous,
    /// or, with `keepsFirst` (lookup tables: the first row wins), keeps its first entry.
    func finish(keepsFirst: Bool = false, held: (UInt64, UnsafeRawBufferPointer) -> Bool) throws(JoinIndexError) {
        for p in 0..<Self.partitionCount { try flush(p) }
        buffers = []
        tables = []
        tables.reserveCapacity(Self.partitionCount)
        var chunk: [UInt8] = []
        for p in 0..<Self.partitionCount {
            let n = partitionEntries[p]
            guard n > 0 else {
                tables.append((0, -1))
                continue
            }
            var capacity = 8
            while capacity < 2 * n { capacity <<= 1 }
            let mask = capacity - 1
            var table = [UInt64](repeating: 0, count: capacity)
            for c in chunks[p] {
                let got = try read(c.length, at: c.offset, into: &chunk)
                guard got == c.length else { throw JoinIndexError(message: "the on-disk \(label) is cut short") }
                var at = 0
                while at < c.length {
                    let parsed = chunk.withUnsafeBytes { Self.parse(UnsafeRawBufferPointer(rebasing: $0[0..<c.length]), from: at) }
                    guard let e = parsed, e.payload.upperBound <= c.length else {
                        throw JoinIndexError(message: "the on-disk \(label) is damaged (chunk at byte \(c.offset))")
                    }
                    let entryOffset = c.offset + at
                    at = e.payload.upperBound
                    let isHeld = chunk.withUnsafeBytes { held(e.hash, UnsafeRawBufferPointer(rebasing: $0[e.key])) }
                    if isHeld { continue }
                    let fp = Self.fingerprint(e.hash)
                    var i = Int(truncatingIfNeeded: e.hash) & mask
                    while true {
                        let s = table[i]
                        if s == 0 {
                            table[i] = UInt64(entryOffset + 1) | (fp << 48)
                            distinctKeys += 1
                            break
                        }
                        if s >> 48 == fp {
                            // Compare with the earlier entry's key (read back: rare, a true duplicate or a fingerprint collision).
                            let key = Array(chunk[e.key])
                            let other = try entry(at: Int(s & Self.offsetMask) - 1, ownBuffers)
                            let same = other.hash == e.hash && ownBuffers.entry[other.key].elementsEqual(key)
                            if same {
                                // Entries of a partition are read in the order they were appended.
                                if !keepsFirst && s & Self.ambiguousBit == 0 {
                                    table[i] = s | Self.ambiguousBit
                                    ambiguousKeys += 1
                                }
                                break
                            }
                        }
                        i = (i + 1) & mask
                    }
                }
            }
            tables.append((fileEnd, mask))
            let at = fileEnd
            try table.withUnsafeBytes { b in JoinIndexError.capture { () throws(JoinIndexError) in try writeAll(b, at: at) } }.get()
            fileEnd += capacity * 8
        }
        chunks = []
    }

    /// The buffers one thread reads the table with: lookups on several threads at once each
    /// pass their own (the file is read with `pread`, which shares no position; the tables
    /// are not written after `finish`).
    final class ReadBuffers {
        var entry = [UInt8](repeating: 0, count: 256)
        var slots = [UInt64](repeating: 0, count: 8)
    }

    /// Looks a key up (after `finish`) with `buffers` (the table's own when nil); on a hit,
    /// `body` receives the payload bytes.
    func lookup(
        hash: UInt64, key: UnsafeRawBufferPointer, buffers: ReadBuffers? = nil, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws(JoinIndexError) -> SpillingIndex.Found {
        let buffers = buffers ?? ownBuffers
        guard tables.count == Self.partitionCount else { return .miss }
        let t = tables[Int(hash >> 56)]
        guard t.mask >= 0 else { return .miss }
        let fp = Self.fingerprint(hash)
        var i = Int(truncatingIfNeeded: hash) & t.mask
        while true {
            // Read up to eight slots from i, not past the end of the table.
            let run = min(8, t.mask + 1 - i)
            var got = 0
            while got < run * 8 {
                let n = buffers.slots.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, run * 8 - got, off_t(t.offset + i * 8 + got)) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Self.error("cannot read the on-disk \(label)")
                }
                if n == 0 { throw JoinIndexError(message: "the on-disk \(label) is cut short") }
                got += n
            }
            for j in 0..<run {
                let s = UInt64(littleEndian: buffers.slots[j])
                if s == 0 { return .miss }
                guard s >> 48 == fp else { continue }
                let e = try entry(at: Int(s & Self.offsetMask) - 1, buffers)
                let same =
                    e.hash == hash
                    && buffers.entry.withUnsafeBytes { b in
                        e.key.count == key.count && (key.count == 0 || memcmp(b.baseAddress! + e.key.lowerBound, key.baseAddress!, key.count) == 0)
                    }
                guard same else { continue }
                if s & Self.ambiguousBit != 0 { return .ambiguous }
                buffers.entry.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[e.payload])) }
                return .payload
            }
            i = (i + run) & t.mask
        }
    }
}

@available(*, unavailable)
extension DiskHashTable: Sendable {}
