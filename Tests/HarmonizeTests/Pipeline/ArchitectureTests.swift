import Foundation
import Testing

/// One-way folders (docs/architecture.md): a folder of `Sources/Harmonize` uses types of the
/// folders below it in `layers` and of its own, never of a folder above it. The check reads the
/// sources: top-level type declarations per folder, then every capitalised identifier of every
/// file (comments and string literals left out).
@Suite struct ArchitectureTests {
    /// Bottom first. Keep in step with the table in docs/architecture.md.
    static let layers = [
        "Record", "Core", "Validation", "Internal", "Schema", "Source", "Expression", "Model", "Sink", "Privacy", "Vocabulary",
        "Mapping", "Quality", "Report", "Lineage", "Pipeline", "Testing",
    ]

    static let root = TestSupport.path("Sources/Harmonize")

    /// Swift files by top folder.
    static func files() -> [String: [String]] {
        var out: [String: [String]] = [:]
        let e = FileManager.default.enumerator(atPath: root)
        while let rel = e?.nextObject() as? String {
            guard rel.hasSuffix(".swift") else { continue }
            let folder = rel.split(separator: "/").count > 1 ? String(rel.split(separator: "/")[0]) : "(top)"
            out[folder, default: []].append(root + "/" + rel)
        }
        return out
    }

    /// The text without comments and string literals.
    static func code(_ text: String) -> String {
        var out = ""
        var i = text.startIndex
        var inString = false
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if inString {
                if c == "\\" && next < text.endIndex {
                    i = text.index(after: next)
                    continue
                }
                if c == "\"" { inString = false }
                i = next
                continue
            }
            if c == "/" && next < text.endIndex && text[next] == "/" {
                i = text[i...].firstIndex(of: "\n") ?? text.endIndex
                continue
            }
            if c == "/" && next < text.endIndex && text[next] == "*" {
                i = text[next...].range(of: "*/")?.upperBound ?? text.endIndex
                continue
            }
            if c == "\"" {
                inString = true
                out.append(" ")
                i = next
                continue
            }
            out.append(c)
            i = next
        }
        return out
    }

    static func matches(_ pattern: String, in text: String, group: Int = 0) throws -> [String] {
        let regex = try NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { m in
            Range(m.range(at: group), in: text).map { String(text[$0]) }
        }
    }

    @Test func everyFolderIsInTheLayerTable() {
        let folders = Set(Self.files().keys)
        #expect(
            folders == Set(Self.layers),
            "folders not in the table: \(folders.subtracting(Self.layers).sorted()); gone: \(Set(Self.layers).subtracting(folders).sorted())")
    }

    @Test func noFolderUsesATypeOfAFolderAboveIt() throws {
        let files = Self.files()
        var texts: [String: [(file: String, code: String)]] = [:]
        var declaredIn: [String: Set<String>] = [:]
        // Every type declared in a folder, nested ones included (a nested `Token` is not Expression's).
        var local: [String: Set<String>] = [:]
        let nested =
            #"^\s+(?:@\w+(?:\([^)\n]*\))?\s+)*(?:public |package |internal |fileprivate |private )?(?:final |indirect )?(?:class|struct|enum|protocol|actor|typealias) ([A-Z]\w*)"#
        let declaration =
            #"^(?:@\w+(?:\([^)\n]*\))?\s+)*(?:public |package |internal |fileprivate |private )?(?:final |indirect )?(?:class|struct|enum|protocol|actor|typealias) ([A-Z]\w*)"#
        for (folder, paths) in files {
            for p in paths {
                let text = Self.code(try String(contentsOfFile: p, encoding: .utf8))
                texts[folder, default: []].append((p, text))
                for name in try Self.matches(declaration, in: text, group: 1) { declaredIn[name, default: []].insert(folder) }
                for name in try Self.matches(nested, in: text, group: 1) { local[folder, default: []].insert(name) }
            }
        }
        #expect(declaredIn.count > 150, "the declaration scan finds the engine's types")
        var violations: [String] = []
        for (folder, list) in texts {
            guard let level = Self.layers.firstIndex(of: folder) else { continue }
            for (path, text) in list {
                for name in Set(try Self.matches(#"\b[A-Z]\w*\b"#, in: text)) {
                    // A name declared in the file's own folder (or in several folders) is local.
                    guard local[folder]?.contains(name) != true, let homes = declaredIn[name], homes.count == 1, let home = homes.first,
                        home != folder,
                        let homeLevel = Self.layers.firstIndex(of: home), homeLevel > level
                    else { continue }
                    violations.append("\(path.dropFirst(Self.root.count + 1)) (\(folder)) uses \(name) of \(home)")
                }
            }
        }
        let listing = violations.sorted().joined(separator: "\n")
        #expect(violations.isEmpty, "folders must only use the folders below them:\n\(listing)")
    }

    @Test func theDocumentedTableIsTheTestedOrder() throws {
        let doc = try String(contentsOfFile: TestSupport.path("docs/architecture.md"), encoding: .utf8)
        let rows = try Self.matches(#"^\| \d+ \| `(\w+)/` \|"#, in: doc, group: 1)
        #expect(rows == Self.layers.reversed(), "docs/architecture.md lists the folders top first, as ArchitectureTests.layers")
    }
}
