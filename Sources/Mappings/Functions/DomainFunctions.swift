package import Harmonize

/// The health-domain functions mappings can call, registered by `FunctionCatalog`:
///
/// | function | does |
/// | --- | --- |
/// | `cim10_compact(code)` | `e11.9` → `E119` (SNDS/PMSI form) |
/// | `cim10_dotted(code)` | `E119` → `E11.9` (OMOP vocabulary form) |
/// | `cim10_category(code)` | `E119` → `E11` |
/// | `department(code)` | `1` → `01`, `2a` → `2A`; null when malformed |
/// | `commune_department(code)` | `2A004` → `2A`, `97411` → `974`; null when malformed |
/// | `nir_is_valid(nir)` | control key check of a 15-character NIR |
/// | `snds_date(d)` | null for the SNDS sentinel dates 1600-01-01, 2100-01-01, 2999-12-31 and 9999-12-31, else `d` |
/// | `sas_datetime(text)` | `02JAN2007:22:12:17` → 2007-01-02T22:12:17 (SAS export form); `02JAN2007` → midnight |
/// | `snds_department(code)` | `075` → `75`, `02A`/`201` → `2A`, `02B`/`202` → `2B`, `974` kept; null for `000`/`099`/`999` |
/// | `snds_person_key(nir, rank)` | the canonical beneficiary key `NIR#rank` (`abc`, `01` → `ABC#1`) every SNDS mapping hashes into `person_id` |
package enum DomainFunctions {
    /// Every domain function.
    public static let all: [FunctionDefinition] = [
        text("cim10_compact", "A CIM-10 code without dot, spaces or ATIH +/* markers, upper-case.") { .string(FrenchCodes.cim10Compact($0)) },
        text("cim10_dotted", "A CIM-10 code with the dot after the 3-character category.") { .string(FrenchCodes.cim10Dotted($0)) },
        text("cim10_category", "The 3-character CIM-10 category.") { .string(FrenchCodes.cim10Category($0)) },
        text("department", "A normalised French department code, or null.") { FrenchCodes.department($0).map(Value.string) ?? .null },
        text("commune_department", "The department of an INSEE commune code, or null.") {
            FrenchCodes.department(ofCommune: $0).map(Value.string) ?? .null
        },
        FunctionDefinition(
            name: "nir_is_valid", doc: "Whether a 15-character NIR has a valid control key (97 − n mod 97; Corsica 2A/2B).",
            signatures: [.init([.string], returns: .boolean)],
            implementation: .unary { v throws(EvaluationError) in
                guard case .string(let s) = v else { return .null }
                return .bool(FrenchCodes.nirIsValid(s))
            }),
        FunctionDefinition(
            name: "snds_date", doc: "Null for the SNDS sentinel dates (1600-01-01, 2100-01-01, 2999-12-31, 9999-12-31), else the date.",
            signatures: [.init([.date], returns: .date), .init([.datetime], returns: .datetime)],
            implementation: .unary { v throws(EvaluationError) in
                if case .date(let d) = v, FrenchCodes.isSentinelDate(d) { return .null }
                if case .dateTime(let s) = v, s % 86_400 == 0, FrenchCodes.isSentinelDate(s / 86_400) { return .null }
                return v
            }),
        FunctionDefinition(
            name: "sas_datetime",
            doc: "A SAS date-time `ddMONyyyy:HH:mm:ss` (or a SAS date `ddMONyyyy`, midnight) as a date-time; fails on other text.",
            signatures: [.init([.string], returns: .datetime)],
            implementation: .unary { v throws(EvaluationError) in
                guard case .string(let s) = v else { return .null }
                guard let seconds = FrenchCodes.sasDateTime(s) else {
                    throw EvaluationError(message: "not a SAS date-time (ddMONyyyy:HH:mm:ss)", function: "sas_datetime")
                }
                return .dateTime(seconds)
            }),
        text("snds_department", "An SNDS department code (IR_DPT_V, 3 characters) in its 2-character form, or null.") {
            FrenchCodes.sndsDepartment($0).map(Value.string) ?? .null
        },
        FunctionDefinition(
            name: "snds_person_key",
            doc:
                "The canonical SNDS beneficiary key `NIR#rank` (NIR trimmed and upper-cased, rank without leading zeros), hashed into person_id by every SNDS mapping; fails on an empty NIR or a rank that is not an integer.",
            signatures: [.init([.string, .integer], returns: .string), .init([.string, .string], returns: .string)],
            implementation: .binary { nir, rank throws(EvaluationError) in
                guard case .string(let n) = nir else { return .null }
                let r: String
                switch rank {
                case .int(let i): r = String(i)
                case .string(let s): r = s
                default: return .null
                }
                guard let key = FrenchCodes.sndsPersonKey(nir: n, rank: r) else {
                    throw EvaluationError(message: "the pseudonymised NIR is empty or the birth rank is not an integer", function: "snds_person_key")
                }
                return .string(key)
            }),
    ]

    private static func text(_ name: String, _ doc: String, _ f: @escaping @Sendable (String) -> Value) -> FunctionDefinition {
        FunctionDefinition(
            name: name, doc: doc, signatures: [.init([.string], returns: .string)],
            implementation: .unary { v throws(EvaluationError) in
                guard case .string(let s) = v else { return .null }
                return f(s)
            })
    }
}
