import Harmonize
import Mappings

nonisolated(unsafe) let fields: [(name: String, type: ValueType)] = [("s", .string), ("n", .integer), ("x", .number), ("d", .date), ("b", .boolean)]
nonisolated(unsafe) let compiler = ExpressionCompiler(
    functions: FunctionCatalog.registry(key: .mappingTests, dateShiftDays: 7), scope: StaticExpressionScope(fields), lookups: nil)

/// Compiles the input as an expression (the first line) and evaluates it over values taken from
/// the rest of the input: regular expressions, dates, numbers, strings.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExpression(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    let expression = String(parts.first ?? "")
    let value = parts.count > 1 ? String(parts[1]) : "a1"
    guard case .success(let c) = compiler.compile(expression, file: nil, line: 1, column: 1, expected: nil) else { return 0 }
    let frame = EvaluationFrame(slotCount: fields.count)
    frame[0] = .string(value)
    frame[1] = .int(value.utf8.count)
    frame[2] = .double(Double(value.utf8.count) / 3)
    frame[3] = .null
    frame[4] = .bool(value.isEmpty)
    _ = try? c.evaluate(frame)
    return 0
}
