import Foundation

/// A map from key bytes to payload bytes, built once and then read: the joined side of a join.
///
/// Entries live in one byte arena with an open-addressing table of offsets, so a million rows
/// cost their bytes plus a few words each, not a million Swift objects. When the arena and table
/// would outgrow `budget` bytes (growth included), everything moves to an on-disk index (a temporary SQLite file, removed
/// by `close()`), and later inserts and every lookup go there: the run keeps streaming with flat
/// memory whatever the joined file's size.
///
/// A key inserted twice is marked ambiguous: lookups report it instead of choosing a row.
final class SpillingIndex {
    /// What a lookup found.
    enum Found {
        case miss
        case ambiguous
        case payload
    }

    /// The memory budget in bytes.
    let budget: Int
    private let spillDirectory: String
    // Arena entries: [flags u8][key length varint][payload length varint][key][payload].
    private var arena: [UInt8] = []
    // Offset + 1 of each entry (0: empty); the arena stays under 4 GiB.
    private var slots: [UInt32] = []
    private var mask = 0
    /// Distinct keys.
    private(set) var count = 0
    /// Keys seen more than once.
    private(set) var ambiguousKeys = 0
    private var spill: Spill?
    /// Whether the index moved to disk.
    var isSpilled: Bool { spill != nil }

    private final class Spill {
        let path: String
        let db: SQLiteConnection
        let insert: SQLiteStatement
        let select: SQLiteStatement
        var pending = 0
        init(path: String, cacheKiB: Int) throws(SQLiteError) {
            self.path = path
            db = try SQLiteConnection(path: path)
            try db.execute(
                """
                PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE; PRAGMA temp_store=FILE;
                PRAGMA cache_size=-\(cacheKiB);
                CREATE TABLE j(k BLOB PRIMARY KEY, v BLOB, dup INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
                BEGIN;
                """)
            insert = try db.prepare("INSERT INTO j(k, v) VALUES(?1, ?2) ON CONFLICT(k) DO UPDATE SET dup = dup + 1")
            select = try db.prepare("SELECT v, dup FROM j WHERE k = ?1")
        }
    }

    /// Creates an empty index; `spillDirectory` receives the on-disk index if it is needed.
    init(budget: Int, spillDirectory: String) {
        self.budget = max(0, budget)
        self.spillDirectory = spillDirectory
    }

    deinit { close() }

    /// A fast 64-bit hash of the key: eight bytes at a time, multiply and fold, then a final mix
    /// so that the low bits (the slot) depend on every byte.
    @inline(__always)
    private static func hash(_ key: UnsafeRawBufferPointer) -> Int {
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
        return Int(truncatingIfNeeded: h)
    }

    /// The parts of the entry at `offset`: where its key and payload start and their lengths.
    @inline(__always)
    private static func entry(_ a: UnsafeRawBufferPointer, _ offset: Int) -> (key: Int, keyLength: Int, payload: Int, payloadLength: Int) {
        var p = offset + 1
        let k = Int(ValueCodec.readVarint(a, &p) ?? 0)
        let n = Int(ValueCodec.readVarint(a, &p) ?? 0)
        return (p, k, p + k, n)
    }

    private func keyEquals(_ offset: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        arena.withUnsafeBytes { a in
            let e = Self.entry(a, offset)
            guard e.keyLength == key.count else { return false }
            return key.count == 0 || memcmp(a.baseAddress! + e.key, key.baseAddress!, key.count) == 0
        }
    }

    /// Finds the slot of `key`, or the empty slot where it would go.
    private func probe(_ key: UnsafeRawBufferPointer) -> Int {
        var i = Self.hash(key) & mask
        while true {
            let s = slots[i]
            if s == 0 || keyEquals(Int(s) - 1, key) { return i }
            i = (i + 1) & mask
        }
    }

    private func grow() {
        let newCapacity = max(1024, slots.count * 2)
        let old = slots
        slots = [UInt32](repeating: 0, count: newCapacity)
        mask = newCapacity - 1
        for s in old where s != 0 {
            let off = Int(s) - 1
            let i = arena.withUnsafeBytes { a in
                let e = Self.entry(a, off)
                return probe(UnsafeRawBufferPointer(rebasing: a[e.key..<(e.key + e.keyLength)]))
            }
            slots[i] = s
        }
    }

    /// Adds a row. A key already present is marked ambiguous (its first payload stays).
    func insert(key: [UInt8], payload: [UInt8]) throws(SQLiteError) {
        if let spill {
            try insertSpilled(spill, key: key, payload: payload)
            return
        }
        if (count + 1) * 2 > slots.count {
            // The old and the new table coexist while rehashing: both count against the budget.
            let newSlots = max(1024, slots.count * 2)
            if arena.capacity + (slots.count + newSlots) * MemoryLayout<UInt32>.stride > budget {
                try spillToDisk()
                try insertSpilled(key: key, payload: payload)
                return
            }
            grow()
        }
        let i = key.withUnsafeBytes { probe($0) }
        if slots[i] != 0 {
            let off = Int(slots[i]) - 1
            if arena[off] == 0 { ambiguousKeys += 1 }
            arena[off] = 1
            return
        }
        let needed = arena.count + 21 + key.count + payload.count
        if needed > arena.capacity {
            // Grow the arena ourselves by half, never past the budget (an array doubles on its own).
            let slotBytes = slots.count * MemoryLayout<UInt32>.stride
            let room = min(budget - slotBytes, Int(UInt32.max) - 1)
            let target = min(max(needed, arena.capacity + arena.capacity / 2, 4096), room)
            if target < needed {
                try spillToDisk()
                try insertSpilled(key: key, payload: payload)
                return
            }
            arena.reserveCapacity(target)
        }
        let off = arena.count
        arena.append(0)
        ValueCodec.appendVarint(UInt64(key.count), &arena)
        ValueCodec.appendVarint(UInt64(payload.count), &arena)
        arena.append(contentsOf: key)
        arena.append(contentsOf: payload)
        slots[i] = UInt32(off + 1)
        count += 1
    }

    private func insertSpilled(key: [UInt8], payload: [UInt8]) throws(SQLiteError) {
        guard let spill else { return }
        try insertSpilled(spill, key: key, payload: payload)
    }

    private func insertSpilled(_ spill: Spill, key: [UInt8], payload: [UInt8]) throws(SQLiteError) {
        key.withUnsafeBytes { spill.insert.bindBlob($0, at: 1) }
        payload.withUnsafeBytes { spill.insert.bindBlob($0, at: 2) }
        try spill.insert.step()
        spill.insert.reset()
        spill.pending += 1
        if spill.pending >= 100_000 {
            try spill.db.execute("COMMIT; BEGIN")
            spill.pending = 0
        }
    }

    /// Moves every entry to the on-disk index and frees the arena.
    private func spillToDisk() throws(SQLiteError) {
        let name = "harmonize-join-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sqlite"
        let path = (spillDirectory.isEmpty ? "." : spillDirectory) + "/" + name
        let s = try Spill(path: path, cacheKiB: max(256, budget / 4096))  // a quarter of the budget
        spill = s
        let entries = arena
        let slotList = slots
        arena = []
        slots = []
        mask = 0
        let keys = count
        count = 0
        for slot in slotList where slot != 0 {
            let off = Int(slot) - 1
            let flag = entries[off]
            let e = entries.withUnsafeBytes { Self.entry($0, off) }
            let k = Array(entries[e.key..<(e.key + e.keyLength)])
            let p = Array(entries[e.payload..<(e.payload + e.payloadLength)])
            try insertSpilled(s, key: k, payload: p)
            if flag != 0 {
                // Re-insert to carry the ambiguity mark into the on-disk index.
                try insertSpilled(s, key: k, payload: p)
            }
        }
        count = keys
    }

    /// Ends loading (commits the on-disk index, if any).
    func finishLoading() throws(SQLiteError) {
        guard let spill else { return }
        try spill.db.execute("COMMIT")
        spill.pending = 0
        if case .int(let n) = try spill.db.scalar("SELECT count(*) FROM j") { count = n }
        if case .int(let n) = try spill.db.scalar("SELECT count(*) FROM j WHERE dup > 0") { ambiguousKeys = n }
    }

    /// Looks a key up; on a hit, `body` receives the payload bytes (valid during the call).
    func lookup(_ key: [UInt8], _ body: (UnsafeRawBufferPointer) -> Void) throws(SQLiteError) -> Found {
        if let spill {
            let st = spill.select
            key.withUnsafeBytes { st.bindBlob($0, at: 1) }
            defer { st.reset() }
            guard try st.step() else { return .miss }
            if case .int(let d) = st.column(1), d > 0 { return .ambiguous }
            st.withBlob(0, body)
            return .payload
        }
        guard count > 0 else { return .miss }
        let i = key.withUnsafeBytes { probe($0) }
        guard slots[i] != 0 else { return .miss }
        let off = Int(slots[i]) - 1
        if arena[off] != 0 { return .ambiguous }
        arena.withUnsafeBytes { a in
            let e = Self.entry(a, off)
            body(UnsafeRawBufferPointer(rebasing: a[e.payload..<(e.payload + e.payloadLength)]))
        }
        return .payload
    }

    /// Frees memory and removes the on-disk index.
    func close() {
        arena = []
        slots = []
        count = 0
        if let path = spill?.path {
            spill = nil  // closes the connection before the file goes
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}

@available(*, unavailable)
extension SpillingIndex: Sendable {}
