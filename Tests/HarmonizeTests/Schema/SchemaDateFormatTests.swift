import Testing

@testable import Harmonize

/// One parse case: a pattern, a text, and the expected ISO result (nil = refused).
struct DateParseCase: Sendable, CustomTestStringConvertible {
    let id: String
    let pattern: String
    let text: String
    let expected: String?
    var testDescription: String { id }
}

@Suite struct SchemaDateFormatTests {
    static let dateCases: [DateParseCase] = [
        .init(id: "iso", pattern: "yyyy-MM-dd", text: "2024-02-29", expected: "2024-02-29"),
        .init(id: "strftime iso", pattern: "%Y-%m-%d", text: "1999-12-31", expected: "1999-12-31"),
        .init(id: "strftime %F", pattern: "%F", text: "1999-12-31", expected: "1999-12-31"),
        .init(id: "dd/MM/yyyy", pattern: "dd/MM/yyyy", text: "02/01/2007", expected: "2007-01-02"),
        .init(id: "%d/%m/%Y", pattern: "%d/%m/%Y", text: "02/01/2007", expected: "2007-01-02"),
        .init(id: "d/M/yyyy one digit", pattern: "d/M/yyyy", text: "2/1/2007", expected: "2007-01-02"),
        .init(id: "dd/MM/yyyy lenient one digit", pattern: "dd/MM/yyyy", text: "2/1/2007", expected: "2007-01-02"),
        .init(id: "yyyyMMdd", pattern: "yyyyMMdd", text: "20070102", expected: "2007-01-02"),
        .init(id: "%Y%m%d", pattern: "%Y%m%d", text: "20070102", expected: "2007-01-02"),
        .init(id: "yyyyMMdd short", pattern: "yyyyMMdd", text: "2007012", expected: nil),
        .init(id: "ddMMyyyy", pattern: "ddMMyyyy", text: "31122020", expected: "2020-12-31"),
        .init(id: "%d%m%Y (PMSI)", pattern: "%d%m%Y", text: "01032016", expected: "2016-03-01"),
        .init(id: "%d%m%Y too long", pattern: "%d%m%Y", text: "010320160", expected: nil),
        .init(id: "ddMMMyyyy", pattern: "ddMMMyyyy", text: "02JAN2007", expected: "2007-01-02"),
        .init(id: "%d%b%Y lower case", pattern: "%d%b%Y", text: "02jan2007", expected: "2007-01-02"),
        .init(id: "MMM mixed case", pattern: "dd-MMM-yyyy", text: "15-Sep-2001", expected: "2001-09-15"),
        .init(id: "MMM unknown", pattern: "ddMMMyyyy", text: "02JNA2007", expected: nil),
        .init(id: "SAS datetime as date", pattern: "%d%b%Y:%H:%M:%S", text: "02JAN2007:22:12:17", expected: "2007-01-02"),
        .init(id: "%y pivot 20xx", pattern: "%d/%m/%y", text: "01/02/68", expected: "2068-02-01"),
        .init(id: "%y pivot 19xx", pattern: "%d/%m/%y", text: "01/02/69", expected: "1969-02-01"),
        .init(id: "yy", pattern: "yyMMdd", text: "070102", expected: "2007-01-02"),
        .init(id: "%m alone (SNDS)", pattern: "%m", text: "05", expected: "1900-05-01"),
        .init(id: "%Y alone", pattern: "%Y", text: "2021", expected: "2021-01-01"),
        .init(id: "fmt: prefix", pattern: "fmt:%d/%m/%Y", text: "02/01/2007", expected: "2007-01-02"),
        .init(id: "quoted literal", pattern: "'le 'dd/MM/yyyy", text: "le 02/01/2007", expected: "2007-01-02"),
        .init(id: "leap 2000", pattern: "yyyy-MM-dd", text: "2000-02-29", expected: "2000-02-29"),
        .init(id: "no leap 1900", pattern: "yyyy-MM-dd", text: "1900-02-29", expected: nil),
        .init(id: "no leap 2023", pattern: "yyyy-MM-dd", text: "2023-02-29", expected: nil),
        .init(id: "Feb 30", pattern: "yyyy-MM-dd", text: "2024-02-30", expected: nil),
        .init(id: "Apr 31", pattern: "dd/MM/yyyy", text: "31/04/2024", expected: nil),
        .init(id: "month 13", pattern: "yyyy-MM-dd", text: "2024-13-01", expected: nil),
        .init(id: "month 0", pattern: "yyyy-MM-dd", text: "2024-00-01", expected: nil),
        .init(id: "day 0", pattern: "yyyy-MM-dd", text: "2024-01-00", expected: nil),
        .init(id: "wrong separator", pattern: "yyyy-MM-dd", text: "2024/01/01", expected: nil),
        .init(id: "trailing text", pattern: "yyyy-MM-dd", text: "2024-01-01x", expected: nil),
        .init(id: "empty", pattern: "yyyy-MM-dd", text: "", expected: nil),
        .init(id: "letters", pattern: "yyyy-MM-dd", text: "abcd-ef-gh", expected: nil),
        .init(id: "sentinel 1600", pattern: "yyyy-MM-dd", text: "1600-01-01", expected: "1600-01-01"),
    ]

    @Test(arguments: dateCases)
    func parsesDates(_ c: DateParseCase) throws {
        let f = try DateFormat(pattern: c.pattern)
        let parsed = f.parse(c.text, as: .date)
        #expect(parsed?.description == c.expected)
    }

    static let dateTimeCases: [DateParseCase] = [
        .init(id: "SAS %d%b%Y:%H:%M:%S", pattern: "%d%b%Y:%H:%M:%S", text: "02JAN2007:22:12:17", expected: "2007-01-02T22:12:17"),
        .init(id: "SAS ICU ddMMMyyyy:HH:mm:ss", pattern: "ddMMMyyyy:HH:mm:ss", text: "02Jan2007:00:00:00", expected: "2007-01-02T00:00:00"),
        .init(id: "ISO quoted T", pattern: "yyyy-MM-dd'T'HH:mm:ss", text: "2020-05-06T07:08:09", expected: "2020-05-06T07:08:09"),
        .init(id: "ISO bare T", pattern: "yyyy-MM-ddTHH:mm:ss", text: "2020-05-06T07:08:09", expected: "2020-05-06T07:08:09"),
        .init(id: "space", pattern: "yyyy-MM-dd HH:mm:ss", text: "2020-05-06 23:59:59", expected: "2020-05-06T23:59:59"),
        .init(id: "%T", pattern: "%F %T", text: "2020-05-06 23:59:59", expected: "2020-05-06T23:59:59"),
        .init(id: "fraction SSS", pattern: "yyyy-MM-dd HH:mm:ss.SSS", text: "2020-05-06 01:02:03.456", expected: "2020-05-06T01:02:03"),
        .init(id: "%f", pattern: "%Y-%m-%d %H:%M:%S.%f", text: "2020-05-06 01:02:03.000456", expected: "2020-05-06T01:02:03"),
        .init(id: "date-only pattern is midnight", pattern: "yyyyMMdd", text: "20200506", expected: "2020-05-06T00:00:00"),
        .init(id: "hour 24", pattern: "yyyy-MM-dd HH:mm:ss", text: "2020-05-06 24:00:00", expected: nil),
        .init(id: "minute 60", pattern: "yyyy-MM-dd HH:mm:ss", text: "2020-05-06 10:60:00", expected: nil),
        .init(id: "second 60", pattern: "yyyy-MM-dd HH:mm:ss", text: "2020-05-06 10:00:60", expected: nil),
        .init(id: "SAS Feb 29 non-leap", pattern: "%d%b%Y:%H:%M:%S", text: "29FEB2007:00:00:00", expected: nil),
        .init(id: "before epoch", pattern: "yyyy-MM-dd HH:mm:ss", text: "1969-12-31 23:59:59", expected: "1969-12-31T23:59:59"),
    ]

    @Test(arguments: dateTimeCases)
    func parsesDateTimes(_ c: DateParseCase) throws {
        let f = try DateFormat(pattern: c.pattern)
        #expect(f.parse(c.text, as: .datetime)?.description == c.expected)
    }

    static let isoTailCases: [DateParseCase] = [
        .init(id: "plain", pattern: "default", text: "2020-05-06T07:08:09", expected: "2020-05-06T07:08:09"),
        .init(id: "Z", pattern: "default", text: "2020-05-06T07:08:09Z", expected: "2020-05-06T07:08:09"),
        .init(id: "fraction", pattern: "default", text: "2020-05-06T07:08:09.123", expected: "2020-05-06T07:08:09"),
        .init(id: "fraction Z", pattern: "default", text: "2020-05-06T07:08:09.123456Z", expected: "2020-05-06T07:08:09"),
        .init(id: "dot without digits", pattern: "default", text: "2020-05-06T07:08:09.", expected: nil),
        .init(id: "offset refused", pattern: "default", text: "2020-05-06T07:08:09+02:00", expected: nil),
        .init(id: "date only refused", pattern: "default", text: "2020-05-06", expected: nil),
    ]

    @Test(arguments: isoTailCases)
    func defaultDateTimeAcceptsZuluAndFraction(_ c: DateParseCase) {
        #expect(DateFormat.isoDateTime.parse(c.text, as: .datetime)?.description == c.expected)
    }

    static let invalidPatterns = ["%Q", "yyyy-MM-dd'T", "%Y-%Y", "qqq", "---", "MMMM yyyy", "%"]

    @Test(arguments: invalidPatterns)
    func refusesInvalidPatterns(_ pattern: String) {
        #expect(throws: DateFormatError.self) { try DateFormat(pattern: pattern) }
    }

    static let roundTripPatterns = [
        "yyyy-MM-dd", "%d/%m/%Y", "yyyyMMdd", "%d%m%Y", "ddMMMyyyy", "%d%b%Y:%H:%M:%S", "yyyy-MM-dd'T'HH:mm:ss",
        "yyyy-MM-dd HH:mm:ss", "d/M/yyyy", "dd.MM.yyyy HH:mm",
    ]

    /// Dates alone in a fixed layout are read without their parts (`parseDays`): the same days
    /// as the parts' for every day from 1600 to 2400 (in 2-digit years, those the pivot keeps),
    /// and the same refusals.
    @Test(arguments: ["%d/%m/%Y", "dd-MM-yyyy", "yyyyMMdd", "yyyy-MM-dd", "dd.MM.yy", "MM/dd/yyyy", "d/M/yyyy", "ddMMMyyyy"])
    func datesAloneGiveTheirPartsDays(_ pattern: String) throws {
        let f = try DateFormat(pattern: pattern)
        func both(_ text: String) -> (Int?, Int?) {
            var t = text
            return t.withUTF8 { (f.parseDays($0), f.parseParts($0)?.daysSinceEpoch) }
        }
        var day = CivilDate(year: 1600, month: 1, day: 1).daysSinceEpoch
        let end = CivilDate(year: 2400, month: 12, day: 31).daysSinceEpoch
        var checked = 0
        while day <= end {
            let text = f.format(.date(day))
            let (fast, general) = both(text)
            #expect(fast == general, "\(text)")
            if fast != general { break }
            if pattern.contains("yyyy") || pattern.contains("%Y") { #expect(fast == day, "\(text)") }
            day += 1
            checked += 1
        }
        #expect(checked > 290_000)
        let bad = [
            "29/02/1900", "29/02/2000", "29/02/2024", "31/04/2020", "00/01/2020", "01/13/2020", "32/01/2020", "1a/01/2020",
            "01/01/0000", "29/02/0000", "01-01-2020", "1/1/2020", "01/01/20200", "19000229", "20000229", "20200431", "20201301",
            "2020-02-30", "0000-01-01", "29.02.00", "29.02.01", "02/29/2000", "02/29/2100", "", "01/01/202a", "29Feb2000", "29Feb2001",
        ]
        for text in bad {
            let (fast, general) = both(text)
            #expect(fast == general, "\(text)")
        }
        // Each byte of a day's text replaced by bytes on either side of the digits' range, by
        // separators and by bytes that are not ASCII (`dd?MM?yyyy` reads its bytes at fixed places).
        let valid = Array(f.format(.date(CivilDate(year: 2021, month: 6, day: 15).daysSinceEpoch)).utf8)
        for k in valid.indices {
            for b: UInt8 in [0x00, 0x20, 0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x39, 0x3A, 0x3F, 0x40, 0x70, 0x80, 0xB0, 0xB9, 0xFF] {
                var bytes = valid
                bytes[k] = b
                let fast = bytes.withUnsafeBufferPointer { f.parseDays($0) }
                let general = bytes.withUnsafeBufferPointer { f.parseParts($0)?.daysSinceEpoch }
                #expect(fast == general, "byte \(k) = \(b)")
            }
        }
    }

    @Test(arguments: roundTripPatterns)
    func formatThenParseRoundTrips(_ pattern: String) throws {
        let f = try DateFormat(pattern: pattern)
        let withSeconds = f.hasTime
        let hasSeconds = pattern.contains("ss") || pattern.contains("%S")
        // Every 37th day from 1600-01-01 to 2400-01-01, at a varying time of day.
        var day = CivilDate(year: 1600, month: 1, day: 1).daysSinceEpoch
        let end = CivilDate(year: 2400, month: 1, day: 1).daysSinceEpoch
        var checked = 0
        while day < end {
            let seconds = (day * 7919 % 86_400 + 86_400) % 86_400
            let value: Value = withSeconds ? .dateTime(day * 86_400 + (hasSeconds ? seconds : seconds / 60 * 60)) : .date(day)
            let text = f.format(value)
            #expect(f.parse(text, as: withSeconds ? .datetime : .date) == value, "\(pattern)")
            day += 37
            checked += 1
        }
        #expect(checked > 7000)
    }

    @Test func formatsKnownValues() throws {
        let date = Value.date(CivilDate(year: 2007, month: 1, day: 2).daysSinceEpoch)
        #expect(try DateFormat(pattern: "%d%b%Y").format(date) == "02Jan2007")
        #expect(try DateFormat(pattern: "d/M/yy").format(date) == "2/1/07")
        #expect(DateFormat.isoDateTime.format(.dateTime(86_400 + 3_661)) == "1970-01-02T01:01:01")
        #expect(DateFormat.isoDate.format(.dateTime(-1)) == "1969-12-31")
        #expect(DateFormat.isoDate.format(.null) == "")
        #expect(try DateFormat(pattern: "HH:mm:ss.SSS").format(.dateTime(59)) == "00:00:59.000")
    }

    @Test func reportsItsParts() throws {
        #expect(try DateFormat(pattern: "%m").hasYear == false)
        #expect(try DateFormat(pattern: "%m").hasDate)
        #expect(try DateFormat(pattern: "HH:mm").hasDate == false)
        #expect(try DateFormat(pattern: "HH:mm").hasTime)
    }
}
