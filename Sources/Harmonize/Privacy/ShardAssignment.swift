/// Which shard a record's subject (the mapping's `source: subject:`, the person key) belongs to
/// (`run --shard i/N`, `harmonize-run split`).
///
/// The shard is `HMAC-SHA-256(sub-key "shard", normalised subject) mod N` over the first 63 bits
/// of the MAC, the subject normalised as pseudonyms are (trimmed, upper-cased; a date as ISO text,
/// a null as the empty text). The sub-key comes from the run's pseudonymisation key when the run
/// has one, so the assignment is stable across runs and reruns with that key and cannot be
/// computed without it; without a key, from `ShardAssignment.publicKey`, a fixed key published in
/// this file (the assignment is then still stable, but anyone can compute it). A run and its
/// `split` must use the same key (or both none).
///
/// Not thread-safe: one instance per mapping thread (the pseudonymizer caches).
package final class ShardAssignment {
    /// The key used when the run has none: public, documented in docs/scale-out.md. It only
    /// spreads persons over shards; it protects nothing.
    static let publicKey = PseudonymKey.shardingWithoutKey

    /// The shard this process keeps.
    package let shard: ShardSpec
    private let hasher: Pseudonymizer

    /// An assignment for `shard`, keyed by `key` (or the public key when nil).
    package init(shard: ShardSpec, key: PseudonymKey?) {
        self.shard = shard
        self.hasher = Pseudonymizer(key: key ?? Self.publicKey, purpose: "shard")
    }

    /// The shard (0 ..< count) of a subject value.
    package func shardIndex(of subject: Value) -> Int {
        shardIndex(ofText: ExclusionList.text(of: subject) ?? "")
    }

    /// The shard (0 ..< count) of a subject given as text.
    package func shardIndex(ofText text: String) -> Int {
        guard shard.count > 1 else { return 0 }
        return hasher.integer(text) % shard.count
    }

    /// Whether this process keeps the records of `subject`.
    package func owns(_ subject: Value) -> Bool {
        shard.count == 1 || shardIndex(of: subject) == shard.index
    }

    /// Whether this process writes records that have no subject (mappings without `subject:`,
    /// records rejected before their subject is known): shard 0 does.
    package var ownsRecordsWithoutSubject: Bool { shard.index == 0 }
}
