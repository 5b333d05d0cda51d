import Foundation
import Harmonize

/// What `run` prints when it stops before publishing: the JSON document of `--json` (one on every
/// exit) and the location of the rows behind a duplicate primary key.
enum RunFailure {
    /// The document `run --json` prints when the run stops with an error: exit code, message and
    /// diagnostics (mapping-file locations), never a cell value.
    struct Document: Encodable {
        var status = "error"
        var exitCode: Int32
        var message: String
        var diagnostics: [Diagnostic]
        var duplicate: Duplicate?
    }

    /// A duplicate primary key: the table, its key columns and where the rows come from.
    struct Duplicate: Encodable {
        var table: String
        var columns: [String]
        var rows: [DuplicateKeyLocator.Origin]
    }

    /// The JSON text of a failure.
    static func json(code: Int32, message: String, diagnostics: [Diagnostic], duplicate: Duplicate? = nil) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let doc = Document(exitCode: code, message: message, diagnostics: diagnostics, duplicate: duplicate)
        do {
            return String(decoding: try encoder.encode(doc), as: UTF8.self)
        } catch {
            // Only strings and numbers: encoding cannot fail; still print a valid document.
            return "{\"status\": \"error\", \"exitCode\": \(code)}"
        }
    }

    /// Runs the mappings that write the duplicated key's table again, with lineage and into a
    /// sink that keeps nothing, to name the mappings, files and records of its rows.
    static func locate(_ duplicate: DuplicateKey, plans: [MappingPlan], options: RunOptions) -> Duplicate {
        var result = Duplicate(table: duplicate.table, columns: duplicate.columns, rows: [])
        let writers = plans.filter { p in p.derivation == nil && p.targets.contains { $0.table.name == duplicate.table } }
        guard !writers.isEmpty else { return result }
        var o = options
        o.recordsLineage = true
        o.exclusion = options.exclusion
        let locator = DuplicateKeyLocator(duplicate)
        do {
            _ = try Pipeline(plans: writers, options: o).run(into: locator)
            result.rows = locator.origins
        } catch {
            // The second pass is a help for the message; the run's own error is what is reported.
        }
        return result
    }

    /// `; the key is written by mapping …` for the message, or "" when nothing was found.
    static func sentence(_ d: Duplicate) -> String {
        guard !d.rows.isEmpty else { return "" }
        let rows = d.rows.map { o in "mapping \(o.mapping), \(o.file)\(o.line.map { " line \($0)" } ?? "") record \(o.record)" }
        return "; one key (\(d.columns.joined(separator: ", "))) is written by " + rows.joined(separator: " and ")
    }
}

/// Input files that no mapping of a run read (a file a mapping's pattern misses, a table the pack
/// does not map), for a note after the summary.
enum UnreadInputs {
    /// Paths relative to `input` of the regular, non-hidden files not among `manifest.inputs`.
    static func list(input: String, manifest: RunManifest) -> [String] {
        let read = Set(manifest.inputs.map(\.path))
        var out: [String] = []
        guard let e = FileManager.default.enumerator(atPath: input) else { return [] }
        while let rel = e.nextObject() as? String {
            let name = (rel as NSString).lastPathComponent
            if name.hasPrefix(".") {
                e.skipDescendants()
                continue
            }
            var isDir: ObjCBool = false
            let full = (input as NSString).appendingPathComponent(rel)
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue else { continue }
            if !read.contains(rel) { out.append(rel) }
        }
        return out.sorted()
    }
}
