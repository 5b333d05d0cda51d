import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// Mutation check of the bundled mappings' inline tests: small edits to each mapping (a constant
/// changed, two field rules swapped, a filter dropped, a lookup key changed) must make at least one
/// of its cases fail. Mutants that no longer plan (a type error) are "stillborn" and not counted.
@Suite struct MappingMutationTests {
    struct Mutant {
        var mapping: String
        var kind: String
        var line: Int
        var text: String
    }

    /// The mutants of one mapping file's text (the `tests:` section is left alone).
    static func mutants(of text: String, mapping: String) -> [Mutant] {
        var lines = text.components(separatedBy: "\n")
        let testsStart = lines.firstIndex(of: "tests:") ?? lines.count
        lines = Array(lines[..<testsStart])
        let tail = text.components(separatedBy: "\n")[testsStart...].joined(separator: "\n")
        func assemble(_ ls: [String]) -> String { (ls + [tail]).joined(separator: "\n") }
        var out: [Mutant] = []
        // Rule lines: entries under `fields:` and `let:`, and `filter:` lines.
        var ruleLines: [Int] = []
        var blockIndent: Int? = nil
        var block: [Int] = []
        var blocks: [[Int]] = []
        for (i, l) in lines.enumerated() {
            let indent = l.prefix { $0 == " " }.count
            let trimmed = l.trimmingCharacters(in: .whitespaces)
            if let b = blockIndent, !trimmed.isEmpty, !trimmed.hasPrefix("#") {
                if indent > b {
                    // Schema entries (`- {name: …}`) are not rules.
                    if trimmed.contains(": "), !trimmed.hasPrefix("-") {
                        ruleLines.append(i)
                        block.append(i)
                    }
                    continue
                }
                blocks.append(block)
                block = []
                blockIndent = nil
            }
            if trimmed == "fields:" || trimmed == "let:" { blockIndent = indent }
            if trimmed.hasPrefix("filter:") { ruleLines.append(i) }
        }
        if !block.isEmpty { blocks.append(block) }

        func split(_ line: String) -> (key: String, value: String, comment: String)? {
            guard let colon = line.range(of: ": ") else { return nil }
            var value = String(line[colon.upperBound...])
            var comment = ""
            if let hash = value.range(of: "   #") ?? value.range(of: "  #") {
                comment = String(value[hash.lowerBound...])
                value = String(value[..<hash.lowerBound])
            }
            return (String(line[..<colon.upperBound]), value, comment)
        }

        // 1. Constants: each integer literal + 1, each single-quoted text with an X appended.
        for i in ruleLines {
            guard let (key, value, comment) = split(lines[i]) else { continue }
            let chars = Array(value)
            var k = 0
            var inQuote = false
            while k < chars.count {
                let c = chars[k]
                if c == "'" {
                    if !inQuote {
                        if let close = chars[(k + 1)...].firstIndex(of: "'") {
                            var m = chars
                            m.insert("X", at: close)
                            var ls = lines
                            ls[i] = key + String(m) + comment
                            out.append(Mutant(mapping: mapping, kind: "constant", line: i + 1, text: assemble(ls)))
                            k = close + 1
                            continue
                        }
                    }
                    inQuote.toggle()
                } else if c.isNumber, k == 0 || !(chars[k - 1].isLetter || chars[k - 1] == "_" || chars[k - 1].isNumber) {
                    var e = k
                    while e < chars.count, chars[e].isNumber { e += 1 }
                    if let n = Int(String(chars[k..<e])) {
                        var m = chars
                        m.replaceSubrange(k..<e, with: Array(String(n + 1)))
                        var ls = lines
                        ls[i] = key + String(m) + comment
                        out.append(Mutant(mapping: mapping, kind: "constant", line: i + 1, text: assemble(ls)))
                    }
                    k = e
                    continue
                }
                k += 1
            }
        }
        // 2. Swap the rules of two neighbouring fields (when they differ).
        for b in blocks where b.count > 1 {
            for j in 0..<(b.count - 1) {
                guard let x = split(lines[b[j]]), let y = split(lines[b[j + 1]]), x.value != y.value else { continue }
                var ls = lines
                ls[b[j]] = x.key + y.value
                ls[b[j + 1]] = y.key + x.value
                out.append(Mutant(mapping: mapping, kind: "swap", line: b[j] + 1, text: assemble(ls)))
            }
        }
        // 3. Drop each filter.
        for i in ruleLines where lines[i].trimmingCharacters(in: .whitespaces).hasPrefix("filter:") {
            var ls = lines
            ls.remove(at: i)
            out.append(Mutant(mapping: mapping, kind: "drop filter", line: i + 1, text: assemble(ls)))
        }
        // 4. Change each lookup's key column.
        for (i, l) in lines.enumerated() where l.trimmingCharacters(in: .whitespaces).hasPrefix("key: ") {
            var ls = lines
            ls[i] = String(l.prefix { $0 == " " }) + "key: libelle"
            out.append(Mutant(mapping: mapping, kind: "lookup key", line: i + 1, text: assemble(ls)))
        }
        return out
    }

    /// The bundled mappings (folder/name), research CSV and hospital HL7 v2 and XML.
    static let bundled = [
        "research/patients", "research/measurements", "research/questionnaire",
        "hospital/adt-person-visit", "hospital/oru-measurement", "hospital/his-visit",
    ]

    @Test func theInlineTestsKillAtLeastNinetyPercentOfMutants() throws {
        let context = PlanningContext(
            defaultModel: try Mappings.omopModel(),
            functions: FunctionCatalog.registry(vocabulary: try VocabularyStore(path: TestSupport.path("fixtures/vocabulary"))))
        let root = TestSupport.temporaryDirectory("mutants")
        for folder in ["research", "hospital"] {
            try FileManager.default.createDirectory(atPath: root + "/mappings/\(folder)", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/fixtures", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: TestSupport.path("fixtures/\(folder)"), toPath: root + "/fixtures/\(folder)")
        }
        try FileManager.default.copyItem(atPath: TestSupport.path("mappings/research/concepts.csv"), toPath: root + "/mappings/research/concepts.csv")
        var killed = 0
        var survived: [String] = []
        var stillborn = 0
        var total = 0
        var perMapping: [String] = []
        for name in Self.bundled {
            let text = try String(contentsOfFile: TestSupport.path("mappings/\(name).yaml"), encoding: .utf8)
            // The unmutated mapping passes.
            TestSupport.write(text, to: root + "/mappings/\(name).yaml")
            #expect(try MappingTestRunner(mappingFile: root + "/mappings/\(name).yaml", context: context).runTests().passed, "\(name)")
            var k0 = 0
            var v0 = 0
            for (k, m) in Self.mutants(of: text, mapping: name).enumerated() {
                total += 1
                let path = root + "/mappings/\(name)-mutant\(k).yaml"
                TestSupport.write(m.text, to: path)
                defer { try? FileManager.default.removeItem(atPath: path) }
                guard let runner = try? MappingTestRunner(mappingFile: path, context: context) else {
                    stillborn += 1
                    continue
                }
                v0 += 1
                if runner.runTests().passed {
                    survived.append("\(name).yaml:\(m.line) \(m.kind)")
                } else {
                    killed += 1
                    k0 += 1
                }
            }
            perMapping.append("\(name) \(k0)/\(v0)")
        }
        let viable = total - stillborn
        let score = viable == 0 ? 0 : Double(killed) * 100 / Double(viable)
        print(
            "mapping mutants: \(total) generated, \(stillborn) stillborn, \(killed)/\(viable) killed (\(Int(score.rounded()))%); per mapping: \(perMapping); survivors: \(survived)"
        )
        #expect(viable >= 40, "the mutation operators found too few mutants: \(viable)")
        #expect(score >= 90, "survivors: \(survived)")
    }

    /// The SNDS mappings (joins, grouping, keyed ids), run under the public test key.
    static let snds = [
        "ir-ben-r", "ir-imb-r", "dcir-visit", "dcir-drug", "dcir-procedure", "dcir-measurement", "pmsi-mco-stay", "pmsi-mco-diagnoses",
        "pmsi-mco-acts",
    ]

    @Test func theSNDSInlineTestsKillAtLeastNinetyPercentOfMutants() throws {
        let context = PlanningContext(
            defaultModel: try Mappings.omopModel(),
            functions: FunctionCatalog.registry(vocabulary: try VocabularyStore(path: TestSupport.path("fixtures/vocabulary"))))
        let root = TestSupport.temporaryDirectory("snds-mutants")
        try FileManager.default.createDirectory(atPath: root + "/mappings", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/fixtures", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestSupport.path("mappings/snds"), toPath: root + "/mappings/snds")
        try FileManager.default.copyItem(atPath: TestSupport.path("fixtures/snds"), toPath: root + "/fixtures/snds")
        var killed = 0
        var survived: [String] = []
        var stillborn = 0
        var total = 0
        var perMapping: [String] = []
        for name in Self.snds {
            let text = try String(contentsOfFile: TestSupport.path("mappings/snds/\(name).yaml"), encoding: .utf8)
            #expect(try MappingTestRunner(mappingFile: root + "/mappings/snds/\(name).yaml", context: context).runTests().passed, "\(name)")
            var k0 = 0
            var v0 = 0
            for (k, m) in Self.mutants(of: text, mapping: name).enumerated() {
                total += 1
                let path = root + "/mappings/snds/\(name)-mutant\(k).yaml"
                TestSupport.write(m.text, to: path)
                defer { try? FileManager.default.removeItem(atPath: path) }
                guard let runner = try? MappingTestRunner(mappingFile: path, context: context) else {
                    stillborn += 1
                    continue
                }
                v0 += 1
                if runner.runTests().passed {
                    survived.append("\(name).yaml:\(m.line) \(m.kind)")
                } else {
                    killed += 1
                    k0 += 1
                }
            }
            perMapping.append("\(name) \(k0)/\(v0)")
        }
        let viable = total - stillborn
        let score = viable == 0 ? 0 : Double(killed) * 100 / Double(viable)
        print(
            "SNDS mapping mutants: \(total) generated, \(stillborn) stillborn, \(killed)/\(viable) killed (\(Int(score.rounded()))%); per mapping: \(perMapping); survivors: \(survived)"
        )
        #expect(viable >= 40, "the mutation operators found too few mutants: \(viable)")
        #expect(score >= 90, "survivors: \(survived)")
    }
}
