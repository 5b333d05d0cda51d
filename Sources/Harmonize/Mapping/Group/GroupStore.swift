import Foundation

/// An aggregate function of `group: aggregate:`.
enum AggregateFunction: String, Sendable {
    case sum, count, min, max, first, last

    /// The type of its result for an argument of type `t`.
    func resultType(_ t: ValueType?) -> ValueType {
        switch self {
        case .count: return .integer
        case .sum: return t == .integer ? .integer : .number
        case .min, .max, .first, .last: return t ?? .any
        }
    }

    /// Folds one record's argument into the running value (`nil` running value: first record).
    func fold(_ acc: Value?, _ v: Value) throws(EvaluationError) -> Value {
        switch self {
        case .count:
            let n: Int
            if case .int(let c)? = acc { n = c } else { n = 0 }
            return .int(n + (v.isNull ? 0 : 1))
        case .first: return acc ?? v
        case .last: return v
        case .sum:
            guard let acc, !acc.isNull else { return v.isNull ? .null : try Self.numeric(v) }
            if v.isNull { return acc }
            return try Operators.arithmetic(.add, acc, try Self.numeric(v))
        case .min, .max:
            guard let acc, !acc.isNull else { return v }
            if v.isNull { return acc }
            let c = try Operators.compare(v, acc, rawValue)
            return (self == .min ? c < 0 : c > 0) ? v : acc
        }
    }

    /// Combines two partial results, `a` from earlier records than `b`.
    func combine(_ a: Value, _ b: Value) throws(EvaluationError) -> Value {
        switch self {
        case .count:
            if case .int(let x) = a, case .int(let y) = b { return .int(x + y) }
            return a
        case .first: return a
        case .last: return b
        case .sum, .min, .max: return try fold(a, b)
        }
    }

    private static func numeric(_ v: Value) throws(EvaluationError) -> Value {
        switch v {
        case .int, .double: return v
        default: throw EvaluationError(message: "sum() needs numbers, got \(v.type.rawValue)", function: "sum")
        }
    }
}

/// Folds records into groups by key, in memory up to a budget, then through partial results
/// spilled to a temporary SQLite file and merged at the end (an external aggregation). Groups
/// come out in the order their first record was read, spilled or not, so a run's output does not
/// depend on the budget.
///
/// A group's state is its `by` values, its aggregates, then five integers: the sequence number of
/// its first record, that record's file index, line and record number, and the records folded.
final class GroupStore {
    let byCount: Int
    let functions: [AggregateFunction]
    let budget: Int
    private let spillDirectory: String
    private var slots: [[UInt8]: Int] = [:]
    private var states: [[Value]] = []
    private var memoryEstimate = 0
    private var nextSequence = 0
    private var spill: (db: SQLiteConnection, insert: SQLiteStatement, path: String)?
    /// Whether partial results went to disk.
    var isSpilled: Bool { spill != nil }
    /// Records folded.
    private(set) var records = 0

    init(byCount: Int, functions: [AggregateFunction], budget: Int, spillDirectory: String) {
        self.byCount = byCount
        self.functions = functions
        self.budget = max(0, budget)
        self.spillDirectory = spillDirectory
    }

    deinit { close() }

    var stateWidth: Int { byCount + functions.count + 5 }

    /// Folds one record: its key bytes, `by` values, aggregate arguments and location.
    func add(key: [UInt8], by: [Value], arguments: [Value], file: Int32, line: Int, record: Int) throws(RunError) {
        records += 1
        if let i = slots[key] {
            do throws(EvaluationError) {
                for (k, f) in functions.enumerated() {
                    states[i][byCount + k] = try f.fold(states[i][byCount + k], arguments[k])
                }
            } catch {
                throw RunError(.configuration, "group aggregate failed: \(error.message)")
            }
            if case .int(let n) = states[i][stateWidth - 1] { states[i][stateWidth - 1] = .int(n + 1) }
            return
        }
        var state = by
        state.reserveCapacity(stateWidth)
        do throws(EvaluationError) {
            for (k, f) in functions.enumerated() { state.append(try f.fold(nil, arguments[k])) }
        } catch {
            throw RunError(.configuration, "group aggregate failed: \(error.message)")
        }
        state.append(contentsOf: [.int(nextSequence), .int(Int(file)), .int(line), .int(record), .int(1)])
        nextSequence += 1
        slots[key] = states.count
        states.append(state)
        memoryEstimate += key.count * 2 + stateWidth * 40 + 96
        for v in state { if case .string(let s) = v { memoryEstimate += s.utf8.count } }
        if memoryEstimate > budget { try spillPartials() }
    }

    private func spillPartials() throws(RunError) {
        do {
            if spill == nil {
                let path =
                    (spillDirectory.isEmpty ? "." : spillDirectory) + "/harmonize-group-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sqlite"
                let db = try SQLiteConnection(path: path)
                try db.execute(
                    """
                    PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE; PRAGMA temp_store=FILE;
                    PRAGMA cache_size=-\(max(256, budget / 4096));
                    CREATE TABLE p(k BLOB NOT NULL, seq INTEGER NOT NULL, s BLOB NOT NULL);
                    """)
                spill = (db, try db.prepare("INSERT INTO p(k, seq, s) VALUES(?1, ?2, ?3)"), path)
            }
            guard let spill else { return }
            try spill.db.execute("BEGIN")
            for (key, i) in slots {
                let state = states[i]
                key.withUnsafeBytes { spill.insert.bindBlob($0, at: 1) }
                spill.insert.bind(state[stateWidth - 5], at: 2)
                ValueCodec.encode(state).withUnsafeBytes { spill.insert.bindBlob($0, at: 3) }
                try spill.insert.step()
                spill.insert.reset()
            }
            try spill.db.execute("COMMIT")
        } catch {
            throw RunError(.io, "cannot write grouping partial results to disk: \(error)")
        }
        slots = [:]
        states = []
        memoryEstimate = 0
    }

    private var cursor = 0
    private var replay: SQLiteStatement?
    private var finished = false

    /// Ends folding: when partial results were spilled, merges those of each key (ordered by key,
    /// then by first record) into one table ordered by first record.
    func finishFolding() throws(RunError) {
        guard !finished else { return }
        finished = true
        guard let spill else { return }
        try spillPartials()
        let width = stateWidth
        do {
            try spill.db.execute("CREATE TABLE m(seq INTEGER PRIMARY KEY, s BLOB NOT NULL); BEGIN")
            let insert = try spill.db.prepare("INSERT INTO m(seq, s) VALUES(?1, ?2)")
            func put(_ state: [Value]) throws(SQLiteError) {
                insert.bind(state[width - 5], at: 1)
                ValueCodec.encode(state).withUnsafeBytes { insert.bindBlob($0, at: 2) }
                try insert.step()
                insert.reset()
            }
            let scan = try spill.db.prepare("SELECT k, s FROM p ORDER BY k, seq")
            var currentKey: [UInt8]? = nil
            var current: [Value] = []
            while try scan.step() {
                let key = scan.withBlob(0) { Array($0) }
                guard let state = scan.withBlob(1, { ValueCodec.decode($0, count: width) }) else {
                    throw RunError(.io, "grouping partial results on disk are corrupt")
                }
                if key == currentKey {
                    do throws(EvaluationError) {
                        for (k, f) in functions.enumerated() { current[byCount + k] = try f.combine(current[byCount + k], state[byCount + k]) }
                    } catch {
                        throw RunError(.configuration, "group aggregate failed: \(error.message)")
                    }
                    if case .int(let a) = current[width - 1], case .int(let b) = state[width - 1] { current[width - 1] = .int(a + b) }
                } else {
                    if currentKey != nil { try put(current) }
                    currentKey = key
                    current = state
                }
            }
            if currentKey != nil { try put(current) }
            try spill.db.execute("COMMIT; DROP TABLE p")
            replay = try spill.db.prepare("SELECT s FROM m ORDER BY seq")
        } catch let e as RunError {
            throw e
        } catch {
            throw RunError(.io, "cannot merge grouping partial results: \(error)")
        }
    }

    /// The next group's state, in the order of the groups' first records; nil after the last.
    func nextGroup() throws(RunError) -> [Value]? {
        if let replay {
            do {
                guard try replay.step() else { return nil }
            } catch {
                throw RunError(.io, "cannot read grouping results from disk: \(error)")
            }
            guard let state = replay.withBlob(0, { ValueCodec.decode($0, count: stateWidth) }) else {
                throw RunError(.io, "grouping results on disk are corrupt")
            }
            return state
        }
        guard cursor < states.count else { return nil }
        cursor += 1
        return states[cursor - 1]
    }

    /// Frees memory and removes the spill file.
    func close() {
        slots = [:]
        states = []
        replay = nil
        if let path = spill?.path {
            spill = nil
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}

@available(*, unavailable)
extension GroupStore: Sendable {}

/// Presents the groups of a `GroupStore` as records to the executor's second stage: no fields to
/// decode, the values are handed over as they are.
final class GroupRecordReader: RecordReader {
    private let store: GroupStore
    private var current: [Value] = []
    private let fileNames: [Int32: String]
    let valueCount: Int

    /// A reader over the groups of `store` (folding must be finished).
    init(store: GroupStore, fileNames: [Int32: String]) {
        self.store = store
        self.fileNames = fileNames
        self.valueCount = store.byCount + store.functions.count
    }

    /// Value `k` of the current group: `by` values, then aggregates.
    @inline(__always)
    func value(_ k: Int) -> Value { current[k] }

    /// File index of the current group's first record.
    var currentFileIndex: Int32 {
        if case .int(let f) = current[valueCount + 1] { return Int32(f) }
        return 0
    }

    func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] { fields.map { _ in 0 } }

    func next() throws -> ReadEvent {
        guard let g = try store.nextGroup() else { return .end }
        current = g
        return .record
    }

    func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: nil, count: 0))
    }

    func field(_ position: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: nil, count: 0) }

    var location: SourceLocation {
        var line: Int? = nil
        var record: Int? = nil
        if case .int(let l) = current[valueCount + 2], l > 0 { line = l }
        if case .int(let r) = current[valueCount + 3] { record = r }
        return SourceLocation(file: fileNames[currentFileIndex] ?? "", line: line, record: record, path: "group")
    }

    var bytesRead: Int64 { 0 }
}

@available(*, unavailable)
extension GroupRecordReader: Sendable {}
