import Foundation

/// `harmonize-run remap`: recomputes, from the row lineage of an output (`run --lineage`) and
/// without reading its sources, the columns and the routing that depend on the vocabulary, with
/// a new vocabulary store (see `RemapPlan` for what can be recomputed). The result is the output
/// a full run with the new store would write:
///
/// - a row whose vocabulary-dependent columns change is updated (`changed`);
/// - a row whose target filter no longer holds is deleted, and when the record now passes the
///   filter of another target of its mapping (domain routing), a row is written there (`moved`):
///   its vocabulary-dependent columns are computed with the new store, the others are taken
///   from the old row's column with the same rule (or are constants); its key is the old row's
///   when the key columns share their rule, as in the bundled mappings;
/// - every other row stays as it is (`unchanged`).
///
/// The changes are made in a staging copy of the output, recorded as a run of kind `remap`
/// (manifest with the new vocabulary release, `harmonize_remap_ledger`, lineage of the rows it
/// rewrote pointing to their new lookup entries), and the copy replaces the output by atomic
/// rename: a failed remap leaves the output as it was.
package struct VocabularyRemap {
    /// The output database (SQLite).
    package var outputPath: String
    /// The mappings that wrote the output (their files must be unchanged: same SHA-256).
    package var plans: [MappingPlan]
    /// The new vocabulary store.
    package var store: VocabularyStore
    /// The functions, bound to `store` (the registry the plans were compiled with).
    package var functions: FunctionRegistry
    /// Parameters to record in the remap's manifest (over those of the latest run).
    package var parameters: [String: String] = [:]

    /// Creates a remap.
    /// The output's description row (OMOP's `cdm_source`), rewritten for the new release in the
    /// remap's transaction (`RunDescription.remapped`); nil: no such table is rewritten.
    package var description: RunDescription?

    package init(outputPath: String, plans: [MappingPlan], store: VocabularyStore, functions: FunctionRegistry) {
        self.outputPath = outputPath
        self.plans = plans
        self.store = store
        self.functions = functions
    }

    /// The remap's books, one table per output.
    static let ledgerDDL = """
        CREATE TABLE IF NOT EXISTS harmonize_remap_ledger (
          run_id TEXT NOT NULL, mapping TEXT NOT NULL, rows INTEGER NOT NULL, unchanged INTEGER NOT NULL, changed INTEGER NOT NULL,
          moved INTEGER NOT NULL, removed INTEGER NOT NULL, added INTEGER NOT NULL);
        """

    /// One recorded lookup of a row's column.
    struct Entry: Hashable {
        var column: String
        var function: String
        var vocabulary: String
        var code: String
        var conceptID: Int?
        var value: String?
    }

    /// One lineage row of a remapped mapping.
    struct LineageRow {
        var rowid: Int
        var rowKey: Value
        var target: Int
        var line: Int?
        var record: Int?
        var lookupSet: Int?
        var file: String
        var input: RunManifest.InputEntry
    }

    /// Runs the remap and publishes the output; returns the remap's manifest.
    /// - Throws: `RunError`: configuration (no lineage, mappings changed or missing, a mapping
    ///   that cannot be recomputed from its lineage) before anything is written; I/O when the
    ///   output cannot be read, copied or published (then it is left as it was).
    package func run() throws(RunError) -> RunManifest {
        guard FileManager.default.fileExists(atPath: outputPath) else {
            throw RunError(.io, "no output database: \(outputPath)", code: .runIO)
        }
        let startedAt = Timestamp.now()
        let remapPlans = try prepare()
        let publication = OutputPublication(outputPath: outputPath)
        let nonce = UInt32.random(in: 0...UInt32.max)
        let stagingPath =
            OutputPublication.folder(of: outputPath) + "/" + OutputPublication.stagingPrefix(of: outputPath) + String(nonce, radix: 16)
        do throws(SinkError) {
            try publication.acquire()
        } catch {
            throw RunError(.io, error.message, code: error.code ?? .runIO)
        }
        defer { publication.release() }
        publication.removeStaleStagingFiles()
        publication.settleSideFiles()
        do {
            try FileManager.default.copyItem(atPath: outputPath, toPath: stagingPath)
        } catch {
            throw RunError(.io, "cannot copy \(outputPath) to a staging database: \(error.localizedDescription)", code: .sinkFailed)
        }
        var manifest: RunManifest
        do {
            // The connection (and the statements of the remap) are released before the rename.
            let db = try SQLiteConnection(path: stagingPath)
            manifest = try remap(remapPlans, in: db, startedAt: startedAt)
        } catch let e as RunError {
            FileOps.remove(stagingPath)
            FileOps.remove(stagingPath + "-journal")
            throw e
        } catch {
            FileOps.remove(stagingPath)
            FileOps.remove(stagingPath + "-journal")
            throw RunError(.io, "cannot remap \(outputPath): \(error)", code: .sinkFailed)
        }
        do {
            try publication.publish(stagingPath)
        } catch {
            throw RunError(.io, "cannot publish \(outputPath): \(error)", code: .sinkFailed)
        }
        manifest.status = "succeeded"
        return manifest
    }

    /// Checks the output and the mappings, and plans the remap of every mapping whose rows
    /// depend on the vocabulary; nothing is written.
    func prepare() throws(RunError) -> [RemapPlan] {
        var lineageMappings: [(id: String, sha256: String)] = []
        var manifests: [RunManifest] = []
        do {
            let db = try SQLiteConnection(path: outputPath, readOnly: true)
            let tables = Set(try db.query("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").compactMap { $0.first?.text })
            guard tables.contains("harmonize_lineage"), tables.contains("harmonize_lineage_entry"),
                try db.scalar("SELECT count(*) FROM harmonize_lineage").intValue ?? 0 > 0
            else {
                throw RunError(
                    .configuration,
                    "\(outputPath) holds no row lineage with vocabulary entries: remap recomputes rows from it; run the mappings with --lineage (nothing was written)",
                    code: .remapNoLineage)
            }
            for r in try db.query(
                """
                SELECT DISTINCT m.mapping, m.sha256 FROM harmonize_lineage l JOIN harmonize_run r ON r.run_seq = l.run_seq
                JOIN harmonize_run_mapping m ON m.run_id = r.run_id AND m.mapping_id = l.mapping_id ORDER BY m.mapping
                """)
            {
                lineageMappings.append((r[0].text ?? "", r[1].text ?? ""))
            }
            for r in try db.query(
                "SELECT manifest FROM harmonize_run WHERE run_seq IN (SELECT DISTINCT run_seq FROM harmonize_lineage) ORDER BY run_seq")
            {
                guard let text = r.first?.text else { continue }
                do {
                    manifests.append(try JSONDecoder().decode(RunManifest.self, from: Data(text.utf8)))
                } catch {
                    throw RunError(.io, "the manifest of a run of \(outputPath) cannot be read: \(error)", code: .runIO)
                }
            }
        } catch let e as RunError {
            throw e
        } catch {
            throw RunError(.io, "cannot read \(outputPath): \(error)", code: .runIO)
        }
        let byID = Dictionary(plans.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var missing: [String] = []
        var changed: [String] = []
        for (id, sha) in lineageMappings {
            guard let p = byID[id] else {
                missing.append(id)
                continue
            }
            if p.spec.contentHash != sha { changed.append("\(id) (\(p.spec.file))") }
        }
        if !missing.isEmpty || !changed.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("mappings not given: \(Set(missing).sorted().joined(separator: ", "))") }
            if !changed.isEmpty { parts.append("mappings changed since the run (SHA-256): \(Set(changed).sorted().joined(separator: ", "))") }
            throw RunError(
                .configuration,
                "remap recomputes rows with the mappings that wrote them: \(parts.joined(separator: "; ")); give them unchanged, or rerun (nothing was written)",
                code: .remapMappingsDiffer)
        }
        var out: [RemapPlan] = []
        var problems: [String] = []
        for (id, _) in lineageMappings {
            guard let p = byID[id], p.derivation == nil, !out.contains(where: { $0.plan.id == id }) else { continue }
            do throws(RemapPlan.Unsupported) {
                let rp = try RemapPlan(p, functions: functions)
                guard rp.dependsOnVocabulary else { continue }
                if rp.targets.contains(where: { $0.filter != nil }) { try Self.checkRouting(rp, manifests: manifests) }
                out.append(rp)
            } catch {
                problems.append(error.message)
            }
        }
        if !problems.isEmpty {
            throw RunError(
                .configuration, "remap cannot recompute every row from the lineage (nothing was written):\n  " + problems.joined(separator: "\n  "),
                code: .remapUnsupported)
        }
        return out
    }

    /// A mapping routed by the vocabulary: records its filters sent to no table are not in the
    /// lineage, and a new vocabulary could route them somewhere; remap needs to know there were
    /// none (`LedgerEntry.unrouted`, counted by `run --lineage`), and that no earlier remap left
    /// a record without rows.
    static func checkRouting(_ rp: RemapPlan, manifests: [RunManifest]) throws(RemapPlan.Unsupported) {
        let id = rp.plan.id
        let name = "mapping \(id) (\(rp.plan.spec.file))"
        var unrouted = 0
        for m in manifests {
            if m.kind == "remap" {
                if let c = m.remap?.first(where: { $0.mapping == id }), c.removed > 0 {
                    throw RemapPlan.Unsupported(
                        message:
                            "\(name): remap \(m.runID) left \(c.removed) row\(c.removed == 1 ? "" : "s") routed to no table, which the lineage no longer holds; rerun it"
                    )
                }
                continue
            }
            // The group stage of a grouped mapping is where its target filters run.
            for e in m.ledger where e.mapping == id {
                guard let n = e.unrouted else {
                    throw RemapPlan.Unsupported(
                        message:
                            "\(name): its target filters depend on the vocabulary, and run \(m.runID) did not count the records they routed to no table (an older version); rerun it with --lineage"
                    )
                }
                unrouted += n
            }
        }
        if unrouted > 0 {
            throw RemapPlan.Unsupported(
                message:
                    "\(name): its target filters depend on the vocabulary and routed \(unrouted) record\(unrouted == 1 ? "" : "s") to no table; they are not in the lineage and a new vocabulary could route them; rerun it"
            )
        }
    }

    /// What a remap does to the staging database; returns the manifest stored there.
    private func remap(_ remapPlans: [RemapPlan], in db: SQLiteConnection, startedAt: String) throws(RunError) -> RunManifest {
        let writer: RemapWriter
        do {
            try db.execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;")
            try db.execute(SQLiteDDL.bookkeeping)
            try SQLiteDDL.migrate(db)
            try db.execute(SQLiteDDL.lookupLineage)
            try db.execute(Self.ledgerDDL)
            try db.execute("BEGIN")
            writer = try RemapWriter(db: db)
        } catch {
            throw RunError(.io, "cannot prepare the staging copy of \(outputPath): \(error)", code: .sinkFailed)
        }
        let entrySets = try loadEntrySets(db)
        var counts: [RemapCount] = []
        var manifestMappings: [RunManifest.MappingEntry] = []
        for rp in remapPlans {
            let mappingIndex = manifestMappings.count
            manifestMappings.append(
                .init(
                    id: rp.plan.spec.id, version: rp.plan.spec.version, sha256: rp.plan.spec.contentHash, file: rp.plan.spec.file,
                    targets: rp.plan.targets.map(\.table.name), columnLineage: ColumnLineage.derive(from: rp.plan),
                    source: Pipeline.sourceEntry(rp.plan)))
            for t in rp.targets { writer.tableIndex(t.table.name) }
            let rows = try lineageRows(of: rp.plan.id, in: db)
            var count = RemapCount(mapping: rp.plan.id)
            try RemapMappingPass(plan: rp, mappingIndex: mappingIndex, entrySets: entrySets, writer: writer)
                .run(rows, count: &count)
            counts.append(count)
        }
        do {
            try writer.flushInserts()
        } catch let e as RunError {
            throw e
        } catch {
            throw RunError(.io, "cannot write the remapped rows: \(error)", code: .sinkFailed)
        }
        // A derived table read from a table whose rows came or went would be out of date.
        let derived = plans.compactMap(\.derivation)
        // A derived table of the output whose mapping is not given cannot be checked: refused
        // when rows came or went.
        if !writer.added.isEmpty || !writer.removed.isEmpty {
            let given = Set(derived.map(\.mapping))
            var missing: Set<String> = []
            do {
                for r in try db.query("SELECT manifest FROM harmonize_run WHERE kind IS NULL OR kind IN ('run', 'replay')") {
                    guard let text = r.first?.text else { continue }
                    let m = try JSONDecoder().decode(RunManifest.self, from: Data(text.utf8))
                    for e in m.mappings where !m.ledger.contains(where: { $0.mapping == e.id }) && !given.contains(e.id) { missing.insert(e.id) }
                }
            } catch {
                throw RunError(.io, "cannot read the runs of \(outputPath): \(error)", code: .runIO)
            }
            if !missing.isEmpty {
                throw RunError(
                    .configuration,
                    "remap moves rows between tables, and the output holds tables derived by mappings not given (\(missing.sorted().joined(separator: ", "))): give them with --mappings so remap can check them (nothing was written)",
                    code: .remapUnsupported)
            }
        }
        for d in derived {
            let moved = d.sources.map(\.table).filter { (writer.added[$0] ?? 0) + (writer.removed[$0] ?? 0) > 0 }
            if !moved.isEmpty {
                throw RunError(
                    .configuration,
                    "remap moves rows into or out of \(moved.joined(separator: ", ")), from which \(d.table) is derived (mapping \(d.mapping)); remap does not derive tables again yet: rerun (nothing was written)",
                    code: .remapUnsupported)
            }
        }
        var manifest = RunManifest(
            runID: UUID().uuidString.lowercased(), engineVersion: HarmonizeVersion.current, startedAt: startedAt, finishedAt: "",
            status: "succeeded", model: remapPlans.first.map { "\($0.plan.model.name) \($0.plan.model.version)" } ?? "",
            parameters: [:], mappings: manifestMappings, inputs: writer.inputs, ledger: [], tables: writer.tableCounts(), kind: "remap")
        do {
            manifest.parameters = try latestParameters(db)
            for (k, v) in parameters { manifest.parameters[k] = v }
            manifest.vocabularies = try store.versions(of: store.referencedVocabularies)
            let provenance = try store.provenance()
            manifest.parameters["vocabulary_loaded_at"] = provenance.loadedAt
            manifest.parameters["vocabulary_concept_sha256"] = provenance.conceptSHA256
        } catch let e as VocabularyError {
            throw RunError(e.kind == .io ? .io : .configuration, e.message, code: .vocabularyStoreUnreadable)
        } catch {
            throw RunError(.io, "cannot read the runs of \(outputPath): \(error)", code: .runIO)
        }
        manifest.remap = counts
        manifest.finishedAt = Timestamp.now()
        do {
            if let d = description, let rewrite = d.remapped { try Self.rewriteDescription(d, rewrite, manifest: manifest, in: db) }
            try SQLiteDDL.storeManifest(manifest, runSeq: writer.runSeq, in: db)
            let st = try db.prepare("INSERT INTO harmonize_remap_ledger VALUES (?,?,?,?,?,?,?,?)")
            for c in counts {
                let vals: [Value] = [
                    .string(manifest.runID), .string(c.mapping), .int(c.rows), .int(c.unchanged), .int(c.changed), .int(c.moved), .int(c.removed),
                    .int(c.added),
                ]
                for (i, v) in vals.enumerated() { st.bind(v, at: Int32(i + 1)) }
                try st.step()
                st.reset()
            }
            try db.execute("COMMIT")
        } catch {
            throw RunError(.io, "cannot record the remap in \(outputPath): \(error)", code: .sinkFailed)
        }
        return manifest
    }

    /// Rewrites the rows of the run description's table (a run writes one) with the columns a
    /// remap changes: the new release, the remap's day (the rows it describes changed).
    private static func rewriteDescription(
        _ d: RunDescription, _ rewrite: ([String: Value], RunManifest, CivilDate) -> [String: Value], manifest: RunManifest,
        in db: SQLiteConnection
    ) throws(SQLiteError) {
        let present = Set(try db.query("SELECT name FROM pragma_table_info(?)", [.string(d.table.name)]).compactMap { $0.first?.text })
        let columns = d.table.columns.filter { present.contains($0.name) }
        guard !columns.isEmpty else { return }
        let table = SQLiteDDL.quote(d.table.name)
        let today = CivilDate(daysSinceEpoch: Int(Date().timeIntervalSince1970) / 86_400)
        for r in try db.query("SELECT rowid, \(columns.map { SQLiteDDL.quote($0.name) }.joined(separator: ", ")) FROM \(table)") {
            var old: [String: Value] = [:]
            for (i, c) in columns.enumerated() { old[c.name] = r[i + 1] }
            let changes = rewrite(old, manifest, today)
            let set = columns.filter { changes[$0.name] != nil }
            guard !set.isEmpty else { continue }
            _ = try db.query(
                "UPDATE \(table) SET \(set.map { SQLiteDDL.quote($0.name) + " = ?" }.joined(separator: ", ")) WHERE rowid = ?",
                set.map { RunDescription.fitted(changes[$0.name] ?? .null, to: $0) } + [r[0]])
        }
    }

    /// The parameters of the latest run of the output (key fingerprint, project, …: they still
    /// describe its rows).
    private func latestParameters(_ db: SQLiteConnection) throws -> [String: String] {
        guard let text = try db.scalar("SELECT parameters FROM harmonize_run ORDER BY run_seq DESC LIMIT 1").text else { return [:] }
        return try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }

    /// Every recorded list of lookup entries, by set id.
    private func loadEntrySets(_ db: SQLiteConnection) throws(RunError) -> [Int: [Entry]] {
        var out: [Int: [Entry]] = [:]
        do {
            for r in try db.query(
                """
                SELECT s.set_id, e.column_name, e.function, e.vocabulary, e.code, e.concept_id, e.value FROM harmonize_lineage_entry_set s
                JOIN harmonize_lineage_entry e ON e.entry_id = s.entry_id ORDER BY s.set_id, s.position
                """)
            {
                guard let set = r[0].intValue else { continue }
                out[set, default: []].append(
                    Entry(
                        column: r[1].text ?? "", function: r[2].text ?? "", vocabulary: r[3].text ?? "", code: r[4].text ?? "",
                        conceptID: r[5].intValue, value: r[6].text))
            }
        } catch {
            throw RunError(.io, "cannot read the vocabulary lineage of \(outputPath): \(error)", code: .runIO)
        }
        return out
    }

    /// The lineage rows of a mapping, in the order they were written.
    private func lineageRows(of mapping: String, in db: SQLiteConnection) throws(RunError) -> [LineageRow] {
        do {
            return try db.query(
                """
                SELECT l.rowid, l.row_id, l.target, l.line, l.record, l.lookup_set, coalesce(i.path, ''), coalesce(i.sha256, ''),
                  coalesce(i.bytes, 0), coalesce(i.records, 0)
                FROM harmonize_lineage l JOIN harmonize_run r ON r.run_seq = l.run_seq
                JOIN harmonize_run_mapping m ON m.run_id = r.run_id AND m.mapping_id = l.mapping_id
                LEFT JOIN harmonize_run_input i ON i.run_id = r.run_id AND i.file_id = l.file_id
                WHERE m.mapping = ? ORDER BY l.rowid
                """, [.string(mapping)]
            ).map { r in
                LineageRow(
                    rowid: r[0].intValue ?? 0, rowKey: r[1], target: r[2].intValue ?? -1, line: r[3].intValue, record: r[4].intValue,
                    lookupSet: r[5].intValue, file: r[6].text ?? "",
                    input: RunManifest.InputEntry(
                        path: r[6].text ?? "", sha256: r[7].text ?? "", bytes: Int64(r[8].intValue ?? 0), records: r[9].intValue ?? 0))
            }
        } catch {
            throw RunError(.io, "cannot read the lineage of \(outputPath): \(error)", code: .runIO)
        }
    }
}

/// The writes of a remap into the staging database: row updates, deletions and insertions, and
/// the lineage of the rows it rewrote (run `runSeq`, interned tables, inputs and entries).
final class RemapWriter {
    let db: SQLiteConnection
    let runSeq: Int
    private(set) var tables: [String] = []
    private(set) var inputs: [RunManifest.InputEntry] = []
    private var inputIndex: [String: Int] = [:]
    var added: [String: Int] = [:]
    var removed: [String: Int] = [:]
    var updated: [String: Int] = [:]
    private var nextEntryID: Int
    private var nextSetID: Int
    private var entryIDs: [VocabularyRemap.Entry: Int] = [:]
    private var setIDs: [[Int]: Int] = [:]
    private var statements: [String: SQLiteStatement] = [:]
    /// Rows to insert once every deletion is done (a moved row never meets its old self).
    private var inserts: [(table: TargetTable, values: [Value], lineage: [Value])] = []

    init(db: SQLiteConnection) throws(SQLiteError) {
        self.db = db
        runSeq = (try db.scalar("SELECT coalesce(max(run_seq), 0) + 1 FROM harmonize_run").intValue) ?? 1
        nextEntryID = (try db.scalar("SELECT coalesce(max(entry_id), 0) + 1 FROM harmonize_lineage_entry").intValue) ?? 1
        nextSetID = (try db.scalar("SELECT coalesce(max(set_id), 0) + 1 FROM harmonize_lineage_entry_set").intValue) ?? 1
    }

    /// The remap run's id of a table (its index in the manifest's tables).
    @discardableResult
    func tableIndex(_ name: String) -> Int {
        if let i = tables.firstIndex(of: name) { return i }
        tables.append(name)
        return tables.count - 1
    }

    /// The remap run's id of an input file.
    func inputIndex(_ e: RunManifest.InputEntry) -> Int {
        if let i = inputIndex[e.path] { return i }
        inputs.append(e)
        inputIndex[e.path] = inputs.count - 1
        return inputs.count - 1
    }

    /// Rows written per table: inserted (`rows`), updated in place, deleted (`removed`).
    func tableCounts() -> [RunManifest.TableCount] {
        tables.map { t in
            var c = RunManifest.TableCount(table: t, rows: added[t] ?? 0)
            if let u = updated[t], u > 0 { c.updated = u }
            if let r = removed[t], r > 0 { c.removed = r }
            return c
        }
    }

    func statement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let s = statements[sql] { return s }
        let s = try db.prepare(sql)
        statements[sql] = s
        return s
    }

    /// Runs a prepared statement with `values`; returns the rows it reads.
    @discardableResult
    func exec(_ sql: String, _ values: [Value]) throws(SQLiteError) -> [[Value]] {
        let st = try statement(sql)
        defer { st.reset() }
        for (i, v) in values.enumerated() { st.bind(v, at: Int32(i + 1)) }
        var out: [[Value]] = []
        while try st.step() {
            out.append((0..<st.columnCount).map { st.column($0) })
        }
        return out
    }

    /// The stored values of a row, in the table's column order (nil when no row has the key).
    func row(_ table: TargetTable, key: Int, value: Value) throws(SQLiteError) -> [Value]? {
        let cols = table.columns.map { SQLiteDDL.quote($0.name) }.joined(separator: ", ")
        let sql = "SELECT \(cols) FROM \(SQLiteDDL.quote(table.name)) WHERE \(SQLiteDDL.quote(table.columns[key].name)) = ?"
        return try exec(sql, [value]).first
    }

    /// Sets `columns` of the row with that key.
    func update(_ table: TargetTable, key: Int, value: Value, columns: [(Int, Value)]) throws(SQLiteError) {
        let sets = columns.map { "\(SQLiteDDL.quote(table.columns[$0.0].name)) = ?" }.joined(separator: ", ")
        try exec(
            "UPDATE \(SQLiteDDL.quote(table.name)) SET \(sets) WHERE \(SQLiteDDL.quote(table.columns[key].name)) = ?", columns.map(\.1) + [value])
        updated[table.name, default: 0] += 1
    }

    /// Deletes the row with that key.
    func delete(_ table: TargetTable, key: Int, value: Value) throws(SQLiteError) {
        try exec("DELETE FROM \(SQLiteDDL.quote(table.name)) WHERE \(SQLiteDDL.quote(table.columns[key].name)) = ?", [value])
        removed[table.name, default: 0] += 1
    }

    /// Deletes a lineage row.
    func deleteLineage(rowid: Int) throws(SQLiteError) {
        try exec("DELETE FROM harmonize_lineage WHERE rowid = ?", [.int(rowid)])
    }

    /// The lineage row of a rewritten row, with its entries interned for this run.
    func lineage(
        table: String, rowKey: Value, mapping: Int, input: RunManifest.InputEntry, line: Int?, record: Int?, target: Int,
        entries: [VocabularyRemap.Entry]
    ) throws(SQLiteError) -> [Value] {
        var ids: [Int] = []
        for e in entries {
            if let id = entryIDs[e] {
                if !ids.contains(id) { ids.append(id) }
                continue
            }
            let id = nextEntryID
            nextEntryID += 1
            try exec(
                "INSERT INTO harmonize_lineage_entry(entry_id, run_seq, column_name, function, vocabulary, code, concept_id, value) VALUES (?,?,?,?,?,?,?,?)",
                [
                    .int(id), .int(runSeq), .string(e.column), .string(e.function), .string(e.vocabulary), .string(e.code),
                    e.conceptID.map(Value.int) ?? .null, e.value.map(Value.string) ?? .null,
                ])
            entryIDs[e] = id
            ids.append(id)
        }
        var set = Value.null
        if !ids.isEmpty {
            if let s = setIDs[ids] {
                set = .int(s)
            } else {
                let s = nextSetID
                nextSetID += 1
                for (p, id) in ids.enumerated() {
                    try exec("INSERT INTO harmonize_lineage_entry_set(set_id, position, entry_id) VALUES (?,?,?)", [.int(s), .int(p), .int(id)])
                }
                setIDs[ids] = s
                set = .int(s)
            }
        }
        return [
            .int(tableIndex(table)), rowKey, .int(mapping), .int(inputIndex(input)), line.map(Value.int) ?? .null, record.map(Value.int) ?? .null,
            .int(runSeq), set, .int(target),
        ]
    }

    /// Writes a lineage row.
    func insertLineage(_ values: [Value]) throws(SQLiteError) {
        try exec(
            "INSERT INTO harmonize_lineage(table_id, row_id, mapping_id, file_id, line, record, run_seq, lookup_set, target) VALUES (?,?,?,?,?,?,?,?,?)",
            values)
    }

    /// Queues a row (and its lineage) to insert after the deletions.
    func queueInsert(_ table: TargetTable, values: [Value], lineage: [Value]) {
        inserts.append((table, values, lineage))
    }

    /// Inserts the queued rows.
    func flushInserts() throws {
        for i in inserts {
            do {
                try exec(SQLiteDDL.insert(i.table), i.values)
            } catch {
                throw RunError(
                    .io,
                    "a remapped row cannot be written to \(i.table.name) (its key is taken, or a required column is null): \(error.message)",
                    code: .sinkFailed)
            }
            try insertLineage(i.lineage)
            added[i.table.name, default: 0] += 1
        }
        inserts = []
    }
}

@available(*, unavailable)
extension RemapWriter: Sendable {}
