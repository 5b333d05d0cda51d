import Foundation

/// Counts the source codes a run looks up in a vocabulary, per mapping, record by record: a code
/// looked up several times for one record (a filter per target and a column) counts once.
///
/// The vocabulary functions `note` each lookup; the pipeline says which mapping runs
/// (`begin(mapping:index:)`) and the executor closes each record (`endRecord()`). Outside a run
/// (`begin` not called) nothing is counted. Memory is bounded by `distinctCodeLimit`.
// Safe to share: every mutable member is read and written under `lock`.
package final class VocabularyUsage: @unchecked Sendable {
    private struct Key: Hashable {
        var mapping: Int32
        var vocabulary: String
    }

    private let lock = NSLock()
    private var active = false
    private var mappingIndex: Int32 = -1
    private var mappingIDs: [Int32: String] = [:]
    private var pending: [(vocabulary: String, code: String, mapped: Bool)] = []
    private var totals: [Key: (lookups: Int, mapped: Int, truncated: Bool)] = [:]
    private var unmapped: [Key: [String: Int]] = [:]
    private var distinct = 0
    /// Most distinct unmapped codes listed per run (beyond it, codes are counted but not listed).
    public static let distinctCodeLimit = 1_000_000

    /// Creates an empty accounting.
    public init() {}

    /// Starts counting for a mapping (records are attributed to it until the next call).
    public func begin(mapping: String, index: Int32) {
        lock.lock()
        defer { lock.unlock() }
        active = true
        mappingIndex = index
        mappingIDs[index] = mapping
        pending.removeAll(keepingCapacity: true)
    }

    /// Notes a lookup of `code` in `vocabulary` for the current record.
    public func note(vocabulary: String, code: String, mapped: Bool) {
        lock.lock()
        defer { lock.unlock() }
        guard active else { return }
        if pending.contains(where: { $0.code == code && $0.vocabulary == vocabulary }) { return }
        pending.append((vocabulary, code, mapped))
    }

    /// Closes the current record: its distinct lookups are added to the counts.
    public func endRecord() {
        lock.lock()
        defer { lock.unlock() }
        guard active, !pending.isEmpty else { return }
        for p in pending {
            let key = Key(mapping: mappingIndex, vocabulary: p.vocabulary)
            var t = totals[key] ?? (0, 0, false)
            t.lookups += 1
            if p.mapped {
                t.mapped += 1
            } else if unmapped[key]?[p.code] != nil {
                unmapped[key]![p.code]! += 1
            } else if distinct < Self.distinctCodeLimit {
                unmapped[key, default: [:]][p.code] = 1
                distinct += 1
            } else {
                t.truncated = true
            }
            totals[key] = t
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Adds another accounting's counts to this one (the worker of a parallel pass, which
    /// counts the records it mapped: `ParallelFilePass`). Codes are added in sorted order, so
    /// the codes listed past `distinctCodeLimit` do not depend on the workers' timing.
    public func absorb(_ other: VocabularyUsage) {
        other.lock.lock()
        let ids = other.mappingIDs
        let theirTotals = other.totals
        let theirUnmapped = other.unmapped
        other.lock.unlock()
        lock.lock()
        defer { lock.unlock() }
        mappingIDs.merge(ids) { a, _ in a }
        for (key, t) in theirTotals.sorted(by: { ($0.key.mapping, $0.key.vocabulary) < ($1.key.mapping, $1.key.vocabulary) }) {
            var mine = totals[key] ?? (0, 0, false)
            mine.lookups += t.lookups
            mine.mapped += t.mapped
            mine.truncated = mine.truncated || t.truncated
            for (code, n) in (theirUnmapped[key] ?? [:]).sorted(by: { $0.key < $1.key }) {
                if unmapped[key]?[code] != nil {
                    unmapped[key]![code]! += n
                } else if distinct < Self.distinctCodeLimit {
                    unmapped[key, default: [:]][code] = n
                    distinct += 1
                } else {
                    mine.truncated = true
                }
            }
            totals[key] = mine
        }
    }

    /// Stops counting (closing the current record).
    public func end() {
        endRecord()
        lock.lock()
        active = false
        lock.unlock()
    }

    /// Forgets every count.
    public func reset() {
        lock.lock()
        defer { lock.unlock() }
        active = false
        mappingIDs = [:]
        pending = []
        totals = [:]
        unmapped = [:]
        distinct = 0
    }

    /// Totals per mapping (run order) and vocabulary.
    public func totalsReport() -> [VocabularyUsageTotal] {
        lock.lock()
        defer { lock.unlock() }
        return totals.keys.sorted { ($0.mapping, $0.vocabulary) < ($1.mapping, $1.vocabulary) }.map { k in
            let t = totals[k]!
            return VocabularyUsageTotal(
                mapping: mappingIDs[k.mapping] ?? "", vocabulary: k.vocabulary, lookups: t.lookups, mapped: t.mapped,
                distinctUnmapped: unmapped[k]?.count ?? 0, truncated: t.truncated)
        }
    }

    /// Unmapped codes per mapping and vocabulary, most frequent first (then by code).
    public func unmappedCodes() -> [UnmappedCode] {
        lock.lock()
        defer { lock.unlock() }
        var out: [UnmappedCode] = []
        for k in unmapped.keys.sorted(by: { ($0.mapping, $0.vocabulary) < ($1.mapping, $1.vocabulary) }) {
            let codes = unmapped[k]!.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            for (code, n) in codes {
                out.append(
                    UnmappedCode(mappingIndex: k.mapping, mapping: mappingIDs[k.mapping] ?? "", vocabulary: k.vocabulary, code: code, records: n))
            }
        }
        return out
    }
}
