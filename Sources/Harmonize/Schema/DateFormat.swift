/// A compiled date/time pattern that parses UTF-8 bytes without Foundation and without
/// allocating, and formats values back to text (the mapping language's `format_date`).
///
/// Two pattern styles are accepted:
/// - strftime (any pattern containing `%`): `%Y` `%y` `%m` `%d` `%b`/`%h` `%H` `%M` `%S` `%f`
///   `%F` (`%Y-%m-%d`) `%T` (`%H:%M:%S`) `%%`; a `fmt:` prefix (old Table Schema) is ignored;
/// - ICU/Java: `yyyy` `yy` `MM` `M` `MMM` `dd` `d` `HH` `H` `mm` `m` `ss` `s` `S…` (fraction),
///   `'quoted text'`, `''`, and an unquoted `T`.
///
/// `MMM`/`%b` are English three-letter month abbreviations, case-insensitive (SAS `02JAN2007`).
/// Two-digit years use the POSIX pivot (69…99 → 19xx, 00…68 → 20xx). Parts a pattern lacks
/// default as in `strptime`: year 1900, month 1, day 1, midnight. Numeric parts take exactly their
/// width when next to another numeric part (`%d%m%Y`), and one or two digits otherwise (`d/M/yyyy`).
/// Calendars are checked: no 30 February, hours 0…23, minutes and seconds 0…59.
package struct DateFormat: Sendable, Hashable, CustomStringConvertible {
    /// The parts of a date-time read by a format.
    public struct Parts: Sendable, Hashable {
        /// The year.
        public var year = 1900
        /// The month, 1…12.
        public var month = 1
        /// The day, 1…31.
        public var day = 1
        /// The hour, 0…23.
        public var hour = 0
        /// The minute, 0…59.
        public var minute = 0
        /// The second, 0…59.
        public var second = 0

        /// Creates parts (defaults: 1900-01-01T00:00:00).
        public init(year: Int = 1900, month: Int = 1, day: Int = 1, hour: Int = 0, minute: Int = 0, second: Int = 0) {
            self.year = year
            self.month = month
            self.day = day
            self.hour = hour
            self.minute = minute
            self.second = second
        }

        /// Whether the parts name a real date and time of day.
        var isValid: Bool {
            month >= 1 && month <= 12 && day >= 1 && day <= CivilDate.daysInMonth(year: year, month: month)
                && hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 59
        }

        /// Days since 1970-01-01.
        public var daysSinceEpoch: Int { CivilDate(year: year, month: month, day: day).daysSinceEpoch }
        /// Seconds since 1970-01-01T00:00:00.
        public var secondsSinceEpoch: Int { daysSinceEpoch * 86_400 + hour * 3600 + minute * 60 + second }
    }

    enum Component: UInt8, Sendable, Hashable {
        case year, year2, month, day, hour, minute, second, fraction

        var naturalWidth: UInt8 {
            switch self {
            case .year: return 4
            case .fraction: return 1
            default: return 2
            }
        }
    }

    enum Token: Sendable, Hashable {
        /// One byte that must be present.
        case literal(UInt8)
        /// Digits: `min…max` digits when parsing, padded to `width` when formatting.
        case number(Component, min: UInt8, max: UInt8, width: UInt8)
        /// An English three-letter month abbreviation.
        case monthAbbreviation
    }

    /// The pattern as written.
    public let pattern: String
    let tokens: [Token]
    /// Accept `.fraction` and a trailing `Z` after the last token (the `default` datetime format).
    let acceptsISOTail: Bool
    /// Byte offsets of every part at its widest (`yyyy-MM-dd`, `%d%m%Y`, `%d%b%Y:%H:%M:%S`): a
    /// text of that length can only match with every part at its widest, so it is read without
    /// the general token loop.
    let fixed: FixedLayout?

    /// `yyyy-MM-dd`, the `default` date format.
    public static let isoDate = DateFormat(uncheckedPattern: "yyyy-MM-dd")
    /// `yyyy-MM-ddTHH:mm:ss`, the `default` datetime format; also accepts fractional seconds
    /// (dropped) and a trailing `Z`.
    public static let isoDateTime = DateFormat(uncheckedPattern: "yyyy-MM-dd'T'HH:mm:ss", isoTail: true)
    /// `HH:mm:ss`, the `default` time format.
    public static let isoTime = DateFormat(uncheckedPattern: "HH:mm:ss")

    /// Compiles a pattern.
    /// - Throws: `DateFormatError` for an unknown directive or letter, an unterminated quote, a
    ///   part given twice, or a pattern without any date or time part.
    public init(pattern: String) throws(DateFormatError) {
        var p = pattern
        if p.hasPrefix("fmt:") { p.removeFirst(4) }
        let raw =
            p.contains("%")
            ? try DateFormat.compileStrftime(p, original: pattern)
            : try DateFormat.compileICU(p, original: pattern)
        self.pattern = pattern
        self.tokens = try DateFormat.finish(raw, original: pattern)
        self.acceptsISOTail = false
        self.fixed = FixedLayout(tokens, isoTail: false)
    }

    init(uncheckedPattern: String, isoTail: Bool = false) {
        let raw = (try? DateFormat.compileICU(uncheckedPattern, original: uncheckedPattern)) ?? []
        self.pattern = uncheckedPattern
        self.tokens = (try? DateFormat.finish(raw, original: uncheckedPattern)) ?? []
        self.acceptsISOTail = isoTail
        self.fixed = FixedLayout(tokens, isoTail: isoTail)
    }

    /// The pattern as written.
    public var description: String { pattern }

    /// Formats are equal when they read and write the same way.
    public static func == (lhs: DateFormat, rhs: DateFormat) -> Bool {
        lhs.pattern == rhs.pattern && lhs.tokens == rhs.tokens && lhs.acceptsISOTail == rhs.acceptsISOTail
    }

    /// Hashes the pattern.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(pattern)
        hasher.combine(acceptsISOTail)
    }

    /// Whether the pattern reads a year (`%Y`, `%y`, `yyyy`, `yy`).
    public var hasYear: Bool { has(.year) || has(.year2) }
    /// Whether the pattern reads a time of day.
    public var hasTime: Bool { has(.hour) || has(.minute) || has(.second) }
    /// Whether the pattern reads a day or a month.
    public var hasDate: Bool { hasYear || has(.month) || has(.day) || tokens.contains(.monthAbbreviation) }

    private func has(_ c: Component) -> Bool {
        tokens.contains { if case .number(c, _, _, _) = $0 { return true } else { return false } }
    }

    // MARK: Parsing

    /// Parses the whole of `bytes`; nil when they do not match or name no real date or time.
    /// Days since 1970-01-01 of a date: `parseParts(bytes)?.daysSinceEpoch`, without the parts
    /// for a fixed layout of a date alone (`dd/MM/yyyy`, `yyyyMMdd`…: 4 % of a claims run's
    /// mapping thread went to the parts, their checks and the general calendar arithmetic).
    public func parseDays(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        if let fixed, fixed.isDateOnly {
            if bytes.count == fixed.length { return fixed.days(bytes) }
            if fixed.isExact { return nil }
        }
        return parseParts(bytes)?.daysSinceEpoch
    }

    public func parseParts(_ bytes: UnsafeBufferPointer<UInt8>) -> Parts? {
        if let fixed {
            if bytes.count == fixed.length { return fixed.parse(bytes) }
            if fixed.isExact { return nil }
        }
        return tokens.withUnsafeBufferPointer { parse(bytes, tokens: $0) }
    }

    @inline(__always)
    private func parse(_ bytes: UnsafeBufferPointer<UInt8>, tokens: UnsafeBufferPointer<Token>) -> Parts? {
        var parts = Parts()
        var i = 0
        let n = bytes.count
        for token in tokens {
            switch token {
            case .literal(let b):
                guard i < n, bytes[i] == b || (b == UInt8(ascii: "T") && bytes[i] == UInt8(ascii: "t")) else {
                    return nil
                }
                i += 1
            case .number(let component, let min, let max, _):
                var value = 0
                var digits: UInt8 = 0
                while digits < max, i < n {
                    let d = bytes[i] &- 48
                    guard d < 10 else { break }
                    value = value &* 10 &+ Int(d)
                    digits += 1
                    i += 1
                }
                guard digits >= min else { return nil }
                switch component {
                case .year: parts.year = value
                case .year2: parts.year = value >= 69 ? 1900 + value : 2000 + value
                case .month: parts.month = value
                case .day: parts.day = value
                case .hour: parts.hour = value
                case .minute: parts.minute = value
                case .second: parts.second = value
                case .fraction: break
                }
            case .monthAbbreviation:
                guard i + 3 <= n, let m = DateFormat.monthNumber(bytes[i], bytes[i + 1], bytes[i + 2]) else { return nil }
                parts.month = m
                i += 3
            }
        }
        if i < n {
            guard acceptsISOTail else { return nil }
            if bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: ",") {
                i += 1
                let start = i
                while i < n, bytes[i] &- 48 < 10 { i += 1 }
                guard i > start else { return nil }
            }
            if i < n, bytes[i] == UInt8(ascii: "Z") || bytes[i] == UInt8(ascii: "z") { i += 1 }
            guard i == n else { return nil }
        }
        return parts.isValid ? parts : nil
    }

    /// Parses a date (a time of day in the text is read and dropped): days since 1970-01-01.
    public func parseDate(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        parseParts(bytes)?.daysSinceEpoch
    }

    /// Parses a date-time (midnight when the pattern has no time): seconds since 1970-01-01T00:00:00.
    public func parseDateTime(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        parseParts(bytes)?.secondsSinceEpoch
    }

    /// Parses text as a value of `type` (`.date` → `Value.date`, `.datetime` → `Value.dateTime`,
    /// anything else → `Value.date`); nil when the text does not match.
    public func parse(_ text: String, as type: ValueType = .date) -> Value? {
        text.withUTF8Bytes { bytes -> Value? in
            guard let parts = parseParts(bytes) else { return nil }
            return type == .datetime ? .dateTime(parts.secondsSinceEpoch) : .date(parts.daysSinceEpoch)
        }
    }

    static func monthNumber(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int? {
        let isLetter = { (x: UInt8) in (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z") }
        guard isLetter(a), isLetter(b), isLetter(c) else { return nil }
        let key = UInt32(a | 0x20) << 16 | UInt32(b | 0x20) << 8 | UInt32(c | 0x20)
        switch key {
        case 0x6A_61_6E: return 1  // jan
        case 0x66_65_62: return 2  // feb
        case 0x6D_61_72: return 3  // mar
        case 0x61_70_72: return 4  // apr
        case 0x6D_61_79: return 5  // may
        case 0x6A_75_6E: return 6  // jun
        case 0x6A_75_6C: return 7  // jul
        case 0x61_75_67: return 8  // aug
        case 0x73_65_70: return 9  // sep
        case 0x6F_63_74: return 10  // oct
        case 0x6E_6F_76: return 11  // nov
        case 0x64_65_63: return 12  // dec
        default: return nil
        }
    }

    static let monthAbbreviations = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    // MARK: Formatting

    /// Formats a date or a date-time with this pattern (time parts of a date are midnight).
    ///
    /// `null` gives an empty string; other values give their canonical text (the mapping
    /// language only calls this with dates and date-times).
    public func format(_ value: Value) -> String {
        let parts: Parts
        switch value {
        case .date(let days):
            let d = CivilDate(daysSinceEpoch: days)
            parts = Parts(year: d.year, month: d.month, day: d.day)
        case .dateTime(let secs):
            let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
            let rem = secs - days * 86_400
            let d = CivilDate(daysSinceEpoch: days)
            parts = Parts(
                year: d.year, month: d.month, day: d.day, hour: rem / 3600, minute: (rem / 60) % 60, second: rem % 60)
        case .null:
            return ""
        default:
            return value.description
        }
        return format(parts)
    }

    /// Formats parts with this pattern.
    public func format(_ parts: Parts) -> String {
        var s = ""
        s.reserveCapacity(tokens.count * 2)
        for token in tokens {
            switch token {
            case .literal(let b): s.unicodeScalars.append(Unicode.Scalar(b))
            case .monthAbbreviation: s += DateFormat.monthAbbreviations[max(0, min(11, parts.month - 1))]
            case .number(let component, _, _, let width):
                let value: Int
                switch component {
                case .year: value = parts.year
                case .year2: value = ((parts.year % 100) + 100) % 100
                case .month: value = parts.month
                case .day: value = parts.day
                case .hour: value = parts.hour
                case .minute: value = parts.minute
                case .second: value = parts.second
                case .fraction: value = 0
                }
                CivilDate.appendPadded(&s, value, Int(width))
            }
        }
        return s
    }

    // MARK: Compilation

    private static func literalTokens(_ c: Character) -> [Token] {
        String(c).utf8.map { .literal($0) }
    }

    private static func compileStrftime(_ p: String, original: String) throws(DateFormatError) -> [Token] {
        var tokens: [Token] = []
        var it = p.makeIterator()
        while let c = it.next() {
            guard c == "%" else {
                tokens += literalTokens(c)
                continue
            }
            guard let d = it.next() else { throw DateFormatError(pattern: original, reason: "ends with a lone '%'") }
            switch d {
            case "Y": tokens.append(.number(.year, min: 4, max: 4, width: 4))
            case "y": tokens.append(.number(.year2, min: 2, max: 2, width: 2))
            case "m": tokens.append(.number(.month, min: 1, max: 2, width: 2))
            case "d", "e": tokens.append(.number(.day, min: 1, max: 2, width: 2))
            case "H": tokens.append(.number(.hour, min: 1, max: 2, width: 2))
            case "M": tokens.append(.number(.minute, min: 1, max: 2, width: 2))
            case "S": tokens.append(.number(.second, min: 1, max: 2, width: 2))
            case "f": tokens.append(.number(.fraction, min: 1, max: 9, width: 6))
            case "b", "h": tokens.append(.monthAbbreviation)
            case "F": tokens += try compileStrftime("%Y-%m-%d", original: original)
            case "T": tokens += try compileStrftime("%H:%M:%S", original: original)
            case "%": tokens.append(.literal(UInt8(ascii: "%")))
            default: throw DateFormatError(pattern: original, reason: "unsupported directive '%\(d)'")
            }
        }
        return tokens
    }

    private static func compileICU(_ p: String, original: String) throws(DateFormatError) -> [Token] {
        var tokens: [Token] = []
        let chars = Array(p)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "'" {
                if i + 1 < chars.count, chars[i + 1] == "'" {
                    tokens.append(.literal(UInt8(ascii: "'")))
                    i += 2
                    continue
                }
                var j = i + 1
                while true {
                    guard j < chars.count else {
                        throw DateFormatError(pattern: original, reason: "unterminated quoted text")
                    }
                    if chars[j] == "'" {
                        if j + 1 < chars.count, chars[j + 1] == "'" {
                            tokens.append(.literal(UInt8(ascii: "'")))
                            j += 2
                            continue
                        }
                        break
                    }
                    tokens += literalTokens(chars[j])
                    j += 1
                }
                i = j + 1
                continue
            }
            guard c.isASCII, c.isLetter else {
                tokens += literalTokens(c)
                i += 1
                continue
            }
            var count = 1
            while i + count < chars.count, chars[i + count] == c { count += 1 }
            i += count
            let n = UInt8(min(count, 9))
            switch (c, count) {
            case ("y", 2): tokens.append(.number(.year2, min: 2, max: 2, width: 2))
            case ("y", _), ("u", _): tokens.append(.number(.year, min: 4, max: 4, width: 4))
            case ("M", 1), ("L", 1): tokens.append(.number(.month, min: 1, max: 2, width: 1))
            case ("M", 2), ("L", 2): tokens.append(.number(.month, min: 1, max: 2, width: 2))
            case ("M", 3), ("L", 3): tokens.append(.monthAbbreviation)
            case ("d", 1...2): tokens.append(.number(.day, min: 1, max: 2, width: n))
            case ("H", 1...2): tokens.append(.number(.hour, min: 1, max: 2, width: n))
            case ("m", 1...2): tokens.append(.number(.minute, min: 1, max: 2, width: n))
            case ("s", 1...2): tokens.append(.number(.second, min: 1, max: 2, width: n))
            case ("S", _): tokens.append(.number(.fraction, min: 1, max: 9, width: n))
            case ("T", 1): tokens.append(.literal(UInt8(ascii: "T")))
            default:
                throw DateFormatError(pattern: original, reason: "unsupported pattern letters '\(String(repeating: c, count: count))'")
            }
        }
        return tokens
    }

    /// Checks the parts and fixes widths: a numeric part next to another numeric part takes
    /// exactly its natural width (`ddMMyyyy`), otherwise one digit up to its width is enough.
    private static func finish(_ raw: [Token], original: String) throws(DateFormatError) -> [Token] {
        var seen = Set<UInt8>()
        var tokens = raw
        for (k, token) in raw.enumerated() {
            let component: Component
            switch token {
            case .literal: continue
            case .monthAbbreviation: component = .month
            case .number(let c, _, _, _): component = c
            }
            let key = component == .year2 ? Component.year.rawValue : component.rawValue
            guard seen.insert(key).inserted else {
                throw DateFormatError(pattern: original, reason: "a part appears twice")
            }
            guard case .number(let c, let min, let max, let width) = token, c != .year, c != .year2 else { continue }
            func isNumber(_ index: Int) -> Bool {
                guard index >= 0, index < raw.count, case .number = raw[index] else { return false }
                return true
            }
            if isNumber(k - 1) || isNumber(k + 1) {
                let w = c == .fraction ? Swift.max(width, 1) : c.naturalWidth
                tokens[k] = .number(c, min: w, max: w, width: width)
            } else {
                tokens[k] = .number(c, min: min, max: max, width: width)
            }
        }
        guard !seen.isEmpty else { throw DateFormatError(pattern: original, reason: "has no date or time part") }
        return tokens
    }

    /// A format with every part at its widest, compiled to byte offsets. A class, so that using
    /// it costs no copy of its arrays.
    final class FixedLayout: Sendable {
        let length: Int
        /// Every part has a fixed width: no other length can match.
        let isExact: Bool
        let literalOffsets: [Int]
        let literalBytes: [UInt8]
        let digitOffsets: [Int]  // fraction digits: only checked
        let year: Int, yearWidth: Int, month: Int, monthIsName: Bool, day: Int, hour: Int, minute: Int, second: Int
        /// A date alone: numeric year, month and day, no time of day and no fraction (`days`).
        let isDateOnly: Bool
        /// `dd?MM?yyyy` with one separator byte twice (`%d/%m/%Y`, `dd.MM.yyyy`), the SNDS's
        /// dates: `days` reads them at fixed offsets (`dayMonthYear`); 0 for other layouts.
        let dayMonthYearSeparator: UInt8

        init?(_ tokens: [Token], isoTail: Bool) {
            guard !isoTail else { return nil }
            var length = 0
            var isExact = true
            var literalOffsets: [Int] = []
            var literalBytes: [UInt8] = []
            var digitOffsets: [Int] = []
            var year = -1
            var yearWidth = 0
            var month = -1
            var monthIsName = false
            var day = -1
            var hour = -1
            var minute = -1
            var second = -1
            for token in tokens {
                switch token {
                case .literal(let b):
                    literalOffsets.append(length)
                    literalBytes.append(b)
                    length += 1
                case .monthAbbreviation:
                    month = length
                    monthIsName = true
                    length += 3
                case .number(let c, let min, let max, _):
                    if min != max { isExact = false }
                    switch c {
                    case .year, .year2:
                        year = length
                        yearWidth = Int(max)
                    case .month: month = length
                    case .day: day = length
                    case .hour: hour = length
                    case .minute: minute = length
                    case .second: second = length
                    case .fraction: digitOffsets += (length..<length + Int(max))
                    }
                    guard c == .year || c == .year2 || c == .fraction || max == 2 else { return nil }
                    length += Int(max)
                }
            }
            self.length = length
            self.isExact = isExact
            self.literalOffsets = literalOffsets
            self.literalBytes = literalBytes
            self.digitOffsets = digitOffsets
            self.year = year
            self.yearWidth = yearWidth
            self.month = month
            self.monthIsName = monthIsName
            self.day = day
            self.hour = hour
            self.minute = minute
            self.second = second
            isDateOnly = year >= 0 && month >= 0 && !monthIsName && day >= 0 && hour < 0 && minute < 0 && second < 0 && digitOffsets.isEmpty
            let separator = literalBytes.first ?? 0
            dayMonthYearSeparator =
                isDateOnly && length == 10 && day == 0 && month == 3 && year == 6 && yearWidth == 4 && literalOffsets == [2, 5]
                    && literalBytes == [separator, separator] && separator != UInt8(ascii: "T") && !(48...57).contains(separator)
                ? separator : 0
        }

        /// Cumulative days before each month of a common year.
        private static let daysBefore: [Int] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365]

        /// Days since 1970-01-01 of a date-only layout's text (`isDateOnly`), nil when it does not
        /// match or names no real day: `parse(b)?.daysSinceEpoch`, from the year's first day.
        func days(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
            if dayMonthYearSeparator != 0 { return Self.dayMonthYear(b, dayMonthYearSeparator) }
            guard b.count == length, literalsMatch(b), let y = readYear(b) else { return nil }
            return Self.days(year: y, month: FixedLayout.two(b, month), day: FixedLayout.two(b, day))
        }

        /// `days` of a `dd?MM?yyyy` layout (`dayMonthYearSeparator`): its ten bytes read at their
        /// offsets, where the general path reads the offsets from the layout (4 dates of each
        /// claim: ~170 instructions each, `callgrind`).
        @inline(__always)
        private static func dayMonthYear(_ b: UnsafeBufferPointer<UInt8>, _ separator: UInt8) -> Int? {
            guard b.count == 10, b[2] == separator, b[5] == separator else { return nil }
            let hi = two(b, 6)
            let lo = two(b, 8)
            guard hi >= 0, lo >= 0 else { return nil }
            return days(year: hi * 100 + lo, month: two(b, 3), day: two(b, 0))
        }

        /// Days since 1970-01-01 of a day given by its parts (`month` or `day` -1 when their
        /// digits were not digits), nil when it names no real day.
        @inline(__always)
        private static func days(year y: Int, month m: Int, day d: Int) -> Int? {
            guard m >= 1, m <= 12, d >= 1, d <= CivilDate.daysInMonth(year: y, month: m) else { return nil }
            // Year 0 (1 BCE): the general arithmetic.
            guard y >= 1 else { return CivilDate(year: y, month: m, day: d).daysSinceEpoch }
            let p = y - 1
            let extra = m > 2 && CivilDate.isLeapYear(y) ? 1 : 0
            // Days from 0001-01-01 to the year's first day, less those to 1970-01-01 (719,162).
            return 365 * p + p / 4 - p / 100 + p / 400 - 719_162 + Self.daysBefore[m - 1] + extra + d - 1
        }

        /// Whether the layout's literal bytes are where it puts them (`T` also matches `t`).
        @inline(__always)
        private func literalsMatch(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
            for k in literalOffsets.indices {
                let c = b[literalOffsets[k]]
                let l = literalBytes[k]
                guard c == l || (l == UInt8(ascii: "T") && c == UInt8(ascii: "t")) else { return false }
            }
            return true
        }

        /// The year at `year` (two-digit years pivot at 69); nil when its digits are not digits.
        @inline(__always)
        private func readYear(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
            let hi = FixedLayout.two(b, year)
            guard hi >= 0 else { return nil }
            guard yearWidth == 4 else { return hi >= 69 ? 1900 + hi : 2000 + hi }
            let lo = FixedLayout.two(b, year + 2)
            return lo >= 0 ? hi * 100 + lo : nil
        }

        @inline(__always)
        private static func two(_ b: UnsafeBufferPointer<UInt8>, _ o: Int) -> Int {
            let x = Int(b[o] &- 48)
            let y = Int(b[o + 1] &- 48)
            return x < 10 && y < 10 ? x * 10 + y : -1
        }

        func parse(_ b: UnsafeBufferPointer<UInt8>) -> Parts? {
            guard b.count == length, literalsMatch(b) else { return nil }
            for o in digitOffsets where b[o] &- 48 >= 10 { return nil }
            var parts = Parts()
            if year >= 0 {
                guard let y = readYear(b) else { return nil }
                parts.year = y
            }
            if month >= 0 {
                if monthIsName {
                    guard let m = DateFormat.monthNumber(b[month], b[month + 1], b[month + 2]) else { return nil }
                    parts.month = m
                } else {
                    parts.month = FixedLayout.two(b, month)
                }
            }
            if day >= 0 { parts.day = FixedLayout.two(b, day) }
            if hour >= 0 { parts.hour = FixedLayout.two(b, hour) }
            if minute >= 0 { parts.minute = FixedLayout.two(b, minute) }
            if second >= 0 { parts.second = FixedLayout.two(b, second) }
            return parts.isValid ? parts : nil
        }
    }
}
