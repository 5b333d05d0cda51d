import Foundation
import Testing

/// The public surface is small and documented: the top-level public types of the `Harmonize`
/// and `Mappings` modules are exactly those of the table in docs/library.md, and each has a
/// documentation comment.
@Suite struct PublicSurfaceTests {
    /// Top-level public type declarations (name → whether a `///` comment precedes it).
    static func publicTypes() throws -> [String: Bool] {
        var found: [String: Bool] = [:]
        let declaration = try Regex(#"^(public|open) (final )?(struct|class|enum|protocol|actor|typealias) ([A-Za-z0-9_]+)"#)
        for module in ["Sources/Harmonize", "Sources/Mappings"] {
            let root = TestSupport.path(module)
            let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
            for file in files {
                let lines = try String(contentsOfFile: root + "/" + file, encoding: .utf8).components(separatedBy: "\n")
                for (i, line) in lines.enumerated() {
                    guard let m = try declaration.firstMatch(in: line), let name = m.output[4].substring else { continue }
                    var k = i - 1
                    while k >= 0, lines[k].hasPrefix("@") { k -= 1 }
                    found[String(name)] = k >= 0 && lines[k].hasPrefix("///")
                }
            }
        }
        return found
    }

    /// The names in the first column of the table under "## Public API" in docs/library.md.
    static func documentedTypes() throws -> Set<String> {
        let text = try String(contentsOfFile: TestSupport.path("docs/library.md"), encoding: .utf8)
        guard let start = text.range(of: "## Public API") else { return [] }
        var names: Set<String> = []
        for line in text[start.upperBound...].components(separatedBy: "\n") {
            if line.hasPrefix("## ") { break }
            guard line.hasPrefix("| `") else { continue }
            let cell = line.dropFirst(3)
            if let end = cell.firstIndex(of: "`") { names.insert(String(cell[..<end])) }
        }
        return names
    }

    @Test func thePublicTypesAreThoseTheDocsList() throws {
        let types = try Self.publicTypes()
        let documented = try Self.documentedTypes()
        #expect(
            Set(types.keys) == documented,
            "public but not in docs/library.md: \(Set(types.keys).subtracting(documented).sorted()); listed but not public: \(documented.subtracting(types.keys).sorted())"
        )
        #expect((20...32).contains(types.count), "\(types.count) public types")
    }

    @Test func everyPublicTypeHasADocumentationComment() throws {
        let undocumented = try Self.publicTypes().filter { !$0.value }.keys.sorted()
        #expect(undocumented.isEmpty, "\(undocumented)")
    }
}
