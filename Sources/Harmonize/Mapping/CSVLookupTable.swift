/// A lookup table read from a delimited file when the run starts: key columns → one value column.
///
/// Keys are compared by their canonical text (`Value.description`, surrounding spaces trimmed), so
/// an integer key `12` finds the row whose key cell is `12`. The first row wins when a key repeats.
public final class CSVLookupTable: LookupTable {
    /// The declaration in the mapping.
    public let spec: LookupSpec
    /// The resolved file path (set by `resolve(mappingDirectory:inputDirectory:)`).
    public private(set) var path: String = ""
    private var entries: [String: Value] = [:]
    private var whereClause: CompiledExpression?
    private var whereSlots: [(column: String, slot: Int)] = []
    private var whereSlotCount = 0
    /// Whether the file has been loaded.
    public private(set) var isLoaded = false
    /// Rows loaded.
    public var count: Int { entries.count }
    /// Lookups that found no entry since the run started.
    public private(set) var misses = 0
    /// Lookups that found an entry since the table was created (mapping-test coverage).
    public private(set) var hits = 0

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

    func resolve(mappingDirectory: String, inputDirectory: String?) {
        let base = spec.relativeToInput ? (inputDirectory ?? ".") : mappingDirectory
        path = spec.path.text.hasPrefix("/") ? spec.path.text : base + "/" + spec.path.text
    }

    static func canonical(_ v: Value) -> String? {
        switch v {
        case .null: return nil
        case .string(let s):
            // Trim only when needed: most keys have no surrounding spaces.
            let u = s.utf8
            if let f = u.first, let l = u.last, f != 32, f != 9, l != 32, l != 9 { return s }
            return s.trimmingSpaces()
        default: return v.description
        }
    }

    /// The value for one key.
    public func value(forKey key: Value) -> Value? {
        guard let k = Self.canonical(key) else { return nil }
        if let v = entries[k] {
            hits += 1
            return v
        }
        misses += 1
        return nil
    }

    /// The value for several keys.
    public func value(for keys: [Value]) -> Value? {
        if keys.count == 1 { return value(forKey: keys[0]) }
        var parts: [String] = []
        for k in keys {
            guard let c = Self.canonical(k) else { return nil }
            parts.append(c)
        }
        if let v = entries[parts.joined(separator: "\u{1F}")] {
            hits += 1
            return v
        }
        misses += 1
        return nil
    }

    /// Replaces the entries with rows given in memory (a mapping test's `lookups:`): each row maps
    /// the key columns and the value column to their text. The `where` clause is not applied (the
    /// rows are already the ones the lookup keeps); values that do not decode are skipped.
    func load(rows: [[String: String]]) throws(RunError) {
        let decoder: FieldDecoder
        do {
            decoder = try FieldDecoder(type: spec.valueType, name: spec.value.text)
        } catch {
            throw RunError(.configuration, "lookup '\(spec.name.text)': \(error)")
        }
        entries = [:]
        for (i, row) in rows.enumerated() {
            var parts: [String] = []
            for k in spec.keys {
                guard let cell = row[k.text] else {
                    throw RunError(.configuration, "lookup '\(spec.name.text)': row \(i + 1) has no key column '\(k.text)'")
                }
                parts.append(cell.trimmingSpaces())
            }
            guard let cell = row[spec.value.text] else {
                throw RunError(.configuration, "lookup '\(spec.name.text)': row \(i + 1) has no value column '\(spec.value.text)'")
            }
            let key = parts.joined(separator: "\u{1F}")
            guard entries[key] == nil else { continue }
            if case .value(let v) = Array(cell.utf8).withUnsafeBufferPointer({ decoder.decode($0) }) { entries[key] = v }
        }
        isLoaded = true
    }

    /// Reads the file. Rows whose value does not decode as `valueType` are skipped and counted.
    func load() throws(RunError) {
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
        entries = [:]
        while true {
            let event: ReadEvent
            do {
                event = try reader.next()
            } catch {
                throw RunError(.io, "lookup '\(spec.name.text)': \(error)")
            }
            switch event {
            case .end:
                isLoaded = true
                return
            case .rejected:
                continue
            case .record:
                if let w = whereClause {
                    for (i, slot) in whereIdx { frame[slot] = .string(reader.string(i)) }
                    guard (try? w.evaluate(frame)) == .bool(true) else { continue }
                }
                let key = keyIdx.map { reader.string($0).trimmingSpaces() }.joined(separator: "\u{1F}")
                guard entries[key] == nil else { continue }
                let v = reader.withField(valueIdx) { decoder.decode($0) }
                if case .value(let value) = v { entries[key] = value }
            }
        }
    }
}

@available(*, unavailable)
extension CSVLookupTable: Sendable {}
