import Testing

@testable import Harmonize

@Suite struct CivilDateTests {
    @Test func roundTripsEveryDayOverFourCenturies() {
        var previous = CivilDate(daysSinceEpoch: -146_097 - 1)
        for days in -146_097...146_097 {
            let d = CivilDate(daysSinceEpoch: days)
            #expect(d.isValid)
            #expect(d.daysSinceEpoch == days)
            #expect(previous < d)
            previous = d
        }
    }

    @Test func knownDates() {
        #expect(CivilDate(year: 1970, month: 1, day: 1).daysSinceEpoch == 0)
        #expect(CivilDate(year: 2000, month: 3, day: 1).daysSinceEpoch == 11_017)
        #expect(CivilDate(year: 1600, month: 1, day: 1).isoString == "1600-01-01")
        #expect(CivilDate.isoDateTimeString(secondsSinceEpoch: 86_400 + 3_661) == "1970-01-02T01:01:01")
        #expect(!CivilDate(year: 2023, month: 2, day: 29).isValid)
        #expect(CivilDate(year: 2024, month: 2, day: 29).isValid)
    }
}
