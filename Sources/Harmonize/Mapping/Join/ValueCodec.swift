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
        case .string(var s):
            out.append(5)
            s.withUTF8 { u in
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
    @inline(__always)
    static func appendJoinKey(_ values: some Sequence<Value>, to out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        for v in values {
            switch v {
            case .null: return false
            case .int(let i):
                out.append(1)
                appendVarint(zigzag(i), &out)
            case .date(let days) where days >= firstKeyDay && days <= lastKeyDay:
                out.append(2)
                appendVarint(zigzag(days), &out)
            case .string(var s):
                let u = s.utf8
                if let f = u.first, let l = u.last, f != 32, f != 9, l != 32, l != 9 {
                    s.withUTF8 { appendTextComponent($0, to: &out) }
                } else {
                    // Surrounding blanks: the canonical text trims them.
                    guard var c = LoadedLookupTable.canonical(v) else { return false }
                    c.withUTF8 { appendTextComponent($0, to: &out) }
                }
            default:
                guard var c = LoadedLookupTable.canonical(v) else { return false }
                c.withUTF8 { appendTextComponent($0, to: &out) }
            }
        }
        return true
    }

    /// The day counts of 0000-01-01 and 9999-12-31: the dates whose canonical text is `yyyy-MM-dd`.
    static let firstKeyDay = -719_528
    static let lastKeyDay = 2_932_896

    /// One text component of a join key (`appendJoinKey`): as an integer or a date when the
    /// text is the canonical text of one, else as text.
    @inline(__always)
    private static func appendTextComponent(_ u: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        if let i = canonicalInteger(u) {
            out.append(1)
            appendVarint(zigzag(i), &out)
        } else if let days = canonicalDate(u) {
            out.append(2)
            appendVarint(zigzag(days), &out)
        } else {
            out.append(3)
            appendVarint(UInt64(u.count), &out)
            out.append(contentsOf: u)
        }
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
