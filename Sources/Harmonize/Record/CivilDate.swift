/// Proleptic Gregorian calendar arithmetic on civil dates, without Foundation (a `DateFormatter`
/// costs microseconds per call; these are a few nanoseconds).
///
/// Algorithms from Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms".
package struct CivilDate: Sendable, Hashable, Comparable {
    /// The year (any integer; 1 BCE is 0).
    public var year: Int
    /// The month, 1...12.
    public var month: Int
    /// The day of the month, 1...31.
    public var day: Int

    /// Creates a date from its parts without validation; see `isValid`.
    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Creates the date that is `days` days after 1970-01-01.
    public init(daysSinceEpoch days: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: m <= 2 ? y + 1 : y, month: m, day: d)
    }

    /// Days since 1970-01-01 (negative before).
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Whether `year` is a leap year.
    public static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    /// The number of days in a month of a year.
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        case 2: return isLeapYear(year) ? 29 : 28
        default: return 0
        }
    }

    /// Whether the month and day exist in that year.
    public var isValid: Bool {
        month >= 1 && month <= 12 && day >= 1 && day <= CivilDate.daysInMonth(year: year, month: month)
    }

    /// `yyyy-MM-dd` (years outside 0...9999 are printed as they are).
    public var isoString: String {
        var s = ""
        s.reserveCapacity(10)
        CivilDate.appendPadded(&s, year, 4)
        s.append("-")
        CivilDate.appendPadded(&s, month, 2)
        s.append("-")
        CivilDate.appendPadded(&s, day, 2)
        return s
    }

    /// `yyyy-MM-ddTHH:mm:ss` for a date-time stored as seconds since the epoch.
    public static func isoDateTimeString(secondsSinceEpoch secs: Int) -> String {
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = secs - days * 86_400
        var s = CivilDate(daysSinceEpoch: days).isoString
        s.append("T")
        appendPadded(&s, rem / 3600, 2)
        s.append(":")
        appendPadded(&s, (rem / 60) % 60, 2)
        s.append(":")
        appendPadded(&s, rem % 60, 2)
        return s
    }

    static func appendPadded(_ s: inout String, _ value: Int, _ width: Int) {
        let digits = String(abs(value))
        if value < 0 { s.append("-") }
        if digits.count < width { s.append(String(repeating: "0", count: width - digits.count)) }
        s.append(digits)
    }

    /// Orders dates chronologically.
    public static func < (lhs: CivilDate, rhs: CivilDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}
