/// Which part of a run this process does: shard `index` of `count` (`run --shard i/N`).
///
/// A sharded run keeps the records whose subject hashes to its shard; records without a subject
/// (reference tables) belong to shard 0. Every output id is independent of the sharding.
public struct ShardSpec: Sendable, Codable, Hashable, CustomStringConvertible {
    /// 0-based shard index, `0 ..< count`.
    public let index: Int
    /// Number of shards of the run (≥ 1).
    public let count: Int

    /// Creates a shard, or nil when `index` is not in `0 ..< count`.
    public init?(index: Int, count: Int) {
        guard count >= 1, index >= 0, index < count else { return nil }
        self.index = index
        self.count = count
    }

    /// Parses `i/N` (as `run --shard` takes it), or nil.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else { return nil }
        self.init(index: index, count: count)
    }

    /// Whether this is the whole run (one shard).
    public var isWhole: Bool { count == 1 }

    /// `i/N`.
    public var description: String { "\(index)/\(count)" }
}
