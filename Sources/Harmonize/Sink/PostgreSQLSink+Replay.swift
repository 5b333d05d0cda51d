import Foundation

/// What a replay into a PostgreSQL output (`harmonize-run replay --output postgresql://…`) needs
/// besides the rows: the rejects it re-processes and the checks to run on the CDM it publishes.
package struct PostgreSQLReplay {
    /// One outstanding reject, by its place (a PostgreSQL table has no row id): the run that
    /// rejected it, its mapping and input file, record number and line.
    package struct Reject: Sendable, Hashable {
        /// The run that rejected it.
        package var run: String
        /// Mapping id.
        package var mapping: String
        /// Input file, relative to the input folder.
        package var file: String
        /// Record number, if known.
        package var record: Int?
        /// Line, if known.
        package var line: Int?

        /// A reject of `run`, `mapping` and `file` at `record` and/or `line`.
        package init(run: String, mapping: String, file: String, record: Int?, line: Int?) {
            self.run = run
            self.mapping = mapping
            self.file = file
            self.record = record
            self.line = line
        }
    }

    /// The outstanding rejects the replay re-processes: marked `resolved_by` the replay in the
    /// publication transaction, which fails (nothing published) unless every one of them is still
    /// outstanding then.
    package var resolves: [Reject]
    /// Run in the publication transaction once the rows are appended (the data-quality checks),
    /// on the target schema as readers will see it; their `harmonize_quality` rows are stored there
    /// for the replay. When it throws, nothing is published.
    package var checks: PostgreSQLShards.Checks?

    /// A replay resolving `resolves`, running `checks` (nil: none) before it commits.
    package init(resolves: [Reject], checks: PostgreSQLShards.Checks?) {
        self.resolves = resolves
        self.checks = checks
    }
}

/// A replay into a PostgreSQL output: the rows are staged as a run's are (COPY into the staging
/// schema, primary keys built there), then one transaction appends them to the published tables,
/// derives the derived tables again over the whole CDM, appends the lineage, rejects and unmapped
/// codes, marks the replayed rejects resolved, stores the replay's run rows and runs the checks:
/// readers see the CDM before or after the replay. The target's lock is held from `open` to the
/// end, so the published tables read while staging (derivations, lineage ids) do not change.
extension PostgreSQLSink {
    /// The staging table of the replayed rejects' places.
    static let replayedTable = "harmonize_replayed"

    /// Replay part of `open`: the target must hold a published run; the lineage ids go on from
    /// the target's.
    func openReplay(_ db: PostgreSQLConnection) throws {
        let bk = { (table: String) in PostgreSQLDDL.qualified(self.target.schema, table) }
        guard try db.scalar("SELECT 1 FROM \(bk("harmonize_run")) WHERE kind = 'run' LIMIT 1") != nil else {
            throw SinkError("schema \(target.schema) holds no published Harmonize run to replay into", isIO: true)
        }
        if try db.scalar("SELECT to_regclass($1)", [bk("harmonize_lineage_entry")]) != nil {
            entryBase = Int(try db.scalar("SELECT coalesce(max(entry_id), 0) FROM \(bk("harmonize_lineage_entry"))") ?? "0") ?? 0
        }
        if try db.scalar("SELECT to_regclass($1)", [bk("harmonize_lineage_entry_set")]) != nil {
            setBase = Int(try db.scalar("SELECT coalesce(max(set_id), 0) FROM \(bk("harmonize_lineage_entry_set"))") ?? "0") ?? 0
        }
        try db.execute(
            "CREATE TABLE \(Self.replayedTable) (run_id text NOT NULL, mapping text NOT NULL, file text NOT NULL, record bigint, line bigint)")
    }

    /// Whether `schema` holds `table`.
    private func holds(_ schema: String, _ table: String, _ db: PostgreSQLConnection) throws(PostgreSQLError) -> Bool {
        try db.scalar("SELECT to_regclass($1)", [PostgreSQLDDL.qualified(schema, table)]) != nil
    }

    /// A derived table derived again over the whole output (the target's rows and the staged
    /// ones), as the SQLite replay does: the periods are computed into a staging table and
    /// replace the target's periods of those persons at publication. Returns the rows added.
    func deriveAgain(_ derivation: Derivation, _ db: PostgreSQLConnection) throws(SinkError) -> Int {
        let q = PostgreSQLDDL.quote
        let target = self.target.schema
        let staged = Set(tables.map(\.name))
        do {
            var selects: [String] = []
            for s in derivation.sources {
                let end = s.end.map { "coalesce(\(q($0)), \(q(s.start)))" } ?? q(s.start)
                let select = "SELECT person_id AS p, \(q(s.start)) AS s, \(end) AS e FROM "
                if try holds(target, s.table, db) { selects.append(select + PostgreSQLDDL.qualified(target, s.table)) }
                if staged.contains(s.table) { selects.append(select + PostgreSQLDDL.qualified(stagingSchema, s.table)) }
            }
            guard !selects.isEmpty else { return 0 }
            var persons: [String] = []
            if try holds(target, "person", db) { persons.append("SELECT person_id FROM \(PostgreSQLDDL.qualified(target, "person"))") }
            if staged.contains("person") { persons.append("SELECT person_id FROM \(PostgreSQLDDL.qualified(stagingSchema, "person"))") }
            let personFilter = persons.isEmpty ? "" : " AND p IN (\(persons.joined(separator: " UNION ALL ")))"
            let name = "harmonize_derived_\(pendingDerivations.count + 1)"
            let periods = PostgreSQLDDL.qualified(stagingSchema, name)
            try db.execute(
                """
                CREATE TABLE \(periods) AS SELECT p, min(s) AS s, max(e) AS e FROM (\(selects.joined(separator: " UNION ALL "))) AS events
                WHERE p IS NOT NULL AND s IS NOT NULL\(personFilter) GROUP BY p
                """)
            let total = Int(try db.scalar("SELECT count(*) FROM \(periods)") ?? "0") ?? 0
            let ti = tables.firstIndex { $0.name == derivation.table }
            guard try holds(target, derivation.table, db) else {
                // The output has no such table yet: the staged one, filled, is moved in.
                try db.execute(
                    """
                    INSERT INTO \(PostgreSQLDDL.qualified(stagingSchema, derivation.table)) (observation_period_id, person_id,
                      observation_period_start_date, observation_period_end_date, period_type_concept_id)
                    SELECT p, p, s, e, \(derivation.periodTypeConceptID) FROM \(periods)
                    """)
                if let ti { derivedCounts[ti] = TableWriteCount(inserted: total, updated: 0) }
                return total
            }
            let stored = PostgreSQLDDL.qualified(target, derivation.table)
            let replaced = Int(try db.scalar("SELECT count(*) FROM \(stored) WHERE observation_period_id IN (SELECT p FROM \(periods))") ?? "0") ?? 0
            let changed =
                Int(
                    try db.scalar(
                        """
                        SELECT count(*) FROM \(stored) o JOIN \(periods) d ON o.observation_period_id = d.p
                        WHERE o.observation_period_start_date IS DISTINCT FROM d.s OR o.observation_period_end_date IS DISTINCT FROM d.e
                          OR o.person_id IS DISTINCT FROM d.p OR o.period_type_concept_id IS DISTINCT FROM \(derivation.periodTypeConceptID)
                        """) ?? "0") ?? 0
            pendingDerivations.append((derivation, name))
            if let ti { derivedCounts[ti] = TableWriteCount(inserted: total - replaced, updated: changed) }
            return total - replaced
        } catch {
            throw fail("cannot derive table \(derivation.table) again", error)
        }
    }

    /// The run's tables, each after the tables its foreign keys name (rows are appended in that
    /// order: the target's constraints check each row as it comes).
    private var tablesInReferenceOrder: [TargetTable] {
        var placed: [TargetTable] = []
        var left = tables
        while !left.isEmpty {
            let names = Set(left.map(\.name))
            let ready = left.filter { t in
                !t.columns.contains { c in
                    guard let fk = c.foreignKey?.table.lowercased() else { return false }
                    return fk != t.name && names.contains(fk)
                }
            }
            // A cycle: the rest in the model's order.
            let next = ready.isEmpty ? left : ready
            placed += next
            let taken = Set(next.map(\.name))
            left.removeAll { taken.contains($0.name) }
        }
        return placed
    }

    /// The end of a replay: keys built on the staged rows, then the publication transaction (see
    /// the extension's documentation), then the staging schema dropped.
    func publishReplay(_ run: RunManifest, _ db: PostgreSQLConnection) throws(SinkError) {
        do {
            try db.query("UPDATE harmonize_reject SET run_id = $1 WHERE run_id IS NULL", [run.runID])
            try stageReplayedRejects(db)
            try buildKeys(db)
            try db.execute("BEGIN")
            do {
                try appendReplay(run, db)
                if let checks = replay?.checks {
                    // On the target schema as it is once the replay is published (this transaction).
                    try checks(try PostgreSQLOutputConnection(publishing: db, area: target.schema, target: target, replacedTables: []), run.runID)
                }
                try db.execute("COMMIT")
            } catch {
                Self.rollback(db)
                throw error
            }
        } catch let e as SinkError {
            abort()
            throw e
        } catch let e as PostgreSQLError {
            abort()
            throw fail("cannot publish the replay into schema \(target.schema)", e)
        } catch {
            abort()
            throw SinkError("cannot publish the replay: \(error)")
        }
        close(db)
    }

    /// COPYs the places of the replayed rejects into the staging schema.
    private func stageReplayedRejects(_ db: PostgreSQLConnection) throws(PostgreSQLError) {
        var text: [UInt8] = []
        for r in Set(replay?.resolves ?? []) {
            let values: [Value] = [
                .string(r.run), .string(r.mapping), .string(r.file), r.record.map(Value.int) ?? .null, r.line.map(Value.int) ?? .null,
            ]
            for (k, v) in values.enumerated() {
                if k > 0 { text.append(0x09) }
                PostgreSQLCopyText.append(v, to: &text)
            }
            text.append(0x0A)
        }
        if !text.isEmpty { try db.copy("COPY \(Self.replayedTable) FROM STDIN", data: text) }
    }

    /// `INSERT … ON CONFLICT (key) DO UPDATE SET c = coalesce(excluded.c, o.c)` of the staged rows
    /// of a table that replayed rows update: a staged row (the fold of the replayed rows with one
    /// key: the first one's values, each updated column's last non-null one) adds a row or updates
    /// the published one, which is what applying the rows one by one gives.
    private func mergeUpdates(_ t: TargetTable, columns: [Int], _ db: PostgreSQLConnection) throws {
        let q = PostgreSQLDDL.quote
        let cols = t.columns.map { q($0.name) }.joined(separator: ", ")
        let key = t.primaryKey.map(q).joined(separator: ", ")
        var sql =
            "INSERT INTO \(PostgreSQLDDL.qualified(target.schema, t.name)) AS o (\(cols)) SELECT \(cols) FROM \(PostgreSQLDDL.qualified(stagingSchema, t.name)) "
        if columns.isEmpty {
            sql += "ON CONFLICT (\(key)) DO NOTHING"
        } else {
            sql +=
                "ON CONFLICT (\(key)) DO UPDATE SET "
                + columns.map { i in
                    let c = q(t.columns[i].name)
                    return "\(c) = coalesce(excluded.\(c), o.\(c))"
                }.joined(separator: ", ")
        }
        do throws(PostgreSQLError) {
            try db.execute(sql)
        } catch {
            guard error.state == "23503" else { throw error }
            throw SinkError(
                "table \(t.name): a replayed row names a row the output does not hold (a foreign key of the published table); nothing was published",
                isIO: false)
        }
    }

    /// The statements of a replay's publication, inside its transaction.
    private func appendReplay(_ run: RunManifest, _ db: PostgreSQLConnection) throws {
        let q = PostgreSQLDDL.quote
        let schema = target.schema
        let bk = { (table: String) in PostgreSQLDDL.qualified(schema, table) }
        let stage = { (table: String) in PostgreSQLDDL.qualified(self.stagingSchema, table) }
        for t in tablesInReferenceOrder {
            let ti = tables.firstIndex { $0.name == t.name } ?? -1
            guard try holds(schema, t.name, db) else {
                // A table the output lacks: the staged one (keys built) is moved in.
                try db.execute("ALTER TABLE \(stage(t.name)) SET SCHEMA \(q(schema))")
                for i in PostgreSQLDDL.indices(t, schema: schema) { try db.execute(i) }
                continue
            }
            if let columns = replayUpdates[ti], !t.primaryKey.isEmpty {
                // Rows that update published ones (`on_conflict: update`), folded per key in the
                // staging table: merged as the SQLite replay applies them one by one.
                try mergeUpdates(t, columns: columns, db)
                continue
            }
            if !t.primaryKey.isEmpty {
                let on = t.primaryKey.map { "o.\(q($0)) = s.\(q($0))" }.joined(separator: " AND ")
                let cols = t.primaryKey.map { "s.\(q($0))::text" }.joined(separator: ", ")
                if let row = try db.query("SELECT \(cols) FROM \(stage(t.name)) s JOIN \(bk(t.name)) o ON \(on) LIMIT 1").first {
                    duplicateKey = DuplicateKey(
                        table: t.name, columns: t.primaryKey,
                        key: zip(row, t.primaryKey).map { v, name in Self.value(v, type: t.columns[t.columnIndex(named: name) ?? 0].type) })
                    throw SinkError(
                        "table \(t.name): a replayed row has the primary-key value (\(t.primaryKey.joined(separator: ", "))) of a row the output holds (target-pk-duplicate); nothing was published",
                        isIO: false)
                }
            }
            let cols = t.columns.map { q($0.name) }.joined(separator: ", ")
            do throws(PostgreSQLError) {
                try db.execute("INSERT INTO \(bk(t.name)) (\(cols)) SELECT \(cols) FROM \(stage(t.name))")
            } catch {
                guard error.state == "23503" else { throw error }
                throw SinkError(
                    "table \(t.name): a replayed row names a row the output does not hold (a foreign key of the published table); nothing was published",
                    isIO: false)
            }
        }
        for (d, staged) in pendingDerivations {
            try db.execute("DELETE FROM \(bk(d.table)) WHERE observation_period_id IN (SELECT p FROM \(stage(staged)))")
            try db.execute(
                """
                INSERT INTO \(bk(d.table)) (observation_period_id, person_id, observation_period_start_date, observation_period_end_date,
                  period_type_concept_id) SELECT p, p, s, e, \(d.periodTypeConceptID) FROM \(stage(staged))
                """)
        }
        for name in PostgreSQLDDL.lineageTables {
            if try holds(schema, name, db) {
                try db.execute("INSERT INTO \(bk(name)) SELECT * FROM \(stage(name))")
            } else {
                try db.execute("ALTER TABLE \(stage(name)) SET SCHEMA \(q(schema))")
            }
        }
        // The replayed rejects, all still outstanding (a replay publishing meanwhile resolved
        // them otherwise: its rows are in, these would be twice).
        let expected = Int(try db.scalar("SELECT count(*) FROM \(stage(Self.replayedTable))") ?? "0") ?? 0
        let places =
            Int(
                try db.scalar(
                    """
                    SELECT count(*) FROM \(stage(Self.replayedTable)) k WHERE EXISTS (SELECT 1 FROM \(bk("harmonize_reject")) r
                      WHERE r.resolved_by IS NULL AND r.run_id = k.run_id AND r.mapping = k.mapping AND r.file = k.file
                      AND r.record IS NOT DISTINCT FROM k.record AND r.line IS NOT DISTINCT FROM k.line)
                    """) ?? "0") ?? 0
        guard places == expected else {
            throw SinkError(
                "\(expected - places) of the \(expected) replayed rejects are no longer outstanding (another replay published meanwhile); nothing was published",
                isIO: false)
        }
        try db.query(
            """
            UPDATE \(bk("harmonize_reject")) r SET resolved_by = $1 WHERE r.resolved_by IS NULL AND EXISTS (SELECT 1 FROM \(stage(Self.replayedTable)) k
              WHERE r.run_id = k.run_id AND r.mapping = k.mapping AND r.file = k.file AND r.record IS NOT DISTINCT FROM k.record
              AND r.line IS NOT DISTINCT FROM k.line)
            """, [run.runID])
        try db.execute("INSERT INTO \(bk("harmonize_reject")) SELECT * FROM \(stage("harmonize_reject"))")
        try db.execute("INSERT INTO \(bk("harmonize_unmapped")) SELECT * FROM \(stage("harmonize_unmapped"))")
        try Self.storeManifest(run, schema: schema, runSeq: runSeq, inputDirectory: inputDirectory, db)
    }
}
