/// RFC 4180 text. Reading: control files held in memory (the quality checks' DQD files); quoted
/// fields may hold delimiters, doubled quotes and line ends; CRLF and LF both end a record.
/// Writing: the CSV output's cells (`CSVSink`), below.
enum CSVText {
    /// Records as dictionaries keyed by the header row.
    static func records(_ text: String) -> [[String: String]] {
        let rows = parse(text)
        guard let header = rows.first else { return [] }
        return rows.dropFirst().compactMap { row in
            guard !(row.count == 1 && row[0].isEmpty) else { return nil }
            var d: [String: String] = [:]
            for (i, h) in header.enumerated() where i < row.count { d[h] = row[i] }
            return d
        }
    }

    /// Every record as an array of fields.
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var i = text.utf8.startIndex
        let u = text.utf8
        func endField() {
            row.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
        }
        while i < u.endIndex {
            let c = u[i]
            if inQuotes {
                if c == UInt8(ascii: "\"") {
                    let n = u.index(after: i)
                    if n < u.endIndex, u[n] == UInt8(ascii: "\"") {
                        field.append(c)
                        i = n
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == UInt8(ascii: "\"") {
                inQuotes = true
            } else if c == UInt8(ascii: ",") {
                endField()
            } else if c == UInt8(ascii: "\n") {
                endField()
                rows.append(row)
                row = []
            } else if c != UInt8(ascii: "\r") {
                field.append(c)
            }
            i = u.index(after: i)
        }
        if !field.isEmpty || !row.isEmpty {
            endField()
            rows.append(row)
        }
        return rows
    }
}

/// Values as RFC 4180 CSV fields (the CSV output's cells), written straight into a byte buffer:
/// each value's canonical text (`Value.description`: ISO dates, digits; no `String` per value), a
/// text holding a comma, quote or line end quoted with its quotes doubled.
extension CSVText {
    /// Appends `v`'s field.
    @inline(__always)
    static func append(_ v: Value, to out: inout [UInt8]) {
        switch v {
        case .null: break
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): DecimalBytes.append(i, to: &out)
        case .double(let d):
            if d.rounded() == d, abs(d) < 1e15 {
                DecimalBytes.append(Int(d), to: &out)  // as `Value.description` writes it
            } else {
                appendText(String(d), to: &out)
            }
        case .string(let s): appendText(s, to: &out)
        case .date(let days): DecimalBytes.appendISODate(days: days, to: &out)
        case .dateTime(let secs): DecimalBytes.appendISODateTime(seconds: secs, to: &out)
        }
    }

    /// Appends `count` values from `values[from...]`, separated by commas.
    @inline(__always)
    static func appendRow<Values: RandomAccessCollection<Value>>(_ values: Values, from: Int, count: Int, to out: inout [UInt8])
    where Values.Index == Int {
        for c in 0..<count {
            if c > 0 { out.append(0x2C) }
            append(values[from + c], to: &out)
        }
    }

    /// Text as it is, or quoted when it holds a comma, quote, LF or CR.
    @inline(__always)
    static func appendText(_ s: String, to out: inout [UInt8]) {
        s.withUTF8Bytes { u in
            guard u.contains(where: { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }) else {
                out.append(contentsOf: u)
                return
            }
            out.append(0x22)
            for b in u {
                out.append(b)
                if b == 0x22 { out.append(0x22) }
            }
            out.append(0x22)
        }
    }
}
