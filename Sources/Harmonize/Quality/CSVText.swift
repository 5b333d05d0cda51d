/// A small RFC 4180 reader for control files held in memory: quoted fields may hold delimiters,
/// doubled quotes and line ends; CRLF and LF both end a record.
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
