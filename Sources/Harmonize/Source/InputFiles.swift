import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the input files a mapping's `files:` pattern names under the input folder.
///
/// A pattern is a path relative to the input folder whose components may use shell wildcards
/// (`*`, `?`, `[…]`); `**` matches any number of folders. Matches are sorted by path so runs are
/// deterministic.
package enum InputFiles {
    /// Relative paths of the regular files matching `pattern` under `root`.
    public static func match(_ pattern: String, under root: String) -> [String] {
        let parts = pattern.split(separator: "/").map(String.init).filter { $0 != "." && !$0.isEmpty }
        var out: [String] = []
        walk(root: root, relative: "", parts: parts[...], into: &out)
        return Array(Set(out)).sorted()
    }

    private static func walk(root: String, relative: String, parts: ArraySlice<String>, into out: inout [String]) {
        let dir = relative.isEmpty ? root : root + "/" + relative
        guard let first = parts.first else { return }
        let rest = parts.dropFirst()
        if first == "**" {
            walk(root: root, relative: relative, parts: rest, into: &out)
            for entry in entries(dir) where FileOps.isDirectory(dir + "/" + entry) && !entry.hasPrefix(".") {
                walk(root: root, relative: join(relative, entry), parts: parts, into: &out)
            }
            return
        }
        let hasWildcard = first.contains { "*?[".contains($0) }
        let names = hasWildcard ? entries(dir).filter { fnmatch(first, $0, 0) == 0 && !$0.hasPrefix(".") } : [first]
        for name in names {
            let path = dir + "/" + name
            if rest.isEmpty {
                if FileOps.exists(path) && !FileOps.isDirectory(path) { out.append(join(relative, name)) }
            } else if FileOps.isDirectory(path) {
                walk(root: root, relative: join(relative, name), parts: rest, into: &out)
            }
        }
    }

    private static func entries(_ dir: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    }

    private static func join(_ a: String, _ b: String) -> String { a.isEmpty ? b : a + "/" + b }
}
