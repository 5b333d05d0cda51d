import Foundation
import Testing

@testable import Harmonize

/// Every `expr:` line of docs/mapping-language.md compiles and evaluates to the stated result.
@Suite struct ExpressionDocTests {
    struct Example: CustomTestStringConvertible, Sendable {
        var line: Int
        var expression: String
        var expected: String
        var testDescription: String { "doc line \(line): \(expression)" }
    }

    static let docURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/mapping-language.md")

    static func examples() -> [Example] {
        guard let text = try? String(contentsOf: docURL, encoding: .utf8) else { return [] }
        var out: [Example] = []
        var inBlock = false
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("```") {
                inBlock = line == "```harmonize-example"
                continue
            }
            guard inBlock, line.hasPrefix("expr:") else { continue }
            let body = line.dropFirst(5)
            guard let sep = body.range(of: "  =>  ", options: .backwards) else {
                out.append(Example(line: i + 1, expression: String(body), expected: "<missing '  =>  '>"))
                continue
            }
            out.append(
                Example(
                    line: i + 1, expression: body[..<sep.lowerBound].trimmingCharacters(in: .whitespaces),
                    expected: body[sep.upperBound...].trimmingCharacters(in: .whitespaces)))
        }
        return out
    }

    /// The standard functions plus the vocabulary functions over the fixture `fixtures/vocabulary/`.
    static let functions: FunctionRegistry = {
        var r = FunctionRegistry.standard
        r.registerVocabulary(try? VocabularyStore(path: TestSupport.path("fixtures/vocabulary")))
        return r
    }()

    @Test func everyVocabularyFunctionIsDocumentedAndExemplified() throws {
        let doc = try String(contentsOf: Self.docURL, encoding: .utf8)
        let examples = Self.examples().map { $0.expression.lowercased() }
        for name in FunctionRegistry.vocabularyFunctionNames {
            #expect(doc.contains("`\(name)("), "\(name) is not documented")
            #expect(examples.contains { $0.contains("\(name)(") }, "\(name) has no example")
        }
    }

    @Test func documentHasManyExamples() {
        #expect(Self.examples().count > 150)
    }

    @Test func everyStandardFunctionIsDocumentedAndExemplified() throws {
        let doc = try String(contentsOf: Self.docURL, encoding: .utf8)
        let examples = Self.examples().map { $0.expression.lowercased() }
        for name in FunctionRegistry.standard.names + ["lookup"] {
            #expect(doc.contains("`\(name)("), "\(name) is not documented")
            #expect(examples.contains { $0.contains("\(name)(") }, "\(name) has no example")
        }
    }

    @Test(arguments: examples())
    func example(_ e: Example) throws {
        let actual = ExpressionFixture.run(e.expression, compiler: ExpressionFixture.compiler(functions: Self.functions))
        if e.expected.hasPrefix("HZ") {
            guard case .diagnostics(let codes) = actual else {
                Issue.record("expected \(e.expected), got \(actual)")
                return
            }
            #expect(codes.contains(e.expected), "got \(codes)")
        } else if e.expected.hasPrefix("error ") {
            let reason = try #require(RejectReason(rawValue: String(e.expected.dropFirst(6))))
            #expect(actual == .runtime(reason))
        } else {
            let expected = ExpressionFixture.run(e.expected, compiler: ExpressionFixture.compiler(functions: Self.functions))
            guard case .value = expected else {
                Issue.record("expected side does not evaluate: \(expected)")
                return
            }
            #expect(actual == expected)
        }
    }
}
