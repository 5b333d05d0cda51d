import Foundation

/// A lookup table declared by a mapping, read from a delimited file when a run starts: key
/// columns → one value column.
///
/// The plan keeps this declaration only (immutable once planned); each run loads its own copy
/// (`LoadedLookupTable`) into its `RunEnvironment`, and the mapping's `lookup(…)` call sites are
/// bound to that copy.
///
/// Keys are compared by their canonical text (`Value.description`, surrounding spaces trimmed), so
/// an integer key `12` finds the row whose key cell is `12`. The first row wins when a key repeats.
package final class CSVLookupTable: RunLoadedLookup {
    /// The declaration in the mapping.
    public let spec: LookupSpec
    // Set once by the planner, before the plan is handed out.
    private var whereClause: CompiledExpression?
    private var whereSlots: [(column: String, slot: Int)] = []
    private var whereSlotCount = 0

    init(spec: LookupSpec) { self.spec = spec }

    /// Number of key columns.
    public var keyCount: Int { spec.keys.count }
    /// Type of the returned value.
    public var valueType: ValueType { spec.valueType }
    /// Whether a miss rejects the record.
    public var missIsFatal: Bool { spec.missIsFatal }

    func setWhere(_ e: CompiledExpression, slots: [(column: String, slot: Int)], slotCount: Int) {
        whereClause = e
        whereSlots = slots
        whereSlotCount = slotCount
    }

    /// The file a run reads: relative to the input folder (`file: input/…`) or to the mapping's folder.
    func path(mappingDirectory: String, inputDirectory: String?) -> String {
        let base = spec.relativeToInput ? (inputDirectory ?? ".") : mappingDirectory
        return spec.path.text.hasPrefix("/") ? spec.path.text : base + "/" + spec.path.text
    }

    /// Binds a `lookup` call site to the run's loaded copy (`LoadedLookups` of the environment).
    public func binder() -> CallSiteTable.Binder {
        let id = ObjectIdentifier(self)
        let name = spec.name.text
        return { environment throws(EvaluationError) in
            guard let table = environment[LoadedLookups.self]?.tables[id] else {
                throw EvaluationError(reason: .expressionError, message: "lookup '\(name)' was not loaded for this run", function: "lookup")
            }
            return .lookup(table)
        }
    }

    /// The memory a lookup table may take in a mapping test (its rows are given inline).
    static let testBudget = 64 << 20

    /// A fresh index for this table's rows: `budget` bytes in memory, the rest in a temporary
    /// file in `spillDirectory`; the first row of a key wins.
    private func makeIndex(budget: Int, spillDirectory: String) -> SpillingIndex {
        SpillingIndex(budget: budget, spillDirectory: spillDirectory, keepsFirst: true, filePrefix: "harmonize-lookup", label: "lookup table")
    }

    /// Adds a row to `index` (key bytes: the trimmed key cells separated by 0x1F, as lookups
    /// build them from values; payload: the value, `ValueCodec`).
    private func insert(_ key: [UInt8], _ value: Value, into index: SpillingIndex, payload: inout [UInt8]) throws(RunError) {
        payload.removeAll(keepingCapacity: true)
        ValueCodec.append(value, to: &payload)
        do {
            try index.insert(key: key, payload: payload)
        } catch {
            throw RunError(.io, "lookup '\(spec.name.text)': \(error)")
        }
    }

    private func finish(_ index: SpillingIndex) throws(RunError) -> LoadedLookupTable {
        do {
            try index.finishLoading()
        } catch {
            throw RunError(.io, "lookup '\(spec.name.text)': \(error)")
        }
        return LoadedLookupTable(name: spec.name.text, keyCount: keyCount, valueType: valueType, missIsFatal: missIsFatal, index: index)
    }

    /// Replaces the entries with rows given in memory (a mapping test's `lookups:`): each row maps
    /// the key columns and the value column to their text. The `where` clause is not applied (the
    /// rows are already the ones the lookup keeps); values that do not decode are skipped.
    func load(rows: [[String: String]]) throws(RunError) -> LoadedLookupTable {
        let decoder: FieldDecoder
        do {
            decoder = try FieldDecoder(type: spec.valueType, name: spec.value.text)
        } catch {
            throw RunError(.configuration, "lookup '\(spec.name.text)': \(error)")
        }
        let index = makeIndex(budget: Self.testBudget, spillDirectory: NSTemporaryDirectory())
        var key: [UInt8] = []
        var payload: [UInt8] = []
        for (i, row) in rows.enumerated() {
            key.removeAll(keepingCapacity: true)
            for (n, k) in spec.keys.enumerated() {
                guard let cell = row[k.text] else {
                    throw RunError(.configuration, "lookup '\(spec.name.text)': row \(i + 1) has no key column '\(k.text)'")
                }
                if n > 0 { key.append(0x1F) }
                key.append(contentsOf: cell.trimmingSpaces().utf8)
            }
            guard let cell = row[spec.value.text] else {
                throw RunError(.configuration, "lookup '\(spec.name.text)': row \(i + 1) has no value column '\(spec.value.text)'")
            }
            if case .value(let v) = Array(cell.utf8).withUnsafeBufferPointer({ decoder.decode($0) }) {
                try insert(key, v, into: index, payload: &payload)
            }
        }
        return try finish(index)
    }

    /// Reads the file at `path` for a run. Rows whose value does not decode as `valueType` are
    /// skipped. The `where` clause is evaluated with the run's `environment`. The table keeps up
    /// to `budget` bytes in memory (`SpillingIndex`: entries in a byte arena); rows past it go
    /// to an on-disk hash table in `spillDirectory`, with the same results.
    func load(path: String, environment: RunEnvironment, budget: Int, spillDirectory: String) throws(RunError) -> LoadedLookupTable {
        let reader: DelimitedReader
        do {
            reader = try DelimitedReader(path: path, displayName: spec.path.text, dialect: spec.dialect)
        } catch {
            throw RunError(.io, "lookup '\(spec.name.text)': \(error)")
        }
        let names = reader.columnNames
        func index(_ n: String) -> Int? { names.firstIndex(of: n) ?? names.firstIndex { $0.lowercased() == n.lowercased() } }
        var keyIdx: [Int] = []
        for k in spec.keys {
            guard let i = index(k.text) else {
                throw RunError(.configuration, "lookup '\(spec.name.text)': file \(spec.path.text) has no column '\(k.text)'")
            }
            keyIdx.append(i)
        }
        guard let valueIdx = index(spec.value.text) else {
            throw RunError(.configuration, "lookup '\(spec.name.text)': file \(spec.path.text) has no column '\(spec.value.text)'")
        }
        var whereIdx: [(Int, Int)] = []
        for (column, slot) in whereSlots {
            guard let i = index(column) else {
                throw RunError(.configuration, "lookup '\(spec.name.text)': file \(spec.path.text) has no column '\(column)'")
            }
            whereIdx.append((i, slot))
        }
        let decoder: FieldDecoder
        do {
            decoder = try FieldDecoder(type: spec.valueType, name: spec.value.text)
        } catch {
            throw RunError(.configuration, "lookup '\(spec.name.text)': \(error)")
        }
        let frame = EvaluationFrame(slotCount: whereSlotCount)
        if let w = whereClause {
            do {
                frame.bind(try w.callSites.bind(environment))
            } catch {
                throw RunError(.configuration, "lookup '\(spec.name.text)': its where clause cannot run: \(error.message)")
            }
        }
        let table = makeIndex(budget: budget, spillDirectory: spillDirectory)
        var key: [UInt8] = []
        var payload: [UInt8] = []
        while true {
            let event: ReadEvent
            do {
                event = try reader.next()
            } catch {
                throw RunError(.io, "lookup '\(spec.name.text)': \(error)")
            }
            switch event {
            case .end:
                return try finish(table)
            case .rejected:
                continue
            case .record:
                if let w = whereClause {
                    for (i, slot) in whereIdx { frame[slot] = .string(reader.string(i)) }
                    let keep: Bool
                    do throws(EvaluationError) {
                        keep = try w.evaluate(frame) == .bool(true)
                    } catch {
                        if error.stopsRun { throw RunError(.io, "lookup '\(spec.name.text)': \(error.message)") }
                        keep = false  // a row the where clause cannot judge is left out, as before
                    }
                    guard keep else { continue }
                }
                key.removeAll(keepingCapacity: true)
                for (n, i) in keyIdx.enumerated() {
                    if n > 0 { key.append(0x1F) }
                    key.append(contentsOf: reader.string(i).trimmingSpaces().utf8)
                }
                // A row whose value does not decode is skipped: a later row of its key may still
                // give it a value (the first row that decodes wins).
                if case .value(let value) = reader.withField(valueIdx, { decoder.decode($0) }) {
                    try insert(key, value, into: table, payload: &payload)
                }
            }
        }
    }
}

@available(*, unavailable)
extension CSVLookupTable: Sendable {}

/// The lookup tables a run loaded (a `RunEnvironment` service), by declaration.
package final class LoadedLookups {
    /// Loaded tables by the identity of their declaration (`CSVLookupTable`).
    var tables: [ObjectIdentifier: LoadedLookupTable] = [:]

    /// Creates an empty set.
    public init() {}

    /// Adds a run's copy of a declared table.
    func add(_ table: LoadedLookupTable, for declaration: CSVLookupTable) { tables[ObjectIdentifier(declaration)] = table }
}

@available(*, unavailable)
extension LoadedLookups: Sendable {}

extension RunEnvironment {
    /// The lookup tables loaded for the run (created on first use).
    var loadedLookups: LoadedLookups {
        if let l = self[LoadedLookups.self] { return l }
        let l = LoadedLookups()
        self[LoadedLookups.self] = l
        return l
    }
}

/// One run's copy of a lookup table: its rows, and how often the run found or missed a key
/// (mapping-test coverage). Belongs to the run that loaded it.
///
/// The rows are a `SpillingIndex` from key bytes (the canonical texts of the key parts separated
/// by 0x1F, `ValueCodec.appendKey`) to the value (`ValueCodec`): a byte arena in memory, up to
/// the table's share of the run's memory budget, and an on-disk hash table past it, with the same
/// results. A read of the on-disk part that fails is never taken for a miss: the lookup returns
/// nil, the failure stays in `readFailure`, and the call site stops the run.
package final class LoadedLookupTable: LookupTable, FailableLookupTable {
    /// Number of key columns.
    public let keyCount: Int
    /// Type of the values.
    public let valueType: ValueType
    /// Whether a miss rejects the record.
    public let missIsFatal: Bool
    /// The lookup's name (messages).
    let name: String
    /// The rows (internal: tests damage the on-disk part).
    let index: SpillingIndex
    // Read and written on every lookup, by the one thread that owns this table or worker view
    // (`workerView`), never while another access to the same property is open: the dynamic
    // exclusivity checks of these class properties (a `swift_beginAccess` per lookup, about 60
    // instructions) are off.
    @exclusivity(unchecked) private var keyBuffer: [UInt8] = []
    /// A worker's own buffers for reading the on-disk part (`workerView`); nil for the run's
    /// table, which reads with the index's.
    @exclusivity(unchecked) private var diskBuffers: DiskHashTable.ReadBuffers?
    /// The first failure to read the table (on-disk part unreadable or damaged): every later
    /// lookup returns nil, and the call site stops the run.
    @exclusivity(unchecked) private(set) var readFailure: String?
    /// Lookups that found no entry in this run.
    @exclusivity(unchecked) public private(set) var misses = 0
    /// Lookups that found an entry in this run.
    @exclusivity(unchecked) public private(set) var hits = 0
    /// The latest lookups of short text keys, direct-mapped by a hash of the key (`findRecent`),
    /// allocated on the first: a key looked up again (codes repeat from claim to claim) takes
    /// its value here instead of from the index, whose probe (the key hashed, its entry found
    /// and compared, the payload decoded) cost 550 instructions of a claim's mapping
    /// (`callgrind`). `1 << recentBits` entries of 48 bytes: the power of two from 64 to 4,096
    /// nearest above the table's rows (at most 192 KiB per table and worker); what the index
    /// holds never changes during a run, so an entry is never stale.
    @exclusivity(unchecked) private var recent: UnsafeMutablePointer<RecentLookup>?
    @exclusivity(unchecked) private var recentBits = 0
    static let maxRecentBits = 12
    /// The longest text key (UTF-8 bytes) `recent` holds: two words.
    static let recentKeyBytes = 16

    /// One entry of `recent`: a key's bytes packed in two words, its length (0: an empty entry;
    /// the keys held are never empty) and what the index gave for it.
    struct RecentLookup {
        var low: UInt64
        var high: UInt64
        var length: Int
        var value: Value?
    }

    init(name: String, keyCount: Int, valueType: ValueType, missIsFatal: Bool, index: SpillingIndex) {
        self.name = name
        self.keyCount = keyCount
        self.valueType = valueType
        self.missIsFatal = missIsFatal
        self.index = index
    }

    /// Rows loaded (distinct keys).
    public var count: Int { index.count }
    /// Whether part of the table moved to disk (over its share of the memory budget).
    var isSpilled: Bool { index.isSpilled }
    /// Bytes the table holds in memory.
    var memoryBytes: Int { index.memoryBytes }

    /// Frees the rows and removes the on-disk part (its file was unlinked when created).
    func close() { index.close() }

    /// A copy for a worker of a parallel pass (`ParallelFilePass`): the same rows, read
    /// concurrently, with its own key buffer, counts, and read buffers for the on-disk part of
    /// the table if it has one.
    func workerView() -> LoadedLookupTable {
        let view = LoadedLookupTable(name: name, keyCount: keyCount, valueType: valueType, missIsFatal: missIsFatal, index: index)
        view.diskBuffers = index.isSpilled ? DiskHashTable.ReadBuffers() : nil
        return view
    }

    /// Adds a worker's counts (and its first read failure) to this table's (`workerView`).
    func absorb(_ view: LoadedLookupTable) {
        hits += view.hits
        misses += view.misses
        if readFailure == nil { readFailure = view.readFailure }
    }

    static func canonical(_ v: Value) -> String? {
        switch v {
        case .null: return nil
        case .string(let s):
            // Trim only when needed: most keys have no surrounding spaces.
            if hasNothingToTrim(s.utf8) { return s }
            return s.trimmingSpaces()
        default: return v.description
        }
    }

    /// Whether a text key is its own canonical text: not empty, no space or tab at either end.
    @inline(__always)
    static func hasNothingToTrim<C: BidirectionalCollection<UInt8>>(_ u: C) -> Bool {
        guard let f = u.first, let l = u.last else { return false }
        return f != 32 && f != 9 && l != 32 && l != 9
    }

    /// The value for one key. A text key with nothing to trim is looked up in place, from its
    /// UTF-8 bytes (its canonical text), without copying it into the key buffer.
    public func value(forKey key: Value) -> Value? {
        if case .string(let s) = key {
            var inPlace = false
            var found: Value?
            _ = s.utf8.withContiguousStorageIfAvailable { u in
                guard Self.hasNothingToTrim(u) else { return }
                found = findInPlace(u)
                inPlace = true
            }
            if inPlace { return found }
        }
        guard ValueCodec.appendKey(CollectionOfOne(key), to: &keyBuffer) else { return nil }
        return keyBuffer.withUnsafeBytes { find($0) }
    }

    /// The value for several keys.
    /// `value(forKey:)` of the text that `u` spell, read where it is when it has nothing to trim.
    public func value(forText u: UnsafeBufferPointer<UInt8>) -> Value? {
        guard Self.hasNothingToTrim(u) else { return value(forKey: .string(String(decoding: u, as: UTF8.self))) }
        return findInPlace(u)
    }

    /// `find` of a text key given as its canonical UTF-8 bytes (nothing to trim): through the
    /// recent keys when it is short enough.
    @inline(__always)
    private func findInPlace(_ u: UnsafeBufferPointer<UInt8>) -> Value? {
        u.count <= Self.recentKeyBytes ? findRecent(u) : find(UnsafeRawBufferPointer(u))
    }

    public func value(forKeys keys: UnsafeBufferPointer<Value>) -> Value? {
        if keys.count == 1 { return value(forKey: keys[0]) }
        guard ValueCodec.appendKey(keys, to: &keyBuffer) else { return nil }
        return keyBuffer.withUnsafeBytes { find($0) }
    }

    /// `find` of a text key of at most `recentKeyBytes` bytes (its canonical bytes, not empty),
    /// through `recent`: the same value, and the same count of hits and misses.
    @inline(__always)
    private func findRecent(_ u: UnsafeBufferPointer<UInt8>) -> Value? {
        guard readFailure == nil else { return nil }
        let n = u.count
        let (low, high) = Self.packed(u)
        let entries = recent ?? makeRecent()
        let e = entries + Self.recentSlot(low, high, bits: recentBits)
        if e.pointee.length == n && e.pointee.low == low && e.pointee.high == high {
            guard let v = e.pointee.value else {
                misses += 1
                return nil
            }
            hits += 1
            return v
        }
        let v = find(UnsafeRawBufferPointer(u))
        // A failure to read is not remembered: the call site stops the run.
        if readFailure == nil { e.pointee = RecentLookup(low: low, high: high, length: n, value: v) }
        return v
    }

    /// The bytes of a key of at most `recentKeyBytes` bytes in two words, the first byte lowest
    /// (zeros past its end: keys that differ only by trailing NULs pack alike).
    @inline(__always)
    static func packed(_ u: UnsafeBufferPointer<UInt8>) -> (low: UInt64, high: UInt64) {
        var low: UInt64 = 0
        var high: UInt64 = 0
        for i in 0..<min(u.count, 8) { low |= UInt64(u[i]) << UInt64(8 * i) }
        if u.count > 8 { for i in 8..<u.count { high |= UInt64(u[i]) << UInt64(8 * (i - 8)) } }
        return (low, high)
    }

    /// The entry of `recent` (of `1 << bits`) for a packed key: a hash of both words (not of the
    /// length, so that keys packed alike share their entry, and the length tells them apart).
    @inline(__always)
    static func recentSlot(_ low: UInt64, _ high: UInt64, bits: Int) -> Int {
        var h = (low &* 0x9e37_79b9_7f4a_7c15) ^ (high &* 0xc2b2_ae3d_27d4_eb4f)
        h ^= h >> 29
        h &*= 0xbf58_476d_1ce4_e5b9
        return Int(truncatingIfNeeded: h >> UInt64(64 - bits))
    }

    /// `recent`, every entry empty.
    private func makeRecent() -> UnsafeMutablePointer<RecentLookup> {
        var bits = 6
        while bits < Self.maxRecentBits && 1 << bits < index.count { bits += 1 }
        recentBits = bits
        let entries = UnsafeMutablePointer<RecentLookup>.allocate(capacity: 1 << bits)
        entries.initialize(repeating: RecentLookup(low: 0, high: 0, length: 0, value: nil), count: 1 << bits)
        recent = entries
        return entries
    }

    deinit {
        if let recent {
            recent.deinitialize(count: 1 << recentBits)
            recent.deallocate()
        }
    }

    /// Looks the key whose canonical bytes are `key` up.
    @inline(__always)
    private func find(_ key: UnsafeRawBufferPointer) -> Value? {
        guard readFailure == nil else { return nil }
        var value: Value?
        var decoded = true
        let found: SpillingIndex.Found
        do {
            found = try index.lookup(bytes: key, diskBuffers: diskBuffers) { bytes in
                decoded = ValueCodec.decode(bytes, count: 1) { _, v in value = v }
            }
        } catch {
            readFailure = error.message
            return nil
        }
        switch found {
        case .payload:
            guard decoded, let value else {
                readFailure = "an entry of the on-disk lookup table is damaged"
                return nil
            }
            hits += 1
            return value
        case .miss:
            misses += 1
            return nil
        case .ambiguous:
            // Cannot happen (the first row of a key wins): never taken for a miss.
            readFailure = "the lookup table holds a key twice"
            return nil
        }
    }
}

@available(*, unavailable)
extension LoadedLookupTable: Sendable {}
