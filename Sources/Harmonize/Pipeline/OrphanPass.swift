/// Holds back the rows of a run whose person is not in the output (the target model's
/// `orphans:`, `person.person_id` for OMOP), after every mapping has written and before the
/// derived tables and the publication:
///
/// 1. the output database lists the rows of the other tables whose `person_id` names no `person`
///    row (a query over the staging database; only when the run writes `person`);
/// 2. the mappings that wrote those tables run again with lineage into a sink that keeps nothing,
///    which gives each such row its mapping, file, line and record (rows of one table and person
///    are paired in writing order);
/// 3. the rows are deleted (with their lineage rows), and each record that wrote one is counted
///    `rejected` instead of `written` in the ledger (which still balances) with a reject
///    `target-fk-missing` on the column, rule `orphans`, at the record's location.
///
/// The second pass costs a re-read of those mappings' inputs, only when orphans exist.
enum OrphanPass {
    /// Runs the pass; returns the rows removed per table index.
    static func run(
        plans: [MappingPlan], tables: [TargetTable], options: RunOptions, sink: any Sink, manifest: inout RunManifest
    ) throws(RunError) -> [Int: Int] {
        guard options.replay == nil, options.holdsBackOrphans, let rule = plans.first(where: { $0.derivation == nil })?.model.orphans,
            tables.contains(where: { $0.name == rule.table }), let capable = sink as? OrphanCapableSink
        else { return [:] }
        let orphans: [OrphanRow]
        do {
            orphans = try capable.orphans(rule)
        } catch {
            throw RunError(error.isIO ? .io : .configuration, "cannot look for rows without a \(rule.table): \(error.message)")
        }
        guard !orphans.isEmpty else { return [:] }
        // Where each orphan row comes from.
        let orphanTables = Set(orphans.map { tables[$0.table].name })
        // `run --incremental`: the reused mappings' orphans were held back by the output's run
        // (their rejects are taken over); the rows left are those of the mappings that ran.
        let reused = options.incremental?.reused ?? []
        let writers = plans.filter { p in
            p.derivation == nil && !reused.contains(p.id) && p.targets.contains { orphanTables.contains($0.table.name) }
        }
        let wanted = Set(orphans.map { OrphanLocator.Key(table: tables[$0.table].name, reference: $0.reference.description) })
        let locator = OrphanLocator(column: rule.column, wanted: wanted)
        var o = options
        o.recordsLineage = true
        o.replay = nil
        o.incremental = nil
        do {
            _ = try Pipeline(plans: writers, options: o).run(into: locator)
        } catch {
            throw RunError(.io, "cannot locate the rows without a \(rule.table): \(error.message)")
        }
        do {
            try capable.remove(orphans)
        } catch {
            throw RunError(error.isIO ? .io : .configuration, "cannot hold back the rows without a \(rule.table): \(error.message)")
        }
        // Pair rows with origins, in writing order per (table, person).
        var queues = locator.origins
        var removed: [Int: Int] = [:]
        var records: [String: (origin: OrphanLocator.Origin, table: String)] = [:]
        for row in orphans.sorted(by: { $0.rowid < $1.rowid }) {
            removed[row.table, default: 0] += 1
            let key = OrphanLocator.Key(table: tables[row.table].name, reference: row.reference.description)
            guard var q = queues[key], !q.isEmpty else { continue }
            let origin = q.removeFirst()
            queues[key] = q
            records["\(origin.mapping)\u{1F}\(origin.file)\u{1F}\(origin.record)\u{1F}\(origin.line ?? 0)\u{1F}\(origin.groupStage)"] = (
                origin, key.table
            )
        }
        var rejects: [RunReject] = []
        for (_, entry) in records.sorted(by: { $0.key < $1.key }) {
            let origin = entry.origin
            guard
                let li = manifest.ledger.firstIndex(where: {
                    $0.mapping == origin.mapping && $0.file == origin.file && ($0.groupStage == true) == origin.groupStage
                }) ?? manifest.ledger.firstIndex(where: { $0.mapping == origin.mapping && $0.groupStage == true }),
                manifest.ledger[li].written > 0
            else { continue }
            manifest.ledger[li].written -= 1
            manifest.ledger[li].rejected += 1
            let mi = manifest.mappings.firstIndex { $0.id == origin.mapping } ?? 0
            let fi = manifest.inputs.firstIndex { $0.path == origin.file } ?? 0
            rejects.append(
                RunReject(
                    reject: Reject(
                        reason: .targetForeignKeyMissing,
                        location: SourceLocation(file: origin.file, line: origin.line, record: origin.record),
                        field: rule.column, mapping: origin.mapping, rule: "orphans",
                        message: "\(entry.table).\(rule.column) names no row of \(rule.table) in this output: the row is held back"),
                    mapping: Int32(mi), file: Int32(fi)))
        }
        do {
            if !rejects.isEmpty { try sink.writeRejects(rejects) }
        } catch {
            throw RunError(.io, error.message)
        }
        return removed
    }
}

/// The sink of `OrphanPass`'s second pass: notes the origin of the rows whose referencing column
/// has one of the wanted values, per table, in writing order; keeps nothing else.
final class OrphanLocator: Sink {
    struct Key: Hashable {
        var table: String
        var reference: String
    }

    struct Origin {
        var mapping: String
        var file: String
        var line: Int?
        var record: Int
        var groupStage: Bool
    }

    private let column: String
    private let wanted: Set<Key>
    private var tables: [TargetTable] = []
    private var columnIndex: [Int?] = []
    private var found: [Key: [RowLineage]] = [:]
    private var groupMappings: Set<Int32> = []
    private(set) var origins: [Key: [Origin]] = [:]

    init(column: String, wanted: Set<Key>) {
        self.column = column
        self.wanted = wanted
    }

    func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {
        self.tables = tables
        columnIndex = tables.map { $0.columnIndex(named: column) }
    }

    func write(_ batch: RowBatch) throws(SinkError) {
        guard batch.table < columnIndex.count, let c = columnIndex[batch.table] else { return }
        if case .update = batch.conflict { return }
        let n = batch.columnCount
        let name = tables[batch.table].name
        for r in 0..<batch.rowCount where r < batch.lineage.count {
            let key = Key(table: name, reference: batch.values[r * n + c].description)
            guard wanted.contains(key) else { continue }
            found[key, default: []].append(batch.lineage[r])
        }
    }

    func writeRejects(_ rejects: [RunReject]) throws(SinkError) {}

    func finish(run: RunManifest) throws(SinkError) {
        // A mapping with `group:` has a group-stage ledger line: its rows come from groups.
        let grouped = Set(run.ledger.filter { $0.groupStage == true }.map(\.mapping))
        for (key, rows) in found {
            origins[key] = rows.map { l in
                let mapping = Int(l.mapping) < run.mappings.count ? run.mappings[Int(l.mapping)].id : ""
                return Origin(
                    mapping: mapping, file: Int(l.file) < run.inputs.count ? run.inputs[Int(l.file)].path : "",
                    line: l.line > 0 ? l.line : nil, record: l.record, groupStage: grouped.contains(mapping))
            }
        }
    }

    func abort() {}

    var supportsUpdates: Bool { true }
}
