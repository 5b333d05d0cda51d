import Foundation

/// A map from key bytes to payload bytes, built once and then read: the joined side of a join.
///
/// Entries live in one byte arena with an open-addressing table of offsets, so a million rows
/// cost their bytes plus a few words each, not a million Swift objects. The arena's capacity is
/// reserved in two steps (a megabyte, then the whole room: untouched pages cost no memory), so
/// it is copied once at most. When the arena and
/// table would outgrow `budget` bytes, later rows go to an on-disk hash table (`DiskHashTable`,
/// a temporary file read through the page cache) while the rows already in memory stay there: a
/// lookup tries memory, then disk. The run keeps streaming with the index's memory bounded by
/// the budget, whatever the joined file's size.
///
/// A key inserted twice is marked ambiguous: lookups report it instead of choosing a row. With
/// `keepsFirst` (a mapping's lookup tables), the first row of a key wins instead, as it always has
/// for lookups.
final class SpillingIndex {
    /// What a lookup found.
    enum Found {
        case miss
        case ambiguous
        case payload
    }

    /// The memory budget in bytes.
    let budget: Int
    /// What the arena and its table may take: the budget less the disk table's buffers.
    private let memoryLimit: Int
    private let spillDirectory: String
    private let keepsFirst: Bool
    private let filePrefix: String
    private let label: String
    // Arena entries: [flags u8][key length varint][payload length varint][key][payload].
    // Probed for every joined record: the dynamic exclusivity checks of these class properties
    // cost more than the probe. They are only written by `insert` and `grow`, which run on the
    // index's one thread and never while a probe reads them.
    //
    // The arena is raw memory, not an `Array`: the workers of a parallel pass probe one index
    // at once, and reading an array's bytes in a closure retained and released its storage on
    // every hit, an atomic write to the one cache line (the storage's header) that every
    // worker's probe then read: that line went from core to core, and `lookup` was 8–10 % of a
    // worker's samples on the claims' lookup table (`perf annotate`: the stall on the header's
    // load). Raw bytes are read without a reference count.
    @exclusivity(unchecked) private var arenaBase: UnsafeMutableRawPointer?
    @exclusivity(unchecked) private var arenaCount = 0
    private var arenaCapacity = 0
    // One word per slot: the high 32 bits of the key's hash (its tag) over the entry's offset + 1
    // (0: an empty slot; the arena stays under 4 GiB). The tag gives the slot a key starts
    // probing from; a probe reads a key in the arena only when the tags are equal, and growing
    // the table places the entries by their tags without reading the arena.
    @exclusivity(unchecked) private var slots: [UInt64] = []
    @exclusivity(unchecked) private var mask = 0
    private var memoryCount = 0
    private var memoryAmbiguous = 0
    private var disk: DiskHashTable?
    /// Distinct keys (complete after `finishLoading`).
    var count: Int { memoryCount + (disk?.distinctKeys ?? 0) }
    /// Keys seen more than once (complete after `finishLoading`).
    var ambiguousKeys: Int { memoryAmbiguous + (disk?.ambiguousKeys ?? 0) }
    /// Whether part of the index moved to disk.
    var isSpilled: Bool { disk != nil }
    /// Bytes the index holds in memory once loaded: the arena's entries and the table of offsets
    /// (the on-disk part's loading buffers are freed by `finishLoading`).
    var memoryBytes: Int { arenaCount + slots.count * MemoryLayout<UInt64>.stride }
    /// The on-disk part, if any (internal: tests damage its file).
    var diskTable: DiskHashTable? { disk }

    /// Creates an empty index; `spillDirectory` receives the on-disk part if it is needed (a
    /// file named `filePrefix-…`, `label` in messages).
    init(budget: Int, spillDirectory: String, keepsFirst: Bool = false, filePrefix: String = "harmonize-join", label: String = "join index") {
        self.budget = max(0, budget)
        self.memoryLimit = min(max(0, budget - DiskHashTable.bufferBytes), Int(UInt32.max) - 1)
        self.spillDirectory = spillDirectory
        self.keepsFirst = keepsFirst
        self.filePrefix = filePrefix
        self.label = label
    }

    deinit { close() }

    /// A fast 64-bit hash of the key: eight bytes at a time, multiply and fold, then a final mix
    /// so that the low bits (the slot) depend on every byte.
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        var i = 0
        while i + 8 <= key.count {
            let w = key.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < key.count {
            tail |= UInt64(key[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 32
        h = h &* 0xD6E8_FEB8_6659_FD93
        h ^= h >> 32
        return h
    }

    /// The parts of the entry at `offset`: where its key and payload start and their lengths.
    @inline(__always)
    private static func entry(_ a: UnsafeRawBufferPointer, _ offset: Int) -> (key: Int, keyLength: Int, payload: Int, payloadLength: Int) {
        var p = offset + 1
        let k = Int(ValueCodec.readVarint(a, &p) ?? 0)
        let n = Int(ValueCodec.readVarint(a, &p) ?? 0)
        return (p, k, p + k, n)
    }

    /// The arena's bytes (valid until the next insertion).
    @inline(__always)
    private var arena: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: arenaBase, count: arenaCount) }

    /// The flags byte of the entry at `offset` (1: its key is ambiguous).
    @inline(__always)
    private func flags(_ offset: Int) -> UInt8 { arena[offset] }

    private func keyEquals(_ offset: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        let a = arena
        let e = Self.entry(a, offset)
        guard e.keyLength == key.count else { return false }
        guard key.count > 0, let base = a.baseAddress, let k = key.baseAddress else { return key.count == 0 }
        return memcmp(base + e.key, k, key.count) == 0
    }

    /// Marks the entry at `offset` ambiguous (its key inserted again), counting it once.
    private func markAmbiguous(_ offset: Int) {
        guard let base = arenaBase, offset < arenaCount else { return }
        if flags(offset) == 0 { memoryAmbiguous += 1 }
        base.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self)
    }

    /// Makes room for `capacity` bytes in the arena (a new allocation, the entries copied).
    private func reserveArena(_ capacity: Int) {
        guard capacity > arenaCapacity else { return }
        let b = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        if let old = arenaBase {
            if arenaCount > 0 { b.copyMemory(from: old, byteCount: arenaCount) }
            old.deallocate()
        }
        arenaBase = b
        arenaCapacity = capacity
    }

    /// Appends an entry's bytes to the arena, which has room for them (`reserveArena`).
    @inline(__always)
    private func appendToArena(_ byte: UInt8) {
        guard let base = arenaBase else { return }
        base.storeBytes(of: byte, toByteOffset: arenaCount, as: UInt8.self)
        arenaCount += 1
    }

    private func appendToArena(varint v: UInt64) {
        guard let base = arenaBase else { return }
        arenaCount += ValueCodec.writeVarint(v, to: base + arenaCount)
    }

    private func appendToArena(_ bytes: UnsafeRawBufferPointer) {
        guard let base = arenaBase, let from = bytes.baseAddress, bytes.count > 0 else { return }
        (base + arenaCount).copyMemory(from: from, byteCount: bytes.count)
        arenaCount += bytes.count
    }

    /// The arena offset of the entry in slot word `s` (not 0).
    @inline(__always)
    private static func offset(_ s: UInt64) -> Int { Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1 }

    /// Finds the slot of `key`, or the empty slot where it would go.
    @inline(__always)
    private func probe(_ key: UnsafeRawBufferPointer, hash: UInt64) -> Int {
        let tag = hash >> 32
        var i = Int(truncatingIfNeeded: tag) & mask
        while true {
            let s = slots[i]
            if s == 0 || (s >> 32 == tag && keyEquals(Self.offset(s), key)) { return i }
            i = (i + 1) & mask
        }
    }

    private func grow() {
        let newCapacity = max(1024, slots.count * 2)
        let old = slots
        slots = [UInt64](repeating: 0, count: newCapacity)
        let mask = newCapacity - 1
        self.mask = mask
        // The keys are distinct: each entry takes the first empty slot from its tag's.
        slots.withUnsafeMutableBufferPointer { table in
            for s in old where s != 0 {
                var i = Int(truncatingIfNeeded: s >> 32) & mask
                while table[i] != 0 { i = (i + 1) & mask }
                table[i] = s
            }
        }
    }

    /// Adds a row. A key already present is marked ambiguous (its first payload stays).
    func insert(key: [UInt8], payload: [UInt8]) throws(JoinIndexError) {
        try key.withUnsafeBytes { k in
            payload.withUnsafeBytes { p in JoinIndexError.capture { () throws(JoinIndexError) in try insert(key: k, payload: p) } }
        }.get()
    }

    /// Adds a row from raw bytes (as `insert(key:payload:)`).
    func insert(key: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) throws(JoinIndexError) {
        let h = Self.hash(key)
        if let disk {
            try disk.append(hash: h, key: key, payload: payload)
            return
        }
        let slotBytes = slots.count * MemoryLayout<UInt64>.stride
        if (memoryCount + 1) * 2 > slots.count {
            // The old and the new table coexist while rehashing: both count against the budget.
            let newSlots = max(1024, slots.count * 2)
            if arena.count + slotBytes + newSlots * MemoryLayout<UInt64>.stride > memoryLimit {
                try spill(hash: h, key: key, payload: payload)
                return
            }
            grow()
        }
        let i = probe(key, hash: h)
        if slots[i] != 0 {
            if keepsFirst { return }
            markAmbiguous(Self.offset(slots[i]))
            return
        }
        let needed = arenaCount + 21 + key.count + payload.count
        let room = memoryLimit - slots.count * MemoryLayout<UInt64>.stride
        if needed > room {
            try spill(hash: h, key: key, payload: payload)
            return
        }
        if needed > arenaCapacity {
            // A first megabyte, then the whole room at once: reserved, not touched, so it costs
            // memory only as it fills, and the arena is copied once at most.
            reserveArena(needed <= 1 << 20 && arenaCapacity < 1 << 20 ? min(1 << 20, room) : room)
        }
        let off = arenaCount
        appendToArena(0)
        appendToArena(varint: UInt64(key.count))
        appendToArena(varint: UInt64(payload.count))
        appendToArena(key)
        appendToArena(payload)
        slots[i] = (h >> 32) << 32 | UInt64(off + 1)
        memoryCount += 1
    }

    /// Starts the on-disk part with this row; the rows in memory stay there.
    private func spill(hash: UInt64, key: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) throws(JoinIndexError) {
        let d = try DiskHashTable(directory: spillDirectory, prefix: filePrefix, label: label)
        disk = d
        try d.append(hash: hash, key: key, payload: payload)
    }

    /// Ends loading: builds the on-disk table, if any, and marks the keys found both in memory
    /// and on disk ambiguous (with `keepsFirst`, the entry in memory, inserted first, stays).
    func finishLoading() throws(JoinIndexError) {
        guard let disk else { return }
        try disk.finish(keepsFirst: keepsFirst) { h, key in
            guard memoryCount > 0 else { return false }
            let i = probe(key, hash: h)
            guard slots[i] != 0 else { return false }
            if keepsFirst { return true }
            markAmbiguous(Self.offset(slots[i]))
            return true
        }
    }

    /// Looks a key up; on a hit, `body` receives the payload bytes (valid during the call).
    /// Threads looking keys up at once (the workers of a parallel pass) pass each their own
    /// `diskBuffers` (the on-disk part's own serve lookups without).
    func lookup(
        _ key: [UInt8], diskBuffers: DiskHashTable.ReadBuffers? = nil, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws(JoinIndexError) -> Found {
        try key.withUnsafeBytes { k in
            JoinIndexError.capture { () throws(JoinIndexError) -> Found in try lookup(bytes: k, diskBuffers: diskBuffers, body) }
        }.get()
    }

    /// Looks up the key whose bytes are `k` (valid during the call): what `lookup(_:diskBuffers:_:)`
    /// does, for a caller that has the bytes without an array (a text key read in place).
    func lookup(
        bytes k: UnsafeRawBufferPointer, diskBuffers: DiskHashTable.ReadBuffers? = nil, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws(JoinIndexError) -> Found {
        let h = Self.hash(k)
        if memoryCount > 0 {
            let i = probe(k, hash: h)
            if slots[i] != 0 {
                let off = Self.offset(slots[i])
                if flags(off) != 0 { return .ambiguous }
                let a = arena
                let e = Self.entry(a, off)
                body(UnsafeRawBufferPointer(rebasing: a[e.payload..<(e.payload + e.payloadLength)]))
                return .payload
            }
        }
        guard let disk else { return .miss }
        return try disk.lookup(hash: h, key: k, buffers: diskBuffers, body)
    }

    /// Frees memory and the on-disk part (its file was unlinked when created).
    func close() {
        arenaBase?.deallocate()
        arenaBase = nil
        arenaCount = 0
        arenaCapacity = 0
        slots = []
        mask = 0
        memoryCount = 0
        disk = nil
    }
}

@available(*, unavailable)
extension SpillingIndex: Sendable {}
