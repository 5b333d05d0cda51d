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
    package var replay: ReplaySelection? = nil
    /// `run --incremental`: the mappings whose rows, rejects, ledger and lineage are taken over
    /// from the output's run instead of being mapped again (`IncrementalPlan`). Nil for a full run.
    package var incremental: IncrementalPlan? = nil
    /// Whether rows whose person is not in the output are held back (the model's `orphans:`;
    /// `run --keep-orphans` sets false). See `OrphanPass`.
    public var holdsBackOrphans = true
    /// The vocabulary store the mappings' vocabulary functions were compiled with: the run counts
    /// unmapped codes in its `usage` and records the vocabulary versions in the manifest.
    public var vocabulary: VocabularyStore? = nil
    /// The run's memory budget in bytes (`--memory-budget`; 256 MiB by default): the engine keeps
    /// `engineReserve` of it; the run's lookup tables and a mapping's join indexes and grouping
    /// share the rest (`Pipeline.lookupBudget`, `Pipeline.structureBudget`); past their share
    /// they move to disk.
    public var memoryBudget: Int = 256 << 20
    /// Where on-disk join indexes, lookup tables and grouping partial results go (removed at the
    /// end of each mapping, or of the run for lookup tables); the system's temporary folder when
    /// nil.
    public var spillDirectory: String? = nil
    /// The pseudonymisation key of the run (`pseudonym`, `pseudonym_int`, `date_shift`): a run
    /// of plans that call them without one stops before reading any record. Plans never hold a
    /// key, so one plan can run under different keys.
    public var key: PseudonymKey? = nil
    /// The largest `date_shift` in days (0: plans calling `date_shift` cannot run).
    public var dateShiftDays: Int = 0
    /// The shard of the run this process does (`run --shard i/N`); nil for the whole run.
    public var shard: ShardSpec? = nil
    /// The table describing the run (OMOP's `cdm_source`), written with the run's rows; nil:
    /// none (see `RunDescription`).
    package var runDescription: RunDescription? = nil
    /// Mapping workers per file (`run --threads N`): with more than one, the calling thread reads
    /// each file into chunks of `chunkRecords` records, the workers map the chunks (each with its
    /// own frames, caches and HMAC states: `ParallelFilePass`), and the rows, rejects and lineage
    /// reach the sink in the file's order, so the output is the same for any number. A mapping
    /// that groups or deduplicates records is mapped on the calling thread (a join index or a
    /// lookup table partly on disk is read by each worker with buffers of its own).
    public var threads: Int = 1
    /// Mapping workers per file for the mappings whose records cost more to map than to write,
    /// when it differs from `threads`: those whose reading thread parses (HL7 v2 and XML) and
    /// those that join other files (each record probes the join index). `run --threads auto`
    /// gives them the cores, where the others get the cores less the writer's: on 2 cores, two
    /// workers beside the reading thread and the writer took 0.77–0.86× the wall time of one for
    /// ORU messages, 0.83–0.96× for the XML stays, 0.82–0.87× for the 5M join (bench/README.md),
    /// and 1.06–1.12× for flat claims.
    public var heavyMappingThreads: Int? = nil
    /// Records per chunk handed to a mapping worker (`threads` > 1).
    public var chunkRecords: Int = 2048
    /// Whether an XML file read by several mappings is parsed once for all of them
    /// (`SharedXMLParses`); false parses it once per mapping (tests compare the two).
    package var sharesXMLParses = true
    /// The most later mappings' taps waiting at once (`SharedXMLParses`; one open spill file each).
    package var maxWaitingXMLTaps = 64
    /// The disk the XML spills of the run may take together (`XMLSpillBudget`).
    package var xmlSpillBytes = XMLSpillBudget.defaultBytes
    /// The memory the chunks of later mappings may hold, all together, while their workers map
    /// their records during an earlier mapping's parse of the same XML file (`EarlyXMLMapping`,
    /// `EarlyMappingShare`): nil, a quarter of `memoryBudget`; 0 maps nothing during the parse
    /// (the records wait in the parse's spill).
    package var earlyMappingBytes: Int? = nil

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
    package func outputTables() throws(RunError) -> [TargetTable] {
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
        if let d = options.runDescription, !tables.contains(where: { $0.name == d.table.name }) { tables.append(d.table) }
        return tables
    }

    /// The columns of `tables` that no mapping of the run writes (no target of any plan writing
    /// the table has a rule for them), by table name; tables filled otherwise (a derivation's,
    /// the run description's) have none. The SQLite sink creates their partial indexes with the
    /// table (`Sink.noteColumnsLeftNull`).
    package func columnsLeftNull(in tables: [TargetTable]) -> [String: Set<String>] {
        var written: [String: Set<Int>] = [:]
        var filledOtherwise: Set<String> = []
        for p in plans {
            if let d = p.derivation { filledOtherwise.insert(d.table) }
            for t in p.targets {
                var w = written[t.table.name] ?? []
                for (i, c) in t.columns.enumerated() where c != nil { w.insert(i) }
                written[t.table.name] = w
            }
        }
        if let d = options.runDescription { filledOtherwise.insert(d.table.name) }
        var out: [String: Set<String>] = [:]
        for t in tables where !filledOtherwise.contains(t.name) {
            guard let w = written[t.name] else { continue }
            let null = Set(t.columns.indices.filter { !w.contains($0) }.map { t.columns[$0].name })
            if !null.isEmpty { out[t.name] = null }
        }
        return out
    }

    /// Whether the run writes the row of its `runDescription` (see `RunDescription`): not when a
    /// mapping writes that table, not in a replay, only in shard 0 of a split run.
    var writesRunDescription: Bool {
        guard let d = options.runDescription, options.replay == nil, (options.shard?.index ?? 0) == 0 else { return false }
        return !plans.contains { p in p.targets.contains { $0.table.name == d.table.name } }
    }

    /// Runs every plan; returns the manifest of the published run.
    ///
    /// Three steps: `prepare` (preflight, files, lookups, call sites: everything checked before
    /// any data is read), `RunExecution.execute` (the sink opened, each mapping over its files)
    /// and `RunExecution.finalize` (held-back orphans, derived tables, the exclusion audit,
    /// counts, publication).
    /// - Throws: `RunError`; the sink is aborted and the previous output stays untouched.
    public func run(into output: Output) throws(RunError) -> RunManifest {
        try run(into: output.sink)
    }

    /// Runs every plan into a sink of the package (see `run(into:)` with an `Output`).
    package func run(into sink: any Sink) throws(RunError) -> RunManifest {
        let run = try prepare(sink: sink)
        // The lookup tables stay loaded for the whole run; their files are gone once it ends.
        defer { run.context.close() }
        try run.openSink()
        do throws(RunError) {
            try run.execute()
            return try run.finalize()
        } catch {
            sink.abort()
            throw error
        }
    }

    /// Everything done before the sink is opened: the manifest's header, the preflight, the
    /// output tables, the run context, the vocabulary versions, the exclusion audit, the inputs
    /// of every mapping and its call sites bound to the run.
    func prepare(sink: any Sink) throws(RunError) -> RunExecution {
        var manifest = RunManifest(
            runID: options.runID ?? UUID().uuidString.lowercased(), engineVersion: options.engineVersion, startedAt: Self.timestamp(), finishedAt: "",
            status: "running", model: plans.first.map { "\($0.model.name) \($0.model.version)" } ?? "", parameters: options.parameters,
            mappings: plans.map {
                .init(
                    id: $0.spec.id, version: $0.spec.version, sha256: $0.spec.contentHash, file: $0.spec.file, targets: $0.targets.map(\.table.name),
                    columnLineage: ColumnLineage.derive(from: $0), source: Self.sourceEntry($0))
            },
            inputs: [], ledger: [], tables: [], kind: options.replay == nil ? "run" : "replay", replayOf: options.replay?.replayOf)
        manifest.shard = options.shard
        // Everything that can be checked before reading: one error with every problem.
        let problems = Preflight.check(plans, options: options, sinkSupportsUpdates: sink.supportsUpdates)
        if problems.contains(where: { $0.severity == .error }) {
            throw RunError(
                .configuration, "the run cannot start: \(problems.count) problem\(problems.count == 1 ? "" : "s") found before reading any data",
                diagnostics: problems, code: .preflightFailed)
        }
        let tables = try outputTables()
        let context = RunContext(options: options)
        do throws(RunError) {
            return try prepare(sink: sink, manifest: manifest, tables: tables, context: context)
        } catch {
            // The lookup tables loaded so far (and their spill files) go with the failed run.
            context.close()
            throw error
        }
    }

    /// The rest of `prepare`, once the run's context exists.
    private func prepare(sink: any Sink, manifest: RunManifest, tables: [TargetTable], context: RunContext) throws(RunError) -> RunExecution {
        var manifest = manifest
        let spillDirectory = options.spillDirectory ?? NSTemporaryDirectory()
        let lookupBudget = Self.lookupBudget(options.memoryBudget, plans: plans)
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
            let files = try inputFiles(of: p)
            for f in files {
                // For progress only: a file that cannot be stat'ed fails when it is opened.
                var st = stat()
                if stat(options.inputDirectory + "/" + f, &st) == 0 { totalBytes += Int64(st.st_size) }
            }
            filesPerPlan.append(files)
            boundPlans.append(
                try context.bind(p, inputDirectory: options.inputDirectory, lookupBudget: lookupBudget, spillDirectory: spillDirectory))
        }
        return RunExecution(
            pipeline: self, sink: sink, manifest: manifest, tables: tables, context: context, audit: audit, filesPerPlan: filesPerPlan,
            boundPlans: boundPlans, totalBytes: totalBytes)
    }

    /// The files a mapping reads (its joins' files must exist too); a replay's, only those
    /// holding the selected records.
    private func inputFiles(of p: MappingPlan) throws(RunError) -> [String] {
        for j in p.joins where InputFiles.match(j.spec.files.text, under: options.inputDirectory).isEmpty {
            throw RunError(
                .io, "\(p.spec.file): no file under \(options.inputDirectory) matches '\(j.spec.files.text)' (join \(j.name) of mapping \(p.id))",
                code: .inputMissing)
        }
        if let replay = options.replay {
            // A replay reads again only the files holding the selected records.
            let wanted = (replay.records[p.id] ?? [:]).keys.sorted()
            if let missing = wanted.first(where: { !FileManager.default.fileExists(atPath: options.inputDirectory + "/" + $0) }) {
                throw RunError(.io, "replay: input file \(missing) (mapping \(p.id)) not found under \(options.inputDirectory)", code: .inputMissing)
            }
            return wanted
        }
        let files = InputFiles.match(p.spec.source.files.text, under: options.inputDirectory)
        if files.isEmpty {
            throw RunError(
                .io, "\(p.spec.file): no file under \(options.inputDirectory) matches '\(p.spec.source.files.text)' (mapping \(p.id))",
                code: .inputMissing)
        }
        return files
    }

    /// The part of the run's memory budget the engine keeps for itself: reader buffers, the
    /// mapping, the pseudonym cache, the SQLite writer's queue and page cache (measured: 60–75 MiB
    /// on the join benchmark, see bench/README.md).
    public static let engineReserve = 96 << 20

    /// What the run's data structures may hold in memory together: the budget less the engine's
    /// reserve (`engineReserve`), but at least a quarter of the budget.
    static func structurePool(_ budget: Int) -> Int { max(budget - engineReserve, budget / 4) }

    /// What each join index or grouping of a mapping may hold in memory: the structure pool
    /// (`structurePool`) less what the run's lookup tables hold (`lookupBytes`), shared equally
    /// between the mapping's `structures` (they are all alive at once).
    static func structureBudget(_ budget: Int, structures: Int, lookupBytes: Int = 0) -> Int {
        max(0, structurePool(budget) - lookupBytes) / max(1, structures)
    }

    /// What each lookup table of the run may hold in memory: an equal share of the structure pool
    /// between the run's lookup tables (loaded first, alive for the whole run) and the joins and
    /// grouping of the mapping that has the most, so that the tables together never leave a join
    /// less than a lookup's share. A table takes only what its rows need; the joins and groupings
    /// share what the tables leave (`structureBudget`).
    static func lookupBudget(_ budget: Int, plans: [MappingPlan]) -> Int {
        let live = plans.filter { $0.derivation == nil }
        let lookups = live.reduce(0) { $0 + $1.lookups.count }
        let structures = live.map { $0.joins.count + ($0.group == nil ? 0 : 1) }.max() ?? 0
        return structureBudget(budget, structures: lookups + structures)
    }

    /// Runs one mapping over its files: loads its joins (freeing them at the end), maps every
    /// file, then, for a mapping with `group:`, maps the groups. Returns the ledger entries (one
    /// per file, plus the group stage's).
    static func runPlan(
        _ plan: MappingPlan, executor: MappingExecutor, budget: Int, lookupBytes: Int = 0, spillDirectory: String, files: [String],
        openSource: (String) throws(RunError) -> (any RecordReader, Int32),
        openJoin: (PlannedJoin) throws(RunError) -> [PlannedJoin.Input],
        fileName: (Int32) -> String,
        joinReject: (Reject, Int32) -> Void,
        flushJoinRejects: () throws(RunError) -> Void,
        progress: (String, Int64) -> Void,
        finishedFile: (RunManifest.LedgerEntry, Int64) -> Void,
        parallel: ParallelSetup? = nil
    ) throws(RunError) -> [RunManifest.LedgerEntry] {
        let joins = plan.joins.map(JoinRuntime.init)
        executor.joins = joins
        defer { for j in joins { j.close() } }
        let deduplicate = executor.routing == nil ? plan.spec.source.deduplicate : nil
        let structures = plan.joins.count + (plan.group == nil ? 0 : 1) + (deduplicate == nil ? 0 : 1)
        let share = structureBudget(budget, structures: structures, lookupBytes: lookupBytes)
        for j in joins {
            try j.load(
                inputs: try openJoin(j.join), budget: share, spillDirectory: spillDirectory, callSites: executor.callSites, reject: joinReject,
                encoders: parallel?.workers ?? 1)
            try flushJoinRejects()
        }
        var store: GroupStore?
        if let g = plan.group {
            store = GroupStore(byCount: g.by.count, functions: g.aggregates.map(\.function), budget: share, spillDirectory: spillDirectory)
            executor.groupStore = store
        }
        defer { store?.close() }
        if let deduplicate {
            let filter = DuplicateFilter(mappingID: plan.id, keep: deduplicate.keep, budget: share)
            executor.duplicates = filter
            if deduplicate.keep == .last { try findLastOccurrences(filter, files: files, openSource: openSource) }
        }
        defer { executor.duplicates?.close() }
        var ledgers: [RunManifest.LedgerEntry] = []
        var fileNames: [Int32: String] = [:]
        // Several workers (`run --threads N`) when the mapping maps each record on its own.
        var workers: [ParallelFilePass.Worker] = []
        if let parallel, parallel.workers > 1, ParallelFilePass.accepts(executor) { workers = try parallel.makeWorkers(executor) }
        defer { for w in workers { parallel?.finishedWorker(w) } }
        // The workers' pass over the files, one after another without a pause at each file's end.
        var pass: ParallelFilePass.Files?
        if let parallel, !workers.isEmpty {
            pass = ParallelFilePass.Files(executor: executor, workers: workers, chunkRecords: parallel.chunkRecords, heldBytes: parallel.heldBytes)
        }
        defer { pass?.close() }
        /// A file the workers mapped whole (its last chunk forwarded), in the files' order.
        func passed(_ ledger: RunManifest.LedgerEntry, _ bytes: Int64, _ chunks: Int) {
            finishedFile(ledger, bytes)
            ledgers.append(ledger)
            parallel?.mappedFile(ledger.file, workers.count, chunks)
        }
        for file in files {
            let (reader, fid) = try openSource(file)
            fileNames[fid] = fileName(fid)
            let mappedEarly = (reader as? SpilledXMLRecordReader)?.early != nil
            if let pass, !mappedEarly {
                try pass.read(reader, fileIndex: fid, filePath: file, progress: progress, done: passed)
                continue
            }
            // The files before are done first (their ledgers come first).
            try pass?.drain(progress: progress, done: passed)
            let ledger: RunManifest.LedgerEntry
            if let spilled = reader as? SpilledXMLRecordReader, let taken = spilled.early {
                // Records mapped during an earlier mapping's parse (`EarlyXMLMapping`): its
                // chunks are forwarded, then the spill's records mapped by the same workers.
                guard let parallel, let early = taken as? EarlyXMLMapping else {
                    throw RunError(
                        .configuration,
                        "mapping \(plan.id): records of \(file) were mapped during another mapping's parse, but this mapping has no workers")
                }
                let pass = try ParallelFilePass.run(
                    executor: executor, session: early.session, reader: spilled, recordsBefore: early.records, filePath: file,
                    chunkRecords: parallel.chunkRecords, heldBytes: parallel.heldBytes
                ) { progress(file, $0) }
                early.session.close()
                for w in early.session.workers {
                    executor.absorb(w.executor)
                    parallel.finishedWorker(w)
                }
                ledger = pass.ledger
                parallel.mappedFile(file, early.session.workers.count, pass.chunks)
            } else {
                ledger = try runExecutor(executor, reader: reader, fileIndex: fid, filePath: file) { progress(file, $0) }
            }
            finishedFile(ledger, reader.bytesRead)
            ledgers.append(ledger)
        }
        try pass?.finish(progress: progress, done: passed)
        for w in workers { executor.absorb(w.executor) }
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

    /// `deduplicate: {keep: last}`: a first pass over the mapping's files, in run order, records
    /// each message identity's last occurrence (the readers are opened again for the mapping
    /// pass; a file is hashed by its first reading). A reader that is not an HL7 v2 reader (a
    /// replay's selection) deduplicates nothing, but is read to its end all the same: that first
    /// reading is the one hashed, and a replay compares the digest with the run's.
    private static func findLastOccurrences(
        _ filter: DuplicateFilter, files: [String], openSource: (String) throws(RunError) -> (any RecordReader, Int32)
    ) throws(RunError) {
        for file in files {
            let (reader, fid) = try openSource(file)
            guard let hl7 = reader as? HL7Reader else {
                try readToEnd(reader, file: file)
                return
            }
            while true {
                let event: ReadEvent
                do {
                    event = try hl7.next()
                } catch {
                    throw RunError(.io, "\(error)", code: error.code ?? .runIO, location: .init(file: file), cause: error)
                }
                switch event {
                case .end: break
                case .rejected: continue
                case .record:
                    try filter.recordPosition(of: hl7, file: fid)
                    continue
                }
                break
            }
        }
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

    /// Reads `reader` (of `file`) to its end, its records and rejects ignored.
    private static func readToEnd<R: RecordReader>(_ reader: R, file: String) throws(RunError) {
        while true {
            let event: ReadEvent
            do {
                event = try reader.next()
            } catch {
                throw RunError.readFailure(error, file: file)
            }
            if case .end = event { return }
        }
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

/// How `Pipeline.runPlan` maps a plan's files with several workers (`RunOptions.threads`).
struct ParallelSetup {
    /// Workers per file.
    let workers: Int
    /// Records per chunk.
    let chunkRecords: Int
    /// What the chunks in flight of a file may hold before its reading thread keeps fewer of
    /// them (`ParallelFilePass.run`).
    let heldBytes: Int
    /// The workers of a plan (after its joins are loaded); none when the plan cannot be mapped
    /// by workers (a lookup table or join index on disk).
    let makeWorkers: (MappingExecutor) throws(RunError) -> [ParallelFilePass.Worker]
    /// Told of each file mapped by workers (file, workers, chunks).
    let mappedFile: (String, Int, Int) -> Void
    /// Told of each worker when the plan is done (its counts go to the run's).
    let finishedWorker: (ParallelFilePass.Worker) -> Void
}
