import Crypto

/// The messages of one mapping that deduplicates (`source: deduplicate:`): which occurrence of
/// each message identity (MSH-3, MSH-4, MSH-10) is mapped, and the duplicates met.
///
/// Each identity is kept as the first 128 bits of its SHA-256 (two different identities share
/// them with a probability of about n²/2¹²⁹: none in practice) with the position of the
/// occurrence kept: 16 + 16 bytes, about 64 bytes per distinct message with the table's
/// overhead (`bytesPerKey`). The table is counted against the mapping's share of the memory
/// budget; past it the run stops (`HZ7030`) rather than map a duplicate twice.
///
/// - **first**: streaming: the first occurrence read of an identity is recorded and kept.
/// - **last**: `recordPosition` is called for every message in a first pass over the files (in
///   run order), so the table holds each identity's last occurrence; the mapping pass keeps it.
///
/// A record is a duplicate when its message's recorded occurrence is another message; the records
/// of the kept message (one per OBX with `record: OBX`) all pass.
final class DuplicateFilter {
    /// Where a message is: the run's file index, its message number in the file, its MSH line.
    struct Position: Hashable {
        var file: Int32
        var line: Int32
        var message: Int
    }

    /// A message identity: the first 128 bits of the SHA-256 of its length-prefixed fields.
    struct Key: Hashable {
        var high: UInt64
        var low: UInt64

        init(identity: [UInt8]) {
            var h: UInt64 = 0
            var l: UInt64 = 0
            SHA256.hash(data: identity).withUnsafeBytes { d in
                for i in 0..<8 {
                    h = h << 8 | UInt64(d[i])
                    l = l << 8 | UInt64(d[8 + i])
                }
            }
            high = h
            low = l
        }
    }

    /// Memory counted per distinct message (key, position, and the hash table's free slots).
    static let bytesPerKey = 64

    let mappingID: String
    let keep: DeduplicateSpec.Keep
    /// Bytes the table may take.
    let budget: Int
    private var kept: [Key: Position] = [:]
    private var identity: [UInt8] = []
    /// Records left out as duplicates.
    private(set) var duplicates = 0
    /// The duplicate messages listed (up to `DuplicateStatistics.occurrenceLimit`), with the
    /// position kept.
    private(set) var occurrences: [(duplicate: Position, kept: Position)] = []
    private(set) var truncated = false
    /// The number of distinct messages when the table was freed.
    private var closedCount: Int? = nil
    /// The message of the previous record and whether it was a duplicate (the records of one
    /// message, one per OBX, share the decision).
    private var lastMessage: (file: Int32, message: Int, duplicate: Bool)? = nil

    init(mappingID: String, keep: DeduplicateSpec.Keep, budget: Int) {
        self.mappingID = mappingID
        self.keep = keep
        self.budget = budget
    }

    /// Bytes the table holds in memory.
    var memoryBytes: Int { kept.count * Self.bytesPerKey }

    /// First pass (`keep: last`): the current message of `reader` is its identity's latest occurrence.
    func recordPosition(of reader: HL7Reader, file: Int32) throws(RunError) {
        guard reader.messageIdentity(into: &identity) else { return }
        kept[Key(identity: identity)] = Position(file: file, line: Int32(clamping: reader.messageLine), message: reader.messageIndex)
        try checkBudget()
    }

    /// Mapping pass: whether the current record of `reader` belongs to a message whose kept
    /// occurrence is another message (counted, and listed once per message).
    func isDuplicate(_ reader: HL7Reader, file: Int32) throws(RunError) -> Bool {
        let message = reader.messageIndex
        if let last = lastMessage, last.file == file, last.message == message {
            if last.duplicate { duplicates += 1 }
            return last.duplicate
        }
        var duplicate = false
        if reader.messageIdentity(into: &identity) {
            let here = Position(file: file, line: Int32(clamping: reader.messageLine), message: message)
            let key = Key(identity: identity)
            if let k = kept[key] {
                if k.file != file || k.message != message {
                    duplicate = true
                    if occurrences.count < DuplicateStatistics.occurrenceLimit {
                        occurrences.append((here, k))
                    } else {
                        truncated = true
                    }
                }
            } else if keep == .first {
                kept[key] = here
                try checkBudget()
            }
            // keep: last: a message the first pass did not see (it could not be read then) is kept.
        }
        lastMessage = (file, message, duplicate)
        if duplicate { duplicates += 1 }
        return duplicate
    }

    /// Forgets the previous record's message (a new file starts).
    func startFile() { lastMessage = nil }

    private func checkBudget() throws(RunError) {
        guard memoryBytes > budget else { return }
        throw RunError(
            .io,
            "mapping \(mappingID): the keys of \(kept.count) distinct messages (source: deduplicate) outgrew the mapping's share of the memory budget (\(budget) bytes); raise --memory-budget; nothing was published",
            code: .duplicateKeysOverBudget)
    }

    /// The statistics for the manifest; `fileName` names the run's file indexes.
    func statistics(fileName: (Int32) -> String) -> DuplicateStatistics {
        DuplicateStatistics(
            mapping: mappingID, keep: keep.rawValue, key: DeduplicateSpec.keyFields, messages: closedCount ?? kept.count, duplicates: duplicates,
            occurrences: occurrences.map { o in
                DuplicateOccurrence(
                    file: fileName(o.duplicate.file), line: Int(o.duplicate.line), message: o.duplicate.message, keptFile: fileName(o.kept.file),
                    keptLine: Int(o.kept.line), keptMessage: o.kept.message)
            }, truncated: truncated)
    }

    /// Frees the table (the number of distinct messages stays for `statistics`).
    func close() {
        closedCount = closedCount ?? kept.count
        kept = [:]
    }
}

@available(*, unavailable)
extension DuplicateFilter: Sendable {}
