import Foundation

/// Options of a run that are not part of the mappings.
public struct RunOptions: Sendable {
    /// The folder that mappings' `files:` patterns are relative to.
    public var inputDirectory: String
    /// Store one lineage row per output row.
    public var recordsLineage: Bool
    /// Rows per batch handed to the sink.
    public var batchRows: Int
    /// Parameters recorded in the manifest (never secrets).
    public var parameters: [String: String]
    /// The engine version recorded in the manifest.
    public var engineVersion: String
    /// The run id to use (a lower-case UUID); a fresh one when nil. Lets a caller announce the
    /// run (OpenLineage START) before it starts.
    public var runID: String? = nil
    /// Persons who objected: records whose subject is on the list are excluded, and the run fails
    /// (nothing published) if a written row still belongs to one of them. Every mapping must
    /// declare `source: subject:`.
    public var exclusion: ExclusionList? = nil
    /// A replay: only these records of these mappings and files are read again (`harmonize-run
    /// replay`); the manifest's kind is `replay`. Nil for a full run.
    public var replay: ReplaySelection? = nil
    /// Whether rows whose person is not in the output are held back (the model's `orphans:`;
    /// `run --keep-orphans` sets false). See `OrphanPass`.
    public var holdsBackOrphans = true
    /// The vocabulary store the mappings' vocabulary functions were compiled with: the run counts
    /// unmapped codes in its `usage` and records the vocabulary versions in the manifest.
    public var vocabulary: VocabularyStore? = nil
    /// The run's memory budget in bytes (`--memory-budget`; 256 MiB by default): the engine keeps
    /// `engineReserve` of it, and a mapping's join indexes and grouping share the rest; past their
    /// share they move to disk.
    public var memoryBudget: Int = 256 << 20
    /// Where on-disk join indexes and grouping partial results go (removed at the end of each
    /// mapping); the system's temporary folder when nil.
    public var spillDirectory: String? = nil
    /// The pseudonymisation key of the run (`pseudonym`, `pseudonym_int`, `date_shift`): a run
    /// of plans that call them without one stops before reading any record. Plans never hold a
    /// key, so one plan can run under different keys.
    public var key: PseudonymKey? = nil
    /// The largest `date_shift` in days (0: plans calling `date_shift` cannot run).
    public var dateShiftDays: Int = 0
    /// The shard of the run this process does (`run --shard i/N`); nil for the whole run.
    public var shard: ShardSpec? = nil

    /// Creates options.
    public init(
        inputDirectory: String, recordsLineage: Bool = false, batchRows: Int = 2048, parameters: [String: String] = [:],
        engineVersion: String = HarmonizeVersion.current
    ) {
        self.inputDirectory = inputDirectory
        self.recordsLineage = recordsLineage
        self.batchRows = batchRows
        self.parameters = parameters
        self.engineVersion = engineVersion
    }
}

/// Progress of a run, reported from the mapping thread.
public struct RunProgress: Sendable {
    /// The mapping being run.
    public var mapping: String
    /// The file being read.
    public var file: String
    /// Records read so far in the run.
    public var records: Int
    /// Bytes read so far in the run.
    public var bytesRead: Int64
    /// Total bytes of the run's inputs (counted once per mapping that reads them).
    public var bytesTotal: Int64
}

/// Runs mappings over the files of an input folder into a sink: reads each file once per mapping,
/// maps records on the calling thread, hands batches to the sink, keeps the ledger, and publishes
/// only when everything succeeded.
public final class Pipeline {
    /// The plans, in run order.
    public let plans: [MappingPlan]
    /// The options.
    public let options: RunOptions
    /// Called now and then with progress (on the calling thread).
    public var onProgress: ((RunProgress) -> Void)?

    /// Creates a pipeline.
    public init(plans: [MappingPlan], options: RunOptions) {
        self.plans = plans
        self.options = options
    }

    /// The tables the plans write, in first-use order; fails when two models disagree on a table.
    public func outputTables() throws(RunError) -> [TargetTable] {
        var tables: [TargetTable] = []
        for p in plans {
            for t in p.targets {
                if let existing = tables.first(where: { $0.name == t.table.name }) {
                    if existing != t.table {
                        throw RunError(
                            .configuration, "two mappings write table \(t.table.name) with different definitions (different target models?)",
                            code: .tableDefinitionsDiffer)
                    }
                } else {
                    tables.append(t.table)
                }
            }
        }
        return tables
    }

    /// Runs every plan; returns the manifest of the published run.
    /// - Throws: `RunError`; the sink is aborted and the previous output stays untouched.
    public func run(into sink: any Sink) throws(RunError) -> RunManifest {
        let started = Self.timestamp()
        var manifest = RunManifest(
            runID: options.runID ?? UUID().uuidString.lowercased(), engineVersion: options.engineVersion, startedAt: started, finishedAt: "",
            status: "running", model: plans.first.map { "\($0.model.name) \($0.model.version)" } ?? "", parameters: options.parameters,
            mappings: plans.map {
                .init(
                    id: $0.spec.id, version: $0.spec.version, sha256: $0.spec.contentHash, file: $0.spec.file, targets: $0.targets.map(\.table.name),
                    columnLineage: ColumnLineage.derive(from: $0), source: Self.sourceEntry($0))
            },
            inputs: [], ledger: [], tables: [], kind: options.replay == nil ? "run" : "replay", replayOf: options.replay?.replayOf)
        manifest.shard = options.shard
        // A split run (N > 1): each mapping keeps the records of its shard (ShardAssignment).
        let splitShard = options.shard.flatMap { $0.count > 1 ? $0 : nil }
        // Everything that can be checked before reading: one error with every problem.
        let problems = Preflight.check(plans, options: options, sinkSupportsUpdates: sink.supportsUpdates)
        if problems.contains(where: { $0.severity == .error }) {
            throw RunError(
                .configuration, "the run cannot start: \(problems.count) problem\(problems.count == 1 ? "" : "s") found before reading any data",
                diagnostics: problems, code: .preflightFailed)
        }
        let tables = try outputTables()
        let context = RunContext(options: options)
        if let store = options.vocabulary {
            do {
                manifest.vocabularies = try store.versions(of: store.referencedVocabularies)
                let provenance = try store.provenance()
                manifest.parameters["vocabulary_loaded_at"] = provenance.loadedAt
                manifest.parameters["vocabulary_concept_sha256"] = provenance.conceptSHA256
            } catch {
                throw RunError(error.kind == .io ? .io : .configuration, error.message, code: .vocabularyStoreUnreadable)
            }
        }
        var audit: ExclusionAudit?
        if let exclusion = options.exclusion {
            manifest.parameters["exclude_sha256"] = exclusion.sha256
            manifest.parameters["exclude_entries"] = String(exclusion.count)
            audit = ExclusionAudit(list: exclusion, tables: tables)
        }
        if let key = options.key {
            manifest.parameters["key_fingerprint"] = key.fingerprint
            if options.dateShiftDays > 0 { manifest.parameters["date_shift_days"] = String(options.dateShiftDays) }
        }
        try PathContainment.verify(plans: plans, inputDirectory: options.inputDirectory)
        // Resolve files and load lookups before opening the sink.
        var filesPerPlan: [[String]] = []
        var boundPlans: [BoundCallSites] = []
        var totalBytes: Int64 = 0
        for p in plans {
            if p.derivation != nil {
                filesPerPlan.append([])
                boundPlans.append(.empty())
                continue
            }
            for j in p.joins where InputFiles.match(j.spec.files.text, under: options.inputDirectory).isEmpty {
                throw RunError(
                    .io, "\(p.spec.file): no file under \(options.inputDirectory) matches '\(j.spec.files.text)' (join \(j.name) of mapping \(p.id))",
                    code: .inputMissing)
            }
            var files = InputFiles.match(p.spec.source.files.text, under: options.inputDirectory)
            if let replay = options.replay {
                // A replay reads again only the files holding the selected records.
                let wanted = (replay.records[p.id] ?? [:]).keys.sorted()
                if let missing = wanted.first(where: { !FileManager.default.fileExists(atPath: options.inputDirectory + "/" + $0) }) {
                    throw RunError(
                        .io, "replay: input file \(missing) (mapping \(p.id)) not found under \(options.inputDirectory)", code: .inputMissing)
                }
                files = wanted
            }
            if files.isEmpty && options.replay == nil {
                throw RunError(
                    .io, "\(p.spec.file): no file under \(options.inputDirectory) matches '\(p.spec.source.files.text)' (mapping \(p.id))",
                    code: .inputMissing)
            }
            for f in files {
                let attrs = try? FileManager.default.attributesOfItem(atPath: options.inputDirectory + "/" + f)
                totalBytes += (attrs?[.size] as? NSNumber)?.int64Value ?? 0
            }
            filesPerPlan.append(files)
            boundPlans.append(try context.bind(p, inputDirectory: options.inputDirectory))
        }
        do {
            try sink.open(tables: tables, run: manifest)
        } catch {
            throw RunError(
                error.isIO ? .io : .configuration, error.message, code: error.code ?? (error.isIO ? .sinkFailed : .runConfiguration), cause: error)
        }
        var rowsPerTable = [Int](repeating: 0, count: tables.count)
        var fileIndex: [String: Int32] = [:]
        var bytesDone: Int64 = 0
        var recordsDone = 0
        var forbiddenPersonIDs: Set<Int> = []
        // With an exclusion list, every batch is audited on its way to the sink.
        let write: (RowBatch) throws(SinkError) -> Void
        if let audit {
            write = { b throws(SinkError) in
                audit.observe(b)
                try sink.write(b)
            }
        } else {
            write = { b throws(SinkError) in try sink.write(b) }
        }
        let spillDirectory = options.spillDirectory ?? NSTemporaryDirectory()
        let inputs = InputWatch()
        /// Opens an input file for reading, interning it (and hashing it the first time it is read).
        func open(_ file: String, spec: SourceSpec, dialect: Dialect) throws(RunError) -> (
            reader: any RecordReader, fid: Int32, hashing: HashingByteSource?
        ) {
            let path = options.inputDirectory + "/" + file
            let source: any ByteSource = try inputs.open(path, name: file)
            let hashing = fileIndex[file] == nil ? HashingByteSource(source) : nil
            let reader = try ReaderFactory.makeReader(spec: spec, dialect: dialect, source: hashing ?? source, displayName: file)
            let fid: Int32
            if let known = fileIndex[file] {
                fid = known
            } else {
                fid = Int32(manifest.inputs.count)
                fileIndex[file] = fid
                manifest.inputs.append(.init(path: file, sha256: "", bytes: 0, records: 0))
            }
            return (reader, fid, hashing)
        }
        do throws(RunError) {
            for (pi, plan) in plans.enumerated() where plan.derivation == nil {
                let tableIndices = plan.targets.map { t in tables.firstIndex { $0.name == t.table.name } ?? 0 }
                let executor = MappingExecutor(
                    plan: plan, mappingIndex: Int32(pi), tableIndices: tableIndices, batchRows: options.batchRows,
                    recordsLineage: options.recordsLineage, emit: ConflictTagging.emit(plan: plan, tableIndices: tableIndices, write: write),
                    emitRejects: { r throws(SinkError) in try sink.writeRejects(r) }, exclusion: options.exclusion,
                    vocabularyUsage: plan.calls(anyOf: FunctionRegistry.vocabularyFunctionNames) ? context.vocabularyUsage : nil,
                    callSites: boundPlans[pi], sharding: splitShard.map { ShardAssignment(shard: $0, key: options.key) })
                var pendingRejects: [RunReject] = []
                var hashes: [(fid: Int32, hashing: HashingByteSource, reader: any RecordReader)] = []
                let ledgers = try Self.runPlan(
                    plan, executor: executor, budget: options.memoryBudget, spillDirectory: spillDirectory,
                    files: filesPerPlan[pi],
                    openSource: { file throws(RunError) in
                        let o = try open(file, spec: plan.spec.source, dialect: plan.dialect)
                        if let h = o.hashing { hashes.append((o.fid, h, o.reader)) }
                        if let replay = options.replay {
                            // A replay maps only the selected records (the whole file is still read and hashed).
                            return (ReaderSelection.select(o.reader, keys: replay.records[plan.id]?[file] ?? []), o.fid)
                        }
                        return (o.reader, o.fid)
                    },
                    openJoin: { (join: PlannedJoin) throws(RunError) in
                        var inputs: [PlannedJoin.Input] = []
                        for f in InputFiles.match(join.spec.files.text, under: options.inputDirectory) {
                            let o = try open(f, spec: join.sourceSpec, dialect: join.dialect)
                            if let h = o.hashing { hashes.append((o.fid, h, o.reader)) }
                            inputs.append(.init(reader: o.reader, fileIndex: o.fid, displayName: f))
                        }
                        return inputs
                    },
                    fileName: { fid in manifest.inputs[Int(fid)].path },
                    joinReject: { r, fid in
                        // Every shard indexes the whole joined file: shard 0 records its rejects.
                        guard splitShard.map({ $0.index == 0 }) ?? true else { return }
                        pendingRejects.append(RunReject(reject: r, mapping: Int32(pi), file: fid))
                    },
                    flushJoinRejects: { () throws(RunError) in
                        guard !pendingRejects.isEmpty else { return }
                        do throws(SinkError) {
                            try sink.writeRejects(pendingRejects)
                        } catch {
                            throw RunError(.io, error.message)
                        }
                        pendingRejects = []
                    },
                    progress: { file, bytes in
                        self.onProgress?(
                            RunProgress(mapping: plan.id, file: file, records: recordsDone, bytesRead: bytesDone + bytes, bytesTotal: totalBytes))
                    },
                    finishedFile: { ledger, bytes in
                        bytesDone += bytes
                        recordsDone += ledger.groupStage == true ? 0 : ledger.read
                    })
                for ledger in ledgers {
                    guard ledger.balances else {
                        throw RunError(
                            .accounting,
                            "accounting does not balance for mapping \(plan.id) on \(ledger.file): read \(ledger.read) ≠ written \(ledger.written) + rejected \(ledger.rejected) + filtered \(ledger.filtered) + excluded \(ledger.excluded) + grouped \(ledger.grouped)"
                                + (ledger.otherShard.map { " + other shards \($0)" } ?? ""),
                            code: .booksDoNotBalance, location: .init(file: ledger.file))
                    }
                    manifest.ledger.append(ledger)
                    if let fid = fileIndex[ledger.file], manifest.inputs[Int(fid)].records == 0, ledger.groupStage != true {
                        manifest.inputs[Int(fid)].records = ledger.read
                    }
                }
                for j in executor.joins {
                    manifest.joins.append(j.statistics)
                    if let fid = j.statistics.files.first.flatMap({ fileIndex[$0] }), manifest.inputs[Int(fid)].records == 0,
                        j.statistics.files.count == 1
                    {
                        manifest.inputs[Int(fid)].records = j.statistics.read
                    }
                }
                for h in hashes {
                    let digest = h.hashing.hexDigest()
                    let path = manifest.inputs[Int(h.fid)].path
                    if let expected = options.replay?.inputHashes[path], expected != digest {
                        throw RunError(
                            .configuration,
                            "replay: \(path) changed since the run that rejected its records (SHA-256 differs); its record numbers no longer apply, nothing was published",
                            code: .replayInputChanged, location: .init(file: path))
                    }
                    manifest.inputs[Int(h.fid)].sha256 = digest
                    manifest.inputs[Int(h.fid)].bytes = h.reader.bytesRead
                }
                try executor.flushAll()
                for (t, n) in executor.rowsWritten { rowsPerTable[t] += n }
                forbiddenPersonIDs.formUnion(executor.excludedPersonIDs)
            }
            // Rows whose person is not in the output (the model's `orphans:`), held back: OrphanPass.swift.
            for (t, n) in try OrphanPass.run(plans: plans, tables: tables, options: options, sink: sink, manifest: &manifest) { rowsPerTable[t] -= n }
            // Derived tables, over everything written.
            for plan in plans {
                guard let d = plan.derivation, let ti = tables.firstIndex(where: { $0.name == d.table }) else { continue }
                var derivation = d
                if options.replay != nil {
                    // A replay adds rows to an output that holds the other tables: derive over
                    // all of them, replacing the periods already derived (the sink filters).
                    derivation.replacesExisting = true
                } else {
                    derivation.sources = d.sources.filter { s in tables.contains { $0.name == s.table } }
                    guard !derivation.sources.isEmpty else { continue }
                }
                do {
                    rowsPerTable[ti] += try sink.derive(derivation, personTable: tables.contains { $0.name == "person" })
                } catch {
                    throw RunError(
                        error.isIO ? .io : .configuration, "mapping \(plan.id): \(error.message)", code: error.isIO ? .sinkFailed : .runConfiguration)
                }
            }
            if let audit {
                let hits = audit.violations(forbidden: forbiddenPersonIDs)
                guard hits == 0 else {
                    throw RunError(
                        .privacy, "exclusion check failed: \(hits) output persons or rows are on the objection list; nothing was published",
                        code: .objectionInOutput)
                }
                manifest.parameters["exclude_check"] = "passed: \(audit.rowsChecked) rows checked, 0 on the list"
            }
            if let usage = context.vocabularyUsage {
                manifest.vocabularyUsage = usage.totalsReport()
                let codes = usage.unmappedCodes()
                if !codes.isEmpty {
                    do {
                        try sink.writeUnmapped(codes)
                    } catch {
                        throw RunError(.io, error.message)
                    }
                }
            }
            // Rows sent that updated a stored row (on_conflict: update) are not rows of the table.
            let counts: [Int: TableWriteCount]
            do {
                counts = try sink.writeCounts()
            } catch {
                throw RunError(.io, error.message)
            }
            var updatedTables = Set(plans.flatMap { $0.targets.filter { $0.conflict.updates }.map(\.table.name) })
            if options.replay != nil {
                // Derived again by the replay: rows added, and stored rows that changed.
                updatedTables.formUnion(plans.compactMap { $0.derivation?.table })
            }
            manifest.tables = tables.enumerated().map { i, t in
                guard updatedTables.contains(t.name) else { return .init(table: t.name, rows: rowsPerTable[i]) }
                let c = counts[i] ?? TableWriteCount(inserted: rowsPerTable[i], updated: 0)
                return .init(table: t.name, rows: c.inserted, updated: c.updated)
            }
            try inputs.verifyAll()
            manifest.finishedAt = Self.timestamp()
            manifest.status = "succeeded"
            do {
                try sink.finish(run: manifest)
            } catch {
                throw RunError(error.isIO ? .io : .configuration, error.message, code: error.isIO ? .sinkFailed : .runConfiguration)
            }
        } catch {
            sink.abort()
            throw error
        }
        return manifest
    }

    /// The part of the run's memory budget the engine keeps for itself: reader buffers, the
    /// mapping, the pseudonym cache, the SQLite writer's queue and page cache (measured: 60–75 MiB
    /// on the join benchmark, see bench/README.md).
    public static let engineReserve = 96 << 20

    /// What each join index or grouping of a mapping may hold in memory: the budget less the
    /// engine's reserve (`engineReserve`), but at least a quarter of the budget, shared equally
    /// between the mapping's `structures` (they are all alive at once).
    static func structureBudget(_ budget: Int, structures: Int) -> Int {
        max(budget - engineReserve, budget / 4) / max(1, structures)
    }

    /// Runs one mapping over its files: loads its joins (freeing them at the end), maps every
    /// file, then, for a mapping with `group:`, maps the groups. Returns the ledger entries (one
    /// per file, plus the group stage's).
    static func runPlan(
        _ plan: MappingPlan, executor: MappingExecutor, budget: Int, spillDirectory: String, files: [String],
        openSource: (String) throws(RunError) -> (any RecordReader, Int32),
        openJoin: (PlannedJoin) throws(RunError) -> [PlannedJoin.Input],
        fileName: (Int32) -> String,
        joinReject: (Reject, Int32) -> Void,
        flushJoinRejects: () throws(RunError) -> Void,
        progress: (String, Int64) -> Void,
        finishedFile: (RunManifest.LedgerEntry, Int64) -> Void
    ) throws(RunError) -> [RunManifest.LedgerEntry] {
        let joins = plan.joins.map(JoinRuntime.init)
        executor.joins = joins
        defer { for j in joins { j.close() } }
        let share = structureBudget(budget, structures: plan.joins.count + (plan.group == nil ? 0 : 1))
        for j in joins {
            try j.load(inputs: try openJoin(j.join), budget: share, spillDirectory: spillDirectory, callSites: executor.callSites, reject: joinReject)
            try flushJoinRejects()
        }
        var store: GroupStore?
        if let g = plan.group {
            store = GroupStore(byCount: g.by.count, functions: g.aggregates.map(\.function), budget: share, spillDirectory: spillDirectory)
            executor.groupStore = store
        }
        defer { store?.close() }
        var ledgers: [RunManifest.LedgerEntry] = []
        var fileNames: [Int32: String] = [:]
        for file in files {
            let (reader, fid) = try openSource(file)
            fileNames[fid] = fileName(fid)
            let ledger = try runExecutor(executor, reader: reader, fileIndex: fid, filePath: file) { progress(file, $0) }
            finishedFile(ledger, reader.bytesRead)
            ledgers.append(ledger)
        }
        if let store {
            try store.finishFolding()
            let reader = GroupRecordReader(store: store, fileNames: fileNames)
            let name = "groups of \(plan.spec.source.files.text)"
            let ledger = try runExecutor(executor, reader: reader, fileIndex: fileNames.keys.min() ?? 0, filePath: name) { _ in }
            finishedFile(ledger, 0)
            ledgers.append(ledger)
        }
        return ledgers
    }

    /// Runs the executor on the reader's concrete type: the delimited reader (the bulk path) gets a
    /// specialised hot loop; other readers go through the opened existential.
    static func runExecutor(
        _ executor: MappingExecutor, reader: any RecordReader, fileIndex: Int32, filePath: String, progress: (Int64) -> Void
    ) throws(RunError) -> RunManifest.LedgerEntry {
        if let csv = reader as? DelimitedReader {
            return try executor.run(reader: csv, fileIndex: fileIndex, filePath: filePath, progress: progress)
        }
        return try open(executor, reader: reader, fileIndex: fileIndex, filePath: filePath, progress: progress)
    }

    private static func open<R: RecordReader>(
        _ executor: MappingExecutor, reader: R, fileIndex: Int32, filePath: String, progress: (Int64) -> Void
    ) throws(RunError) -> RunManifest.LedgerEntry {
        try executor.run(reader: reader, fileIndex: fileIndex, filePath: filePath, progress: progress)
    }

    static func sourceEntry(_ p: MappingPlan) -> RunManifest.SourceEntry {
        let format = p.spec.source.format.text.lowercased()
        guard format == "csv" else { return .init(format: format, record: p.spec.source.record?.text ?? (format == "hl7v2" ? "message" : nil)) }
        return .init(
            format: format, record: nil, encoding: p.dialect.encoding.rawValue, quote: p.dialect.quote.map { String(Character(Unicode.Scalar($0))) })
    }

    static func timestamp() -> String { Timestamp.now() }
}

@available(*, unavailable)
extension Pipeline: Sendable {}
