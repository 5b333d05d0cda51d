/// The profile of one column of a delimited file, as `harmonize-run scan` reports it: the type
/// guess with its evidence, the share of empty cells, the number of distinct values, the range,
/// the lengths and the most frequent values, with small cells and identifying columns suppressed.
package struct ColumnProfile: Sendable, Codable {
    /// One frequent value; `count` is a number, or `<11` for a small cell.
    public struct Frequent: Sendable, Codable {
        /// The value.
        public var value: String
        /// The count, or `<11`.
        public var count: String
    }

    /// 1-based position in the file.
    public var position: Int
    /// The column name (from the header, else the position).
    public var name: String
    /// The type guess and its evidence (share parsing, formats seen, leading zeros, decimal char).
    public var guess: ColumnTypeGuess
    /// Cells seen (empty ones included).
    public var cells: Int
    /// Empty cells.
    public var empty: Int
    /// Share of empty cells (0…1).
    public var nullShare: Double
    /// Distinct non-empty values: exact up to `ColumnProfiler.exactDistinctLimit`, then estimated.
    public var distinct: Int
    /// Whether `distinct` is a HyperLogLog estimate (about 1.6 % standard error).
    public var distinctEstimated: Bool
    /// Smallest and largest value of a numeric column; nil for other columns, and always for
    /// identifying columns.
    public var min: Double?
    /// See `min`.
    public var max: Double?
    /// Why the column's values are never listed (nil when they may be).
    public var identifying: String?
    /// The most frequent values (empty for identifying columns, and when every value is distinct).
    public var frequent: [Frequent]
}

/// Accumulates a `ColumnProfile` one cell at a time, in bounded memory: exact counts for up to
/// `exactDistinctLimit` distinct values, then a HyperLogLog sketch for the distinct count (and no
/// frequent values unless they were counted before the limit).
package struct ColumnProfiler: Sendable {
    /// Distinct values counted exactly, at most.
    public static let exactDistinctLimit = 10_000
    /// Counts below this are shown as `<11` (small-cell suppression).
    public static let smallCell = 11

    /// The column name.
    public let name: String
    /// The 1-based position.
    public let position: Int
    private var guesser = ColumnTypeGuesser()
    private var counts: [String: Int] = [:]
    private var overflow = false
    private var sketch = HyperLogLog()
    private var cells = 0
    private var empty = 0
    private var numericMin = Double.infinity
    private var numericMax = -Double.infinity
    private var nirLike = 0

    /// A profiler for the column `name` at `position`.
    public init(name: String, position: Int) {
        self.name = name
        self.position = position
    }

    /// Adds one cell.
    public mutating func add(_ raw: String) {
        cells += 1
        let s = raw.trimmingCharacters(in: .whitespaces)
        if s.isEmpty {
            empty += 1
            return
        }
        guesser.add(s)
        sketch.add(s)
        if !overflow {
            counts[s, default: 0] += 1
            if counts.count > Self.exactDistinctLimit { overflow = true }
        }
        if let d = Double(s.replacingOccurrences(of: ",", with: ".")), d.isFinite {
            numericMin = Swift.min(numericMin, d)
            numericMax = Swift.max(numericMax, d)
        }
        if Self.looksLikeNIR(s) { nirLike += 1 }
    }

    /// A French NIR (13 or 15 characters: sex digit, then digits, Corsica 2A/2B allowed) or a
    /// pseudonymised SNDS NIR (17 characters).
    static func looksLikeNIR(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 13 || u.count == 15 || u.count == 17 else { return false }
        if u.count == 17 { return u.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) } }
        guard u[0] == UInt8(ascii: "1") || u[0] == UInt8(ascii: "2") else { return false }
        return u.enumerated().allSatisfy { i, c in (c >= 48 && c <= 57) || ((i == 5 || i == 6) && (c == 65 || c == 66)) }
    }

    /// Why a column's values are identifying, from its name and values; nil when they seem not.
    func identifyingReason(type: String) -> String? {
        let n = name.lowercased()
        let words: [(String, [String])] = [
            ("a name", ["nom", "name", "prenom", "prénom", "surname", "firstname", "lastname", "given", "family"]),
            ("an address", ["adresse", "address", "addr", "rue", "street", "voie", "city", "ville", "commune", "zip", "postal", "cp_"]),
            ("a birth date", ["naissance", "birth", "dob", "date_nai", "dat_nai", "nai_"]),
            ("an identifier", ["nir", "ssn", "insee", "ins_", "ipp", "patient", "phone", "tel", "mail", "email"]),
        ]
        for (what, keys) in words where keys.contains(where: { n.contains($0) }) {
            return "the column name suggests \(what)"
        }
        let values = cells - empty
        if values > 0 && nirLike * 2 > values { return "the values look like NIRs" }
        if type == "date" && (n.contains("nais") || n.contains("birth")) { return "a birth date" }
        return nil
    }

    /// The profile of the cells seen; `top` frequent values at most.
    public func profile(top: Int = 10) -> ColumnProfile {
        let guess = guesser.guess
        let identifying = identifyingReason(type: guess.type)
        let exactDistinct = !overflow
        let distinct = exactDistinct ? counts.count : sketch.estimate
        var frequent: [ColumnProfile.Frequent] = []
        if identifying == nil && exactDistinct && distinct < cells - empty {
            let ranked = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(top)
            frequent = ranked.map { v, c in .init(value: v, count: c < Self.smallCell ? "<\(Self.smallCell)" : String(c)) }
        }
        let numeric = identifying == nil && (guess.type == "integer" || guess.type == "number") && numericMin <= numericMax
        return ColumnProfile(
            position: position, name: name, guess: guess, cells: cells, empty: empty,
            nullShare: cells == 0 ? 0 : Double(empty) / Double(cells), distinct: distinct, distinctEstimated: !exactDistinct,
            min: numeric ? numericMin : nil, max: numeric ? numericMax : nil, identifying: identifying, frequent: frequent)
    }
}

/// A HyperLogLog distinct-count sketch (2¹² registers, about 1.6 % standard error) over a
/// 64-bit FNV-1a hash with a final mix: deterministic from run to run.
struct HyperLogLog: Sendable {
    private static let p = 12
    private var registers = [UInt8](repeating: 0, count: 1 << HyperLogLog.p)

    mutating func add(_ s: String) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        // splitmix64 finaliser: spreads FNV's weak low bits.
        h ^= h >> 30
        h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27
        h = h &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        let index = Int(h >> UInt64(64 - Self.p))
        let rest = h << UInt64(Self.p)
        let rank = UInt8(Swift.min(rest.leadingZeroBitCount, 64 - Self.p) + 1)
        if rank > registers[index] { registers[index] = rank }
    }

    var estimate: Int {
        let m = Double(registers.count)
        var sum = 0.0
        var zeros = 0
        for r in registers {
            sum += 1 / Double(UInt64(1) << UInt64(r))
            if r == 0 { zeros += 1 }
        }
        let alpha = 0.7213 / (1 + 1.079 / m)
        var e = alpha * m * m / sum
        if e <= 2.5 * m && zeros > 0 { e = m * log(m / Double(zeros)) }
        return Int(e.rounded())
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
