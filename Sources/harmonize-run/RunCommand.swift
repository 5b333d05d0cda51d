import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// `harmonize-run run`: runs mappings over an input folder into an output database.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run mappings over the files of an input folder and publish the output atomically.",
        discussion: """
            The data-quality checks run on the staging database (or schema) before it is published (their results are stored in it). \
            Only one run at a time writes an output (a lock file .OUTPUT.lock beside it); a second one exits 3 at once. \
            A run removes the staging files of killed runs of the same output, and only reads regular files: an input \
            that is a FIFO, a device or a socket, or that changes while it is read, stops the run (exit 3, nothing published). \
            Exit codes: 0 success; 1 published, but rejected records exceed --max-reject-rate (or, with --fail-on-quality, \
            a data-quality check failed); \
            2 configuration or mapping errors (nothing read); 3 I/O errors (previous output untouched; or, said so, the \
            output was published but a later step failed). \
            With --output postgresql://USER@HOST:PORT/DB?schema=NAME the rows are loaded into that schema by COPY into a staging \
            schema, published in one transaction; a run id (--run-id) is published once: a rerun exits 0 and changes nothing \
            (docs/postgresql.md). With --shard i/N, a shard commits its rows into the run's area with its row in the schema's \
            shard ledger (a shard already committed exits 0 and changes nothing); the shard that completes the ledger \
            publishes the run (or 'harmonize-run publish --run-id ID --output URI'), running the data-quality checks with \
            its options on the assembled run first.
            """)

    enum SinkKind: String, ExpressibleByArgument, CaseIterable {
        case sqlite, csv, none
    }

    @OptionGroup var mappingOptions: MappingOptions

    @Option(name: .long, help: ArgumentHelp("The folder the mappings' file patterns are relative to.", valueName: "DIR"))
    var input: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The output: a SQLite file (or a folder with --sink csv), or a PostgreSQL URI postgresql://USER@HOST:PORT/DB?schema=NAME (password from PGPASSWORD or ~/.pgpass).",
            valueName: "FILE|URI"))
    var output: String?

    @Option(
        name: .customLong("output-mode"),
        help: ArgumentHelp("Permissions of the SQLite output, in octal (default 600: owner only).", valueName: "MODE"))
    var outputMode: String = "600"

    @Option(name: .long, help: "Where rows go: sqlite (default), csv (one file per table), none (measure only).")
    var sink: SinkKind = .sqlite

    @Flag(name: .customLong("canonical-sort"), help: "With --sink csv: sort each table's rows (holds each table in memory).")
    var canonicalSort = false

    @Option(name: .customLong("max-reject-rate"), help: "Exit 1 when rejected / read exceeds this fraction (0 to 1; default 0).")
    var maxRejectRate: Double = 0

    @OptionGroup var privacy: PrivacyOptions

    @Option(
        name: .customLong("memory-budget"),
        help: ArgumentHelp(
            "The run's memory budget (bytes, or with K, M, G): the engine keeps up to 96 MiB of it (never more than three quarters); lookup tables, join indexes and groupings share the rest and move to disk past their share: each lookup table (loaded first, kept for the whole run) gets at most an equal share between the run's lookup tables and the most joins and groupings a mapping has; a mapping's joins and grouping share equally what the lookup tables leave.",
            valueName: "SIZE"))
    var memoryBudget: String = "256M"

    @Option(
        name: .customLong("spill-dir"),
        help: ArgumentHelp(
            "Folder for on-disk join indexes, lookup tables and grouping results (default: the output's folder).", valueName: "DIR"))
    var spillDir: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Mapping workers per file: a number from 1 to 64, or 'auto' (default: the machine's cores, less one for the output's writer thread unless --sink none, every core for HL7 v2 and XML mappings and for mappings that join other files; at least 1, at most 64). "
                + "With more than one, the file is read on one thread and its records mapped by the workers in chunks; "
                + "the output (rows, ids, rejects, lineage) is the same for any number. Mappings that group or deduplicate records are mapped on one thread.",
            valueName: "N"))
    var threads: String = "auto"

    @Option(name: .customLong("chunk-records"), help: .hidden)
    var chunkRecords: Int = 2048

    @Flag(
        name: .customLong("no-shared-parse"),
        help:
            "Parse an XML file once per mapping that reads it (default: once for all of them, the later mappings reading their records from that parse; the output is the same)."
    )
    var noSharedParse = false

    @Flag(name: .long, help: "Store one lineage row per output row (harmonize_lineage).")
    var lineage = false

    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Run again only the mappings whose inputs, mapping files, vocabulary release, key or settings changed since the run that wrote the SQLite output; "
                + "the others' rows, rejects and lineage are taken over (docs/incremental-runs.md). Says which ran again and why; "
                + "when nothing changed, the output is left as it is."))
    var incremental = false

    @Flag(
        name: .customLong("keep-orphans"),
        help: "Keep rows whose person_id names no person row of the output (default: held back as rejects, target-fk-missing).")
    var keepOrphans = false

    @Flag(name: .customLong("no-progress"), help: "Never show the progress line.")
    var noProgress = false

    @Flag(name: .long, help: "Print the run summary as JSON on standard output.")
    var json = false

    @OptionGroup var quality: QualityOptions

    @Option(name: .long, help: ArgumentHelp("Append OpenLineage START and COMPLETE/FAIL events (JSON lines) to this file.", valueName: "FILE.jsonl"))
    var openlineage: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Do shard i of N (0-based): keep the records whose subject hashes to it (records without a subject: shard 0). "
                + "auto/N takes i from HARMONIZE_SHARD_INDEX, JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID. Needs --run-id; "
                + "combine the shard files with 'harmonize-run merge' (docs/scale-out.md). Into PostgreSQL, each shard commits "
                + "its rows with its row in the shard ledger; the last one publishes the run (or 'harmonize-run publish').",
            valueName: "i/N"))
    var shard: String?

    @Option(
        name: .customLong("run-id"),
        help: ArgumentHelp(
            "The run's id (letters, digits, '.', '_', '-'; at most 128), the same for every shard of a run (default: a fresh UUID). "
                + "A PostgreSQL output publishes a run id once: a rerun changes nothing.",
            valueName: "ID"))
    var runID: String?

    @Option(
        name: .customLong("cdm-source-name"),
        help: ArgumentHelp("cdm_source.cdm_source_name (default: 'Harmonize output of' and the mappings' id prefixes).", valueName: "TEXT"))
    var cdmSourceName: String?

    @Option(
        name: .customLong("cdm-source-abbreviation"),
        help: ArgumentHelp("cdm_source.cdm_source_abbreviation, at most 25 characters (default: the mappings' id prefixes).", valueName: "TEXT"))
    var cdmSourceAbbreviation: String?

    @Option(name: .customLong("cdm-holder"), help: ArgumentHelp("cdm_source.cdm_holder (default: 'not stated').", valueName: "TEXT"))
    var cdmHolder: String?

    @Option(
        name: .customLong("source-description"),
        help: ArgumentHelp("cdm_source.source_description (default: the mappings, inputs and vocabulary release of the run).", valueName: "TEXT"))
    var sourceDescription: String?

    mutating func validate() throws {
        if sink != .none && output == nil { throw ValidationError("--output is required unless --sink none") }
        if !(0...1).contains(maxRejectRate) { throw ValidationError("--max-reject-rate must be between 0 and 1") }
        if Self.fileMode(outputMode) == nil { throw ValidationError("--output-mode is an octal mode from 0 to 777 (600, 640, 644)") }
        if let output, PostgreSQLTarget.isURI(output), sink != .sqlite {
            throw ValidationError("a PostgreSQL --output takes no --sink (rows go to the PostgreSQL schema)")
        }
        if Self.threadCount(threads) == nil { throw ValidationError("--threads is a number from 1 to 64, or auto") }
        if chunkRecords < 1 { throw ValidationError("--chunk-records is at least 1") }
        if Self.byteSize(memoryBudget) == nil { throw ValidationError("--memory-budget is a size in bytes, or with K, M or G (256M)") }
        if let runID, !Self.isValidRunID(runID) {
            throw ValidationError("--run-id is 1 to 128 letters, digits, '.', '_' or '-'")
        }
        if incremental {
            if sink != .sqlite { throw ValidationError("--incremental needs a SQLite output (--sink sqlite)") }
            if shard != nil { throw ValidationError("--incremental does not take --shard: run the shards in full, then merge or publish") }
        }
        if let shard {
            _ = try Self.shardSpec(shard, environment: ProcessInfo.processInfo.environment)
            if runID == nil { throw ValidationError("--shard needs --run-id: the shards of one run share its id (harmonize-run merge checks it)") }
        }
    }

    /// `--threads`: a number from 1 to 64, or `auto`: the active cores, less one for the sink's
    /// writer thread when the run writes an output (`writes`), at least 1, at most 64. Measured
    /// on 2 cores (bench/README.md): without a sink, 2 workers take 0.58× the wall time of one
    /// thread on the claims; writing SQLite, the writer thread needs the second core and 2 workers
    /// took 1.06–1.12× the time of one thread on the claims (0.73–0.83× on the hospital formats,
    /// whose rows are fewer). With `auto`, mappings that read HL7 v2 or XML (their reading thread
    /// parses) or join other files (their records probe the join index) get the cores in any
    /// case (`RunOptions.heavyMappingThreads`).
    static func threadCount(_ text: String, writes: Bool = true) -> Int? {
        if text == "auto" { return min(64, max(1, ProcessInfo.processInfo.activeProcessorCount - (writes ? 1 : 0))) }
        guard let n = Int(text), (1...64).contains(n) else { return nil }
        return n
    }

    /// Whether `text` can name a run: 1 to 128 ASCII letters, digits, `.`, `_`, `-`.
    static func isValidRunID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128
            && text.utf8.allSatisfy { b in
                (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 46 || b == 95 || b == 45
            }
    }

    /// The variables `--shard auto/N` reads the shard index from, first set first: ours, Kubernetes
    /// indexed Jobs, Slurm job arrays (0-based arrays: --array=0-(N-1)).
    static let shardIndexVariables = ["HARMONIZE_SHARD_INDEX", "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"]

    /// `i/N`, or `auto/N` with i from the environment (`shardIndexVariables`).
    static func shardSpec(_ text: String, environment: [String: String]) throws -> ShardSpec {
        var text = text
        if text.hasPrefix("auto/") {
            guard let name = shardIndexVariables.first(where: { environment[$0] != nil }), let value = environment[name] else {
                throw ValidationError("--shard auto/N: none of \(shardIndexVariables.joined(separator: ", ")) is set")
            }
            text = value.trimmingCharacters(in: .whitespaces) + text.dropFirst(4)
        }
        guard let spec = ShardSpec(parsing: text) else {
            throw ValidationError(
                "--shard is i/N with 0 ≤ i < N (or auto/N): got an index out of range or not a number [\(ErrorCode.shardOutOfRange)]")
        }
        return spec
    }

    func run() throws {
        var printedJSON = false
        do {
            try execute(printedJSON: &printedJSON)
        } catch let e as CLIError {
            Terminal.error("harmonize-run: \(e.message)")
            if json && !printedJSON {
                Terminal.out(RunFailure.json(code: e.code.rawValue, message: e.message, diagnostics: e.diagnostics, duplicate: e.duplicate))
            }
            throw e.code
        } catch let e as ExitCode {
            // With --json, one document on every exit (errors printed on standard error only).
            if json && !printedJSON && e.rawValue != 0 {
                Terminal.out(RunFailure.json(code: e.rawValue, message: "the run stopped (see standard error)", diagnostics: []))
            }
            throw e
        }
    }

    /// `600`, `0640`: permission bits in octal (at most 777).
    static func fileMode(_ text: String) -> Int? {
        guard let m = Int(text, radix: 8), (0...0o777).contains(m) else { return nil }
        return m
    }

    /// `256M`, `1G`, `512K` or a number of bytes.
    static func byteSize(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let u = t.last, let m = units[u] {
            return Int(t.dropLast()).flatMap { $0 >= 0 ? $0 * m : nil }
        }
        return Int(t).flatMap { $0 >= 0 ? $0 : nil }
    }

    private func execute(printedJSON: inout Bool) throws {
        guard FileManager.default.fileExists(atPath: input) else {
            throw CLIError(code: Exit.io, message: "input folder not found: \(input)")
        }
        var postgres: PostgreSQLTarget?
        if incremental, let output, PostgreSQLTarget.isURI(output) {
            throw CLIError(
                code: Exit.configuration,
                message:
                    "--incremental works on a SQLite output only; a PostgreSQL run id is published once (rerun it whole) [\(ErrorCode.postgresUnsupported)]"
            )
        }
        if let output, PostgreSQLTarget.isURI(output) {
            do throws(HarmonizeError) {
                postgres = try PostgreSQLTarget(parsing: output)
            } catch {
                throw CLIError(code: Exit.code(for: error), message: "\(error.message) [\(error.code)]")
            }
        }
        let key = try privacy.loadKey()
        let store = try mappingOptions.vocabularyStore()
        let plans = try mappingOptions.plans(functions: FunctionCatalog.registry(vocabulary: store))
        let exclusion = try privacy.loadExclusion(key: key)
        try quality.validateChecksFile()
        var parameters = privacy.parameters(key: key, exclusion: exclusion)
        parameters["sink"] = postgres == nil ? sink.rawValue : "postgresql"
        // The URI never holds a password (refused when parsing it).
        if let postgres { parameters["output"] = postgres.displayURI }
        if let vocabulary = mappingOptions.vocabulary { parameters["vocabulary"] = (vocabulary as NSString).lastPathComponent }
        if let profile = try mappingOptions.profileFingerprint() { parameters["profile_sha256"] = profile }
        var options = RunOptions(inputDirectory: input, recordsLineage: lineage, parameters: parameters)
        options.exclusion = exclusion
        options.key = key
        options.dateShiftDays = privacy.dateShiftDays
        options.holdsBackOrphans = !keepOrphans
        options.vocabulary = store
        // OMOP's cdm_source row (docs/vocabulary-releases.md): release, CDM version, ETL reference.
        options.runDescription = plans.first.flatMap {
            CDMSource.runDescription(
                model: $0.model,
                settings: CDMSource.Settings(
                    name: cdmSourceName, abbreviation: cdmSourceAbbreviation, holder: cdmHolder, description: sourceDescription))
        }
        options.memoryBudget = Self.byteSize(memoryBudget) ?? options.memoryBudget
        options.threads = Self.threadCount(threads, writes: sink != .none || postgres != nil) ?? 1
        if threads == "auto" { options.heavyMappingThreads = Self.threadCount("auto", writes: false) }
        options.chunkRecords = chunkRecords
        options.sharesXMLParses = !noSharedParse
        if options.memoryBudget < 128 << 20,
            plans.contains(where: { !$0.joinDescriptions.isEmpty || $0.groupDescription != nil || !$0.lookups.isEmpty })
        {
            Terminal.error(
                "harmonize-run: warning: a --memory-budget under 128M bounds the lookup tables, join indexes and groupings (a quarter of it), "
                    + "not the engine's own working set (60–75 MiB on the benchmarks), which comes on top")
        }
        if let spillDir {
            options.spillDirectory = spillDir
        } else if postgres != nil {
            options.spillDirectory = NSTemporaryDirectory()
        } else if let output {
            let dir = (output as NSString).deletingLastPathComponent
            options.spillDirectory = dir.isEmpty ? "." : dir
        }
        // Everything checkable before reading, by the library; the CLI only renders it.
        let problems = Preflight.check(plans, options: options, sinkSupportsUpdates: sink != .csv)
        if problems.contains(where: { $0.severity == .error }) {
            for d in problems { Terminal.error(d.description) }
            throw CLIError(
                code: Exit.configuration, message: "the run cannot start: nothing was read [\(ErrorCode.preflightFailed)]", diagnostics: problems)
        }
        let runID = self.runID ?? UUID().uuidString.lowercased()
        let shardSpec = try shard.map { try Self.shardSpec($0, environment: ProcessInfo.processInfo.environment) }
        if let postgres, let shardSpec {
            // A shard: skipped when the run is published or the shard committed (a retry).
            let state: PostgreSQLShards.State
            do throws(HarmonizeError) {
                state = try PostgreSQLShards.state(of: runID, in: postgres)
                if !state.published { try PostgreSQLShards.check(shardSpec, runID: runID, against: state, schema: postgres.schema) }
            } catch {
                throw CLIError(code: Exit.code(for: error), message: "\(error.message) [\(error.code)]")
            }
            if state.published {
                Terminal.error("harmonize-run: run \(runID) is already published in schema \(postgres.schema); nothing changed")
                if json { Terminal.out(Self.alreadyPublishedJSON(runID)) }
                printedJSON = true
                return
            }
            if state.committed[shardSpec.index] != nil {
                Terminal.error(
                    "harmonize-run: shard \(shardSpec) of run \(runID) is already committed in schema \(postgres.schema) "
                        + "(\(state.committed.count) of \(shardSpec.count) shards in); nothing changed")
                var status = ShardStatus(
                    runID: runID, shard: shardSpec.description, status: "shard-already-committed", committed: state.committed.count,
                    of: shardSpec.count)
                let outcome = QualityOutcome()
                if state.committed.count == shardSpec.count {
                    status.status = try Self.publishShards(runID: runID, target: postgres, shard: shardSpec, checks: quality.shardChecks(outcome))
                }
                if json { Terminal.out(status.json) }
                printedJSON = true
                try quality.enforce(failed: quality.report(outcome).failed)
                return
            }
        } else if let postgres {
            do throws(SinkError) {
                if try PostgreSQLSink.isPublished(runID: runID, in: postgres) {
                    Terminal.error("harmonize-run: run \(runID) is already published in schema \(postgres.schema); nothing changed")
                    if json { Terminal.out(Self.alreadyPublishedJSON(runID)) }
                    printedJSON = true
                    return
                }
            } catch {
                throw CLIError(code: Exit.io, message: error.message)
            }
        }
        options.runID = runID
        options.shard = shardSpec
        if incremental, let output {
            // Which mappings run again, and why (docs/incremental-runs.md); nothing is written yet.
            let plan: IncrementalPlan
            do throws(RunError) {
                plan = try IncrementalPlan.make(plans: plans, options: options, outputPath: output)
            } catch {
                for d in error.diagnostics { Terminal.error(d.description) }
                throw CLIError(code: Exit.code(for: error), message: error.message, diagnostics: error.diagnostics)
            }
            Terminal.error(Self.describe(plan))
            if plan.isUpToDate {
                if json { Terminal.out(Self.upToDateJSON(plan)) }
                printedJSON = true
                return
            }
            options.incremental = plan
        }
        let lineageJob = (namespace: privacy.project.isEmpty ? "harmonize" : privacy.project, name: "harmonize-run")
        let absolute = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        if let openlineage {
            try Self.append(
                OpenLineageEvents.start(
                    runID: runID, jobNamespace: lineageJob.namespace, jobName: lineageJob.name,
                    outputNamespace: postgres?.displayURI ?? ("file://" + absolute(output ?? "."))),
                to: openlineage)
        }
        let pipeline = Pipeline(plans: plans, options: options)
        let showProgress = !noProgress && Terminal.stderrIsTTY
        let start = Date()
        if showProgress {
            var last = Date.distantPast
            pipeline.onProgress = { p in
                let now = Date()
                guard now.timeIntervalSince(last) >= 0.5 else { return }
                last = now
                let secs = max(now.timeIntervalSince(start), 0.001)
                let total = p.bytesTotal > 0 ? " / \(Terminal.bytes(p.bytesTotal))" : ""
                Terminal.status(
                    "\(p.mapping) \(p.file): \(p.records) records, \(Int(Double(p.bytesRead) / secs / 1e6)) MB/s, \(Terminal.bytes(p.bytesRead))\(total)"
                )
            }
        }
        var sqliteSink: SQLiteSink?
        var postgresSink: PostgreSQLSink?
        let target: any Sink
        let qualityOutcome = QualityOutcome()
        switch sink {
        case .sqlite where postgres != nil:
            guard let postgres else { throw CLIError(code: Exit.configuration, message: "no PostgreSQL output") }
            let pg = PostgreSQLSink(target: postgres, runID: runID, recordsLineage: lineage)
            pg.inputDirectory = absolute(input)
            // The checks store their results in the staging schema, published with the run.
            pg.beforePublish = quality.postgresBeforePublish(qualityOutcome)
            postgresSink = pg
            target = PipelinedSink(pg)
        case .sqlite:
            let sqlite = SQLiteSink(outputPath: output ?? "", recordsLineage: lineage)
            sqlite.fileMode = Self.fileMode(outputMode) ?? 0o600
            // The checks store their results in the staging database, before it is published.
            sqlite.beforePublish = quality.beforePublish(qualityOutcome)
            sqliteSink = sqlite
            // Recorded outside the manifest, for `trace --show-source`.
            sqlite.inputDirectory = absolute(input)
            target = PipelinedSink(sqlite)
        case .csv: target = PipelinedSink(CSVSink(outputPath: output ?? "", canonicalSort: canonicalSort))
        case .none: target = NullSink()
        }
        let manifest: RunManifest
        do {
            manifest = try pipeline.run(into: target)
        } catch {
            if showProgress { Terminal.status("") }
            for d in error.diagnostics { Terminal.error(d.description) }
            if let openlineage {
                do {
                    try Self.append(
                        OpenLineageEvents.fail(runID: runID, jobNamespace: lineageJob.namespace, jobName: lineageJob.name, message: error.message),
                        to: openlineage)
                } catch {
                    // The run's own error is the one reported; say the event is missing too.
                    Terminal.error("harmonize-run: warning: the OpenLineage FAIL event was not written to \(openlineage)")
                }
            }
            // A duplicate primary key: name the mappings, files and records of its rows (issue 16).
            let duplicate = (sqliteSink?.duplicateKey ?? postgresSink?.duplicateKey).map { RunFailure.locate($0, plans: plans, options: options) }
            throw CLIError(
                code: Exit.code(for: error),
                message: error.message + (duplicate.map(RunFailure.sentence) ?? "") + " (the previous output, if any, is untouched)",
                diagnostics: error.diagnostics, duplicate: duplicate)
        }
        if showProgress { Terminal.status("") }
        // A shard into PostgreSQL: committed (or found committed meanwhile); the one that
        // completes the ledger publishes the run.
        var shardStatus: ShardStatus?
        if let postgres, let shardSpec, let commit = postgresSink?.shardCommit {
            // The shard that publishes runs the checks on the assembled run, with its options.
            shardStatus = try Self.afterCommit(commit, runID: runID, target: postgres, shard: shardSpec, checks: quality.shardChecks(qualityOutcome))
        }
        let elapsed = Date().timeIntervalSince(start)
        // Published. A step that fails from here on exits non-zero before the summary, which
        // would otherwise say "succeeded".
        let unread = UnreadInputs.list(input: input, manifest: manifest)
        if !unread.isEmpty && options.replay == nil {
            let shown = unread.prefix(10).joined(separator: ", ") + (unread.count > 10 ? ", …" : "")
            Terminal.error("harmonize-run: note: \(unread.count) input file(s) that no mapping reads: \(shown)")
        }
        if let openlineage {
            do {
                try Self.append(
                    OpenLineageEvents.complete(
                        manifest: manifest, jobNamespace: lineageJob.namespace, jobName: lineageJob.name, inputNamespace: "file://" + absolute(input),
                        outputNamespace: postgres?.displayURI ?? ("file://" + absolute(output ?? ".")), model: try Mappings.omopModel(),
                        quality: qualityOutcome.report),
                    to: openlineage)
            } catch let e as CLIError {
                throw CLIError(code: e.code, message: "the output was published, but the OpenLineage COMPLETE event was not written: \(e.message)")
            }
        }
        if !json {
            Terminal.error(RunSummary.text(manifest, seconds: elapsed, output: output))
            if let shardStatus { Terminal.error("harmonize-run: " + shardStatus.sentence(schema: postgres?.schema ?? "")) }
        }
        let (qualityReport, qualityFailed) = quality.report(qualityOutcome)
        if json {
            Terminal.out(
                RunSummary.json(
                    manifest, seconds: elapsed, output: output, quality: qualityReport, shards: shardStatus, postgresPhases: postgresSink?.phases))
            printedJSON = true
        }
        let read = manifest.readCount
        let rate = read == 0 ? 0 : Double(manifest.rejectedCount) / Double(read)
        if rate > maxRejectRate {
            Terminal.error(
                "harmonize-run: \(manifest.rejectedCount) of \(read) records rejected (\(String(format: "%.4f", rate * 100))% > --max-reject-rate \(maxRejectRate * 100)%); the output was published"
            )
            throw Exit.rejectsAboveThreshold
        }
        try quality.enforce(failed: qualityFailed)
    }

    /// What became of a shard into PostgreSQL (`shards` in `--json`): `committed` (the run waits
    /// for its other shards), `published` (this shard completed the ledger and published the run),
    /// `shard-already-committed` (a rerun: nothing changed), `already-published`.
    struct ShardStatus: Encodable {
        var runID: String
        var shard: String
        var status: String
        /// Shards of the run in the ledger.
        var committed: Int
        /// Shards of the run.
        var of: Int

        var json: String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            do {
                return String(decoding: try encoder.encode(self), as: UTF8.self)
            } catch {
                // Strings and numbers: encoding cannot fail; still print a valid document.
                return "{\"status\": \"\(status)\"}"
            }
        }

        func sentence(schema: String) -> String {
            switch status {
            case "published": return "shard \(shard) completed the \(of) shards of run \(runID): the run is published in schema \(schema)"
            case "already-published": return "run \(runID) was published in schema \(schema) meanwhile; this shard's rows were not added"
            case "shard-already-committed":
                return "shard \(shard) of run \(runID) was committed by another attempt meanwhile; this one's rows were not added"
            default:
                return "shard \(shard) of run \(runID) is committed in schema \(schema) (\(committed) of \(of) shards in); "
                    + "the run is published when all are in"
            }
        }
    }

    /// The status of a shard after its commit; publishes the run when the ledger is complete
    /// (running `checks` on the assembled run).
    static func afterCommit(
        _ commit: PostgreSQLShards.Commit, runID: String, target: PostgreSQLTarget, shard: ShardSpec, checks: PostgreSQLShards.Checks?
    ) throws -> ShardStatus {
        switch commit {
        case .committed(let shards, let of), .alreadyCommitted(let shards, let of):
            var status = ShardStatus(
                runID: runID, shard: shard.description,
                status: commit == .committed(shards: shards, of: of) ? "committed" : "shard-already-committed",
                committed: shards, of: of)
            if shards == of { status.status = try publishShards(runID: runID, target: target, shard: shard, checks: checks) }
            return status
        case .alreadyPublished:
            return ShardStatus(runID: runID, shard: shard.description, status: "already-published", committed: shard.count, of: shard.count)
        }
    }

    /// Publishes a run whose shards are all committed, running `checks` on the assembled run
    /// first; `published`, or `already-published` when another shard or `publish` did it first.
    static func publishShards(runID: String, target: PostgreSQLTarget, shard: ShardSpec, checks: PostgreSQLShards.Checks?) throws -> String {
        do throws(HarmonizeError) {
            switch try PostgreSQLShards.publish(runID: runID, target: target, checks: checks) {
            case .published: return "published"
            case .alreadyPublished: return "already-published"
            }
        } catch {
            throw CLIError(
                code: Exit.code(for: error),
                message:
                    "shard \(shard) of run \(runID) is committed, but the run could not be published: \(error.message) [\(error.code)]; "
                    + "'harmonize-run publish --run-id \(runID) --output URI' publishes it")
        }
    }

    /// What `--incremental` decided, for standard error: the mappings run again with their
    /// reasons, the mappings reused.
    static func describe(_ plan: IncrementalPlan) -> String {
        let s = plan.summary
        let total = s.rerun.count + s.reused.count
        guard let base = s.base else {
            let reason = s.rerun.first?.reasons.first ?? "no earlier run to start from"
            return "harmonize-run: incremental: \(reason): every mapping runs"
        }
        if s.rerun.isEmpty {
            return "harmonize-run: incremental: nothing changed since run \(base) (\(total) mappings): the output is up to date and was left as it is"
        }
        var lines = ["harmonize-run: incremental: \(s.rerun.count) of \(total) mappings run again, \(s.reused.count) taken over from run \(base)"]
        for d in s.rerun { lines.append("  \(d.mapping): " + d.reasons.joined(separator: "; ")) }
        if !s.reused.isEmpty { lines.append("  taken over: " + s.reused.joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    }

    /// `{"status": "up-to-date", "incremental": …}`: `--incremental` found nothing to run again.
    static func upToDateJSON(_ plan: IncrementalPlan) -> String {
        struct UpToDate: Encodable {
            var status = "up-to-date"
            var incremental: IncrementalSummary
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return String(decoding: try encoder.encode(UpToDate(incremental: plan.summary)), as: UTF8.self)
        } catch {
            return "{\"status\": \"up-to-date\"}"
        }
    }

    /// `{"runID": …, "status": "already-published"}`: a rerun of a published run id.
    static func alreadyPublishedJSON(_ runID: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return String(decoding: try encoder.encode(["runID": runID, "status": "already-published"]), as: UTF8.self)
        } catch {
            // Two strings: encoding cannot fail; still print a valid document.
            return "{\"status\": \"already-published\"}"
        }
    }

    /// Appends one line to a JSON-lines file (created when missing).
    static func append(_ line: String, to path: String) throws {
        let data = Data((line + "\n").utf8)
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: data) else {
                throw CLIError(code: Exit.io, message: "cannot write \(path)")
            }
            return
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw CLIError(code: Exit.io, message: "cannot write \(path)") }
        defer { try? h.close() }
        do {
            try h.seekToEnd()
            try h.write(contentsOf: data)
        } catch {
            throw CLIError(code: Exit.io, message: "cannot write \(path): \(error.localizedDescription)")
        }
    }
}
