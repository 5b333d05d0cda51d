/// What the compiler needs to know of a lookup table: its key count, value type and miss rule.
package protocol LookupTableShape: AnyObject {
    /// The number of key columns.
    var keyCount: Int { get }
    /// The type of the values.
    var valueType: ValueType { get }
    /// Whether a miss rejects the record (`EvaluationError` with `.lookupMiss`) instead of yielding null.
    var missIsFatal: Bool { get }
}

/// A lookup table with its rows, queried by `lookup('name', key, ...)`.
///
/// A table captured at compile time (an in-memory table) must be safe to read from several
/// threads at once; a table loaded for one run (`RunLoadedLookup`) belongs to that run.
package protocol LookupTable: LookupTableShape {
    /// The value for a full key (`keys.count == keyCount`), or nil on a miss: the keys in a
    /// buffer the caller owns (a call site's, on its stack: no array a lookup).
    func value(forKeys keys: UnsafeBufferPointer<Value>) -> Value?
    /// Fast path for one-key tables, without allocating an array.
    func value(forKey key: Value) -> Value?
    /// `value(forKey:)` of the text that UTF-8 `text` spell (a text field's bytes in the record).
    func value(forText text: UnsafeBufferPointer<UInt8>) -> Value?
}

extension LookupTable {
    /// Default: the key in a buffer of one.
    public func value(forKey key: Value) -> Value? {
        withUnsafePointer(to: key) { value(forKeys: UnsafeBufferPointer(start: $0, count: 1)) }
    }

    /// Default: the key as the string the bytes spell.
    public func value(forText text: UnsafeBufferPointer<UInt8>) -> Value? {
        value(forKey: .string(String(decoding: text, as: UTF8.self)))
    }

    /// The value for a full key given as an array (tests, callers off the row path).
    public func value(for keys: [Value]) -> Value? {
        keys.withUnsafeBufferPointer { value(forKeys: $0) }
    }
}

/// A lookup table whose rows may be read from a file while the run maps records (a table loaded
/// for a run that moved to disk). A read that fails makes `value(for:)` return nil and sets
/// `readFailure`: a call site that got nil asks, and stops the run (`EvaluationError.stopsRun`)
/// instead of taking the failure for a miss.
protocol FailableLookupTable: LookupTable {
    /// Why the table cannot be read (never a key or a value); nil while it can.
    var readFailure: String? { get }
}

/// A lookup declared by a mapping whose rows are read when a run starts (from a file): the plan
/// keeps the declaration, each run loads its own copy and binds it to the call sites.
package protocol RunLoadedLookup: LookupTableShape {
    /// Binds a call site to the run's loaded copy of the table.
    func binder() -> CallSiteTable.Binder
}

/// Finds the lookup tables a mapping declares, at compile time.
package protocol LookupResolver {
    /// The table with that exact name, or nil.
    func lookupTable(named name: String) -> (any LookupTableShape)?
    /// Every table name, for did-you-mean suggestions.
    var lookupNames: [String] { get }
}

/// An in-memory lookup table.
///
/// Keys are compared by their **normalised text**: the canonical text of the value
/// (`Value.description`: integers in decimal, integral doubles without fraction, ISO dates), so the
/// integer key `12`, the number `12.0` and the string `'12'` (for example read from a CSV file) all
/// match. No trimming or case folding is applied. Multi-column keys join the parts with U+001F.
package final class DictionaryLookupTable: LookupTable, Sendable {
    /// The number of key columns.
    public let keyCount: Int
    /// The type of the values.
    public let valueType: ValueType
    /// Whether a miss rejects the record.
    public let missIsFatal: Bool
    private let entries: [String: Value]

    /// Creates a table from `(keys, value)` rows; later duplicates replace earlier ones.
    public init(keyCount: Int, valueType: ValueType, missIsFatal: Bool = false, rows: [([Value], Value)]) {
        self.keyCount = keyCount
        self.valueType = valueType
        self.missIsFatal = missIsFatal
        var e: [String: Value] = [:]
        e.reserveCapacity(rows.count)
        for (k, v) in rows { e[DictionaryLookupTable.normalize(k)] = v }
        entries = e
    }

    /// Convenience for one-key tables.
    public convenience init(valueType: ValueType, missIsFatal: Bool = false, _ pairs: [(Value, Value)]) {
        self.init(keyCount: 1, valueType: valueType, missIsFatal: missIsFatal, rows: pairs.map { ([$0.0], $0.1) })
    }

    static func normalize(_ key: Value) -> String {
        if case .string(let s) = key { return s }
        return key.description
    }
    static func normalize(_ keys: some Collection<Value>) -> String {
        if keys.count == 1, let k = keys.first { return normalize(k) }
        return keys.map { normalize($0) }.joined(separator: "\u{1F}")
    }

    /// The value for a full key, compared by normalised text; nil on a miss or a wrong key count.
    public func value(forKeys keys: UnsafeBufferPointer<Value>) -> Value? {
        guard keys.count == keyCount else { return nil }
        return entries[DictionaryLookupTable.normalize(keys)]
    }

    /// The value for a one-column key (no array allocation); nil on a miss or for multi-key tables.
    public func value(forKey key: Value) -> Value? {
        guard keyCount == 1 else { return nil }
        return entries[DictionaryLookupTable.normalize(key)]
    }
}
