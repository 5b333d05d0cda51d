/// Rows in PostgreSQL's binary COPY format (`COPY … FROM STDIN (FORMAT binary)`), written
/// straight into a byte buffer: a tuple is its field count (int16) then, per field, its length
/// (int32, -1 for null) and its bytes in the column type's binary form (`int8send`,
/// `numeric_send`, `date_send`, `timestamp_send`, `textsend`). See PostgreSQL's documentation of
/// COPY, section "Binary Format", and the types' send functions in its sources.
///
/// Measured in `bench/` (`--suite postgresql-clients`): binary COPY loads the claims at about
/// 1.7× the rows/s of text COPY with half the server CPU; text needs escaping on the client and
/// parsing on the server, binary neither.
enum PostgreSQLCopyBinary {
    /// How a column's values are sent: one per OMOP column type (`PostgreSQLDDL.sqlType`).
    enum Kind: Sendable {
        case int8, numeric, date, timestamp, text

        /// The kind of a column of type `t`.
        init(_ t: ColumnType) {
            switch t {
            case .integer, .bigint: self = .int8
            case .float: self = .numeric
            case .date: self = .date
            case .datetime: self = .timestamp
            case .varchar: self = .text
            }
        }
    }

    /// The stream's header: signature, flags (no OIDs), header-extension length 0.
    static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
    /// The stream's trailer: a field count of -1.
    static let trailer: [UInt8] = [0xFF, 0xFF]

    /// Days from 1970-01-01 (Harmonize's dates) to 2000-01-01 (PostgreSQL's epoch).
    static let epochDays = 10_957
    /// Seconds from 1970-01-01T00:00:00 to 2000-01-01T00:00:00.
    static let epochSeconds = 946_684_800

    /// Starts a tuple of `fields` fields.
    @inline(__always)
    static func appendTupleHeader(fields: Int, to out: inout [UInt8]) {
        appendBigEndian(Int16(truncatingIfNeeded: fields), to: &out)
    }

    /// Appends `v` as a field of a column of kind `kind`; false (nothing appended) when the value
    /// has no binary form for the column (a text the column's type cannot read, a date-time
    /// beyond PostgreSQL's range): the sink stops the run, as the server would have for text.
    @inline(__always)
    static func append(_ v: Value, as kind: Kind, to out: inout [UInt8]) -> Bool {
        if case .null = v {
            appendBigEndian(Int32(-1), to: &out)
            return true
        }
        switch kind {
        case .int8:
            guard let i = integer(v) else { return false }
            appendBigEndian(Int32(8), to: &out)
            appendBigEndian(Int64(i), to: &out)
            return true
        case .date:
            let days: Int
            switch v {
            case .date(let d): days = d
            case .dateTime(let s): days = s >= 0 ? s / 86_400 : (s - 86_399) / 86_400
            default: return false
            }
            guard let pg = Int32(exactly: days - epochDays) else { return false }
            appendBigEndian(Int32(4), to: &out)
            appendBigEndian(pg, to: &out)
            return true
        case .timestamp:
            let secs: Int
            switch v {
            case .dateTime(let s): secs = s
            case .date(let d): secs = d * 86_400
            default: return false
            }
            let (micros, overflow) = (secs - epochSeconds).multipliedReportingOverflow(by: 1_000_000)
            guard !overflow else { return false }
            appendBigEndian(Int32(8), to: &out)
            appendBigEndian(Int64(micros), to: &out)
            return true
        case .text:
            let start = out.count
            appendBigEndian(Int32(0), to: &out)
            if case .string(let s) = v {
                s.withUTF8Bytes { out.append(contentsOf: $0) }
            } else {
                // Not a text: written as the text format writes it (digits, ISO dates: no escapes).
                PostgreSQLCopyText.append(v, to: &out)
            }
            patchLength(at: start, of: &out)
            return true
        case .numeric:
            return appendNumeric(v, to: &out)
        }
    }

    /// The integer of a value bound for an `int8` column (as COPY text would have read it).
    @inline(__always)
    private static func integer(_ v: Value) -> Int? {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        case .double(let d): return d.rounded() == d && abs(d) < 9.2e18 ? Int(d) : nil
        case .string(let s): return Int(s.trimmingSpaces())
        default: return nil
        }
    }

    /// A numeric field: the value's COPY text (the text format's own digits) read as
    /// `numeric_in` reads it, then sent as `numeric_send` does.
    private static func appendNumeric(_ v: Value, to out: inout [UInt8]) -> Bool {
        let start = out.count
        switch v {
        case .int, .double: PostgreSQLCopyText.append(v, to: &out)
        case .string(let s): s.withUTF8Bytes { out.append(contentsOf: $0) }
        default: return false
        }
        let n = out.count - start
        // The text is moved to the stack, then replaced by the binary form.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n) { tmp in
            out.withUnsafeBufferPointer { b in
                for k in 0..<n { tmp[k] = b[start + k] }
            }
            out.removeSubrange(start...)
            return appendNumeric(text: UnsafeBufferPointer(tmp), to: &out)
        }
    }

    /// `numeric_send` of a decimal text (`[+-]digits[.digits][e[+-]digits]`, `NaN`,
    /// `[+-]Infinity`, spaces around allowed); false (nothing appended) when it is not a number.
    static func appendNumeric(text raw: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        var lo = 0
        var hi = raw.count
        while lo < hi, raw[lo] == 0x20 { lo += 1 }
        while hi > lo, raw[hi - 1] == 0x20 { hi -= 1 }
        let text = UnsafeBufferPointer(rebasing: raw[lo..<hi])
        if let special = specialNumeric(text) {
            return appendNumericHeader(count: 0, weight: 0, sign: special, scale: 0, to: &out)
        }
        var i = 0
        var negative = false
        if i < text.count, text[i] == 0x2D || text[i] == 0x2B {
            negative = text[i] == 0x2D
            i += 1
        }
        // The mantissa: its digits (and point) from `mStart` to `mEnd`.
        let mStart = i
        var count = 0
        var fraction = 0
        var seenPoint = false
        while i < text.count {
            let c = text[i]
            if c >= 0x30, c <= 0x39 {
                count += 1
                if seenPoint { fraction += 1 }
            } else if c == 0x2E, !seenPoint {
                seenPoint = true
            } else {
                break
            }
            i += 1
        }
        let mEnd = i
        guard count > 0 else { return false }
        var exponent = 0
        if i < text.count, text[i] == 0x65 || text[i] == 0x45 {
            i += 1
            var expNegative = false
            if i < text.count, text[i] == 0x2D || text[i] == 0x2B {
                expNegative = text[i] == 0x2D
                i += 1
            }
            var any = false
            while i < text.count, text[i] >= 0x30, text[i] <= 0x39 {
                exponent = exponent * 10 + Int(text[i] - 0x30)
                any = true
                guard exponent < 100_000 else { return false }
                i += 1
            }
            guard any else { return false }
            if expNegative { exponent = -exponent }
        }
        guard i == text.count else { return false }
        // value = mantissa × 10^e; numeric_in keeps the digits after the point as the scale.
        let e = exponent - fraction
        let scale = max(0, -e)
        // Digit j (from the left) stands for 10^(e + count - 1 - j); base-10000 group g holds
        // the powers 4g…4g+3. Only non-zero digits bound the groups: none leading or trailing.
        var top = Int.min
        var bottom = Int.max
        var j = 0
        for k in mStart..<mEnd where text[k] != 0x2E {
            if text[k] != 0x30 {
                let p = e + count - 1 - j
                top = max(top, p)
                bottom = min(bottom, p)
            }
            j += 1
        }
        guard top != Int.min else { return appendNumericHeader(count: 0, weight: 0, sign: 0x0000, scale: scale, to: &out) }
        let gTop = floorDiv(top, 4)
        let gBottom = floorDiv(bottom, 4)
        guard appendNumericHeader(count: gTop - gBottom + 1, weight: gTop, sign: negative ? 0x4000 : 0x0000, scale: scale, to: &out) else {
            return false
        }
        // One pass from the highest power down, a group written when the next one starts.
        var group = gTop
        var acc = 0
        j = 0
        for k in mStart..<mEnd where text[k] != 0x2E {
            let p = e + count - 1 - j
            j += 1
            guard p >= 4 * gBottom, p <= top else { continue }
            let g = floorDiv(p, 4)
            while group > g {
                appendBigEndian(Int16(acc), to: &out)
                acc = 0
                group -= 1
            }
            var d = Int(text[k] - 0x30)
            for _ in 0..<(p - 4 * g) { d *= 10 }
            acc += d
        }
        while group >= gBottom {
            appendBigEndian(Int16(acc), to: &out)
            acc = 0
            group -= 1
        }
        return true
    }

    /// The sign word of `NaN` and the infinities, nil for any other text.
    private static func specialNumeric(_ text: UnsafeBufferPointer<UInt8>) -> UInt16? {
        guard let f = text.first, f == 0x4E || f == 0x49 || f == 0x2D || f == 0x2B else { return nil }
        if text.elementsEqual("NaN".utf8) { return 0xC000 }
        if text.elementsEqual("Infinity".utf8) || text.elementsEqual("+Infinity".utf8) { return 0xD000 }
        if text.elementsEqual("-Infinity".utf8) { return 0xF000 }
        return nil
    }

    /// The length and header of a numeric field of `count` base-10000 digits (written next).
    private static func appendNumericHeader(count: Int, weight: Int, sign: UInt16, scale: Int, to out: inout [UInt8]) -> Bool {
        guard let w = Int16(exactly: weight), let s = Int16(exactly: scale), count < Int(Int16.max) / 2 else { return false }
        appendBigEndian(Int32(8 + 2 * count), to: &out)
        appendBigEndian(Int16(count), to: &out)
        appendBigEndian(w, to: &out)
        appendBigEndian(sign, to: &out)
        appendBigEndian(s, to: &out)
        return true
    }

    @inline(__always)
    private static func floorDiv(_ a: Int, _ b: Int) -> Int {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    /// Writes the length of the field whose int32 length placeholder is at `start`.
    @inline(__always)
    private static func patchLength(at start: Int, of out: inout [UInt8]) {
        let n = UInt32(truncatingIfNeeded: out.count - start - 4)
        out.withUnsafeMutableBufferPointer { b in
            b[start] = UInt8(truncatingIfNeeded: n >> 24)
            b[start + 1] = UInt8(truncatingIfNeeded: n >> 16)
            b[start + 2] = UInt8(truncatingIfNeeded: n >> 8)
            b[start + 3] = UInt8(truncatingIfNeeded: n)
        }
    }

    @inline(__always)
    private static func appendBigEndian<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }
}
