public import Harmonize

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
/// | `snds_date(d)` | null for the SNDS sentinel dates 1600-01-01 and 2100-01-01, else `d` |
public enum DomainFunctions {
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
            name: "snds_date", doc: "Null for the SNDS sentinel dates (1600-01-01, 2100-01-01), else the date.",
            signatures: [.init([.date], returns: .date)],
            implementation: .unary { v throws(EvaluationError) in
                if case .date(let d) = v, FrenchCodes.isSentinelDate(d) { return .null }
                return v
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
