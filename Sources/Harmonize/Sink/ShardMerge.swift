import Crypto
import Foundation

/// `harmonize-run merge`: combines the SQLite outputs of the shards of one run (`run --shard i/N
/// --run-id ID`, one file per shard) into one output equal to the unsplit run.
///
/// Checks first (nothing is written when one fails): every file is the published output of one
/// sharded run (HZ7203); all are of the same run id, shard count, mappings and parameters
/// (HZ7204); each shard `0 ..< N` is given exactly once (HZ7205). Then, in a staging file beside
/// the output (under the output's lock, as a run publishes):
///
/// - the first shard's file is copied, and every other shard's rows are appended to each OMOP
///   table, `harmonize_reject` and `harmonize_lineage` (with their lookup entries renumbered);
///   mapping and file ids agree between shards (same plans, same inputs in the same order);
/// - the unmapped codes are summed per mapping, vocabulary and code;
/// - the books are written again from one merged manifest: per mapping and file, every count is
///   summed and `read` is the records the shards kept (their `read` less `otherShard`), so the
///   ledger is that of the unsplit run; rows per table summed; join statistics summed when the
///   shards read different files (`split`), else the first shard's (every shard read the whole
///   input); `mergedShards` lists the files merged. The primary keys are checked by the unique
///   indexes the copy carries: two shards writing one id stop the merge.
///
/// Data-quality results of the shards are dropped (they describe one shard); `beforePublish`
/// (the CLI's checks) runs on the merged staging file before it is published by rename.
package enum ShardMerge {
    /// The bookkeeping tables written again from the merged manifest.
    static let runTables = [
        "harmonize_run", "harmonize_run_mapping", "harmonize_run_input", "harmonize_run_table", "harmonize_run_rule", "harmonize_ledger",
        "harmonize_vocabulary_usage", "harmonize_run_vocabulary",
    ]
    /// Tables whose rows are not appended table by table (renumbered, summed or rewritten).
    static let special: Set<String> =
        Set(
            runTables + [
                "harmonize_lineage", "harmonize_lineage_entry", "harmonize_lineage_entry_set", "harmonize_unmapped", "harmonize_quality",
            ])

    /// One shard file, read.
    struct ShardFile {
        var path: String
        var manifest: RunManifest
        var inputDirectory: String?
    }

    /// Merges `shards` into `output` (published by atomic rename); returns the merged manifest.
    /// `fileMode`: permissions of the output. `beforePublish`: run on the staging file.
    package static func merge(
        shards paths: [String], output: String, fileMode: Int = 0o600, beforePublish: ((String) throws(SinkError) -> Void)? = nil
    ) throws(RunError) -> RunManifest {
        let files = try paths.map { p throws(RunError) in try read(p) }
        let ordered = try check(files)
        let publication = OutputPublication(outputPath: output)
        let nonce = UInt32.random(in: 0...UInt32.max)
        let staging = OutputPublication.folder(of: output) + "/" + OutputPublication.stagingPrefix(of: output) + String(nonce, radix: 16)
        do throws(SinkError) {
            try publication.acquire()
        } catch {
            throw RunError(.io, error.message, code: error.code ?? .sinkFailed)
        }
        defer { publication.release() }
        publication.removeStaleStagingFiles()
        var merged: RunManifest
        do {
            try OutputPublication.createFile(staging, mode: mode_t(fileMode))
            let source = try FileHandle(forReadingFrom: URL(fileURLWithPath: ordered[0].path))
            defer { source.closeAfterReading() }
            let target = try FileHandle(forWritingTo: URL(fileURLWithPath: staging))
            while let chunk = try source.read(upToCount: 1 << 20), !chunk.isEmpty { try target.write(contentsOf: chunk) }
            try target.close()
            merged = try combine(ordered, into: staging)
        } catch let e as RunError {
            FileOps.remove(staging)
            throw e
        } catch {
            FileOps.remove(staging)
            throw RunError(.io, "merge: cannot write the merged output beside \(output): \(error)", code: .sinkFailed)
        }
        do throws(SinkError) {
            try beforePublish?(staging)
        } catch {
            FileOps.remove(staging)
            throw RunError(error.isIO ? .io : .configuration, error.message, code: error.code ?? .sinkFailed)
        }
        do {
            try publication.publish(staging)
        } catch {
            throw RunError(.io, "merge: cannot publish \(output): \(error)", code: .sinkFailed)
        }
        merged.status = "succeeded"
        return merged
    }

    /// Reads the run row of a shard file.
    static func read(_ path: String) throws(RunError) -> ShardFile {
        let rows: [[Value]]
        do {
            guard FileManager.default.fileExists(atPath: path) else { throw SQLiteError(code: 14, message: "no such file", sql: nil) }
            let db = try SQLiteConnection(path: path, readOnly: true)
            rows = try db.query("SELECT manifest, input_dir FROM harmonize_run")
        } catch {
            throw RunError(
                .configuration, "merge: \(path) is not a Harmonize SQLite output (\(error))", code: .mergeNotAShard,
                location: .init(file: path))
        }
        guard rows.count == 1, case .string(let json) = rows[0][0] else {
            throw RunError(
                .configuration, "merge: \(path) holds \(rows.count) runs; a shard output holds exactly one", code: .mergeNotAShard,
                location: .init(file: path))
        }
        let manifest: RunManifest
        do {
            manifest = try JSONDecoder().decode(RunManifest.self, from: Data(json.utf8))
        } catch {
            throw RunError(.configuration, "merge: the manifest of \(path) cannot be read", code: .mergeNotAShard, location: .init(file: path))
        }
        guard manifest.shard != nil, manifest.status == "succeeded", manifest.kind ?? "run" == "run", manifest.mergedShards == nil else {
            throw RunError(
                .configuration, "merge: \(path) is not the output of one shard of a run (run --shard i/N --run-id ID)", code: .mergeNotAShard,
                location: .init(file: path))
        }
        var directory: String?
        if case .string(let d) = rows[0][1] { directory = d }
        return ShardFile(path: path, manifest: manifest, inputDirectory: directory)
    }

    /// The shard files in shard order, or why they cannot be merged.
    static func check(_ files: [ShardFile]) throws(RunError) -> [ShardFile] {
        guard let first = files.first, let spec = first.manifest.shard else {
            throw RunError(.configuration, "merge: no shard file given", code: .mergeShardsIncomplete)
        }
        for f in files.dropFirst() {
            let m = f.manifest
            var differs: [String] = []
            if m.runID != first.manifest.runID { differs.append("run id") }
            if m.shard?.count != spec.count { differs.append("shard count") }
            if m.mappings != first.manifest.mappings { differs.append("mappings") }
            if comparable(m.parameters) != comparable(first.manifest.parameters) { differs.append("parameters") }
            if m.model != first.manifest.model || m.engineVersion != first.manifest.engineVersion { differs.append("model or engine version") }
            if !differs.isEmpty {
                throw RunError(
                    .configuration,
                    "merge: \(f.path) and \(first.path) are not shards of one run (\(differs.joined(separator: ", ")) differ)",
                    code: .mergeRunsDiffer, location: .init(file: f.path))
            }
        }
        var byIndex: [Int: ShardFile] = [:]
        for f in files {
            let i = f.manifest.shard?.index ?? -1
            if let other = byIndex[i] {
                throw RunError(
                    .configuration, "merge: shard \(i)/\(spec.count) is given twice (\(other.path), \(f.path))", code: .mergeShardsIncomplete,
                    location: .init(file: f.path))
            }
            byIndex[i] = f
        }
        let missing = (0..<spec.count).filter { byIndex[$0] == nil }
        guard missing.isEmpty else {
            throw RunError(
                .configuration,
                "merge: shard\(missing.count == 1 ? "" : "s") \(missing.map { "\($0)/\(spec.count)" }.joined(separator: ", ")) of run \(first.manifest.runID) missing",
                code: .mergeShardsIncomplete)
        }
        return (0..<spec.count).compactMap { byIndex[$0] }
    }

    /// Parameters that must agree between shards: all but when each shard loaded an Athena
    /// vocabulary folder (the content's SHA-256 must agree).
    static func comparable(_ p: [String: String]) -> [String: String] {
        var p = p
        p["vocabulary_loaded_at"] = nil
        return p
    }

    /// Appends shards 1… to the staging copy of shard 0 and rewrites the books; returns the
    /// merged manifest.
    static func combine(_ shards: [ShardFile], into staging: String) throws -> RunManifest {
        let db = try SQLiteConnection(path: staging)
        try db.execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;")
        let names = Set(
            try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { r -> String? in
                if case .string(let s)? = r.first { return s }
                return nil
            })
        let appended = names.filter { !special.contains($0) && !$0.hasPrefix("sqlite_") }.sorted()
        for (k, shard) in shards.enumerated() where k > 0 {
            // ATTACH outside a transaction; each shard's rows in one.
            _ = try db.query("ATTACH DATABASE ? AS s", [.string(shard.path)])
            try db.execute("BEGIN")
            let theirs = Set(
                try db.query("SELECT name FROM s.sqlite_master WHERE type = 'table'").compactMap { r -> String? in
                    if case .string(let s)? = r.first { return s }
                    return nil
                })
            for t in appended where theirs.contains(t) {
                let q = SQLiteDDL.quote(t)
                let columns = try db.query("PRAGMA main.table_info(\(q))").compactMap { r -> String? in
                    if r.count > 1, case .string(let s) = r[1] { return SQLiteDDL.quote(s) }
                    return nil
                }.joined(separator: ", ")
                do throws(SQLiteError) {
                    try db.execute("INSERT INTO main.\(q) (\(columns)) SELECT \(columns) FROM s.\(q)")
                } catch {
                    guard error.code == 19 || error.code == 2067 || error.code == 1555 else { throw error }
                    throw RunError(
                        .configuration,
                        "merge: table \(t): shard \(k) writes a primary-key value another shard wrote (target-pk-duplicate): the shards are not of one run; nothing was published",
                        code: .mergeRunsDiffer, location: .init(file: shard.path))
                }
            }
            if names.contains("harmonize_lineage"), theirs.contains("harmonize_lineage") {
                var entryOffset = 0
                var setOffset = 0
                if names.contains("harmonize_lineage_entry"), theirs.contains("harmonize_lineage_entry") {
                    entryOffset = int(try db.scalar("SELECT coalesce(max(entry_id), 0) FROM main.harmonize_lineage_entry"))
                    setOffset = int(try db.scalar("SELECT coalesce(max(set_id), 0) FROM main.harmonize_lineage_entry_set"))
                    try db.execute(
                        """
                        INSERT INTO main.harmonize_lineage_entry(entry_id, run_seq, column_name, function, vocabulary, code, concept_id, value)
                          SELECT entry_id + \(entryOffset), run_seq, column_name, function, vocabulary, code, concept_id, value FROM s.harmonize_lineage_entry;
                        INSERT INTO main.harmonize_lineage_entry_set(set_id, position, entry_id)
                          SELECT set_id + \(setOffset), position, entry_id + \(entryOffset) FROM s.harmonize_lineage_entry_set;
                        """)
                }
                try db.execute(
                    """
                    INSERT INTO main.harmonize_lineage(table_id, row_id, mapping_id, file_id, line, record, run_seq, lookup_set, target)
                      SELECT table_id, row_id, mapping_id, file_id, line, record, run_seq, lookup_set + \(setOffset), target FROM s.harmonize_lineage
                    """)
            }
            if names.contains("harmonize_unmapped"), theirs.contains("harmonize_unmapped") {
                try db.execute("INSERT INTO main.harmonize_unmapped SELECT * FROM s.harmonize_unmapped")
            }
            try db.execute("COMMIT")
            try db.execute("DETACH DATABASE s")
        }
        try db.execute("BEGIN")
        if names.contains("harmonize_unmapped") {
            try db.execute(
                """
                CREATE TEMP TABLE merged_unmapped AS SELECT run_id, mapping_id, mapping, vocabulary_id, source_code, sum(records) AS records
                  FROM main.harmonize_unmapped GROUP BY run_id, mapping_id, mapping, vocabulary_id, source_code;
                DELETE FROM main.harmonize_unmapped;
                INSERT INTO main.harmonize_unmapped SELECT * FROM temp.merged_unmapped ORDER BY mapping_id, vocabulary_id, records DESC, source_code;
                DROP TABLE temp.merged_unmapped;
                """)
        }
        if names.contains("harmonize_quality") { try db.execute("DELETE FROM main.harmonize_quality") }
        var manifest = try mergedManifest(shards)
        if let usage = manifest.vocabularyUsage, names.contains("harmonize_unmapped") {
            // Distinct unmapped codes over all shards (a code unmapped in two shards counts once).
            manifest.vocabularyUsage = try usage.map { u throws in
                guard !u.truncated else { return u }
                var u = u
                u.distinctUnmapped = int(
                    try db.scalar(
                        "SELECT count(*) FROM main.harmonize_unmapped WHERE mapping = ? AND vocabulary_id = ?",
                        [.string(u.mapping), .string(u.vocabulary)]
                    ))
                return u
            }
        }
        for t in runTables where names.contains(t) { try db.execute("DELETE FROM main.\(SQLiteDDL.quote(t))") }
        try SQLiteDDL.storeManifest(manifest, runSeq: 1, inputDirectory: shards[0].inputDirectory, in: db)
        try db.execute("COMMIT")
        try db.execute("PRAGMA locking_mode=NORMAL; PRAGMA journal_mode=DELETE;")
        return manifest
    }

    /// The manifest of the unsplit run, from the shards' (in shard order).
    static func mergedManifest(_ shards: [ShardFile]) throws -> RunManifest {
        let files = try shards.map { f in (file: (f.path as NSString).lastPathComponent, sha256: try sha256(of: f.path)) }
        return mergedManifest(shards.map(\.manifest), files: files)
    }

    /// The manifest of the unsplit run from the shards' manifests (in shard order), each shard
    /// named in `mergedShards` by `files` (a file name or a ledger row, and its SHA-256).
    static func mergedManifest(_ manifests: [RunManifest], files: [(file: String, sha256: String)]) -> RunManifest {
        var m = manifests[0]
        m.shard = nil
        m.startedAt = manifests.map(\.startedAt).min() ?? m.startedAt
        m.finishedAt = manifests.map(\.finishedAt).max() ?? m.finishedAt
        // Same inputs in every shard (run --shard on the whole input), or split inputs (summed).
        let sameInputs = manifests.allSatisfy { $0.inputs == manifests[0].inputs }
        if !sameInputs {
            m.inputs = manifests[0].inputs.map { e in
                var e = e
                let all = manifests.compactMap { m in m.inputs.first { $0.path == e.path } }
                e.bytes = all.reduce(0) { $0 + $1.bytes }
                e.records = all.reduce(0) { $0 + $1.records }
                e.sha256 = ""  // one file per shard: their hashes are in the shard files
                return e
            }
        }
        m.ledger = manifests[0].ledger.map { first in
            var e = first
            let all = manifests.compactMap { m in
                m.ledger.first { $0.mapping == first.mapping && $0.file == first.file && $0.groupStage == first.groupStage }
            }
            e.read = all.reduce(0) { $0 + $1.read - ($1.otherShard ?? 0) }
            e.written = all.reduce(0) { $0 + $1.written }
            e.rejected = all.reduce(0) { $0 + $1.rejected }
            e.filtered = all.reduce(0) { $0 + $1.filtered }
            e.excluded = all.reduce(0) { $0 + $1.excluded }
            e.grouped = all.reduce(0) { $0 + $1.grouped }
            if first.duplicate != nil { e.duplicate = all.reduce(0) { $0 + ($1.duplicate ?? 0) } }
            e.otherShard = nil
            return e
        }
        // Duplicates are counted by shard 0 only (`RecordStages`): its lists are the run's.
        let duplicateLists = manifests.compactMap(\.duplicates).flatMap { $0 }
        m.duplicates = duplicateLists.isEmpty ? manifests[0].duplicates : duplicateLists
        m.tables = manifests[0].tables.map { first in
            var t = first
            let all = manifests.compactMap { m in m.tables.first { $0.table == first.table } }
            t.rows = all.reduce(0) { $0 + $1.rows }
            if first.updated != nil { t.updated = all.reduce(0) { $0 + ($1.updated ?? 0) } }
            return t
        }
        if !sameInputs {
            m.joins = manifests[0].joins.map { first in
                var j = first
                let all = manifests.compactMap { m in m.joins.first { $0.mapping == first.mapping && $0.join == first.join } }
                j.read = all.reduce(0) { $0 + $1.read }
                j.indexed = all.reduce(0) { $0 + $1.indexed }
                j.rejected = all.reduce(0) { $0 + $1.rejected }
                j.filtered = all.reduce(0) { $0 + $1.filtered }
                j.nullKeys = all.reduce(0) { $0 + $1.nullKeys }
                j.ambiguousKeys = all.reduce(0) { $0 + $1.ambiguousKeys }
                j.spilled = all.contains { $0.spilled }
                j.matched = all.reduce(0) { $0 + $1.matched }
                j.missing = all.reduce(0) { $0 + $1.missing }
                return j
            }
        }
        if manifests[0].vocabularyUsage != nil {
            // Every mapping and vocabulary some shard used (a shard may look nothing up in one),
            // in the order of an unsplit run: by mapping, then vocabulary.
            var keys: [(mapping: String, vocabulary: String)] = []
            for sm in manifests {
                for u in sm.vocabularyUsage ?? [] where !keys.contains(where: { $0 == (u.mapping, u.vocabulary) }) {
                    keys.append((u.mapping, u.vocabulary))
                }
            }
            let position = Dictionary(m.mappings.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
            keys.sort { (position[$0.mapping] ?? Int.max, $0.vocabulary) < (position[$1.mapping] ?? Int.max, $1.vocabulary) }
            m.vocabularyUsage = keys.compactMap { key in
                let all = manifests.compactMap { m in m.vocabularyUsage?.first { $0.mapping == key.mapping && $0.vocabulary == key.vocabulary } }
                guard var u = all.first else { return nil }
                u.lookups = all.reduce(0) { $0 + $1.lookups }
                u.mapped = all.reduce(0) { $0 + $1.mapped }
                u.distinctUnmapped = all.reduce(0) { $0 + $1.distinctUnmapped }
                u.truncated = all.contains { $0.truncated }
                return u
            }
        }
        if manifests[0].parameters["exclude_check"] != nil {
            let checked = manifests.reduce(0) { n, m in
                n + (m.parameters["exclude_check"].flatMap { c in Int(c.split(separator: " ").dropFirst().first ?? "") } ?? 0)
            }
            m.parameters["exclude_check"] = "passed: \(checked) rows checked, 0 on the list"
        }
        m.mergedShards = zip(files, manifests).compactMap { f, sm in
            guard let spec = sm.shard else { return nil }  // checked by `read`
            return RunManifest.MergedShard(shard: spec, file: f.file, sha256: f.sha256, records: sm.readCount - sm.otherShardCount)
        }
        return m
    }

    /// SHA-256 of a file's bytes (hex), read in chunks.
    static func sha256(of path: String) throws -> String {
        let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { h.closeAfterReading() }
        var hasher = SHA256()
        while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return Hex.string(Array(hasher.finalize()))
    }

    private static func int(_ v: Value) -> Int {
        if case .int(let i) = v { return i }
        return 0
    }
}
