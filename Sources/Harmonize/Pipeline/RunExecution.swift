import Foundation

/// One run of a `Pipeline` after `prepare`: what the run holds while it reads and writes (the
/// manifest being filled, the files interned, the counts), and its two last steps, `execute`
/// and `finalize`. Used once, from the thread that runs the pipeline.
final class RunExecution {
    let pipeline: Pipeline
    let sink: any Sink
    var manifest: RunManifest
    let tables: [TargetTable]
    let context: RunContext
    let audit: ExclusionAudit?
    let filesPerPlan: [[String]]
    let boundPlans: [BoundCallSites]
    let totalBytes: Int64
    private var options: RunOptions { pipeline.options }
    private var plans: [MappingPlan] { pipeline.plans }
    /// Rows sent per output table.
    private var rowsPerTable: [Int]
    /// Index of each input file in the manifest's inputs.
    private var fileIndex: [String: Int32] = [:]
    private var bytesDone: Int64 = 0
    private var recordsDone = 0
    /// Person ids of excluded records (the after-run exclusion check).
    private var forbiddenPersonIDs: Set<Int> = []
    /// The inputs opened, checked for changes during the run.
    private let inputs = InputWatch()
    private let spillDirectory: String
    /// XML files parsed once for the mappings that read them (nil: none is read by two).
    private var sharedParses: SharedXMLParses?
    /// Whether the executors keep the rows they map: not when they would go nowhere (a sink
    /// that discards rows, and no exclusion audit reading them).
    private var keepsRows: Bool { !(sink.discardsRows && audit == nil) }
    /// What the later mappings mapped during a parse take together (`EarlyXMLMapping`).
    private lazy var earlyShare = EarlyMappingShare(limit: options.earlyMappingBytes ?? options.memoryBudget / 4)

    init(
        pipeline: Pipeline, sink: any Sink, manifest: RunManifest, tables: [TargetTable], context: RunContext, audit: ExclusionAudit?,
        filesPerPlan: [[String]], boundPlans: [BoundCallSites], totalBytes: Int64
    ) {
        self.pipeline = pipeline
        self.sink = sink
        self.manifest = manifest
        self.tables = tables
        self.context = context
        self.audit = audit
        self.filesPerPlan = filesPerPlan
        self.boundPlans = boundPlans
        self.totalBytes = totalBytes
        self.rowsPerTable = [Int](repeating: 0, count: tables.count)
        self.spillDirectory = pipeline.options.spillDirectory ?? NSTemporaryDirectory()
    }

    /// Opens the sink on the run's tables (a staging area: nothing is visible before `finalize`).
    func openSink() throws(RunError) {
        do {
            sink.noteColumnsLeftNull(pipeline.columnsLeftNull(in: tables))
            try sink.open(tables: tables, run: manifest)
        } catch {
            throw RunError(
                error.isIO ? .io : .configuration, error.message, code: error.code ?? (error.isIO ? .sinkFailed : .runConfiguration), cause: error)
        }
    }

    /// Hands a batch to the sink; with an exclusion list, every batch is audited on its way.
    private func write(_ b: RowBatch) throws(SinkError) {
        audit?.observe(b)
        try sink.write(b)
    }

    /// Opens an input file for reading, interning it (and hashing it the first time it is read).
    /// `taps`: later mappings' collectors an XML parse feeds too (`SharedXMLParses`), given the
    /// file's index.
    private func open(_ file: String, spec: SourceSpec, dialect: Dialect, taps: (Int32) -> [XMLRecordTap] = { _ in [] }) throws(RunError) -> (
        reader: any RecordReader, fid: Int32, hashing: HashingByteSource?
    ) {
        let path = options.inputDirectory + "/" + file
        let source: any ByteSource = try inputs.open(path, name: file)
        let known = fileIndex[file]
        let hashing = known == nil ? HashingByteSource(source) : nil
        // The index the file gets when first interned (below, once its reader is made).
        let fid = known ?? Int32(manifest.inputs.count)
        let reader = try ReaderFactory.makeReader(spec: spec, dialect: dialect, source: hashing ?? source, displayName: file, taps: taps(fid))
        if known == nil {
            fileIndex[file] = fid
            manifest.inputs.append(.init(path: file, sha256: "", bytes: 0, records: 0))
        }
        return (reader, fid, hashing)
    }

    // MARK: execute

    /// Maps every plan over its files, in run order (derived tables wait for `finalize`).
    func execute() throws(RunError) {
        let incremental = options.incremental
        // `run --incremental`: the output run's rows, ledger and inputs of a reused mapping are taken over.
        let reusedFrom = { (plan: MappingPlan) -> RunManifest? in
            guard let incremental, incremental.reused.contains(plan.id) else { return nil }
            return incremental.baseManifest
        }
        let running = plans.indices.filter { plans[$0].derivation == nil && reusedFrom(plans[$0]) == nil }
        if options.sharesXMLParses {
            sharedParses = SharedXMLParses(
                plans: plans, running: running, filesPerPlan: filesPerPlan, spillDirectory: spillDirectory, maxWaitingTaps: options.maxWaitingXMLTaps,
                spillBytes: options.xmlSpillBytes)
            sharedParses?.earlyMapping = { [unowned self] pj, file, fid, collector in
                self.earlyMapping(pj, file: file, fileIndex: fid, collector: collector)
            }
        }
        defer { sharedParses = nil }
        for (pi, plan) in plans.enumerated() where plan.derivation == nil {
            if let base = reusedFrom(plan) {
                adopt(plan, from: base)
            } else {
                try map(plan, index: pi)
            }
        }
        if let reads = sharedParses?.reads, !reads.isEmpty { manifest.sharedParses = reads }
        if let incremental { try takeOver(incremental) }
    }

    /// `run --incremental`: a mapping that does not run again keeps the books of the output's
    /// run: its ledger, joins, duplicates, and its input files (with their hashes) interned in
    /// the base run's order.
    private func adopt(_ plan: MappingPlan, from base: RunManifest) {
        let ledger = base.ledger.filter { $0.mapping == plan.id }
        let joins = base.joins.filter { $0.mapping == plan.id }
        manifest.ledger.append(contentsOf: ledger)
        manifest.joins.append(contentsOf: joins)
        if let d = base.duplicates?.filter({ $0.mapping == plan.id }), !d.isEmpty { manifest.duplicates = (manifest.duplicates ?? []) + d }
        var files = Set(ledger.map(\.file)).union(joins.flatMap(\.files))
        if let recorded = base.fingerprints?.first(where: { $0.mapping == plan.id }) { files.formUnion(recorded.inputs.keys) }
        for e in base.inputs where files.contains(e.path) && fileIndex[e.path] == nil {
            fileIndex[e.path] = Int32(manifest.inputs.count)
            manifest.inputs.append(e)
        }
        for row in ledger { recordsDone += row.groupStage == true ? 0 : row.read }
    }

    /// `run --incremental`: copies the reused mappings' rows, lineage, rejects and unmapped codes
    /// from the output into the staging database (`ReusingSink`).
    private func takeOver(_ plan: IncrementalPlan) throws(RunError) {
        guard let base = plan.baseManifest, let baseRunID = plan.baseRunID, !plan.reused.isEmpty else { return }
        var mappings: [OutputReuse.Pair] = []
        for (i, p) in plans.enumerated() where plan.reused.contains(p.id) {
            if let b = base.mappings.firstIndex(where: { $0.id == p.id }) { mappings.append(.init(base: b, now: i)) }
        }
        let files = base.inputs.enumerated().compactMap { i, e in fileIndex[e.path].map { OutputReuse.Pair(base: i, now: Int($0)) } }
        let written = Set(plans.filter { plan.reused.contains($0.id) }.flatMap { $0.targets.map(\.table.name) })
        let reusedTables = tables.enumerated().compactMap { i, t -> OutputReuse.Table? in
            guard written.contains(t.name), let b = base.tables.firstIndex(where: { $0.table == t.name }) else { return nil }
            return OutputReuse.Table(now: i, base: b, whole: !plan.byLineage || t.lineageKeyColumn == nil)
        }
        guard let reusing = sink as? ReusingSink else {
            throw RunError(.configuration, "run --incremental needs a SQLite output", code: .runConfiguration)
        }
        do {
            let copied = try reusing.reuse(
                OutputReuse(basePath: plan.outputPath, baseRunID: baseRunID, mappings: mappings, files: files, tables: reusedTables))
            for (t, n) in copied { rowsPerTable[t] += n }
        } catch {
            throw RunError(error.isIO ? .io : .configuration, error.message, code: error.code ?? .sinkFailed)
        }
    }

    /// Runs one mapping: its executor over its files (and groups), then its ledger (which must
    /// balance), join statistics and input hashes go to the manifest.
    private func map(_ plan: MappingPlan, index pi: Int) throws(RunError) {
        let tableIndices = plan.targets.map { t in tables.firstIndex { $0.name == t.table.name } ?? 0 }
        let sink = self.sink
        let options = self.options
        // A split run (N > 1): each mapping keeps the records of its shard (ShardAssignment).
        let splitShard = options.shard.flatMap { $0.count > 1 ? $0 : nil }
        let executor = MappingExecutor(
            plan: plan, mappingIndex: Int32(pi), tableIndices: tableIndices, batchRows: options.batchRows,
            recordsLineage: options.recordsLineage,
            emit: ConflictTagging.emit(plan: plan, tableIndices: tableIndices) { [unowned self] b throws(SinkError) in try self.write(b) },
            emitRejects: { r throws(SinkError) in try sink.writeRejects(r) }, exclusion: options.exclusion,
            vocabularyUsage: plan.calls(anyOf: FunctionRegistry.vocabularyFunctionNames) ? context.vocabularyUsage : nil,
            callSites: boundPlans[pi], sharding: splitShard.map { ShardAssignment(shard: $0, key: options.key) })
        executor.keepsRows = keepsRows
        // What the lookup tables hold in memory is not available to the joins and groupings.
        let lookupBytes = context.lookupMemoryBytes
        var pendingRejects: [RunReject] = []
        var hashes: [(fid: Int32, hashing: HashingByteSource, reader: any RecordReader)] = []
        // The digests of the files read whole: a file's reader (its buffers, its hasher's) is let
        // go once the file is mapped, not when the mapping ends (a mapping over many files held
        // them all: 2.4 MB a file, 90 MB for 20 files of claims).
        var digests: [(fid: Int32, digest: String, bytes: Int64)] = []
        func settleHash(_ k: Int) {
            let h = hashes.remove(at: k)
            digests.append((h.fid, h.hashing.hexDigest(), h.reader.bytesRead))
        }
        let ledgers = try Pipeline.runPlan(
            plan, executor: executor, budget: options.memoryBudget, lookupBytes: lookupBytes, spillDirectory: spillDirectory,
            files: filesPerPlan[pi],
            openSource: { file throws(RunError) in
                var reader: any RecordReader
                let fid: Int32
                if let spilled = sharedParses?.spilledReader(for: pi, of: file), let known = fileIndex[file] {
                    // Read during an earlier mapping's parse of the file (which hashed it).
                    (reader, fid) = (spilled, known)
                } else {
                    let shared = sharedParses
                    let o = try open(file, spec: plan.spec.source, dialect: plan.dialect) { fid in
                        shared?.taps(forFirstReader: pi, of: file, fileIndex: fid) ?? []
                    }
                    if let h = o.hashing { hashes.append((o.fid, h, o.reader)) }
                    (reader, fid) = (o.reader, o.fid)
                }
                if let replay = options.replay {
                    // A replay maps only the selected records (the whole file is still read and hashed).
                    reader = ReaderSelection.select(reader, keys: replay.records[plan.id]?[file] ?? [])
                }
                return (reader, fid)
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
                pipeline.onProgress?(
                    RunProgress(mapping: plan.id, file: file, records: recordsDone, bytesRead: bytesDone + bytes, bytesTotal: totalBytes))
            },
            finishedFile: { ledger, bytes in
                bytesDone += bytes
                recordsDone += ledger.groupStage == true ? 0 : ledger.read
                if let k = hashes.firstIndex(where: { manifest.inputs[Int($0.fid)].path == ledger.file }) { settleHash(k) }
            }, parallel: parallelSetup(plan, index: pi, tableIndices: tableIndices, splitShard: splitShard))
        try record(ledgers, of: plan)
        // A sharded run counts duplicates in shard 0 (the other shards leave them to it).
        if let d = executor.duplicates, splitShard.map({ $0.index == 0 }) ?? true {
            manifest.duplicates = (manifest.duplicates ?? []) + [d.statistics { manifest.inputs[Int($0)].path }]
        }
        for j in executor.joins {
            manifest.joins.append(j.statistics)
            if let fid = j.statistics.files.first.flatMap({ fileIndex[$0] }), manifest.inputs[Int(fid)].records == 0, j.statistics.files.count == 1 {
                manifest.inputs[Int(fid)].records = j.statistics.read
            }
        }
        while !hashes.isEmpty { settleHash(0) }
        for d in digests {
            let path = manifest.inputs[Int(d.fid)].path
            if let expected = options.replay?.inputHashes[path], expected != d.digest {
                throw RunError(
                    .configuration,
                    "replay: \(path) changed since the run that rejected its records (SHA-256 differs); its record numbers no longer apply, nothing was published",
                    code: .replayInputChanged, location: .init(file: path))
            }
            manifest.inputs[Int(d.fid)].sha256 = d.digest
            manifest.inputs[Int(d.fid)].bytes = d.bytes
        }
        try executor.flushAll()
        for (t, n) in executor.rowsWritten { rowsPerTable[t] += n }
        forbiddenPersonIDs.formUnion(executor.excludedPersonIDs)
    }

    /// How a plan's files are mapped by several workers (`RunOptions.threads`): each worker gets
    /// an executor of its own whose batches and rejects go to the chunk it maps, and its call
    /// sites bound to a worker environment (`RunContext.worker(for:)`); nil with one thread.
    private func parallelSetup(_ plan: MappingPlan, index pi: Int, tableIndices: [Int], splitShard: ShardSpec?) -> ParallelSetup? {
        let options = self.options
        // Mappings whose reading thread parses, or whose records probe a join index (`heavyMappingThreads`).
        let heavy = ["hl7v2", "xml"].contains(plan.spec.source.format.text.lowercased()) || !plan.joins.isEmpty
        let threads = heavy ? options.heavyMappingThreads ?? options.threads : options.threads
        guard threads > 1 else { return nil }
        let context = self.context
        return ParallelSetup(
            workers: threads, chunkRecords: max(1, options.chunkRecords), heldBytes: max(1, options.memoryBudget / 16),
            makeWorkers: { [unowned self] main throws(RunError) in
                try self.makeWorkers(
                    threads, plan: plan, index: pi, tableIndices: tableIndices, splitShard: splitShard, joins: main.joins,
                    countsVocabulary: main.vocabularyUsage != nil)
            },
            mappedFile: { [unowned self] file, workers, chunks in
                self.manifest.parallel = (self.manifest.parallel ?? []) + [.init(mapping: plan.id, file: file, workers: workers, chunks: chunks)]
            },
            finishedWorker: { w in context.absorb(w.context) })
    }

    /// `threads` workers for `plan` (index `pi`): each with an executor of its own whose batches
    /// and rejects go to the chunk it maps, its call sites bound to a worker environment, and
    /// its copies of `joins`; none when a join cannot be copied.
    private func makeWorkers(
        _ threads: Int, plan: MappingPlan, index pi: Int, tableIndices: [Int], splitShard: ShardSpec?, joins mainJoins: [JoinRuntime],
        countsVocabulary: Bool
    ) throws(RunError) -> [ParallelFilePass.Worker] {
        let options = self.options
        var workers: [ParallelFilePass.Worker] = []
        for _ in 0..<threads {
            let wc = try context.worker(for: plan, of: threads)
            var joins: [JoinRuntime] = []
            for j in mainJoins {
                guard let c = j.workerCopy() else { return [] }
                joins.append(c)
            }
            let output = ParallelFilePass.ChunkOutput()
            let executor = MappingExecutor(
                plan: plan, mappingIndex: Int32(pi), tableIndices: tableIndices, batchRows: options.batchRows,
                recordsLineage: options.recordsLineage,
                emit: { b in output.chunk?.items.append(.rows(b)) },
                emitRejects: { r in output.chunk?.items.append(.rejects(r)) }, exclusion: options.exclusion,
                vocabularyUsage: countsVocabulary ? wc.vocabularyUsage : nil, callSites: wc.callSites,
                sharding: splitShard.map { ShardAssignment(shard: $0, key: options.key) })
            executor.joins = joins
            executor.keepsRows = keepsRows
            workers.append(.init(executor: executor, output: output, context: wc))
        }
        return workers
    }

    /// The workers of later mapping `pj`, mapping the records its tap of `file` (index
    /// `fileIndex`) collects during an earlier mapping's parse (`EarlyXMLMapping`); nil when the
    /// mapping would not be mapped by workers at its turn (one thread, joins, groups, a duplicate
    /// filter), in a replay, or with no memory share for it.
    private func earlyMapping(_ pj: Int, file: String, fileIndex: Int32, collector: XMLRecordCollector) -> EarlyXMLMapping? {
        let plan = plans[pj]
        let share = earlyShare
        // Only when the rows go nowhere (`--sink none`, no exclusion audit): a sink that keeps
        // rows would have them wait for the mapping's turn (in memory, or encoded on disk), and
        // its writing thread bounds such runs (bench/README.md, fourteenth part).
        guard !keepsRows, share.limit > 0, share.hasRoom, options.replay == nil, plan.group == nil, plan.joins.isEmpty,
            plan.spec.source.deduplicate == nil
        else { return nil }
        let tableIndices = plan.targets.map { t in tables.firstIndex { $0.name == t.table.name } ?? 0 }
        let splitShard = options.shard.flatMap { $0.count > 1 ? $0 : nil }
        guard let setup = parallelSetup(plan, index: pj, tableIndices: tableIndices, splitShard: splitShard) else { return nil }
        let workers: [ParallelFilePass.Worker]
        do {
            workers = try makeWorkers(
                setup.workers, plan: plan, index: pj, tableIndices: tableIndices, splitShard: splitShard, joins: [],
                countsVocabulary: plan.calls(anyOf: FunctionRegistry.vocabularyFunctionNames))
        } catch {
            // The mapping reports the same failure at its turn, when it makes its own workers.
            return nil
        }
        guard !workers.isEmpty else { return nil }
        let names = plan.readFieldNames
        let session = ParallelFilePass.Session(workers: workers, names: names, fileIndex: fileIndex, filePath: file, holds: true)
        return EarlyXMLMapping(
            session: session, collector: collector, displayName: file, recordPath: ReaderFactory.xmlOptions(plan.spec.source).record,
            chunkRecords: setup.chunkRecords,
            share: share)
    }

    /// Adds a mapping's ledger entries to the manifest; an entry whose outcomes do not sum to the
    /// records read stops the run.
    private func record(_ ledgers: [RunManifest.LedgerEntry], of plan: MappingPlan) throws(RunError) {
        for ledger in ledgers {
            guard ledger.balances else {
                throw RunError(
                    .accounting,
                    "accounting does not balance for mapping \(plan.id) on \(ledger.file): read \(ledger.read) ≠ written \(ledger.written) + rejected \(ledger.rejected) + filtered \(ledger.filtered) + excluded \(ledger.excluded) + grouped \(ledger.grouped)"
                        + (ledger.otherShard.map { " + other shards \($0)" } ?? "")
                        + (ledger.duplicate.map { " + duplicates \($0)" } ?? ""),
                    code: .booksDoNotBalance, location: .init(file: ledger.file))
            }
            manifest.ledger.append(ledger)
            if let fid = fileIndex[ledger.file], manifest.inputs[Int(fid)].records == 0, ledger.groupStage != true {
                manifest.inputs[Int(fid)].records = ledger.read
            }
        }
    }

    // MARK: finalize

    /// After the last record: orphans held back, derived tables, the exclusion check, vocabulary
    /// usage, the tables' counts, the inputs checked unchanged, then publication.
    func finalize() throws(RunError) -> RunManifest {
        // Rows whose person is not in the output (the model's `orphans:`), held back: OrphanPass.swift.
        for (t, n) in try OrphanPass.run(plans: plans, tables: tables, options: options, sink: sink, manifest: &manifest) { rowsPerTable[t] -= n }
        try deriveTables()
        try describeRun()
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
            if let incremental = options.incremental, let base = incremental.baseManifest?.vocabularyUsage {
                // The reused mappings' lookups were counted by the output's run (sorted as `totalsReport` sorts).
                manifest.vocabularyUsage = ((manifest.vocabularyUsage ?? []) + base.filter { incremental.reused.contains($0.mapping) })
                    .sorted { ($0.mapping, $0.vocabulary) < ($1.mapping, $1.vocabulary) }
            }
            let codes = usage.unmappedCodes()
            if !codes.isEmpty {
                do {
                    try sink.writeUnmapped(codes)
                } catch {
                    throw RunError(.io, error.message)
                }
            }
        }
        try countTables()
        // A lookup whose table could not be read stopped the run where it was made; one made
        // where failures are ignored (the person ids of an excluded record) must stop it too.
        if let failed = context.lookups.first(where: { $0.table.readFailure != nil }) {
            throw RunError(
                .io,
                "mapping \(failed.mapping): lookup '\(failed.declaration.spec.name.text)' cannot be read: \(failed.table.readFailure ?? ""); nothing was published",
                code: .runResourceFailed)
        }
        try inputs.verifyAll()
        var lookups = context.lookupStatistics
        if let incremental = options.incremental, let base = incremental.baseManifest {
            // A reused mapping's lookups were loaded but not used: the base run's counts.
            lookups =
                lookups.filter { !incremental.reused.contains($0.mapping) }
                + (base.lookups ?? []).filter { incremental.reused.contains($0.mapping) }
        }
        if !lookups.isEmpty { manifest.lookups = lookups }
        if options.replay == nil {
            try recordFingerprints()
            manifest.incremental = options.incremental?.summary
        }
        manifest.finishedAt = Pipeline.timestamp()
        manifest.status = "succeeded"
        do {
            try sink.finish(run: manifest)
        } catch {
            throw RunError(error.isIO ? .io : .configuration, error.message, code: error.isIO ? .sinkFailed : .runConfiguration)
        }
        return manifest
    }

    /// Every mapping's fingerprint (what `run --incremental` compares): the files it reads with
    /// their SHA-256 as the manifest records them (`input:` lookups hashed here).
    private func recordFingerprints() throws(RunError) {
        let known = Dictionary(manifest.inputs.map { ($0.path, $0.sha256) }, uniquingKeysWith: { a, _ in a })
        let vocabulary = try IncrementalPlan.currentVocabulary(options)
        var out: [MappingFingerprint] = []
        for plan in plans where plan.derivation == nil {
            var inputs: [String: String] = [:]
            for f in try IncrementalPlan.inputFiles(of: plan, inputDirectory: options.inputDirectory) {
                if let h = known[f] {
                    inputs[f] = h
                } else {
                    inputs[f] = (try? ShardMerge.sha256(of: options.inputDirectory + "/" + f)) ?? "unreadable"
                }
            }
            out.append(try IncrementalPlan.fingerprint(of: plan, inputs: inputs, options: options, vocabularies: vocabulary))
        }
        manifest.fingerprints = out
    }

    /// Derived tables (`derive:`), over everything written.
    private func deriveTables() throws(RunError) {
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
    }

    /// The row of the table describing the run (`RunOptions.runDescription`), when the run writes it.
    private func describeRun() throws(RunError) {
        guard pipeline.writesRunDescription, let d = options.runDescription, let ti = tables.firstIndex(where: { $0.name == d.table.name }) else {
            return
        }
        let now = Int(Date().timeIntervalSince1970)
        let facts = RunDescription.Facts(
            manifest: manifest, newestInputDate: RunDescription.newestModificationDay(of: manifest.inputs.map(\.path), in: options.inputDirectory),
            runDate: CivilDate(daysSinceEpoch: now / 86_400), mappingsSHA256: RunDescription.mappingsSHA256(manifest.mappings))
        do throws(SinkError) {
            try write(d.batch(tableIndex: ti, facts: facts))
        } catch {
            throw RunError(error.isIO ? .io : .configuration, "\(d.table.name): \(error.message)", code: error.code ?? .sinkFailed)
        }
        rowsPerTable[ti] += 1
    }

    /// The manifest's table counts: rows sent, except where rows updated stored rows
    /// (`on_conflict: update`), which are not new rows of the table.
    private func countTables() throws(RunError) {
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
        // `run --incremental`: a table whose rows some mapping updates is run again whole or
        // taken over whole (`IncrementalPlan`); taken over, its updates are the output run's.
        let incremental = options.incremental
        let takenOver = { (name: String) -> RunManifest.TableCount? in
            guard let incremental, let base = incremental.baseManifest,
                !self.plans.contains(where: { p in !incremental.reused.contains(p.id) && p.targets.contains { $0.table.name == name } })
            else { return nil }
            return base.tables.first { $0.table == name }
        }
        manifest.tables = tables.enumerated().map { i, t in
            guard updatedTables.contains(t.name) else { return .init(table: t.name, rows: rowsPerTable[i]) }
            let c = counts[i] ?? TableWriteCount(inserted: rowsPerTable[i], updated: 0)
            return .init(table: t.name, rows: c.inserted, updated: takenOver(t.name)?.updated ?? c.updated)
        }
    }
}

@available(*, unavailable)
extension RunExecution: Sendable {}
