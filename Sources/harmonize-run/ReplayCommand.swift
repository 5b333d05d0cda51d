import ArgumentParser
import Foundation
import Harmonize
import Mappings

/// `harmonize-run replay`: re-runs the rejected records of a run with the current mappings.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-run only the rejected records of a run (after a mapping fix) into the same output, without duplicating rows.",
        discussion: """
            Reads again only the records listed as outstanding in harmonize_reject (file + record number and line), maps them \
            with the given mappings, and publishes the output with their rows added (staging copy + atomic rename). The replay \
            is recorded as a run of kind 'replay'; the replayed rejects are marked resolved by it, and records that still fail \
            are rejected again (outstanding). Replaying again re-reads only those. Input files must be unchanged (SHA-256). \
            With --output postgresql://…?schema=NAME the outstanding rejects are those of the schema's published run and its \
            replays; the new rows are loaded by COPY into a staging schema, then one transaction appends them to the published \
            tables with the replay's books, and the checks run in it (docs/postgresql.md). \
            Derived tables (derive: mappings given with --mappings) are derived again over the whole output, and the \
            data-quality checks are run again for the replay (unless --no-quality). \
            Exit codes: 0 success; 1 published, but the replay's rejected records exceed --max-reject-rate (or, with \
            --fail-on-quality, a data-quality check failed); 2 configuration \
            or mapping errors, unknown run, changed input file (nothing written); 3 I/O errors (previous output untouched).
            """)

    @OptionGroup var mappingOptions: MappingOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The output written by 'run': a SQLite file, or a PostgreSQL URI postgresql://USER@HOST:PORT/DB?schema=NAME.",
            valueName: "FILE.sqlite|URI"))
    var output: String

    @Option(
        name: .customLong("run"), help: ArgumentHelp("Replay only the rejects of this run (default: every outstanding reject).", valueName: "RUN_ID"))
    var runID: String?

    @Option(name: .long, help: ArgumentHelp("The input folder of the run.", valueName: "DIR"))
    var input: String

    @Option(name: .customLong("max-reject-rate"), help: "Exit 1 when the replay's rejected / read exceeds this fraction (0 to 1; default 0).")
    var maxRejectRate: Double = 0

    @OptionGroup var privacy: PrivacyOptions

    @Flag(name: .long, help: "Print the replay summary as JSON on standard output.")
    var json = false

    @OptionGroup var quality: QualityOptions

    mutating func validate() throws {
        if !(0...1).contains(maxRejectRate) { throw ValidationError("--max-reject-rate must be between 0 and 1") }
    }

    func run() throws {
        do {
            try execute()
        } catch let e as CLIError {
            Terminal.error("harmonize-run: \(e.message)")
            throw e.code
        }
    }

    private func execute() throws {
        guard FileManager.default.fileExists(atPath: input) else { throw CLIError(code: Exit.io, message: "input folder not found: \(input)") }
        var postgres: PostgreSQLTarget?
        if PostgreSQLTarget.isURI(output) {
            do throws(HarmonizeError) {
                postgres = try PostgreSQLTarget(parsing: output)
            } catch {
                throw CLIError(code: Exit.code(for: error), message: "\(error.message) [\(error.code)]")
            }
        }
        let key = try privacy.loadKey()
        let outstanding: [OutputDatabase.OutstandingReject]
        let hashes: [String: String]
        let hadLineage: Bool
        var replayedRuns: [RunManifest] = []
        do {
            // PostgreSQL: the schema's published run and its replays.
            let db = try postgres.map { try OutputDatabase(postgres: $0) } ?? OutputDatabase(path: output)
            if let runID, try !db.hasRun(runID) { throw CLIError(code: Exit.configuration, message: "\(output) has no run \(runID)") }
            outstanding = try db.outstandingRejects(run: runID)
            hashes = try db.inputHashes(runs: Set(outstanding.map(\.run)))
            hadLineage = try db.hasLineage()
            for id in Set(outstanding.map(\.run)).sorted() {
                if let m = try db.manifest(run: id) { replayedRuns.append(m) }
            }
        } catch let e as OutputDatabase.Failure {
            throw CLIError(code: Exit.io, message: e.description)
        }
        let store = try mappingOptions.vocabularyStore()
        let plans = try mappingOptions.plans(functions: FunctionCatalog.registry(vocabulary: store))
        let exclusion = try privacy.loadExclusion(key: key)
        try quality.validateChecksFile()
        // Rows of a replay must be computed as the run computed them: same key, project, date
        // shifting and objection list.
        var parameters = privacy.parameters(key: key, exclusion: exclusion)
        parameters["sink"] = postgres == nil ? "sqlite" : "postgresql"
        if let postgres { parameters["output"] = postgres.displayURI }
        for m in replayedRuns {
            for (name, flag) in [
                ("key_fingerprint", "--key-file/--key-env"), ("project", "--project"), ("date_shift_days", "--date-shift-days"),
                ("exclude_sha256", "--exclude"),
            ]
            where m.parameters[name] != parameters[name] {
                throw CLIError(
                    code: Exit.configuration,
                    message:
                        "run \(m.runID) was made with other \(flag) than this replay; give the same so replayed rows are computed alike (nothing was read)"
                )
            }
        }
        let ids = Set(plans.map(\.id))
        let selected = outstanding.filter { ids.contains($0.mapping) && ($0.key.record != nil || $0.key.line != nil) }
        let left = outstanding.count - selected.count
        if left > 0 {
            let others = Set(outstanding.filter { !ids.contains($0.mapping) }.map(\.mapping)).sorted()
            Terminal.error(
                "harmonize-run: \(left) outstanding reject\(left == 1 ? "" : "s") not replayed (mappings not given: \(others.isEmpty ? "none" : others.joined(separator: ", ")); or no record location); they stay outstanding"
            )
        }
        guard !selected.isEmpty else {
            Terminal.error(
                "harmonize-run: nothing to replay: no outstanding rejects" + (runID.map { " of run \($0)" } ?? "")
                    + " for the given mappings; the output is unchanged")
            return
        }
        // A grouping folds all records of a file into its rows: re-running some of them would
        // write partial groups.
        if let p = plans.first(where: { p in p.groupDescription != nil && selected.contains { $0.mapping == p.id } }) {
            throw CLIError(
                code: Exit.configuration,
                message: "mapping \(p.id) groups its records (group:); its rejects cannot be replayed alone, run it again (nothing was read)")
        }
        // Derived tables of the replayed runs (their mappings read no file: no ledger entry) are
        // derived again only when their mapping is given.
        for m in replayedRuns {
            let derived = m.mappings.filter { e in !ids.contains(e.id) && !m.ledger.contains { $0.mapping == e.id } }
            for e in derived {
                Terminal.error(
                    "harmonize-run: \((e.targets ?? []).joined(separator: ", ")) (mapping \(e.id), derived by run \(m.runID)) will not be derived again over the replayed rows: give its mapping with --mappings"
                )
            }
        }
        var records: [String: [String: Set<RecordKey>]] = [:]
        for r in selected { records[r.mapping, default: [:]][r.file, default: []].insert(r.key) }
        var options = RunOptions(inputDirectory: input, recordsLineage: hadLineage, parameters: parameters)
        options.exclusion = exclusion
        options.key = key
        options.dateShiftDays = privacy.dateShiftDays
        options.parameters.removeValue(forKey: "exclude_sha256")  // set again by the pipeline
        if let vocabulary = mappingOptions.vocabulary { options.parameters["vocabulary"] = (vocabulary as NSString).lastPathComponent }
        options.vocabulary = store
        let outputFolder = (output as NSString).deletingLastPathComponent
        options.spillDirectory = postgres != nil ? NSTemporaryDirectory() : outputFolder.isEmpty ? "." : outputFolder
        options.replay = ReplaySelection(replayOf: runID, records: records, inputHashes: hashes)
        let qualityOutcome = QualityOutcome()
        let sink: any Sink
        if let postgres {
            let replayID = UUID().uuidString.lowercased()
            options.runID = replayID
            let pg = PostgreSQLSink(target: postgres, runID: replayID, recordsLineage: hadLineage)
            // The checks run in the publication transaction, on the CDM with the replayed rows,
            // and store their results for the replay run.
            pg.replay = PostgreSQLReplay(
                resolves: selected.map {
                    PostgreSQLReplay.Reject(run: $0.run, mapping: $0.mapping, file: $0.file, record: $0.key.record, line: $0.key.line)
                },
                checks: quality.shardChecks(qualityOutcome))
            pg.inputDirectory = URL(fileURLWithPath: input).standardizedFileURL.path
            sink = pg
        } else {
            let sqlite = SQLiteSink(outputPath: output, recordsLineage: hadLineage)
            sqlite.appendsToExisting = true
            sqlite.resolvesRejects = selected.map(\.id)
            sqlite.inputDirectory = URL(fileURLWithPath: input).standardizedFileURL.path
            // The checks run again on the staging copy and store their results for the replay run,
            // before it replaces the output.
            sqlite.beforePublish = quality.beforePublish(qualityOutcome)
            sink = sqlite
        }
        // The mappings with rejects to replay, and the derivations (derived again over the whole output).
        let pipeline = Pipeline(plans: plans.filter { records[$0.id] != nil || $0.derivation != nil }, options: options)
        let start = Date()
        let manifest: RunManifest
        do {
            manifest = try pipeline.run(into: PipelinedSink(sink))
        } catch {
            for d in error.diagnostics { Terminal.error(d.description) }
            throw CLIError(code: Exit.code(for: error), message: error.message + " (the previous output is untouched)")
        }
        let elapsed = Date().timeIntervalSince(start)
        let read = manifest.readCount
        if !json {
            Terminal.error(RunSummary.text(manifest, seconds: elapsed, output: output))
            Terminal.error(
                "replayed \(selected.count) reject\(selected.count == 1 ? "" : "s")" + (runID.map { " of run \($0)" } ?? "")
                    + ": \(read - manifest.rejectedCount) now mapped or filtered, \(manifest.rejectedCount) still rejected (outstanding)")
        }
        let (qualityReport, qualityFailed) = quality.report(qualityOutcome)
        if json { Terminal.out(RunSummary.json(manifest, seconds: elapsed, output: output, quality: qualityReport)) }
        let rate = read == 0 ? 0 : Double(manifest.rejectedCount) / Double(read)
        if rate > maxRejectRate {
            Terminal.error("harmonize-run: \(manifest.rejectedCount) of \(read) replayed records rejected again; the output was published")
            throw Exit.rejectsAboveThreshold
        }
        try quality.enforce(failed: qualityFailed)
    }
}
