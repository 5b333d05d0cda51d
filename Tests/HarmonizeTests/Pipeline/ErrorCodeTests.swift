import Foundation
import Testing

@testable import Harmonize

/// One error model: every HZ code used in the sources is declared in `ErrorCode.catalogue`, and
/// `docs/errors.md` (the exit codes and every code with its meaning) is rendered from it.
@Suite struct ErrorCodeTests {
    /// Every `HZnnnn` literal of the sources (the CLI included).
    static func codesUsedInSources() throws -> [String: String] {
        var found: [String: String] = [:]
        let root = TestSupport.path("Sources")
        let e = FileManager.default.enumerator(atPath: root)
        let regex = try NSRegularExpression(pattern: "\"(HZ[0-9]{4})\"")
        while let rel = e?.nextObject() as? String {
            guard rel.hasSuffix(".swift") else { continue }
            let text = try String(contentsOfFile: root + "/" + rel, encoding: .utf8)
            for m in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                if let r = Range(m.range(at: 1), in: text) { found[String(text[r]), default: rel] = rel }
            }
        }
        return found
    }

    static func render() -> String {
        var s = """
            # Errors and exit codes

            <!-- Rendered from `ErrorCode.catalogue` (Sources/Harmonize/Core/ErrorCode.swift) by ErrorCodeTests; \
            re-record with RECORD_GOLDEN=1 swift test --filter ErrorCodeTests. -->

            Every failure of Harmonize is a `HarmonizeError` with a stable code, a category, a message (never a cell
            value, identifier or key), the place it happened and its cause; problems found before any data is read
            are `Diagnostic`s (`file:line:column: error: message [HZnnnn]`), all of them reported at once.

            ## Exit codes of `harmonize-run`

            | exit code | category | meaning |
            | --- | --- | --- |
            | 0 | | success: the output was published |
            | 1 | data | the run completed and published, but rejected records exceed `--max-reject-rate`, or a quality check failed with `--fail-on-quality` (`check`, `test`: a check or case failed) |
            | \(HarmonizeError.Kind.configuration.exitCode) | `configuration` | a mapping, model, profile, flag or option is wrong: nothing was read, nothing was written |
            | \(HarmonizeError.Kind.io.exitCode) | `io` | reading an input or writing the output failed: the previous output is untouched; also a command's results that cannot be written to standard output |
            | \(HarmonizeError.Kind.privacy.exitCode) | `privacy` | a privacy rule would be broken (a person on the objection list in the output): nothing was published |
            | \(HarmonizeError.Kind.accounting.exitCode) | `accounting` | an internal inconsistency (the books do not balance): a bug, nothing was published |

            ## Codes

            Ranges: `HZ1xxx` mapping files, target models, profiles, mapping tests and checks files; `HZ2xxx` sources
            and schemas; `HZ3xxx` expressions; `HZ4xxx` validation; `HZ5xxx` sinks; `HZ6xxx` vocabularies; `HZ7xxx`
            runs (preflight, inputs, output, accounting, privacy).

            | code | meaning |
            | --- | --- |

            """
        for (code, meaning) in ErrorCode.catalogue {
            s += "| \(code.rawValue) | \(meaning.replacingOccurrences(of: "|", with: "\\|")) |\n"
        }
        return s
    }

    @Test func everyCodeUsedIsDeclaredOnceWithAMeaning() throws {
        let declared = ErrorCode.catalogue.map(\.code.rawValue)
        #expect(Set(declared).count == declared.count, "a code is declared twice")
        #expect(declared == declared.sorted(), "the catalogue is in code order")
        for (code, file) in try Self.codesUsedInSources() {
            #expect(declared.contains(code), "\(code) (used in \(file)) is not declared in ErrorCode.catalogue")
        }
        for (code, meaning) in ErrorCode.catalogue {
            #expect(code.rawValue.range(of: "^HZ[0-9]{4}$", options: .regularExpression) != nil)
            #expect(!meaning.isEmpty, "\(code) has no meaning")
        }
    }

    @Test func docsListEveryCodeAndTheExitCodes() throws {
        Golden.assertMatches(Self.render(), golden: "docs/errors.md")
        let docs = try String(contentsOfFile: TestSupport.path("docs/errors.md"), encoding: .utf8)
        for (code, _) in ErrorCode.catalogue { #expect(docs.contains("| \(code.rawValue) |"), "\(code) is not in docs/errors.md") }
    }

    @Test func theCategoryDecidesTheExitCode() {
        #expect(HarmonizeError(.configuration, "x").exitCode == 2)
        #expect(HarmonizeError(.io, "x").exitCode == 3)
        #expect(HarmonizeError(.privacy, "x").exitCode == 4)
        #expect(HarmonizeError(.accounting, "x").exitCode == 70)
        let e = HarmonizeError(.io, "cannot read", code: .runIO, location: .init(file: "in.csv", line: 3), cause: RunError(.io, "inner"))
        #expect(e.summary == "[HZ7003] in.csv:3: cannot read")
        #expect(e.cause == "inner")
        #expect(HarmonizeError(.configuration, "x").code == .runConfiguration)
    }
}
