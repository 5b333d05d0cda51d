/// A small date format used by `parse_date`, `parse_datetime` and `format_date`.
///
/// Pattern letters: `yyyy` (4-digit year), `yy` (2-digit year: 00–49 → 2000–2049, 50–99 →
/// 1950–1999), `MM` (month, 1–2 digits when parsing), `MMM` (English month abbreviation,
/// case-insensitive), `dd` (day, 1–2 digits), `HH` (hour 0–23), `mm` (minute), `ss` (second).
/// `T` and every non-letter character are literals. Other letters are rejected at compile time.
/// Internal and deliberately small; `Schema/DateFormat` is the richer, schema-level format.
struct MiniDateFormat: Sendable {
    /// Why a format pattern is rejected.
    struct FormatError: Error, Sendable {
        var message: String
    }

    enum Element: Sendable, Equatable {
        case year4, year2, month, monthName, day, hour, minute, second
        case literal(UInt8)
    }

    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let monthDisplay = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    let elements: [Element]
    var hasTime: Bool { elements.contains { $0 == .hour || $0 == .minute || $0 == .second } }
    var hasDate: Bool { elements.contains { $0 == .year4 || $0 == .year2 } }

    /// Parses a format pattern; returns a message on error.
    static func compile(_ pattern: String) -> Result<MiniDateFormat, FormatError> {
        let b = Array(pattern.utf8)
        guard !b.isEmpty, b.count <= 64 else { return .failure(FormatError(message: "date format must have 1 to 64 characters")) }
        var out: [Element] = []
        var i = 0
        while i < b.count {
            let c = b[i]
            var run = 1
            while i + run < b.count, b[i + run] == c { run += 1 }
            let letter = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            if !letter || c == UInt8(ascii: "T") {
                out.append(.literal(c))
                i += 1
                continue
            }
            let e: Element?
            switch (Character(Unicode.Scalar(c)), run) {
            case ("y", 4): e = .year4
            case ("y", 2): e = .year2
            case ("M", 2): e = .month
            case ("M", 3): e = .monthName
            case ("d", 2): e = .day
            case ("H", 2): e = .hour
            case ("m", 2): e = .minute
            case ("s", 2): e = .second
            default: e = nil
            }
            guard let e else {
                return .failure(
                    FormatError(message: "unsupported date format element '\(String(repeating: Character(Unicode.Scalar(c)), count: run))'"))
            }
            out.append(e)
            i += run
        }
        let f = MiniDateFormat(elements: out)
        for e in [Element.year4, .year2, .month, .monthName, .day, .hour, .minute, .second] {
            if out.filter({ $0 == e }).count > 1 { return .failure(FormatError(message: "date format repeats an element")) }
        }
        return .success(f)
    }

    /// Parses text; returns the date (days since epoch) and the second of the day.
    func parse(_ text: String) -> (days: Int, seconds: Int)? {
        var year = 1970
        var month = 1
        var day = 1
        var hour = 0
        var minute = 0
        var second = 0
        return text.withUTF8Bytes { parse($0, &year, &month, &day, &hour, &minute, &second) }
    }

    private func parse(
        _ b: UnsafeBufferPointer<UInt8>, _ year: inout Int, _ month: inout Int, _ day: inout Int, _ hour: inout Int,
        _ minute: inout Int, _ second: inout Int
    ) -> (Int, Int)? {
        var i = 0
        func digits(_ minCount: Int, _ maxCount: Int) -> Int? {
            var v = 0
            var n = 0
            while n < maxCount, i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                v = v * 10 + Int(b[i] - 0x30)
                i += 1
                n += 1
            }
            return n >= minCount ? v : nil
        }
        for e in elements {
            switch e {
            case .literal(let c):
                guard i < b.count, b[i] == c else { return nil }
                i += 1
            case .year4:
                guard let v = digits(4, 4) else { return nil }
                year = v
            case .year2:
                guard let v = digits(2, 2) else { return nil }
                year = v < 50 ? 2000 + v : 1900 + v
            case .month:
                guard let v = digits(1, 2) else { return nil }
                month = v
            case .day:
                guard let v = digits(1, 2) else { return nil }
                day = v
            case .hour:
                guard let v = digits(1, 2), v < 24 else { return nil }
                hour = v
            case .minute:
                guard let v = digits(1, 2), v < 60 else { return nil }
                minute = v
            case .second:
                guard let v = digits(1, 2), v < 60 else { return nil }
                second = v
            case .monthName:
                guard i + 3 <= b.count else { return nil }
                var name = ""
                for k in 0..<3 { name.append(Character(Unicode.Scalar(b[i + k] | 0x20))) }
                guard let m = MiniDateFormat.monthNames.firstIndex(of: name) else { return nil }
                month = m + 1
                i += 3
            }
        }
        guard i == b.count else { return nil }
        let d = CivilDate(year: year, month: month, day: day)
        guard d.isValid, year >= 1, year <= 9999 else { return nil }
        return (d.daysSinceEpoch, hour * 3600 + minute * 60 + second)
    }

    /// Formats a date-time (seconds since the epoch).
    func format(seconds: Int) -> String {
        let days = Builtins.floorDiv(seconds, 86_400)
        let rem = seconds - days * 86_400
        let d = CivilDate(daysSinceEpoch: days)
        var s = ""
        for e in elements {
            switch e {
            case .literal(let c): s.unicodeScalars.append(Unicode.Scalar(c))
            case .year4: CivilDate.appendPadded(&s, d.year, 4)
            case .year2: CivilDate.appendPadded(&s, ((d.year % 100) + 100) % 100, 2)
            case .month: CivilDate.appendPadded(&s, d.month, 2)
            case .monthName: s += MiniDateFormat.monthDisplay[d.month - 1]
            case .day: CivilDate.appendPadded(&s, d.day, 2)
            case .hour: CivilDate.appendPadded(&s, rem / 3600, 2)
            case .minute: CivilDate.appendPadded(&s, (rem / 60) % 60, 2)
            case .second: CivilDate.appendPadded(&s, rem % 60, 2)
            }
        }
        return s
    }
}

/// Date functions.
extension Builtins {
    /// Days of 0001-01-01 and 9999-12-31: results outside are errors.
    static let minDay = CivilDate(year: 1, month: 1, day: 1).daysSinceEpoch
    static let maxDay = CivilDate(year: 9999, month: 12, day: 31).daysSinceEpoch

    static func secondOfDay(_ v: Value) throws(EvaluationError) -> Int {
        guard case .dateTime(let s) = v else { return 0 }
        return s - floorDiv(s, 86_400) * 86_400
    }

    static func checkedDay(_ d: Int, _ fn: String) throws(EvaluationError) -> Int {
        guard d >= minDay, d <= maxDay else { throw fail(fn, "date out of range (years 1 to 9999)") }
        return d
    }

    static let isoDate = MiniDateFormat(elements: [.year4, .literal(0x2D), .month, .literal(0x2D), .day])

    static func parseISODate(_ s: String) throws(EvaluationError) -> Value {
        guard s.utf8.count == 10, let r = isoDate.parse(s) else { throw fail("date", "text is not an ISO date (yyyy-MM-dd)") }
        return .date(r.days)
    }

    static func parseISODateTime(_ s: String) throws(EvaluationError) -> Value {
        let n = s.utf8.count
        if n == 10, let r = isoDate.parse(s) { return .dateTime(r.days * 86_400) }
        for sep: UInt8 in [UInt8(ascii: "T"), UInt8(ascii: " ")] {
            var e = isoDate.elements + [.literal(sep), .hour, .literal(0x3A), .minute]
            if n == 19 { e += [.literal(0x3A), .second] }
            if n == 16 || n == 19, let r = MiniDateFormat(elements: e).parse(s) { return .dateTime(r.days * 86_400 + r.seconds) }
        }
        throw fail("datetime", "text is not an ISO date-time (yyyy-MM-ddTHH:mm:ss)")
    }

    static func addMonths(_ v: Value, _ months: Int, _ fn: String) throws(EvaluationError) -> Value {
        guard abs(months) <= 120_000 else { throw fail(fn, "date out of range (years 1 to 9999)") }
        let days = try Builtins.days(v, fn)
        let d = CivilDate(daysSinceEpoch: days)
        let total = d.year * 12 + (d.month - 1) + months
        let y = floorDiv(total, 12)
        let m = total - y * 12 + 1
        let day = min(d.day, CivilDate.daysInMonth(year: y, month: m))
        let nd = try checkedDay(CivilDate(year: y, month: m, day: day).daysSinceEpoch, fn)
        if case .dateTime = v { return .dateTime(nd * 86_400 + (try secondOfDay(v))) }
        return .date(nd)
    }

    static func addDays(_ v: Value, _ n: Int, _ fn: String) throws(EvaluationError) -> Value {
        guard abs(n) <= 4_000_000 else { throw fail(fn, "date out of range (years 1 to 9999)") }
        let days = try Builtins.days(v, fn)
        let nd = try checkedDay(days + n, fn)
        if case .dateTime = v { return .dateTime(nd * 86_400 + (try secondOfDay(v))) }
        return .date(nd)
    }

    static func datePart(_ name: String, _ doc: String, _ part: @escaping @Sendable (CivilDate) -> Int) -> FunctionDefinition {
        FunctionDefinition(
            name: name, doc: doc, signatures: [Sig([.datetime], returns: .integer)],
            implementation: .unary { v throws(EvaluationError) in .int(part(CivilDate(daysSinceEpoch: try days(v, name)))) })
    }

    static func formats(_ lits: [Value?], from: Int) throws(FunctionDefinition.SpecializationError) -> [MiniDateFormat] {
        var out: [MiniDateFormat] = []
        for i in from..<lits.count {
            guard case .string(let p)? = lits[i] else {
                throw FunctionDefinition.SpecializationError(argument: i, message: "date format must be a string literal")
            }
            switch MiniDateFormat.compile(p) {
            case .success(let f): out.append(f)
            case .failure(let m): throw FunctionDefinition.SpecializationError(argument: i, message: m.message)
            }
        }
        return out
    }

    /// `parse_date` / `parse_datetime`: text parsed with the first matching literal format, the
    /// parts turned into the result by `make`.
    static func formatParser(
        name: String, doc: String, returns: ValueType, _ make: @escaping @Sendable ((days: Int, seconds: Int)) -> Value
    ) -> FunctionDefinition {
        FunctionDefinition(
            name: name, doc: doc,
            signatures: [Sig([.string, .string], variadic: .string, returns: returns)],
            requiresLiteralArguments: [1], requiresLiteralTail: true,
            implementation: .specialized { lits throws(FunctionDefinition.SpecializationError) in
                let fs = try formats(lits, from: 1)
                for (i, f) in fs.enumerated() where !f.hasDate {
                    throw FunctionDefinition.SpecializationError(argument: i + 1, message: "date format has no year")
                }
                if fs.count == 1 {
                    // One format (the common case), captured as it is: each copy of a format taken
                    // out of the array counted a reference to its elements, shared by the workers.
                    let f = fs[0]
                    return .unary { v throws(EvaluationError) in
                        if let r = f.parse(try string(v, name)) { return make(r) }
                        throw fail(name, "text does not match any of the date formats")
                    }
                }
                return .unary { v throws(EvaluationError) in
                    let s = try string(v, name)
                    for f in fs { if let r = f.parse(s) { return make(r) } }
                    throw fail(name, "text does not match any of the date formats")
                }
            })
    }

    static func shift(_ name: String, _ doc: String, _ op: @escaping @Sendable (Value, Int) throws(EvaluationError) -> Value) -> FunctionDefinition {
        FunctionDefinition(
            name: name, doc: doc,
            signatures: [Sig([.date, .integer], returns: .date), Sig([.datetime, .integer], returns: .datetime)],
            implementation: .binary { d, n throws(EvaluationError) in try op(d, try integer(n, name)) })
    }

    static let dates: [FunctionDefinition] = [
        FunctionDefinition(
            name: "date", doc: "Parses an ISO date `yyyy-MM-dd`; a date-time argument keeps its date part.",
            signatures: [Sig([.string], returns: .date), Sig([.datetime], returns: .date)],
            implementation: .unary { v throws(EvaluationError) in
                if case .string(let s) = v { return try parseISODate(s) }
                return .date(try days(v, "date"))
            }),
        FunctionDefinition(
            name: "datetime", doc: "Parses an ISO date-time `yyyy-MM-ddTHH:mm[:ss]` (or with a space), or a date at midnight.",
            signatures: [Sig([.string], returns: .datetime), Sig([.date], returns: .datetime)],
            implementation: .unary { v throws(EvaluationError) in
                switch v {
                case .string(let s): return try parseISODateTime(s)
                case .date(let d): return .dateTime(try midnight(d, "datetime"))
                case .dateTime: return v
                default: throw .type(expected: "string or date", found: v, in: "datetime")
                }
            }),
        formatParser(name: "parse_date", doc: "Parses text with the first matching literal format.", returns: .date) {
            .date($0.days)
        },
        formatParser(
            name: "parse_datetime", doc: "Parses text with the first matching literal format; missing time parts are zero.",
            returns: .datetime
        ) { .dateTime($0.days * 86_400 + $0.seconds) },
        FunctionDefinition(
            name: "format_date", doc: "Formats a date or date-time with a literal format.",
            signatures: [Sig([.datetime, .string], returns: .string)], requiresLiteralArguments: [1],
            implementation: .specialized { lits throws(FunctionDefinition.SpecializationError) in
                guard let f = try formats(lits, from: 1).first else {
                    throw FunctionDefinition.SpecializationError(argument: 1, message: "date format must be a string literal")
                }
                return .unary { v throws(EvaluationError) in
                    switch v {
                    case .date(let d): return .string(f.format(seconds: try midnight(try days(v, "format_date"), "format_date")))
                    case .dateTime: return .string(f.format(seconds: try midnight(try days(v, "format_date"), "format_date") + (try secondOfDay(v))))
                    default: throw .type(expected: "date", found: v, in: "format_date")
                    }
                }
            }),
        shift("add_days", "Adds n days.") { d, n throws(EvaluationError) in try addDays(d, n, "add_days") },
        shift("add_months", "Adds n months, clamping the day to the end of the month.") { d, n throws(EvaluationError) in
            try addMonths(d, n, "add_months")
        },
        shift("add_years", "Adds n years (29 February becomes 28 February in common years).") { d, n throws(EvaluationError) in
            guard abs(n) <= 10_000 else { throw fail("add_years", "date out of range (years 1 to 9999)") }
            return try addMonths(d, n * 12, "add_years")
        },
        FunctionDefinition(
            name: "days_between", doc: "Whole days from a to b (b − a), on the date parts.",
            signatures: [Sig([.datetime, .datetime], returns: .integer)],
            implementation: .binary { a, b throws(EvaluationError) in .int(try days(b, "days_between") - days(a, "days_between")) }),
        datePart("year", "The year.") { $0.year },
        datePart("month", "The month, 1–12.") { $0.month },
        datePart("day", "The day of the month, 1–31.") { $0.day },
        FunctionDefinition(
            name: "first_of_month", doc: "The first day of the month of a date or date-time (a date).",
            signatures: [Sig([.datetime], returns: .date)],
            implementation: .unary { v throws(EvaluationError) in
                let d = CivilDate(daysSinceEpoch: try days(v, "first_of_month"))
                return .date(CivilDate(year: d.year, month: d.month, day: 1).daysSinceEpoch)
            }),
        FunctionDefinition(
            name: "age_at",
            doc:
                "Full years from birth to at (a 29 February birthday counts on 1 March in common years); negative, truncated toward zero, when at precedes birth.",
            signatures: [Sig([.datetime, .datetime], returns: .integer)],
            implementation: .binary { b, a throws(EvaluationError) in
                let birth = CivilDate(daysSinceEpoch: try days(b, "age_at"))
                let at = CivilDate(daysSinceEpoch: try days(a, "age_at"))
                func fullYears(_ from: CivilDate, _ to: CivilDate) -> Int {
                    var years = to.year - from.year
                    if (to.month, to.day) < (from.month, from.day) { years -= 1 }
                    return years
                }
                return .int(at < birth ? -fullYears(at, birth) : fullYears(birth, at))
            }),
        FunctionDefinition(
            name: "to_date", doc: "The date part of a date-time.",
            signatures: [Sig([.datetime], returns: .date)],
            implementation: .unary { v throws(EvaluationError) in .date(try days(v, "to_date")) }),
        FunctionDefinition(
            name: "make_date", doc: "The date with that year (1–9999), month and day; an invalid date is an error.",
            signatures: [Sig([.integer, .integer, .integer], returns: .date)],
            implementation: .ternary { y, m, d throws(EvaluationError) in
                let c = CivilDate(year: try integer(y, "make_date"), month: try integer(m, "make_date"), day: try integer(d, "make_date"))
                guard c.year >= 1, c.year <= 9999, c.isValid else { throw fail("make_date", "invalid date") }
                return .date(c.daysSinceEpoch)
            }),
    ]
}
