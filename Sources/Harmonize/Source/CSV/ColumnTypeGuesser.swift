/// What `ColumnTypeGuesser` concluded about one column: a Table Schema type that every non-empty
/// value of the column reads as, with the `format` or `decimalChar` the schema needs, and the
/// evidence (counts, formats seen, notes). Never holds a cell value.
package struct ColumnTypeGuess: Sendable, Hashable, Codable {
    /// The Table Schema type: `integer`, `number`, `boolean`, `date`, `datetime`, `time`, `string`,
    /// or `empty` when the column had no non-empty value (write it as `string`).
    public var type: String
    /// The date/time pattern for the schema's `format` (`dd/MM/yyyy`, `yyyyMMdd`, or `default`
    /// for ISO 8601, which also takes a fraction and a trailing `Z`); nil for other types.
    public var format: String?
    /// The decimal character of a `number` column (`.` or `,`); nil for other types.
    public var decimalChar: String?
    /// Non-empty values seen.
    public var values: Int
    /// Non-empty values that read as `type` (equal to `values` unless `type` is `string`).
    public var parsing: Int
    /// Values made only of digits that start with a zero (`02155`): a code, kept as text.
    public var leadingZeros: Int
    /// The shapes of dates and times seen (patterns such as `yyyy-MM-dd'T'HH:mm:ssZ`).
    public var formatsSeen: [String]
    /// Remarks for a reader: leading zeros, time zones dropped, ambiguous day/month order, the
    /// best partial type of a `string` column.
    public var notes: [String]
    /// Shortest and longest non-empty value, in characters.
    public var minLength: Int?
    /// See `minLength`.
    public var maxLength: Int?
}

/// Guesses the Table Schema type of a column from its values, one value at a time (streaming,
/// constant memory). Shared by `harmonize-run inspect` and `harmonize-run scan`.
///
/// A type is chosen only when every non-empty value reads as it, so that the guess can be copied
/// into a schema: digit strings with a leading zero stay `string` (a code or ZIP loses its zeros as
/// an integer), a decimal comma gives `number` with `decimalChar: ","`, eight-digit values that are
/// all real dates give `date` with `yyyyMMdd`, and ISO 8601 date-times with `Z` or one constant
/// offset give `datetime` (the offset is written as a literal in the format; Harmonize date-times
/// are civil, so the note says the offset is dropped).
package struct ColumnTypeGuesser: Sendable {
    /// The date patterns tried, in order of preference when several read every value.
    public static let datePatterns = [
        "yyyy-MM-dd", "dd/MM/yyyy", "MM/dd/yyyy", "yyyy/MM/dd", "dd-MM-yyyy", "dd.MM.yyyy", "yyyyMMdd", "ddMMMyyyy",
        "dd/MM/yy",
    ]
    /// The date-time patterns tried (besides ISO 8601 with `T`, which is `default`).
    public static let dateTimePatterns = [
        "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "dd/MM/yyyy HH:mm:ss", "dd/MM/yyyy HH:mm", "MM/dd/yyyy HH:mm:ss",
        "yyyy-MM-dd'T'HH:mm", "yyyyMMddHHmmss", "ddMMMyyyy:HH:mm:ss",
    ]
    private static let dateFormats: [DateFormat] = datePatterns.map { DateFormat(uncheckedPattern: $0) }
    private static let dateTimeFormats: [DateFormat] = dateTimePatterns.map { DateFormat(uncheckedPattern: $0) }
    private static let compactDate = DateFormat(uncheckedPattern: "yyyyMMdd")
    private static let timeFormat = DateFormat.isoTime

    private var nonEmpty = 0
    private var integers = 0
    private var leadingZeroDigits = 0
    private var digitOnly = 0
    private var dotNumbers = 0
    private var commaNumbers = 0
    private var booleans = 0
    private var times = 0
    private var eightDigitDates = 0
    private var dateCounts = [Int](repeating: 0, count: ColumnTypeGuesser.datePatterns.count)
    private var dateTimeCounts = [Int](repeating: 0, count: ColumnTypeGuesser.dateTimePatterns.count)
    private var isoCounts = 0
    private var isoZ = 0
    private var isoFraction = 0
    private var isoOffsets: [String: Int] = [:]
    private var isoOffsetFractionWidths: Set<Int> = []
    private var minLength = Int.max
    private var maxLength = 0

    /// Creates an empty guesser.
    public init() {}

    /// Non-empty values seen so far.
    public var count: Int { nonEmpty }

    /// Adds one cell. Empty cells (after trimming spaces) are ignored; count them as missing.
    public mutating func add(_ raw: String) {
        let s = raw.trimmingCharacters(in: .whitespaces)
        if s.isEmpty { return }
        nonEmpty += 1
        let length = s.count
        minLength = min(minLength, length)
        maxLength = max(maxLength, length)
        var text = s
        text.withUTF8 { b in classify(b) }
    }

    private mutating func classify(_ b: UnsafeBufferPointer<UInt8>) {
        let n = b.count
        var digits = 0
        var dots = 0
        var commas = 0
        var signs = 0
        var exps = 0
        var other = 0
        for (i, c) in b.enumerated() {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "."): dots += 1
            case UInt8(ascii: ","): commas += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"): if i == 0 { signs += 1 } else { other += 1 }
            case UInt8(ascii: "e"), UInt8(ascii: "E"): exps += 1
            default: other += 1
            }
        }
        if digits == n {
            digitOnly += 1
            if n > 1 && b[0] == UInt8(ascii: "0") {
                leadingZeroDigits += 1
            } else if n <= 18 {
                integers += 1
            }
            if n == 8, Self.compactDate.parseParts(b) != nil, (1800...2200).contains(yearOf(b)) { eightDigitDates += 1 }
        } else if digits > 0 && other == 0 && exps == 0 && dots + commas == 0 && signs == 1 && n <= 19 {
            integers += 1
        } else if digits > 0 && other == 0 && exps <= 1 && dots + commas == 1 && Self.isNumber(b) {
            if dots == 1 { dotNumbers += 1 } else { commaNumbers += 1 }
        }
        if other + exps > 0 || digits < n {
            if n <= 5 {
                switch String(decoding: b, as: UTF8.self) {
                case "true", "True", "TRUE", "false", "False", "FALSE": booleans += 1
                default: break
                }
            }
        }
        guard digits >= 4 && n <= 40 else { return }
        for (k, f) in Self.dateFormats.enumerated() where f.parseParts(b) != nil { dateCounts[k] += 1 }
        for (k, f) in Self.dateTimeFormats.enumerated() where f.parseParts(b) != nil { dateTimeCounts[k] += 1 }
        if n == 8, Self.timeFormat.parseParts(b) != nil { times += 1 }
        if n >= 19, b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") {
            if DateFormat.isoDateTime.parseParts(b) != nil {
                isoCounts += 1
                if b[n - 1] == UInt8(ascii: "Z") || b[n - 1] == UInt8(ascii: "z") { isoZ += 1 }
                if n > 19 && (b[19] == UInt8(ascii: ".") || b[19] == UInt8(ascii: ",")) { isoFraction += 1 }
            } else if let (offset, width) = Self.isoOffset(b) {
                if isoOffsets[offset] != nil || isoOffsets.count < 8 { isoOffsets[offset, default: 0] += 1 }
                isoOffsetFractionWidths.insert(width)
            }
        }
    }

    private func yearOf(_ b: UnsafeBufferPointer<UInt8>) -> Int {
        var y = 0
        for i in 0..<4 { y = y * 10 + Int(b[i] &- 48) }
        return y
    }

    /// `[+-]?digits[.,]digits([eE][+-]?digits)?` with digits on both sides of the separator.
    private static func isNumber(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = b.count
        func isDigit(_ c: UInt8) -> Bool { c &- 48 < 10 }
        if i < n, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
        let intStart = i
        while i < n, isDigit(b[i]) { i += 1 }
        guard i > intStart, i < n, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") else { return false }
        i += 1
        let fracStart = i
        while i < n, isDigit(b[i]) { i += 1 }
        guard i > fracStart else { return false }
        if i < n, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < n, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            let expStart = i
            while i < n, isDigit(b[i]) { i += 1 }
            guard i > expStart else { return false }
        }
        return i == n
    }

    /// An ISO 8601 date-time ending in an offset (`+02:00`, `-0500`): the offset text and the
    /// width of the fraction of a second (0 for none), when the part before it reads as ISO.
    private static func isoOffset(_ b: UnsafeBufferPointer<UInt8>) -> (String, Int)? {
        let n = b.count
        for len in [6, 5] where n - len >= 19 {
            let s = n - len
            guard b[s] == UInt8(ascii: "+") || b[s] == UInt8(ascii: "-") else { continue }
            let tail = Array(b[s..<n])
            let ok =
                len == 6
                ? tail[3] == UInt8(ascii: ":") && [1, 2, 4, 5].allSatisfy { tail[$0] &- 48 < 10 }
                : [1, 2, 3, 4].allSatisfy { tail[$0] &- 48 < 10 }
            guard ok else { continue }
            let head = UnsafeBufferPointer(rebasing: b[0..<s])
            guard DateFormat.isoDateTime.parseParts(head) != nil, head.last != UInt8(ascii: "Z") else { return nil }
            let width = head.count > 20 ? head.count - 20 : 0
            return (String(decoding: tail, as: UTF8.self), width)
        }
        return nil
    }

    /// The guess from the values seen so far.
    public var guess: ColumnTypeGuess {
        var g = ColumnTypeGuess(
            type: "string", format: nil, decimalChar: nil, values: nonEmpty, parsing: nonEmpty, leadingZeros: leadingZeroDigits,
            formatsSeen: [], notes: [], minLength: nonEmpty > 0 ? minLength : nil, maxLength: nonEmpty > 0 ? maxLength : nil)
        let n = nonEmpty
        guard n > 0 else {
            g.type = "empty"
            return g
        }
        for (k, c) in dateCounts.enumerated() where c > 0 { g.formatsSeen.append(Self.datePatterns[k]) }
        for (k, c) in dateTimeCounts.enumerated() where c > 0 { g.formatsSeen.append(Self.dateTimePatterns[k]) }
        if isoCounts > 0 {
            g.formatsSeen.append(
                "yyyy-MM-dd'T'HH:mm:ss" + (isoFraction > 0 ? ".S…" : "") + (isoZ > 0 ? "Z" : ""))
        }
        let offsetCount = isoOffsets.values.reduce(0, +)
        for o in isoOffsets.keys.sorted() { g.formatsSeen.append("yyyy-MM-dd'T'HH:mm:ss" + o) }
        if leadingZeroDigits > 0 {
            g.notes.append("leading zeros: \(leadingZeroDigits) value(s) such as a code or ZIP start with 0, kept as string")
        }
        if booleans == n {
            g.type = "boolean"
            return g
        }
        if leadingZeroDigits > 0 && digitOnly == n { return g }
        if integers == n {
            if eightDigitDates == n && digitOnly == n {
                g.type = "date"
                g.format = "yyyyMMdd"
                g.notes.append("eight-digit values that are all dates (yyyyMMdd); declare integer if they are numbers")
                return g
            }
            g.type = "integer"
            return g
        }
        if integers + dotNumbers + commaNumbers == n && dotNumbers + commaNumbers > 0 {
            if dotNumbers > 0 && commaNumbers > 0 {
                g.notes.append("mixed decimal characters: \(dotNumbers) with '.', \(commaNumbers) with ','")
                g.parsing = integers + max(dotNumbers, commaNumbers)
                return g
            }
            g.type = "number"
            g.decimalChar = commaNumbers > 0 ? "," : "."
            return g
        }
        if let k = dateCounts.firstIndex(of: n) {
            g.type = "date"
            g.format = Self.datePatterns[k]
            let others = dateCounts.indices.filter { $0 != k && dateCounts[$0] == n }.map { Self.datePatterns[$0] }
            if !others.isEmpty { g.notes.append("also reads as \(others.joined(separator: ", ")): check the day/month order") }
            return g
        }
        if isoCounts == n {
            g.type = "datetime"
            g.format = "default"
            if isoZ > 0 { g.notes.append("'Z' (UTC) is accepted by the default format; times are read as civil times") }
            return g
        }
        if offsetCount == n && isoOffsets.count == 1, let offset = isoOffsets.keys.first, isoOffsetFractionWidths.count == 1,
            let width = isoOffsetFractionWidths.first
        {
            g.type = "datetime"
            g.format = "yyyy-MM-dd'T'HH:mm:ss" + (width > 0 ? "." + String(repeating: "S", count: width) : "") + "'\(offset)'"
            g.notes.append("every value has the offset \(offset): it is matched as text and dropped (civil times)")
            return g
        }
        if offsetCount + isoCounts == n && offsetCount > 0 {
            g.notes.append("time zone offsets vary (\(isoOffsets.count + (isoCounts > 0 ? 1 : 0)) kinds): read as string and convert")
        }
        if let k = dateTimeCounts.firstIndex(of: n) {
            g.type = "datetime"
            g.format = Self.dateTimePatterns[k]
            return g
        }
        if times == n {
            g.type = "time"
            return g
        }
        // A string column: say what most values read as.
        var best: (String, Int) = ("", 0)
        let candidates: [(String, Int)] =
            [("integer", integers), ("number", integers + max(dotNumbers, commaNumbers)), ("boolean", booleans)]
            + [("date", dateCounts.max() ?? 0), ("datetime", max(isoCounts, dateTimeCounts.max() ?? 0)), ("time", times)]
        for c in candidates where c.1 > best.1 { best = c }
        g.parsing = n
        if best.1 > 0 && leadingZeroDigits < n {
            g.notes.append("\(best.1) of \(n) value(s) read as \(best.0)")
        }
        return g
    }
}
