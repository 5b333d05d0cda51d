/// A compact binary form of values, used where rows are kept off the Swift heap: join indexes
/// and grouping state, in memory and in their on-disk spill files.
///
/// Each value is a tag byte followed by its payload: nothing for null and booleans, a zigzag
/// LEB128 varint for integers, dates and date-times (a day count takes 3 bytes), 8 bytes
/// (little-endian) for doubles, a varint length and the UTF-8 bytes for text.
enum ValueCodec {
    static func append(_ v: Value, to out: inout [UInt8]) {
        switch v {
        case .null: out.append(0)
        case .bool(let b): out.append(b ? 2 : 1)
        case .int(let i):
            out.append(3)
            appendVarint(zigzag(i), &out)
        case .double(let d):
            out.append(4)
            var le = d.bitPattern.littleEndian
            withUnsafeBytes(of: &le) { out.append(contentsOf: $0) }
        case .date(let d):
            out.append(6)
            appendVarint(zigzag(d), &out)
        case .dateTime(let s):
            out.append(7)
            appendVarint(zigzag(s), &out)
        case .string(let s):
            out.append(5)
            s.withUTF8Bytes { u in
                appendVarint(UInt64(u.count), &out)
                out.append(contentsOf: u)
            }
        }
    }

    @inline(__always)
    static func zigzag(_ i: Int) -> UInt64 { UInt64(bitPattern: Int64(i << 1) ^ Int64(i >> 63)) }

    @inline(__always)
    static func unzigzag(_ u: UInt64) -> Int { Int(Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))) }

    @inline(__always)
    static func appendVarint(_ v: UInt64, _ out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Writes `v` as `appendVarint` does, at `out` (room for 10 bytes); returns the bytes written.
    @inline(__always)
    static func writeVarint(_ v: UInt64, to out: UnsafeMutableRawPointer) -> Int {
        var v = v
        var n = 0
        while v >= 0x80 {
            out.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: n, as: UInt8.self)
            v >>= 7
            n += 1
        }
        out.storeBytes(of: UInt8(v), toByteOffset: n, as: UInt8.self)
        return n + 1
    }

    /// Reads a varint at `p`, advancing it; nil when the bytes end first or it is too long.
    @inline(__always)
    static func readVarint(_ bytes: UnsafeRawBufferPointer, _ p: inout Int) -> UInt64? {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while p < bytes.count, shift < 64 {
            let b = bytes[p]
            p += 1
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
        return nil
    }

    /// Encodes a list of values.
    static func encode(_ values: [Value]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 4)
        for v in values { append(v, to: &out) }
        return out
    }

    /// Decodes `count` values from the start of `bytes`, calling `body` with each in order.
    /// Returns false when the bytes are not a valid encoding (a corrupt spill file).
    @discardableResult
    static func decode(_ bytes: UnsafeRawBufferPointer, count: Int, _ body: (Int, Value) -> Void) -> Bool {
        var p = 0
        for k in 0..<count {
            guard p < bytes.count else { return false }
            let tag = bytes[p]
            p += 1
            switch tag {
            case 0: body(k, .null)
            case 1: body(k, .bool(false))
            case 2: body(k, .bool(true))
            case 3, 6, 7:
                guard let u = readVarint(bytes, &p) else { return false }
                let i = unzigzag(u)
                body(k, tag == 3 ? .int(i) : tag == 6 ? .date(i) : .dateTime(i))
            case 4:
                guard p + 8 <= bytes.count else { return false }
                var w: UInt64 = 0
                withUnsafeMutableBytes(of: &w) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[p..<(p + 8)])) }
                p += 8
                body(k, .double(Double(bitPattern: UInt64(littleEndian: w))))
            case 5:
                guard let n = readVarint(bytes, &p), n <= UInt64(bytes.count - p) else { return false }
                let len = Int(n)
                body(k, .string(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[p..<(p + len)]), as: UTF8.self)))
                p += len
            default:
                return false
            }
        }
        return true
    }

    /// Decodes `count` values into an array (nil when the bytes are not a valid encoding).
    static func decode(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Value]? {
        var out = [Value](repeating: .null, count: count)
        guard decode(bytes, count: count, { out[$0] = $1 }) else { return nil }
        return out
    }

    /// The key bytes of a list of key values: their canonical texts (as lookups compare keys)
    /// separated by 0x1F; nil when a component is null (a null key matches nothing).
    static func key(_ values: some Sequence<Value>) -> [UInt8]? {
        var out: [UInt8] = []
        return appendKey(values, to: &out) ? out : nil
    }

    /// Appends the key of a join (`JoinRuntime`) made of `values` to `out` (cleared first); false
    /// when a component is null.
    ///
    /// Two join keys are equal exactly when their components' canonical texts have the same UTF-8
    /// bytes (the texts lookups compare, `LoadedLookupTable.canonical`: an integer `7` meets a
    /// text `"7"`; as before, `é` and `e` + U+0301 are different keys), but
    /// the bytes are binary wherever the text allows it, so keys are shorter and integers and
    /// dates are never printed. Each component is one of:
    /// - tag 1 and a zigzag varint: an integer, or a text that `Int` would print as it is (`-`
    ///   as the only sign, no leading zero);
    /// - tag 2 and a zigzag varint of the day count: a date of the years 0000–9999, or a text
    ///   `yyyy-MM-dd` naming one;
    /// - tag 3, a varint length and the bytes: any other text.
    /// A component's length follows from its tag: no separator is needed (and no text can fake
    /// one, as the 0x1F separator of `appendKey` could).
    ///
    /// Written into a buffer on the stack sized from the components (an integer or a date takes
    /// at most 11 bytes, a text 11 more than its own bytes), then appended to `out` at once: appended
    /// byte by byte, with the array's checks on each, a key of the nine DCIR keys cost ~1,350
    /// instructions (callgrind), once per claim indexed and once per pharmacy line probed.
    @inline(__always)
    static func appendJoinKey(_ values: [Value], to out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        var bound = 0
        for k in values.indices {
            switch values[k] {
            case .null: return false
            case .int, .date(firstKeyDay...lastKeyDay): bound += 11
            case .string(let s): bound += 11 + s.utf8.count
            // A date outside 0000–9999, a number, a boolean, a date-time (rare in keys): its text.
            default: bound += 11 + (LoadedLookupTable.canonical(values[k])?.utf8.count ?? 0)
            }
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound) { buffer -> Bool in
            guard let p = buffer.baseAddress else { return bound == 0 }
            var n = 0
            for k in values.indices {
                switch values[k] {
                case .null: return false
                case .int(let i):
                    p[n] = 1
                    n += 1 + writeVarint(zigzag(i), to: p + n + 1)
                case .date(let days) where days >= firstKeyDay && days <= lastKeyDay:
                    p[n] = 2
                    n += 1 + writeVarint(zigzag(days), to: p + n + 1)
                case .string(let s):
                    let written = s.withUTF8Bytes { u -> Int? in
                        guard let f = u.first, let l = u.last, f != 32, f != 9, l != 32, l != 9 else { return nil }
                        return writeTextComponent(u, to: p + n)
                    }
                    if let written {
                        n += written
                    } else {
                        // Surrounding blanks: the canonical text trims them (never longer).
                        guard var c = LoadedLookupTable.canonical(values[k]) else { return false }
                        n += c.withUTF8 { writeTextComponent($0, to: p + n) }
                    }
                default:
                    guard var c = LoadedLookupTable.canonical(values[k]) else { return false }
                    n += c.withUTF8 { writeTextComponent($0, to: p + n) }
                }
            }
            // The bound holds every component (a wrong one stops here, not in a corrupted key).
            precondition(n <= bound, "join key of \(n) bytes past its bound of \(bound)")
            out.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
            return true
        }
    }

    /// The day counts of 0000-01-01 and 9999-12-31: the dates whose canonical text is `yyyy-MM-dd`.
    static let firstKeyDay = -719_528
    static let lastKeyDay = 2_932_896

    /// Writes one text component of a join key (`appendJoinKey`) at `out` (room for 11 bytes
    /// more than the text): as an integer or a date when the text is the canonical text of one,
    /// else as text. Returns the bytes written.
    @inline(__always)
    private static func writeTextComponent(_ u: UnsafeBufferPointer<UInt8>, to out: UnsafeMutablePointer<UInt8>) -> Int {
        if let i = canonicalInteger(u) {
            out[0] = 1
            return 1 + writeVarint(zigzag(i), to: out + 1)
        } else if let days = canonicalDate(u) {
            out[0] = 2
            return 1 + writeVarint(zigzag(days), to: out + 1)
        }
        out[0] = 3
        let n = 1 + writeVarint(UInt64(u.count), to: out + 1)
        if let base = u.baseAddress { (out + n).update(from: base, count: u.count) }
        return n + u.count
    }

    /// The integer whose `String(i)` is exactly these bytes, else nil (`+1`, `01`, `-0`, ` 1`,
    /// an overflow: nil).
    static func canonicalInteger(_ u: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = u.count
        guard n > 0, n <= 20 else { return nil }
        let negative = u[0] == 0x2D
        var p = negative ? 1 : 0
        guard p < n else { return nil }
        if u[p] == 0x30 { return n == 1 ? 0 : nil }
        var v: UInt64 = 0
        while p < n {
            let d = u[p] &- 0x30
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { return nil }
            v = a
            p += 1
        }
        if negative {
            guard v <= UInt64(Int.max) + 1 else { return nil }
            return v == UInt64(Int.max) + 1 ? Int.min : -Int(v)
        }
        guard v <= UInt64(Int.max) else { return nil }
        return Int(v)
    }

    /// The day count of the date whose canonical text is exactly these bytes (`yyyy-MM-dd`, a
    /// date that exists, years 0000–9999), else nil.
    static func canonicalDate(_ u: UnsafeBufferPointer<UInt8>) -> Int? {
        guard u.count == 10, u[4] == 0x2D, u[7] == 0x2D else { return nil }
        func digits(_ from: Int, _ count: Int) -> Int? {
            var v = 0
            for k in from..<(from + count) {
                let d = u[k] &- 0x30
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
            }
            return v
        }
        guard let y = digits(0, 4), let m = digits(5, 2), let d = digits(8, 2) else { return nil }
        let date = CivilDate(year: y, month: m, day: d)
        return date.isValid ? date.daysSinceEpoch : nil
    }

    /// Appends the key bytes of `values` to `out` (cleared first); false when a component is null.
    /// Integers and dates are written without building a `String`.
    @inline(__always)
    static func appendKey(_ values: some Sequence<Value>, to out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        var first = true
        for v in values {
            if !first { out.append(0x1F) }
            first = false
            switch v {
            case .null: return false
            case .int(let i): DecimalBytes.append(i, to: &out)
            case .date(let days): DecimalBytes.appendISODate(days: days, to: &out)
            default:
                guard let c = LoadedLookupTable.canonical(v) else { return false }
                out.append(contentsOf: c.utf8)
            }
        }
        return true
    }
}
