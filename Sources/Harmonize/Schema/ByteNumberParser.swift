/// Integer and decimal parsing straight from UTF-8 bytes, without creating a `String` (the
/// per-cell hot path of source decoding).
enum ByteNumberParser {
    /// Powers of ten exactly representable as doubles.
    static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
        1e19, 1e20, 1e21, 1e22,
    ]

    /// The sign of a number and the index of its first character after the sign; nil when the
    /// buffer is empty or holds only a sign.
    @inline(__always)
    static func sign(_ b: UnsafeBufferPointer<UInt8>) -> (negative: Bool, start: Int)? {
        guard let first = b.first else { return nil }
        let start = (first == UInt8(ascii: "-") || first == UInt8(ascii: "+")) ? 1 : 0
        guard start < b.count else { return nil }
        return (first == UInt8(ascii: "-"), start)
    }

    /// `[+-]?digits`, with `groupChar` allowed between digits; nil on anything else or on overflow.
    @inline(__always)
    static func parseInt(_ b: UnsafeBufferPointer<UInt8>, groupChar: UInt8?) -> Int? {
        let n = b.count
        guard let (negative, start) = sign(b) else { return nil }
        var i = start
        // Fast path: up to 18 digits cannot overflow.
        if groupChar == nil, n - i <= 18 {
            var value = 0
            while i < n {
                let d = b[i] &- 48
                guard d < 10 else { return nil }
                value = value &* 10 &+ Int(d)
                i += 1
            }
            return negative ? -value : value
        }
        // Accumulate negatively so that Int.min parses.
        var value = 0
        var sawDigit = false
        while i < n {
            let byte = b[i]
            let d = byte &- 48
            if d < 10 {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.subtractingReportingOverflow(Int(d))
                guard !o1, !o2 else { return nil }
                value = s
                sawDigit = true
            } else if let g = groupChar, byte == g, sawDigit, i + 1 < n, b[i + 1] &- 48 < 10 {
                // group separator between digits
            } else {
                return nil
            }
            i += 1
        }
        guard sawDigit else { return nil }
        if negative { return value }
        guard value != Int.min else { return nil }
        return -value
    }

    /// A decimal number: `[+-]? digits [decimalChar digits] [(e|E) [+-]? digits]` (digits on at
    /// least one side of the decimal char), `groupChar` between integer digits, and `NaN`, `INF`,
    /// `-INF`. Exact (correctly rounded) results.
    static func parseDouble(_ b: UnsafeBufferPointer<UInt8>, decimalChar: UInt8, groupChar: UInt8?) -> Double? {
        let n = b.count
        guard let (negative, start) = sign(b) else { return nil }
        var i = start
        if b[i] &- 48 >= 10, b[i] != decimalChar { return special(b, negative: negative, from: i) }
        var mantissa: UInt64 = 0
        var exponent = 0
        var digits = 0
        var exact = true
        var sawDigit = false
        while i < n {
            let byte = b[i]
            let d = byte &- 48
            if d < 10 {
                sawDigit = true
                accumulate(&mantissa, &exponent, &exact, &digits, d)
            } else if let g = groupChar, byte == g, sawDigit, i + 1 < n, b[i + 1] &- 48 < 10 {
                // group separator between digits
            } else {
                break
            }
            i += 1
        }
        if i < n, b[i] == decimalChar {
            i += 1
            while i < n {
                let d = b[i] &- 48
                guard d < 10 else { break }
                sawDigit = true
                accumulate(&mantissa, &exponent, &exact, &digits, d)
                exponent -= 1
                i += 1
            }
        }
        guard sawDigit else { return nil }
        if i < n, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var expNegative = false
            if i < n, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") {
                expNegative = b[i] == UInt8(ascii: "-")
                i += 1
            }
            var e = 0
            let start = i
            while i < n {
                let d = b[i] &- 48
                guard d < 10 else { break }
                if e < 100_000 { e = e * 10 + Int(d) }
                i += 1
            }
            guard i > start else { return nil }
            exponent += expNegative ? -e : e
        }
        guard i == n else { return nil }
        if exact, mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
            // Clinger's fast path: both operands are exact, so one rounding.
            var v = Double(mantissa)
            if exponent < 0 { v /= exactPowersOfTen[-exponent] } else { v *= exactPowersOfTen[exponent] }
            return negative ? -v : v
        }
        if mantissa == 0 { return negative ? -0.0 : 0.0 }
        return slowPath(b, decimalChar: decimalChar, groupChar: groupChar)
    }

    @inline(__always)
    private static func accumulate(
        _ mantissa: inout UInt64, _ exponent: inout Int, _ exact: inout Bool, _ digits: inout Int, _ d: UInt8
    ) {
        if mantissa == 0, d == 0 { return }
        if digits < 19 {
            mantissa = mantissa &* 10 &+ UInt64(d)
            digits += 1
        } else {
            // Further digits only shift the magnitude; the value is no longer exact.
            exponent += 1
            if d != 0 { exact = false }
        }
    }

    /// Rare inputs (more than 15–19 significant digits, large exponents): normalise to the C
    /// syntax and let the standard library round correctly.
    private static func slowPath(_ b: UnsafeBufferPointer<UInt8>, decimalChar: UInt8, groupChar: UInt8?) -> Double? {
        var text = ""
        text.reserveCapacity(b.count)
        for byte in b where byte != groupChar {
            text.unicodeScalars.append(Unicode.Scalar(byte == decimalChar ? UInt8(ascii: ".") : byte))
        }
        guard let v = Double(text), v.isFinite else { return nil }
        return v
    }

    private static func special(_ b: UnsafeBufferPointer<UInt8>, negative: Bool, from i: Int) -> Double? {
        let rest = UnsafeBufferPointer(rebasing: b[i...])
        if rest.elementsEqual("INF".utf8) { return negative ? -.infinity : .infinity }
        if rest.elementsEqual("NaN".utf8), !negative, i == 0 { return .nan }
        return nil
    }

    /// Drops leading and trailing bytes that cannot belong to a number (`bareNumber: false`):
    /// currency signs, `%`, spaces. Keeps a sign and a leading decimal char.
    static func stripNonNumeric(_ b: UnsafeBufferPointer<UInt8>, decimalChar: UInt8) -> UnsafeBufferPointer<UInt8> {
        var start = 0
        var end = b.count
        while start < end {
            let c = b[start]
            if c &- 48 < 10 || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == decimalChar { break }
            start += 1
        }
        while end > start, b[end - 1] &- 48 >= 10 { end -= 1 }
        return UnsafeBufferPointer(rebasing: b[start..<end])
    }
}
