/// Values in PostgreSQL's COPY text format, written straight into a byte buffer: integers, dates
/// and date-times as digits (no `String` per value), text copied as is unless it holds a byte
/// that COPY escapes (backslash, tab, newline, carriage return).
enum PostgreSQLCopyText {
    /// Appends `v` (`\N` for null).
    @inline(__always)
    static func append(_ v: Value, to out: inout [UInt8]) {
        switch v {
        case .null:
            out.append(0x5C)  // \
            out.append(0x4E)  // N
        case .bool(let b): out.append(b ? 0x74 : 0x66)  // t, f
        case .int(let i): DecimalBytes.append(i, to: &out)
        case .double(let d):
            if d.isNaN {
                out.append(contentsOf: "NaN".utf8)
            } else if d.isInfinite {
                out.append(contentsOf: (d < 0 ? "-Infinity" : "Infinity").utf8)
            } else if d.rounded() == d, abs(d) < 1e15 {
                DecimalBytes.append(Int(d), to: &out)  // as `Value.description` writes it
            } else {
                out.append(contentsOf: String(d).utf8)
            }
        case .string(let s):
            s.withUTF8Bytes { appendEscaped($0, to: &out) }
        case .date(let days): DecimalBytes.appendISODate(days: days, to: &out)
        case .dateTime(let secs): DecimalBytes.appendISODateTime(seconds: secs, to: &out)
        }
    }

    /// Text with COPY's escapes; a run of plain bytes is copied at once.
    @inline(__always)
    static func appendEscaped(_ u: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var plainFrom = 0
        for k in 0..<u.count {
            let escaped: UInt8
            switch u[k] {
            case 0x5C: escaped = 0x5C  // \\
            case 0x09: escaped = 0x74  // \t
            case 0x0A: escaped = 0x6E  // \n
            case 0x0D: escaped = 0x72  // \r
            default: continue
            }
            if k > plainFrom { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[plainFrom..<k])) }
            out.append(0x5C)
            out.append(escaped)
            plainFrom = k + 1
        }
        if u.count > plainFrom { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[plainFrom..<u.count])) }
    }
}
