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
        var entries: [String: Value] = [:]
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
        return LoadedLookupTable(keyCount: keyCount, valueType: valueType, missIsFatal: missIsFatal, entries: entries)
    }

    /// Reads the file at `path` for a run. Rows whose value does not decode as `valueType` are
    /// skipped. The `where` clause is evaluated with the run's `environment`.
    func load(path: String, environment: RunEnvironment) throws(RunError) -> LoadedLookupTable {
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
        var entries: [String: Value] = [:]
        while true {
            let event: ReadEvent
            do {
                event = try reader.next()
            } catch {
                throw RunError(.io, "lookup '\(spec.name.text)': \(error)")
            }
            switch event {
            case .end:
                return LoadedLookupTable(keyCount: keyCount, valueType: valueType, missIsFatal: missIsFatal, entries: entries)
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
package final class LoadedLookupTable: LookupTable {
    /// Number of key columns.
    public let keyCount: Int
    /// Type of the values.
    public let valueType: ValueType
    /// Whether a miss rejects the record.
    public let missIsFatal: Bool
    private let entries: [String: Value]
    /// Lookups that found no entry in this run.
    public private(set) var misses = 0
    /// Lookups that found an entry in this run.
    public private(set) var hits = 0

    init(keyCount: Int, valueType: ValueType, missIsFatal: Bool, entries: [String: Value]) {
        self.keyCount = keyCount
        self.valueType = valueType
        self.missIsFatal = missIsFatal
        self.entries = entries
    }

    /// Rows loaded.
    public var count: Int { entries.count }

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
}

@available(*, unavailable)
extension LoadedLookupTable: Sendable {}
