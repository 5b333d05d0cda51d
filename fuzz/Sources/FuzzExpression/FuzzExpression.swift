import Harmonize
import Mappings

nonisolated(unsafe) let fields: [(name: String, type: ValueType)] = [("s", .string), ("n", .integer), ("x", .number), ("d", .date), ("b", .boolean)]
nonisolated(unsafe) let registry = FunctionCatalog.registry()

/// Compiles the input as an expression (the first line) and evaluates it over values taken from
/// the rest of the input: regular expressions, dates, numbers, strings.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExpression(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    let expression = String(parts.first ?? "")
    let value = parts.count > 1 ? String(parts[1]) : "a1"
    // A compiler per input: its call-site table belongs to this expression only.
    let compiler = ExpressionCompiler(functions: registry, scope: StaticExpressionScope(fields), lookups: nil)
    guard case .success(let c) = compiler.compile(expression, file: nil, line: 1, column: 1, expected: nil) else { return 0 }
    let frame = EvaluationFrame(slotCount: fields.count)
    // Keyed calls run under the public mapping-test key, date shifts up to 7 days.
    let environment = RunEnvironment()
    environment.pseudonymKey = .mappingTests
    environment.dateShiftDays = 7
    if let bound = try? c.callSites.bind(environment) { frame.bind(bound) }
    frame[0] = .string(value)
    frame[1] = .int(value.utf8.count)
    frame[2] = .double(Double(value.utf8.count) / 3)
    frame[3] = .null
    frame[4] = .bool(value.isEmpty)
    _ = try? c.evaluate(frame)
    return 0
}
