import Crypto
import Foundation

extension FunctionRegistry {
    /// Adds `date_shift(date, subject)`: the date moved by a per-person number of days, between
    /// 1 and `days` days earlier or later (never 0), the same for every date of the person in every
    /// table, so intervals between a person's dates are kept.
    ///
    /// The shift is derived from the person's pseudonym: `p = pseudonym(subject, 'person')` (a
    /// subject that already is a 64-hex-digit pseudonym is taken as `p`, so tables that carry the
    /// pseudonym and tables that carry the raw id agree), then HMAC-SHA-256(`date-shift` sub-key,
    /// p) picks the magnitude and the sign. Date-times move by whole days. A null date or subject
    /// gives null (a date is never left unshifted).
    ///
    /// Without a key or with `days == 0` the function type-checks (so `check` works) but fails at
    /// run time; the CLI refuses to start such a run (exit 2).
    public mutating func registerDateShift() {
        var definition =
            FunctionDefinition(
                name: "date_shift",
                doc: "The date moved by a per-person secret shift of 1 to N days either way (N from --date-shift-days; keyed).",
                signatures: [.init([.date, .any], returns: .date), .init([.datetime, .any], returns: .datetime)],
                isPure: false,
                implementation: .perRun { environment throws(EvaluationError) in
                    let shifter = try environment.dateShifter()
                    return .binary { date, subject throws(EvaluationError) in
                        guard let text = ExclusionList.text(of: subject) else { return .null }
                        let n = shifter.shift(subject: text)
                        switch date {
                        case .date(let d): return .date(d + n)
                        case .dateTime(let s): return .dateTime(s + n * 86_400)
                        case .null: return .null
                        default: throw .type(expected: "date", found: date, in: "date_shift")
                        }
                    }
                })
        // The same date and subject move by the same days for the whole run.
        definition.repeatable = true
        register(definition)
    }
}

extension RunEnvironment {
    /// The run's date shifter (one per run, shared by its `date_shift` calls).
    func dateShifter() throws(EvaluationError) -> DateShifter {
        guard let key = pseudonymKey, dateShiftDays > 0 else {
            throw EvaluationError(
                reason: .expressionError, message: "date_shift: no pseudonymisation key or no --date-shift-days was given", function: "date_shift")
        }
        let days = dateShiftDays
        return try service(DateShifter.self) { DateShifter(key: key, days: days) }
    }
}

/// Per-person day shifts for `date_shift`. One per run (its HMAC states and cache change with
/// every call): not `Sendable`.
package final class DateShifter {
    private let person: Pseudonymizer
    /// The keyed HMAC, pad states prepared once.
    private let shiftMAC: PreparedHMAC
    /// The largest shift in days.
    public let days: Int
    /// Shifts already derived, by subject (bounded: cleared when full), so a person's rows cost
    /// one keyed hash, not one per date.
    private var cache: [String: Int] = [:]
    private static let cacheLimit = 1 << 16

    /// Creates a shifter of at most `days` days (≥ 1).
    public init(key: PseudonymKey, days: Int) {
        self.person = Pseudonymizer(key: key, purpose: "person")
        self.shiftMAC = PreparedHMAC(key: key.subKey(purpose: "date-shift").withUnsafeBytes { Array($0) })
        self.days = max(1, days)
    }

    /// The shift in days (±1…±days) of a subject (a raw identifier or its `person` pseudonym).
    public func shift(subject: String) -> Int {
        if let hit = cache[subject] { return hit }
        let value = derive(subject)
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[subject] = value
        return value
    }

    private func derive(_ subject: String) -> Int {
        let t = subject.trimmingSpaces().lowercased()
        let p: String
        if t.utf8.count == 64, t.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) {
            p = t
        } else {
            p = person.pseudonym(subject)
        }
        p.withUTF8Bytes { shiftMAC.authenticate($0) }
        let mac = shiftMAC.digestBytes()
        let magnitude = 1 + Int(shiftMAC.prefix64 % UInt64(days))
        return mac[8] & 1 == 0 ? magnitude : -magnitude
    }
}

@available(*, unavailable)
extension DateShifter: Sendable {}

/// Generalisation functions (no key): coarser values that lower re-identification risk.
///
/// | function | does |
/// | --- | --- |
/// | `age_band(age)` | 5-year bands `0-4`, `5-9`, … `85-89`, top-coded `90+`; null when negative |
/// | `to_month(date)` | the first day of the month (a date) |
/// | `to_year(date)` | 1 January of the year (a date) |
package enum GeneralisationFunctions {
    /// Every generalisation function.
    public static let all: [FunctionDefinition] = [
        FunctionDefinition(
            name: "age_band", doc: "The 5-year age band of an age in years ('0-4' … '85-89'), top-coded at '90+'; null when negative.",
            signatures: [.init([.integer], returns: .string)],
            implementation: .unary { v throws(EvaluationError) in
                guard case .int(let age) = v else { return .null }
                return GeneralisationFunctions.ageBand(age).map(Value.string) ?? .null
            }),
        FunctionDefinition(
            name: "to_month", doc: "Generalises a date or date-time to the first day of its month (a date).",
            signatures: [.init([.datetime], returns: .date)],
            implementation: .unary { v throws(EvaluationError) in
                guard let d = GeneralisationFunctions.civil(v) else { throw .type(expected: "date", found: v, in: "to_month") }
                return .date(CivilDate(year: d.year, month: d.month, day: 1).daysSinceEpoch)
            }),
        FunctionDefinition(
            name: "to_year", doc: "Generalises a date or date-time to 1 January of its year (a date).",
            signatures: [.init([.datetime], returns: .date)],
            implementation: .unary { v throws(EvaluationError) in
                guard let d = GeneralisationFunctions.civil(v) else { throw .type(expected: "date", found: v, in: "to_year") }
                return .date(CivilDate(year: d.year, month: 1, day: 1).daysSinceEpoch)
            }),
    ]

    /// The band of an age: `0-4` … `85-89`, `90+`; nil when negative.
    public static func ageBand(_ age: Int) -> String? {
        guard age >= 0 else { return nil }
        if age >= 90 { return "90+" }
        let low = age / 5 * 5
        return "\(low)-\(low + 4)"
    }

    static func civil(_ v: Value) -> CivilDate? {
        switch v {
        case .date(let d): return CivilDate(daysSinceEpoch: d)
        case .dateTime(let s): return CivilDate(daysSinceEpoch: s >= 0 ? s / 86_400 : (s - 86_399) / 86_400)
        default: return nil
        }
    }
}
