@testable import Harmonize

/// The fixed scope of docs/mapping-language.md ("Examples used in this document").
enum ExpressionFixture {
    static let fields: [(name: String, type: ValueType, value: Value)] = [
        ("sex", .string, .string("M")),
        ("first_name", .string, .string("  Marie ")),
        ("birth_date", .date, .date(CivilDate(year: 1980, month: 2, day: 29).daysSinceEpoch)),
        ("visit_date", .date, .date(CivilDate(year: 2024, month: 3, day: 15).daysSinceEpoch)),
        ("visit_time", .datetime, .dateTime(CivilDate(year: 2024, month: 3, day: 15).daysSinceEpoch * 86_400 + 8 * 3600 + 30 * 60)),
        ("weight", .number, .double(72.5)),
        ("height_cm", .integer, .int(170)),
        ("comment", .string, .null),
        ("PID-5.1", .string, .string("DUPONT^JEAN")),
        ("raw", .any, .string("42")),
    ]

    static let scope = StaticExpressionScope(fields.map { ($0.name, $0.type) })

    static func frame() -> EvaluationFrame {
        let f = EvaluationFrame(slotCount: fields.count)
        for (i, field) in fields.enumerated() { f.slots[i] = field.value }
        return f
    }

    final class Lookups: LookupResolver {
        let tables: [String: any LookupTable] = [
            "gender": DictionaryLookupTable(valueType: .integer, [(.string("M"), .int(8507)), (.string("F"), .int(8532))]),
            "unit": DictionaryLookupTable(valueType: .integer, missIsFatal: true, [(.string("kg"), .int(9529))]),
            "route": DictionaryLookupTable(
                keyCount: 2, valueType: .integer, rows: [([.string("oral"), .string("tablet")], .int(4_132_161))]),
        ]
        func lookupTable(named name: String) -> (any LookupTableShape)? { tables[name] }
        var lookupNames: [String] { tables.keys.sorted() }
    }

    static func compiler(coverage: CoverageRecorder? = nil, functions: FunctionRegistry = .standard) -> ExpressionCompiler {
        ExpressionCompiler(functions: functions, scope: scope, lookups: Lookups(), coverage: coverage)
    }

    enum Outcome: Equatable, CustomStringConvertible {
        case value(Value)
        case runtime(RejectReason)
        case diagnostics([String])

        var description: String {
            switch self {
            case .value(let v): return "value \(v.type.rawValue) \(v)"
            case .runtime(let r): return "error \(r.rawValue)"
            case .diagnostics(let c): return c.joined(separator: ",")
            }
        }
    }

    static func run(_ text: String, expected: ValueType? = nil, compiler: ExpressionCompiler = compiler()) -> Outcome {
        switch compiler.compile(text, file: "test.yaml", line: 1, column: 1, expected: expected) {
        case .failure(let e): return .diagnostics(e.diagnostics.map(\.code))
        case .success(let c):
            do {
                // Calls with per-run state (vocabulary functions) are bound to a run of their own.
                let f = frame()
                f.bind(try c.callSites.bind(RunEnvironment()))
                return .value(try c.evaluate(f))
            } catch { return .runtime(error.reason) }
        }
    }

    static func diagnostics(_ text: String, line: Int = 1, column: Int = 1, continuationColumn: Int = 1) -> [Diagnostic] {
        switch compiler().compile(text, file: "m.yaml", line: line, column: column, expected: nil, continuationColumn: continuationColumn) {
        case .failure(let e): return e.diagnostics
        case .success: return []
        }
    }
}
