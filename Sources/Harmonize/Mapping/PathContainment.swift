import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keeps the files a mapping reads inside the folders it may read: `files:` patterns (of the
/// source and of joins) and lookup `input:` paths inside the run's input folder, lookup `file:`
/// paths inside the mapping file's own folder.
///
/// Two checks, both before any data is read:
/// - `check` (loader, `harmonize-run check`): a path that is absolute or has a `..` component is
///   refused (`HZ1080`); a lookup `file:` that exists is resolved (symlinks followed) and must stay
///   inside the mapping's folder (`HZ1081`).
/// - `verify` (run, replay): every input file a pattern matches and every lookup file is resolved
///   (`realpath`, symlinks followed) and must stay inside its folder (`HZ1081`), or the run stops
///   with a configuration error (exit 2) before reading anything.
enum PathContainment {
    /// Diagnostics for paths that leave their folder on their face (absolute, or with `..`).
    static func check(source: SourceSpec?, joins: [JoinSpec], lookups: [LookupSpec], file: String) -> [Diagnostic] {
        var out: [Diagnostic] = []
        func lexical(_ path: LocatedText, _ what: String, _ folder: String) {
            guard escapesLexically(path.text) else { return }
            out.append(
                Diagnostic(
                    code: "HZ1080", message: "\(what) '\(path.text)' leaves \(folder): use a path relative to it, without '..'",
                    file: file, line: path.line, column: path.column))
        }
        if let source, !source.files.text.isEmpty { lexical(source.files, "'files'", "the input folder") }
        for j in joins { lexical(j.files, "join '\(j.name.text)' 'files'", "the input folder") }
        for l in lookups {
            if l.relativeToInput {
                lexical(l.path, "lookup '\(l.name.text)' 'input'", "the input folder")
            } else if escapesLexically(l.path.text) {
                lexical(l.path, "lookup '\(l.name.text)' 'file'", "the mapping's folder")
            } else {
                let dir = MappingPlanner.directory(of: file)
                let path = dir + "/" + l.path.text
                if FileManager.default.fileExists(atPath: path), !resolves(path, inside: dir) {
                    out.append(
                        Diagnostic(
                            code: "HZ1081", message: "lookup '\(l.name.text)' 'file' resolves (through a symbolic link) outside the mapping's folder",
                            file: file, line: l.path.line, column: l.path.column))
                }
            }
        }
        return out
    }

    /// Refuses, before anything is read, an input file or lookup file of `plans` that resolves
    /// outside its folder (symbolic links followed).
    static func verify(plans: [MappingPlan], inputDirectory: String) throws(RunError) {
        var diagnostics: [Diagnostic] = []
        for p in plans where p.derivation == nil {
            let file = p.spec.file
            func outside(_ path: LocatedText, _ what: String) {
                diagnostics.append(
                    Diagnostic(
                        code: "HZ1081", message: "\(what) resolves (through a symbolic link or '..') outside the input folder",
                        file: file, line: path.line, column: path.column))
            }
            for (pattern, what) in [(p.spec.source.files, "'files'")] + p.joins.map({ ($0.spec.files, "join '\($0.name)' 'files'") }) {
                if escapesLexically(pattern.text) {
                    outside(pattern, what)
                    continue
                }
                for f in InputFiles.match(pattern.text, under: inputDirectory) where !resolves(inputDirectory + "/" + f, inside: inputDirectory) {
                    outside(pattern, what + " (matched file \(f))")
                    break
                }
            }
            let mappingDirectory = MappingPlanner.directory(of: file)
            for l in p.lookups {
                let spec = l.spec
                let base = spec.relativeToInput ? inputDirectory : mappingDirectory
                let path = base + "/" + spec.path.text
                let escapes = escapesLexically(spec.path.text) || (FileManager.default.fileExists(atPath: path) && !resolves(path, inside: base))
                guard escapes else { continue }
                diagnostics.append(
                    Diagnostic(
                        code: "HZ1081",
                        message:
                            "lookup '\(spec.name.text)' \(spec.relativeToInput ? "'input'" : "'file'") resolves outside \(spec.relativeToInput ? "the input folder" : "the mapping's folder")",
                        file: file, line: spec.path.line, column: spec.path.column))
            }
        }
        guard diagnostics.isEmpty else {
            throw RunError(.configuration, "mappings read files outside their folders; nothing was read", diagnostics: diagnostics)
        }
    }

    /// Whether a relative path is absolute or climbs with `..`.
    static func escapesLexically(_ path: String) -> Bool {
        if path.hasPrefix("/") || path.hasPrefix("~") { return true }
        return path.split(separator: "/").contains("..")
    }

    /// Whether `path`, symbolic links resolved, lies inside `folder` (also resolved).
    static func resolves(_ path: String, inside folder: String) -> Bool {
        guard let real = realPath(path), let root = realPath(folder) else { return false }
        if root == "/" { return true }
        return real == root || real.hasPrefix(root + "/")
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
