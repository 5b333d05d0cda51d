/// A source code an output's rows used, and how many rows of one table used it (read from the
/// output's vocabulary lineage, `run --lineage`, or from its unmapped codes).
package struct VocabularyCodeUse: Sendable, Hashable, Codable {
    /// `vocabulary_id`.
    package var vocabulary: String
    /// The source code as looked up.
    package var code: String
    /// The output table.
    package var table: String
    /// Rows of that table whose columns used the code (a row counts once per code).
    package var rows: Int

    /// Creates a use.
    package init(vocabulary: String, code: String, table: String, rows: Int) {
        self.vocabulary = vocabulary
        self.code = code
        self.table = table
        self.rows = rows
    }
}

/// A `VocabularyDiff` restricted to the codes an output used, with the rows they touch: "of the
/// 14 CIM10 codes your data uses, 1 changed target, 2 lost their standard concept, 1 moved from
/// Condition to Observation".
package struct VocabularyDiffInUse: Sendable, Hashable, Codable {
    /// Where the codes in use come from.
    package enum Basis: String, Sendable, Hashable, Codable {
        /// The vocabulary lineage of a run with `--lineage`: every code the rows' columns used.
        case lineage
        /// The unmapped codes of a run without `--lineage` (`harmonize_unmapped`): only the codes
        /// that found no standard concept are known, with their record counts.
        case unmappedCodes = "unmapped_codes"
    }

    /// Changed codes of one kind among those used.
    package struct KindCount: Sendable, Hashable, Codable {
        /// The kind.
        package var kind: VocabularyDiff.Kind
        /// Codes used that changed so.
        package var codes: Int
        /// Rows that used them.
        package var rows: Int
    }

    /// Codes whose rows would go to another domain (the standard concept's, else the code's).
    package struct DomainMove: Sendable, Hashable, Codable {
        /// The old domain.
        package var from: String
        /// The new domain.
        package var to: String
        /// Codes used that moved so.
        package var codes: Int
        /// Rows that used them.
        package var rows: Int
    }

    /// One vocabulary's summary.
    package struct Summary: Sendable, Hashable, Codable {
        /// `vocabulary_id`.
        package var vocabulary: String
        /// Distinct codes of the vocabulary the output used.
        package var codesUsed: Int
        /// Rows that used them.
        package var rows: Int
        /// Changed codes per kind, in `Kind` order (kinds without one left out).
        package var changes: [KindCount]
        /// Domain moves, by old then new domain.
        package var domainMoves: [DomainMove]
    }

    /// A changed code in use.
    package struct CodeInUse: Sendable, Hashable, Codable {
        /// The change.
        package var change: VocabularyDiff.Change
        /// Rows that used the code, per output table.
        package var rowsByTable: [String: Int]
        /// All of them.
        package var rows: Int { rowsByTable.values.reduce(0, +) }
    }

    /// Where the codes come from.
    package var basis: Basis
    /// Per vocabulary used, by id.
    package var summaries: [Summary]
    /// The changed codes used, by vocabulary then code.
    package var codes: [CodeInUse]

    /// `diff` (computed over the codes of `uses`, or over every code) restricted to `uses`.
    package init(diff: VocabularyDiff, uses: [VocabularyCodeUse], basis: Basis) {
        self.basis = basis
        var rowsByCode: [[String]: [String: Int]] = [:]
        for u in uses { rowsByCode[[u.vocabulary, u.code], default: [:]][u.table, default: 0] += u.rows }
        var byVocabulary: [String: Summary] = [:]
        for (key, tables) in rowsByCode {
            var s = byVocabulary[key[0]] ?? Summary(vocabulary: key[0], codesUsed: 0, rows: 0, changes: [], domainMoves: [])
            s.codesUsed += 1
            s.rows += tables.values.reduce(0, +)
            byVocabulary[key[0]] = s
        }
        var codes: [CodeInUse] = []
        for c in diff.changes {
            guard let tables = rowsByCode[[c.vocabulary, c.code]] else { continue }
            let use = CodeInUse(change: c, rowsByTable: tables)
            codes.append(use)
            guard var s = byVocabulary[c.vocabulary] else { continue }
            for k in c.kinds where k != .domainChanged {
                if let i = s.changes.firstIndex(where: { $0.kind == k }) {
                    s.changes[i].codes += 1
                    s.changes[i].rows += use.rows
                } else {
                    s.changes.append(KindCount(kind: k, codes: 1, rows: use.rows))
                }
            }
            if c.kinds.contains(.domainChanged) {
                let from = c.old?.routingDomain ?? "?"
                let to = c.new?.routingDomain ?? "?"
                if let i = s.domainMoves.firstIndex(where: { $0.from == from && $0.to == to }) {
                    s.domainMoves[i].codes += 1
                    s.domainMoves[i].rows += use.rows
                } else {
                    s.domainMoves.append(DomainMove(from: from, to: to, codes: 1, rows: use.rows))
                }
            }
            byVocabulary[c.vocabulary] = s
        }
        summaries = byVocabulary.values.map { s in
            var s = s
            s.changes.sort { $0.kind < $1.kind }
            s.domainMoves.sort { ($0.from, $0.to) < ($1.from, $1.to) }
            return s
        }.sorted { $0.vocabulary < $1.vocabulary }
        self.codes = codes
    }

    /// "of the 14 CIM10 codes your data uses (40 rows), 1 changed target (3 rows), …".
    package func sentence(_ s: Summary) -> String {
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        let what = basis == .lineage ? "your data uses" : "your data left unmapped"
        var parts = s.changes.map { "\($0.codes) \($0.kind.phrase($0.codes)) (\(plural($0.rows, basis == .lineage ? "row" : "record")))" }
        parts += s.domainMoves.map { "\($0.codes) moved from \($0.from) to \($0.to) (\(plural($0.rows, "row")))" }
        let head = "of the \(plural(s.codesUsed, "\(s.vocabulary) code")) \(what) (\(plural(s.rows, basis == .lineage ? "row" : "record")))"
        return head + ", " + (parts.isEmpty ? "none changed" : parts.joined(separator: ", "))
    }
}
