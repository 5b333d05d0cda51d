import Foundation
import Testing

@testable import Harmonize

/// The COPY text encoder writes what the format expects, as `Value.description` spells values
/// (the previous encoder, kept here as the reference), with COPY's escapes.
@Suite struct PostgreSQLCopyTextTests {
    /// The encoder before it wrote digits in place: descriptions, and escapes byte by byte.
    static func reference(_ v: Value) -> String {
        switch v {
        case .null: return "\\N"
        case .bool(let b): return b ? "t" : "f"
        case .double(let d) where d.isNaN: return "NaN"
        case .double(let d) where d.isInfinite: return d < 0 ? "-Infinity" : "Infinity"
        case .string(let s):
            return s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\t", with: "\\t")
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
        default: return v.description
        }
    }

    @Test func everyKindOfValueIsWrittenAsBefore() {
        let day = CivilDate(year: 2024, month: 2, day: 29).daysSinceEpoch
        var values: [Value] = [
            .null, .bool(true), .bool(false), .int(0), .int(7), .int(-42), .int(Int.max), .int(Int.min), .int(1_000_000),
            .double(0), .double(-3), .double(59.93), .double(-0.25), .double(1e20), .double(1e-7), .double(.nan), .double(-.infinity),
            .string(""), .string("plain"), .string("a\tb\nc\rd\\e"), .string("\\"), .string("é\t"), .string(String(repeating: "x", count: 300)),
            .date(day), .date(0), .date(-1), .date(CivilDate(year: 12_000, month: 1, day: 1).daysSinceEpoch),
            .dateTime(day * 86_400 + 3_723), .dateTime(-1), .dateTime(0),
        ]
        // A spread of integers and dates, both signs.
        for k in stride(from: -100_000, through: 100_000, by: 9_973) {
            values.append(.int(k * 31_337))
            values.append(.date(k))
            values.append(.dateTime(k * 86_401))
        }
        for v in values {
            var out: [UInt8] = []
            PostgreSQLCopyText.append(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == Self.reference(v), "\(v.type.rawValue)")
        }
    }
}
