/// Numbers and ISO dates written as ASCII digits straight into a byte buffer, without building a
/// `String`: the join keys (`ValueCodec`), the PostgreSQL COPY text (`PostgreSQLCopyText`) and
/// the CSV output (`CSVText`) use it on their per-row paths.
enum DecimalBytes {
    /// `i` in decimal, a leading `-` when negative; the digits are written in place, last first.
    @inline(__always)
    static func append(_ i: Int, to out: inout [UInt8]) {
        if i < 0 { out.append(0x2D) }
        var m = i.magnitude
        var digits = 1
        var t = m
        while t >= 10 {
            t /= 10
            digits += 1
        }
        let start = out.count
        for _ in 0..<digits { out.append(0x30) }
        out.withUnsafeMutableBufferPointer { b in
            var k = start + digits - 1
            repeat {
                b[k] = UInt8(truncatingIfNeeded: 48 + m % 10)
                m /= 10
                k -= 1
            } while m > 0
        }
    }

    /// `v` (0 ≤ v < 10^width) as `width` zero-padded digits.
    @inline(__always)
    static func appendPadded(_ v: Int, width: Int, to out: inout [UInt8]) {
        var p = 1
        for _ in 1..<width { p *= 10 }
        var v = v
        while p > 0 {
            out.append(UInt8(truncatingIfNeeded: 48 + (v / p) % 10))
            v %= p
            p /= 10
        }
    }

    /// `yyyy-MM-dd`, for a year in 0…9999 (the caller checks).
    @inline(__always)
    static func appendDate(_ d: CivilDate, to out: inout [UInt8]) {
        appendPadded(d.year, width: 4, to: &out)
        out.append(0x2D)
        appendPadded(d.month, width: 2, to: &out)
        out.append(0x2D)
        appendPadded(d.day, width: 2, to: &out)
    }

    /// A date as `Value.description` writes it (`yyyy-MM-dd`; other years through `isoString`).
    @inline(__always)
    static func appendISODate(days: Int, to out: inout [UInt8]) {
        let d = CivilDate(daysSinceEpoch: days)
        guard d.year >= 0, d.year <= 9999 else {
            out.append(contentsOf: d.isoString.utf8)
            return
        }
        appendDate(d, to: &out)
    }

    /// A date-time as `Value.description` writes it (`yyyy-MM-ddTHH:mm:ss`; other years through
    /// `CivilDate.isoDateTimeString`).
    @inline(__always)
    static func appendISODateTime(seconds secs: Int, to out: inout [UInt8]) {
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let d = CivilDate(daysSinceEpoch: days)
        guard d.year >= 0, d.year <= 9999 else {
            out.append(contentsOf: CivilDate.isoDateTimeString(secondsSinceEpoch: secs).utf8)
            return
        }
        let rem = secs - days * 86_400
        appendDate(d, to: &out)
        out.append(0x54)  // T
        appendPadded(rem / 3600, width: 2, to: &out)
        out.append(0x3A)  // :
        appendPadded((rem / 60) % 60, width: 2, to: &out)
        out.append(0x3A)
        appendPadded(rem % 60, width: 2, to: &out)
    }
}
