import Foundation
import Harmonize

/// The end-of-run summary: per mapping and file, read = written + rejected + filtered + excluded
/// (+ grouped, other shard, duplicate when a mapping has them).
enum RunSummary {
    struct JSONSummary: Encodable {
        var run_id: String
        var status: String
        var output: String?
        var seconds: Double
        var records_read: Int
        var records_rejected: Int
        var quality: QualityCounts?
        /// A shard into PostgreSQL: committed, or published by it (`RunCommand.ShardStatus`).
        var shards: RunCommand.ShardStatus?
        var manifest: RunManifest
        /// Seconds per phase of a PostgreSQL output (absent for the other outputs).
        var postgresql_phases: PostgreSQLPhases?
    }

    /// Data-quality totals of the run (absent with --no-quality or another sink).
    struct QualityCounts: Encodable {
        var passed, failed, not_applicable, error: Int
    }

    static func json(
        _ m: RunManifest, seconds: Double, output: String?, quality: QualityReport? = nil, shards: RunCommand.ShardStatus? = nil,
        postgresPhases: PostgreSQLPhases? = nil
    ) -> String {
        let q = quality.map {
            QualityCounts(passed: $0.count(.passed), failed: $0.count(.failed), not_applicable: $0.count(.notApplicable), error: $0.count(.error))
        }
        let s = JSONSummary(
            run_id: m.runID, status: m.status, output: output, seconds: (seconds * 1000).rounded() / 1000, records_read: m.readCount,
            records_rejected: m.rejectedCount, quality: q, shards: shards, manifest: m, postgresql_phases: postgresPhases)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? String(decoding: e.encode(s), as: UTF8.self)) ?? "{}"
    }

    static func text(_ m: RunManifest, seconds: Double, output: String?) -> String {
        var lines: [String] = []
        let rate = seconds > 0 ? Int(Double(m.readCount) / seconds) : 0
        lines.append("run \(m.runID) \(m.status) in \(String(format: "%.2f", seconds)) s (\(rate) records/s)" + (output.map { " → \($0)" } ?? ""))
        if let shard = m.shard, shard.count > 1 {
            lines.append("shard \(shard) of run \(m.runID): \(m.otherShardCount) records left to the other shards (other shard)")
        }
        if let shards = m.mergedShards {
            lines.append(
                "merged from \(shards.count) shards: " + shards.map { "\($0.shard) \($0.file) (\($0.records) records)" }.joined(separator: ", "))
        }
        let grouping = m.ledger.contains { $0.grouped > 0 || $0.groupStage == true }
        let sharded = m.ledger.contains { $0.otherShard != nil }
        var header = ["mapping", "file", "read", "written", "rejected", "filtered", "excluded"]
        if grouping { header.append("grouped") }
        if sharded { header.append("other shard") }
        let deduplicating = m.ledger.contains { $0.duplicate != nil }
        if deduplicating { header.append("duplicate") }
        var rows = [header]
        for l in m.ledger {
            var row = [l.mapping, l.file, "\(l.read)", "\(l.written)", "\(l.rejected)", "\(l.filtered)", "\(l.excluded)"]
            if grouping { row.append("\(l.grouped)") }
            if sharded { row.append("\(l.otherShard ?? 0)") }
            if deduplicating { row.append("\(l.duplicate ?? 0)") }
            rows.append(row)
        }
        lines.append(contentsOf: table(rows))
        if grouping {
            lines.append("(grouped: records folded into groups; a \"groups of …\" line counts groups, not records)")
        }
        for d in m.duplicates ?? [] {
            // Coordinates only: the key fields by name, never their values.
            lines.append(
                "duplicates \(d.mapping): \(d.duplicates) (records of re-sent messages: same \(d.key.joined(separator: ", "))), keep \(d.keep); \(d.messages) distinct messages"
            )
            for o in d.occurrences.prefix(10) {
                lines.append("  \(o.file):\(o.line) (message \(o.message)) duplicates \(o.keptFile):\(o.keptLine) (message \(o.keptMessage)), kept")
            }
            if d.occurrences.count > 10 || d.truncated {
                lines.append("  … (all listed in the manifest and in `harmonize-run report`)")
            }
        }
        for j in m.joins {
            var s = "join \(j.mapping)/\(j.join): \(j.indexed) keys indexed from \(j.read) rows"
            if j.rejected > 0 { s += ", \(j.rejected) rows rejected" }
            if j.filtered > 0 { s += ", \(j.filtered) filtered" }
            if j.nullKeys > 0 { s += ", \(j.nullKeys) with a null key" }
            if j.ambiguousKeys > 0 { s += ", \(j.ambiguousKeys) ambiguous keys" }
            s += "; \(j.matched) records matched, \(j.missing) without partner"
            if j.spilled { s += " (index on disk: over the memory budget)" }
            lines.append(s)
        }
        for l in m.lookups ?? [] where l.spilled {
            // Only the tables that moved to disk: a mapping may declare many small ones.
            lines.append(
                "lookup \(l.mapping)/\(l.lookup): \(l.keys) keys, \(l.found) found, \(l.missed) missed (table on disk: over its share of the memory budget)"
            )
        }
        if !m.tables.isEmpty {
            lines.append(
                "rows written: " + m.tables.map { "\($0.table) \($0.rows)" + ($0.updated.map { " (+\($0) updates)" } ?? "") }.joined(separator: ", "))
        }
        for u in m.vocabularyUsage ?? [] {
            // Counts only: the codes themselves are listed by `harmonize-run unmapped`.
            lines.append(
                "vocabulary \(u.vocabulary) (\(u.mapping)): \(u.mapped) of \(u.lookups) codes mapped to a standard concept "
                    + "(\(String(format: "%.1f", u.shareMapped * 100))%), \(u.distinctUnmapped) distinct unmapped")
        }
        if m.vocabularyUsage?.contains(where: { $0.unmapped > 0 }) == true, let output {
            lines.append("unmapped codes: harmonize-run unmapped --output \(output)")
        }
        if let check = m.parameters["exclude_check"] {
            lines.append("objections: \(m.parameters["exclude_entries"] ?? "?") persons on the list; exclusion check \(check)")
        }
        return lines.joined(separator: "\n")
    }

    static func table(_ rows: [[String]]) -> [String] {
        guard let first = rows.first else { return [] }
        var widths = first.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i < 2 ? c + pad : pad + c
            }.joined(separator: "  ")
        }
    }
}
