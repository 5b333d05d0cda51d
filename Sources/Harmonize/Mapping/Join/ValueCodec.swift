/// A compact binary form of values, used where rows are kept off the Swift heap: join indexes
/// and grouping state, in memory and in their on-disk spill files.
///
/// Each value is a tag byte followed by its payload: nothing for null and booleans, 8 bytes
/// (little-endian) for integers, doubles, dates and date-times, a 4-byte length and the UTF-8
/// bytes for text.
enum ValueCodec {
    static func append(_ v: Value, to out: inout [UInt8]) {
        switch v {
        case .null: out.append(0)
        case .bool(let b): out.append(b ? 2 : 1)
        case .int(let i): appendWord(3, UInt64(bitPattern: Int64(i)), &out)
        case .double(let d): appendWord(4, d.bitPattern, &out)
        case .date(let d): appendWord(6, UInt64(bitPattern: Int64(d)), &out)
        case .dateTime(let s): appendWord(7, UInt64(bitPattern: Int64(s)), &out)
        case .string(var s):
            out.append(5)
            s.withUTF8 { u in
                var n = UInt32(u.count)
                withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
                out.append(contentsOf: u)
            }
        }
    }

    @inline(__always)
    private static func appendWord(_ tag: UInt8, _ w: UInt64, _ out: inout [UInt8]) {
        out.append(tag)
        var le = w.littleEndian
        withUnsafeBytes(of: &le) { out.append(contentsOf: $0) }
    }

    /// Encodes a list of values.
    static func encode(_ values: [Value]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 9)
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
            case 3, 4, 6, 7:
                guard p + 8 <= bytes.count else { return false }
                var w: UInt64 = 0
                withUnsafeMutableBytes(of: &w) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[p..<(p + 8)])) }
                w = UInt64(littleEndian: w)
                p += 8
                switch tag {
                case 3: body(k, .int(Int(Int64(bitPattern: w))))
                case 4: body(k, .double(Double(bitPattern: w)))
                case 6: body(k, .date(Int(Int64(bitPattern: w))))
                default: body(k, .dateTime(Int(Int64(bitPattern: w))))
                }
            case 5:
                guard p + 4 <= bytes.count else { return false }
                var n: UInt32 = 0
                withUnsafeMutableBytes(of: &n) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[p..<(p + 4)])) }
                p += 4
                let len = Int(n)
                guard p + len <= bytes.count else { return false }
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
            case .int(let i): appendDecimal(i, &out)
            case .date(let days):
                let d = CivilDate(daysSinceEpoch: days)
                guard d.year >= 0, d.year <= 9999 else {
                    out.append(contentsOf: d.isoString.utf8)
                    continue
                }
                appendDigits(d.year, 4, &out)
                out.append(0x2D)
                appendDigits(d.month, 2, &out)
                out.append(0x2D)
                appendDigits(d.day, 2, &out)
            default:
                guard let c = CSVLookupTable.canonical(v) else { return false }
                out.append(contentsOf: c.utf8)
            }
        }
        return true
    }

    @inline(__always)
    private static func appendDigits(_ v: Int, _ width: Int, _ out: inout [UInt8]) {
        var p = 1
        for _ in 1..<width { p *= 10 }
        var v = v
        while p > 0 {
            out.append(UInt8(48 + (v / p) % 10))
            v %= p
            p /= 10
        }
    }

    @inline(__always)
    private static func appendDecimal(_ i: Int, _ out: inout [UInt8]) {
        if i == Int.min {
            out.append(contentsOf: String(i).utf8)
            return
        }
        if i < 0 { out.append(0x2D) }
        var m = i.magnitude
        var buf: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &buf) { b in
            repeat {
                b[19 - n] = UInt8(48 + m % 10)
                m /= 10
                n += 1
            } while m > 0
            out.append(contentsOf: b[(20 - n)...])
        }
    }
}
