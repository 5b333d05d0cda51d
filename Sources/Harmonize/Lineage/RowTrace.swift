import Foundation

/// Where one output row came from (`harmonize-run trace`): the run that wrote it, the source file
/// (path and SHA-256) and the record's location in it, the mapping (id, version, content hash) and
/// the rule of each column (its mapping-file line, text and the source fields it reads).
/// Coordinates and rules only: never a cell value (`SourceReadBack` reads the record itself, on
/// explicit request).
package struct RowTrace: Sendable, Codable, Hashable {
    /// The run that wrote the row.
    public struct Run: Sendable, Codable, Hashable {
        /// Run id.
        public var id: String
        /// `run` or `replay`.
        public var kind: String
        /// For a replay: the run it replayed (nil: every run's outstanding rejects).
        public var replayOf: String?
        /// Start time (ISO 8601).
        public var startedAt: String
        /// Engine version.
        public var engineVersion: String
    }

    /// The mapping that wrote the row.
    public struct Mapping: Sendable, Codable, Hashable {
        /// Mapping id.
        public var id: String
        /// Mapping version.
        public var version: String
        /// SHA-256 of the mapping file's content.
        public var sha256: String
        /// The mapping file as given to the run.
        public var file: String
    }

    /// The source record.
    public struct Source: Sendable, Codable, Hashable {
        /// Input file, relative to the run's input folder.
        public var path: String
        /// SHA-256 of the file as read by the run.
        public var sha256: String
        /// Source format (`csv`, `hl7v2`, `xml`), when recorded.
        public var format: String?
        /// 1-based line where the record starts (HL7 segment records: the segment's line).
        public var line: Int?
        /// 1-based record number: data row (CSV), message (HL7 v2), record element (XML).
        public var record: Int?
        /// The record unit: HL7 segment id or `message`, XML record path; nil for CSV.
        public var unit: String?
        /// Text encoding of a delimited source, when recorded.
        public var encoding: String?
        /// Quote character of a delimited source, when recorded.
        public var quote: String?

        /// `line 12 (record 11)`, `message 3, OBX segment at line 9`, `record element 2 (/export/sejour) at line 7`.
        public var locationText: String {
            let line = self.line.map(String.init) ?? "?"
            let record = self.record.map(String.init) ?? "?"
            switch format {
            case "hl7v2":
                if let unit, unit != "message" { return "message \(record), \(unit) segment at line \(line)" }
                return "message \(record) at line \(line)"
            case "xml":
                return "record element \(record)" + (unit.map { " (\($0))" } ?? "") + " at line \(line)"
            default:
                return "line \(line) (record \(record))"
            }
        }
    }

    /// The rule of one column.
    public struct Rule: Sendable, Codable, Hashable {
        /// Target column.
        public var column: String
        /// Line of the rule in the mapping file.
        public var line: Int?
        /// The rule as written.
        public var rule: String
        /// Source fields read (named values expanded), with how (`identity` left implicit).
        public var reads: String
    }

    /// A vocabulary entry (or lookup-table entry) used to compute a column of the row, as
    /// recorded by `run --lineage` (`harmonize_lineage_entry`, see docs/lineage.md).
    public struct VocabularyUse: Sendable, Codable, Hashable {
        /// Target column.
        public var column: String
        /// Vocabulary id, or the lookup table's name for `lookup`.
        public var vocabulary: String
        /// Concept code in the vocabulary, or the key looked up.
        public var code: String?
        /// Concept id found: 0 when a `*concept_id` function found none; nil when the use gives
        /// no concept id (a domain, a text lookup, a lookup miss).
        public var conceptID: Int?
        /// The function that made the lookup (`standard_concept_id`, `source_concept_id`,
        /// `standard_domain`, `concept_domain`, `lookup`); nil for entries of an external writer.
        public var function: String?
        /// The result as text (a concept id, a domain, a lookup value); nil for a miss.
        public var value: String?

        /// Creates a use.
        public init(column: String, vocabulary: String, code: String?, conceptID: Int?, function: String? = nil, value: String? = nil) {
            self.column = column
            self.vocabulary = vocabulary
            self.code = code
            self.conceptID = conceptID
            self.function = function
            self.value = value
        }

        /// `CIM10 I10 → concept 320128 (standard_concept_id)`, `CIM10 E78.0 → concept 0
        /// (standard_concept_id: no standard concept)`, `lookup measures 4548-4 → 3004410`.
        public var text: String {
            let code = self.code ?? ""
            switch function {
            case nil:
                return vocabulary + (self.code.map { " \($0)" } ?? "") + (conceptID.map { " → concept \($0)" } ?? "")
            case "lookup"?:
                return "lookup \(vocabulary) \(code) → " + (value ?? "no entry")
            case "concept_domain"?:
                return "concept \(code) → " + (value.map { "domain \($0)" } ?? "no such concept") + " (concept_domain)"
            case "standard_domain"?:
                return "\(vocabulary) \(code) → " + (value.map { "domain \($0)" } ?? "no standard concept") + " (standard_domain)"
            case let f?:
                let id = conceptID ?? 0
                guard id == 0 else { return "\(vocabulary) \(code) → concept \(id) (\(f))" }
                let why = f == "standard_concept_id" ? "no standard concept" : "not in the vocabulary"
                return "\(vocabulary) \(code) → concept 0 (\(f): \(why))"
            }
        }
    }

    /// Target table.
    public var table: String
    /// The row's key column and value.
    public var keyColumn: String
    /// The key value as given.
    public var id: String
    /// The run.
    public var run: Run
    /// The mapping.
    public var mapping: Mapping
    /// The source record.
    public var source: Source
    /// Rules of the mapped columns, in table order (empty when the run did not record them).
    public var rules: [Rule]
    /// Vocabulary and lookup entries used, per column in table order; nil when the output does
    /// not record them (a run without `--lineage`, or an older output).
    public var vocabulary: [VocabularyUse]?
}

/// The answer of `OutputDatabase.trace`.
package enum TraceOutcome: Sendable {
    /// The lineage of the row (several when the key is not unique).
    case found([RowTrace])
    /// The output has no such table.
    case noSuchTable
    /// The table has no row with that key.
    case noSuchRow(keyColumn: String)
    /// The row exists but no lineage was recorded for it (the run was not given `--lineage`).
    case noLineage(keyColumn: String)
}

extension OutputDatabase {
    /// The column identifying rows of `table` in lineage: the single column of its primary-key
    /// index (`pk_<table>`; PostgreSQL: its primary key), else its first `*_id` column (as
    /// `TargetTable.lineageKeyColumn`).
    func keyColumn(of table: String) throws(Failure) -> String? {
        let pk: [String]
        do {
            pk = try db.primaryKey(of: table)
        } catch {
            throw Failure(description: "cannot read \(path): \(error)")
        }
        if pk.count == 1 { return pk[0] }
        return columns(of: table).first { $0.hasSuffix("_id") }
    }

    /// Where the row of `table` whose key is `id` came from.
    public func trace(table: String, id: String) throws(Failure) -> TraceOutcome {
        guard tables.contains(table), !table.hasPrefix("harmonize_") else { return .noSuchTable }
        guard let key = try keyColumn(of: table) else { return .noSuchTable }
        let keyValue: Value = Int(id).map(Value.int) ?? .string(id)
        let q = db.dialect.quote
        // PostgreSQL compares typed: a key that is not a number is looked for as text.
        let keyTest = db.dialect == .postgresql && Int(id) == nil ? "CAST(\(q(key)) AS text) = ?" : "\(q(key)) = ?"
        let exists = try rows("SELECT 1 FROM \(q(table)) WHERE \(keyTest) LIMIT 1", [keyValue])
        guard !exists.isEmpty else { return .noSuchRow(keyColumn: key) }
        guard tables.contains("harmonize_lineage") else { return .noLineage(keyColumn: key) }
        // Outputs of older versions have one run and no run_seq column.
        let lineageSeq = try hasColumn("harmonize_lineage", "run_seq") ? "l.run_seq" : "1"
        var runSeq = try hasColumn("harmonize_run", "run_seq") ? "coalesce(r.run_seq, r.rowid)" : "r.rowid"
        if db.dialect == .postgresql { runSeq = "r.run_seq" }
        let lookupSet = try hasColumn("harmonize_lineage", "lookup_set") ? "l.lookup_set" : "NULL"
        let target = try hasColumn("harmonize_lineage", "target") ? "l.target" : "NULL"
        let ruleTargets = try hasColumn("harmonize_run_rule", "target")
        let hits = try rows(
            """
            SELECT r.run_id, l.mapping_id, l.file_id, l.line, l.record, \(lookupSet), \(target) FROM harmonize_lineage l
            JOIN harmonize_run r ON \(runSeq) = \(lineageSeq)
            JOIN harmonize_run_table t ON t.run_id = r.run_id AND t.table_id = l.table_id
            WHERE t.table_name = ? AND l.row_id = ? ORDER BY \(lineageSeq), l.\(db.dialect.writeOrder)
            """, [.string(table), keyValue])
        guard !hits.isEmpty else { return .noLineage(keyColumn: key) }
        var out: [RowTrace] = []
        for h in hits {
            let runID = h[0].text ?? ""
            let mappingID = h[1].intValue ?? -1
            let fileID = h[2].intValue ?? -1
            let hasKind = try hasColumn("harmonize_run", "kind")
            let r =
                try rows(
                    "SELECT started_at, engine_version, manifest" + (hasKind ? ", kind, replay_of" : "") + " FROM harmonize_run WHERE run_id = ?",
                    [.string(runID)]
                ).first ?? []
            let manifest = (r.count > 2 ? r[2].text : nil).flatMap { try? JSONDecoder().decode(RunManifest.self, from: Data($0.utf8)) }
            let run = RowTrace.Run(
                id: runID, kind: (r.count > 3 ? r[3].text : nil) ?? manifest?.kind ?? "run", replayOf: r.count > 4 ? r[4].text : nil,
                startedAt: r.first?.text ?? "", engineVersion: r.count > 1 ? r[1].text ?? "" : "")
            let m =
                try rows(
                    "SELECT mapping, coalesce(version, ''), sha256, coalesce(file, '') FROM harmonize_run_mapping WHERE run_id = ? AND mapping_id = ?",
                    [.string(runID), .int(mappingID)]
                ).first ?? []
            let mapping = RowTrace.Mapping(
                id: m.first?.text ?? "?", version: m.count > 1 ? m[1].text ?? "" : "", sha256: m.count > 2 ? m[2].text ?? "" : "",
                file: m.count > 3 ? m[3].text ?? "" : "")
            let f =
                try rows("SELECT path, sha256 FROM harmonize_run_input WHERE run_id = ? AND file_id = ?", [.string(runID), .int(fileID)]).first ?? []
            let entry = manifest.flatMap { mf in mappingID >= 0 && mappingID < mf.mappings.count ? mf.mappings[mappingID] : nil }
            let line = h[3].intValue
            let source = RowTrace.Source(
                path: f.first?.text ?? "?", sha256: f.count > 1 ? f[1].text ?? "" : "", format: entry?.source?.format,
                line: line == 0 ? nil : line, record: h[4].intValue, unit: entry?.source?.record,
                encoding: entry?.source?.encoding, quote: entry?.source?.quote)
            var rules: [RowTrace.Rule] = []
            if tables.contains("harmonize_run_rule") {
                rules = try rows(
                    """
                    SELECT column_name, line, rule, coalesce(reads, '') FROM harmonize_run_rule
                    WHERE run_id = ? AND mapping_id = ? AND table_name = ?\(ruleTargets ? " AND (CAST(?4 AS INTEGER) IS NULL OR target IS NULL OR target = ?4)" : "")
                    ORDER BY \(db.dialect.writeOrder)
                    """, [.string(runID), .int(mappingID), .string(table)] + (ruleTargets ? [h[6]] : [])
                ).map { RowTrace.Rule(column: $0[0].text ?? "", line: $0[1].intValue, rule: $0[2].text ?? "", reads: $0[3].text ?? "") }
            }
            out.append(
                RowTrace(
                    table: table, keyColumn: key, id: id, run: run, mapping: mapping, source: source, rules: rules,
                    vocabulary: try vocabularyUses(runID: runID, lookupSet: h[5].intValue, table: table, key: keyValue)))
        }
        return .found(out)
    }

    /// The vocabulary and lookup entries the row's columns used: the entry set its lineage row
    /// names (`harmonize_lineage.lookup_set`, written by `run --lineage`; none when null), else
    /// the rows of a table `harmonize_lineage_vocabulary(run_id, table_name, row_id, column_name,
    /// vocabulary, code, concept_id)` another writer filled; nil when the output has neither.
    func vocabularyUses(runID: String, lookupSet: Int?, table: String, key: Value) throws(Failure) -> [RowTrace.VocabularyUse]? {
        if tables.contains("harmonize_lineage_entry_set"), tables.contains("harmonize_lineage_entry") {
            guard let lookupSet else { return [] }
            return try rows(
                """
                SELECT e.column_name, e.vocabulary, e.code, e.concept_id, e.function, e.value FROM harmonize_lineage_entry_set s
                JOIN harmonize_lineage_entry e ON e.entry_id = s.entry_id WHERE s.set_id = ? ORDER BY s.position
                """, [.int(lookupSet)]
            ).map {
                RowTrace.VocabularyUse(
                    column: $0[0].text ?? "", vocabulary: $0[1].text ?? "", code: $0[2].text, conceptID: $0[3].intValue, function: $0[4].text,
                    value: $0[5].text)
            }
        }
        guard tables.contains("harmonize_lineage_vocabulary") else { return nil }
        return try rows(
            """
            SELECT column_name, vocabulary, code, concept_id FROM harmonize_lineage_vocabulary
            WHERE run_id = ? AND table_name = ? AND row_id = ? ORDER BY \(db.dialect.writeOrder)
            """, [.string(runID), .string(table), key]
        ).map { RowTrace.VocabularyUse(column: $0[0].text ?? "", vocabulary: $0[1].text ?? "", code: $0[2].text, conceptID: $0[3].intValue) }
    }

    /// The input folder a run recorded (for reading records back), if any.
    public func inputDirectory(run: String) throws(Failure) -> String? {
        guard try hasColumn("harmonize_run", "input_dir") else { return nil }
        return try rows("SELECT input_dir FROM harmonize_run WHERE run_id = ?", [.string(run)]).first?.first?.text
    }
}
