import Crypto
import Foundation

/// The persons who objected to the processing of their data (`run --exclude FILE`).
///
/// The file holds one entry per line: a source identifier (as the mapping's `subject:` gives it)
/// or its pseudonym (`pseudonym(x, 'person')`, 64 hex digits). Empty lines and lines starting with
/// `#` are ignored. A subject matches when its normalised form (`Pseudonymizer.normalize`) equals
/// an entry's, or, with a key, when its `person` pseudonym is an entry (or the subject is the
/// pseudonym of an entry).
///
/// The list's entries never leave this object: the manifest records the file's SHA-256 and the
/// entry count only. A run maps on one thread; the lock guards the pseudonymizer's cache.
/// Safe to share: the entries are immutable; the pseudonymizer's cache is guarded by `lock`.
public final class ExclusionList: @unchecked Sendable {
    /// A list that cannot be read. Messages name the file, never entries.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// SHA-256 of the file's bytes (hex).
    public let sha256: String
    /// Number of entries (non-empty, non-comment lines, duplicates counted once).
    public let count: Int
    private let normalized: Set<String>
    private let pseudonyms: Set<String>
    private let person: Pseudonymizer?
    private let lock = NSLock()
    /// The integer person ids (`pseudonym_int(x, 'person')`) of the entries: derived from the
    /// pseudonym entries (the integer is the first 63 bits of the same HMAC) and, with a key, from
    /// the raw entries.
    public let pseudonymPersonIDs: Set<Int>

    /// Builds a list from its entries.
    public init(entries: [String], key: PseudonymKey?, sha256: String) {
        var normalized: Set<String> = []
        var pseudonyms: Set<String> = []
        var ids: Set<Int> = []
        let person = key.map { Pseudonymizer(key: $0, purpose: "person") }
        for raw in entries {
            let n = Pseudonymizer.normalize(raw)
            guard !n.isEmpty, !n.hasPrefix("#") else { continue }
            normalized.insert(n)
            let lower = n.lowercased()
            if lower.utf8.count == 64, lower.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) {
                pseudonyms.insert(lower)
                if let v = UInt64(lower.prefix(16), radix: 16) { ids.insert(Int(v & 0x7FFF_FFFF_FFFF_FFFF)) }
            }
            if let person {
                ids.insert(person.integer(n))
                // A subject given as a pseudonym then matches a raw entry too.
                pseudonyms.insert(person.pseudonym(n))
            }
        }
        self.normalized = normalized
        self.pseudonyms = pseudonyms
        self.pseudonymPersonIDs = ids
        self.count = normalized.count
        self.person = person
        self.sha256 = sha256
    }

    /// Reads a list file (a regular file: a FIFO or a device is refused before it is read).
    public static func load(path: String, key: PseudonymKey?) throws(Failure) -> ExclusionList {
        do throws(SourceIOError) {
            try FileIdentity.requireRegularFile(path)
        } catch {
            throw Failure(description: "the exclusion list: \(error.description)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "cannot read the exclusion list \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "the exclusion list \(path) is not UTF-8 text")
        }
        let digest = Hex.string(Array(SHA256.hash(data: Array(data))))
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).map(String.init)
        return ExclusionList(entries: lines, key: key, sha256: digest)
    }

    /// The text a subject value is compared as (nil for null).
    static func text(of value: Value) -> String? {
        switch value {
        case .null: return nil
        case .string(let s): return s
        case .date(let d): return CivilDate(daysSinceEpoch: d).isoString
        default: return value.description
        }
    }

    /// Whether the subject is on the list (raw, normalised, or through its `person` pseudonym).
    package func contains(_ subject: Value) -> Bool {
        guard let t = Self.text(of: subject) else { return false }
        return contains(text: t)
    }

    /// Whether a subject given as text is on the list.
    public func contains(text t: String) -> Bool {
        let n = Pseudonymizer.normalize(t)
        if normalized.contains(n) { return true }
        if !pseudonyms.isEmpty, n.utf8.count == 64, pseudonyms.contains(n.lowercased()) { return true }
        if !pseudonyms.isEmpty, let person {
            lock.lock()
            defer { lock.unlock() }
            return pseudonyms.contains(person.pseudonym(n))
        }
        return false
    }
}

/// The after-run proof that no output person is on the exclusion list.
///
/// While a run writes, every row of a table with a `person_id` column adds its person id to a set,
/// and every `person_source_value` is compared with the list at once. At the end, the set of
/// written person ids must not meet the *forbidden* ids: the ids the mappings computed for the
/// excluded records (their `person_id` expressions evaluated on them), and the `person` pseudonym
/// integers of the entries. The check reads the rows handed to the sink, i.e. exactly what is
/// written, whatever the sink.
package final class ExclusionAudit {
    let list: ExclusionList
    /// Column indexes per run table: (person_id, person_source_value), -1 when absent.
    let columns: [(personID: Int, sourceValue: Int, count: Int)]
    var writtenPersonIDs: Set<Int> = []
    /// Rows whose person_source_value is on the list.
    public private(set) var sourceValueHits = 0
    /// Rows checked.
    public private(set) var rowsChecked = 0

    init(list: ExclusionList, tables: [TargetTable]) {
        self.list = list
        self.columns = tables.map { t in
            (
                personID: t.columnIndex(named: "person_id") ?? -1, sourceValue: t.columnIndex(named: "person_source_value") ?? -1,
                count: t.columns.count
            )
        }
    }

    func observe(_ batch: RowBatch) {
        let c = columns[batch.table]
        guard c.personID >= 0 || c.sourceValue >= 0, c.count > 0 else { return }
        let rows = batch.values.count / c.count
        rowsChecked += rows
        for r in 0..<rows {
            if c.personID >= 0, case .int(let id) = batch.values[r * c.count + c.personID] { writtenPersonIDs.insert(id) }
            if c.sourceValue >= 0, let t = ExclusionList.text(of: batch.values[r * c.count + c.sourceValue]), list.contains(text: t) {
                sourceValueHits += 1
            }
        }
    }

    /// The number of output persons on the list (0 when the run is clean).
    func violations(forbidden: Set<Int>) -> Int {
        let all = forbidden.union(list.pseudonymPersonIDs)
        return writtenPersonIDs.intersection(all).count + sourceValueHits
    }
}
