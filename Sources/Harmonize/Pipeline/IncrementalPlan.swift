import Crypto
import Foundation

/// The decision of `run --incremental` before anything is written: which mappings run again and
/// why, and the output run whose rows the others keep. Made by `IncrementalPlan.make`.
package struct IncrementalPlan: Sendable {
    /// The output the run starts from.
    public var outputPath: String
    /// The run that wrote it (nil: every mapping runs, see `summary`).
    public var baseRunID: String?
    /// That run's manifest.
    public var baseManifest: RunManifest?
    /// Ids of the mappings whose rows are taken over.
    public var reused: Set<String>
    /// The summary stored in the manifest and printed.
    public var summary: IncrementalSummary
    /// Whether the base output holds row lineage: rows are then taken over per mapping; without
    /// it, per table (a table is taken over when every mapping writing it is).
    public var byLineage: Bool

    /// Whether nothing needs to run again: the output is up to date.
    public var isUpToDate: Bool { baseRunID != nil && summary.rerun.isEmpty }

    /// A plan that runs every mapping, for `reason`.
    static func full(_ plans: [MappingPlan], outputPath: String, reason: String) -> IncrementalPlan {
        IncrementalPlan(
            outputPath: outputPath, baseRunID: nil, baseManifest: nil, reused: [],
            summary: IncrementalSummary(
                base: nil, rerun: plans.filter { $0.derivation == nil }.map { .init(mapping: $0.id, reasons: [reason]) }, reused: []),
            byLineage: false)
    }

    /// Compares the fingerprints of `plans` under `options` with those recorded by the run that
    /// wrote the SQLite output at `outputPath`, and closes the set of mappings to run again over
    /// what their rows share:
    /// - a table some mapping updates (`on_conflict: update`): its rows mix mappings, so every
    ///   mapping writing it runs again with any of them;
    /// - `person`, when orphans are held back: every table's rows are checked against it, so a
    ///   mapping writing persons runs every mapping again;
    /// - without row lineage in the output: a table written by a mapping that runs again.
    /// Every input file of every mapping is read once to hash it. An output that does not exist,
    /// cannot be read, was written by several runs (replays, remaps), by shards or by a version
    /// that records no fingerprints: every mapping runs, and the reason says so.
    package static func make(plans: [MappingPlan], options: RunOptions, outputPath: String) throws(RunError) -> IncrementalPlan {
        guard FileManager.default.fileExists(atPath: outputPath) else {
            return full(plans, outputPath: outputPath, reason: "the output does not exist yet")
        }
        let base: (runID: String, manifest: RunManifest)
        switch readBase(outputPath) {
        case .failure(let reason): return full(plans, outputPath: outputPath, reason: reason)
        case .success(let b): base = b
        }
        // Nothing outside the input folder is read, not even to hash it (as the run checks).
        try PathContainment.verify(plans: plans, inputDirectory: options.inputDirectory)
        guard let recorded = base.manifest.fingerprints else {
            return full(plans, outputPath: outputPath, reason: "the output's run records no fingerprints (written by an older version)")
        }
        let byMapping = Dictionary(recorded.map { ($0.mapping, $0) }, uniquingKeysWith: { a, _ in a })
        var hashes: [String: String] = [:]
        var reasons: [String: [String]] = [:]
        let runnable = plans.filter { $0.derivation == nil }
        let vocabulary = try currentVocabulary(options)
        for p in runnable {
            let files = try Self.inputFiles(of: p, inputDirectory: options.inputDirectory)
            for f in files where hashes[f] == nil {
                let path = options.inputDirectory + "/" + f
                do throws(SourceIOError) {
                    // A FIFO or a device is refused as the run refuses it, before it is opened.
                    try FileIdentity.requireRegularFile(path)
                } catch {
                    throw RunError(.io, error.description, code: error.code ?? .inputMissing, location: .init(file: f))
                }
                do {
                    hashes[f] = try ShardMerge.sha256(of: path)
                } catch {
                    throw RunError(
                        .io, "cannot read input \(f) to compare it with the output's run: \(error)", code: .inputMissing, location: .init(file: f))
                }
            }
            let now = try fingerprint(
                of: p, inputs: Dictionary(uniqueKeysWithValues: files.map { ($0, hashes[$0] ?? "") }), options: options, vocabularies: vocabulary)
            guard let old = byMapping[p.id] else {
                reasons[p.id] = ["new mapping: the output holds no rows of it"]
                continue
            }
            let why = differences(old, now)
            if !why.isEmpty { reasons[p.id] = why }
        }
        // Closure over what rows share.
        let byLineage = options.recordsLineage
        var changed = true
        while changed {
            changed = false
            let running = runnable.filter { reasons[$0.id] != nil }
            for p in runnable where reasons[p.id] == nil {
                var why: [String] = []
                let tables = Set(p.targets.map(\.table.name))
                for r in running {
                    let shared = tables.intersection(r.targets.map(\.table.name)).sorted()
                    for t in shared where runnable.contains(where: { q in q.targets.contains { $0.table.name == t && $0.conflict.updates } }) {
                        why.append("shares table \(t), whose rows a mapping updates (on_conflict: update), with \(r.id), which runs again")
                    }
                    if !byLineage, let t = shared.first {
                        why.append("shares table \(t) with \(r.id), which runs again (the output has no row lineage to tell their rows apart)")
                    } else if let t = shared.first(where: { t in !takesRowsOver(t, in: runnable) }) {
                        why.append("shares table \(t), whose rows have no key column for their lineage, with \(r.id), which runs again")
                    }
                    if options.holdsBackOrphans, r.targets.contains(where: { $0.table.name == "person" }) {
                        why.append("\(r.id) writes person again: the rows of every table are checked against it (orphans)")
                    }
                }
                if !why.isEmpty {
                    reasons[p.id] = why
                    changed = true
                }
            }
        }
        let rerun = runnable.compactMap { p in reasons[p.id].map { IncrementalSummary.Decision(mapping: p.id, reasons: $0) } }
        let reused = runnable.filter { reasons[$0.id] == nil }.map(\.id)
        return IncrementalPlan(
            outputPath: outputPath, baseRunID: base.runID, baseManifest: base.manifest, reused: Set(reused),
            summary: IncrementalSummary(base: base.runID, rerun: rerun, reused: reused), byLineage: byLineage)
    }

    /// Whether rows of `table` can be taken over per mapping: its rows' lineage names them by a key
    /// column (`TargetTable.lineageKeyColumn`); else the table is taken over whole or not at all.
    static func takesRowsOver(_ table: String, in plans: [MappingPlan]) -> Bool {
        plans.lazy.flatMap(\.targets).first { $0.table.name == table }?.table.lineageKeyColumn != nil
    }

    /// The run that wrote the output, when it is the only one and fit to start from; else why not.
    private static func readBase(_ path: String) -> Result<(runID: String, manifest: RunManifest), BaseRefusal> {
        let rows: [[Value]]
        do {
            let db = try SQLiteConnection(path: path, readOnly: true)
            rows = try db.query("SELECT run_id, kind, status, manifest FROM harmonize_run")
        } catch {
            return .failure(BaseRefusal("the output cannot be read as a Harmonize SQLite output"))
        }
        guard rows.count == 1, let row = rows.first, row.count == 4, let runID = row[0].text, let json = row[3].text else {
            return .failure(
                BaseRefusal(
                    rows.isEmpty ? "the output records no run" : "the output holds \(rows.count) runs (replays or remaps since its run)"))
        }
        guard row[1].text == nil || row[1].text == "run", row[2].text == "succeeded" else {
            return .failure(BaseRefusal("the output's run is of kind \(row[1].text ?? "run"), status \(row[2].text ?? "unknown")"))
        }
        guard let manifest = try? JSONDecoder().decode(RunManifest.self, from: Data(json.utf8)) else {
            return .failure(BaseRefusal("the output's run manifest cannot be read"))
        }
        guard manifest.shard == nil, manifest.mergedShards == nil else {
            return .failure(BaseRefusal("the output was written by shards"))
        }
        return .success((runID, manifest))
    }

    /// Why the output cannot be started from (every mapping runs).
    private struct BaseRefusal: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    private static func full(_ plans: [MappingPlan], outputPath: String, reason: BaseRefusal) -> IncrementalPlan {
        full(plans, outputPath: outputPath, reason: reason.reason)
    }

    /// The reasons a mapping runs again: what differs between its recorded and current fingerprints.
    static func differences(_ old: MappingFingerprint, _ now: MappingFingerprint) -> [String] {
        var out: [String] = []
        if old.definition != now.definition { out.append("its mapping file, schema or shipped lookup files changed") }
        for f in now.inputs.keys.sorted() {
            if let was = old.inputs[f] {
                if was != now.inputs[f] { out.append("input \(f) changed") }
            } else {
                out.append("input \(f) is new")
            }
        }
        for f in old.inputs.keys.sorted() where now.inputs[f] == nil { out.append("input \(f) is gone") }
        if old.vocabulary != now.vocabulary { out.append("the vocabulary release changed") }
        for k in Set(old.settings.keys).union(now.settings.keys).sorted() where old.settings[k] != now.settings[k] {
            out.append("setting \(k) changed")
        }
        return out
    }

    /// The files a mapping reads, relative to the input folder: its own, its joins', its
    /// `input:` lookups'; sorted, each once.
    static func inputFiles(of plan: MappingPlan, inputDirectory: String) throws(RunError) -> [String] {
        var files = Set(InputFiles.match(plan.spec.source.files.text, under: inputDirectory))
        for j in plan.joins { files.formUnion(InputFiles.match(j.spec.files.text, under: inputDirectory)) }
        for l in plan.lookups where l.spec.relativeToInput { files.insert(l.spec.path.text) }
        return files.sorted()
    }

    /// The vocabulary release of the run's store (`None` version and `CONCEPT.csv` SHA-256), or
    /// `none`.
    static func currentVocabulary(_ options: RunOptions) throws(RunError) -> String {
        guard let store = options.vocabulary else { return "none" }
        do {
            let release = try store.versions(of: []).first { $0.id == "None" }?.version ?? ""
            return release + " " + (try store.provenance().conceptSHA256)
        } catch {
            throw RunError(error.kind == .io ? .io : .configuration, error.message, code: .vocabularyStoreUnreadable)
        }
    }

    /// A mapping's fingerprint under `options`, given the SHA-256 of the files it reads.
    static func fingerprint(of plan: MappingPlan, inputs: [String: String], options: RunOptions, vocabularies: String) throws(RunError)
        -> MappingFingerprint
    {
        var lines = ["mapping \(plan.spec.contentHash)"]
        let directory = MappingPlanner.directory(of: plan.spec.file)
        var shipped: [(String, String)] = []
        for case .file(let p) in [plan.spec.source.schema] + plan.joins.map(\.spec.schema) { shipped.append(("schema", p.text)) }
        for l in plan.lookups where !l.spec.relativeToInput { shipped.append(("lookup", l.spec.path.text)) }
        for (kind, path) in shipped {
            let hash = (try? ShardMerge.sha256(of: MappingPlanner.resolve(path, against: directory))) ?? "unreadable"
            lines.append("\(kind) \(path) \(hash)")
        }
        let definition = Hex.string(Array(SHA256.hash(data: Array(lines.joined(separator: "\n").utf8))))
        var settings = [
            "engine": options.engineVersion, "model": "\(plan.model.name) \(plan.model.version)",
            "key": options.key?.fingerprint ?? "none", "project": options.key?.project ?? "", "lineage": options.recordsLineage ? "on" : "off",
            "orphans": options.holdsBackOrphans ? "held back" : "kept", "shard": options.shard?.description ?? "none",
            "date_shift_days": String(options.dateShiftDays), "objections": options.exclusion?.sha256 ?? "none",
        ]
        if let profile = options.parameters["profile_sha256"] { settings["profile"] = profile }
        return MappingFingerprint(
            mapping: plan.id, definition: definition, inputs: inputs,
            vocabulary: plan.calls(anyOf: FunctionRegistry.vocabularyFunctionNames) ? vocabularies : nil, settings: settings)
    }
}
