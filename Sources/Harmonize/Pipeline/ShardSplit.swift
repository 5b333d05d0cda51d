import Foundation

/// `harmonize-run split --shards N`: writes the input folder again as N folders, `shard-i/`,
/// each holding the lines of the records whose subject hashes to shard i (the assignment of
/// `run --shard i/N`, `ShardAssignment`, with the same key), so that shard i can run on its folder
/// alone (`run --shard i/N` on `shard-i/` equals `run --shard i/N` on the whole input).
///
/// How each line is placed:
///
/// 1. Routing: every mapping reads its sources and joins as a run does (same decoding, same
///    joins, same subject), maps nothing, and notes for each record the line where it starts and
///    its shard; a record found through a join (a partner) goes to the shard of the record that
///    found it. A record whose subject is unknown (no `subject:`, or rejected before its subject
///    is known) goes to shard 0, as in a sharded run. The notes go to an on-disk SQLite table in
///    the output folder (memory stays flat whatever the input size; SQLite sorts on disk).
/// 2. Writing: each file is copied line by line (bytes untouched: encoding, delimiters, line
///    ends kept) to the shards its records were routed to; the lines before the first record
///    (preamble, header) go to every shard; a record routed nowhere (a joined row no record
///    found) goes to shard 0. A record may go to several shards (two mappings, or a joined row
///    found from two shards): a sharded run counts it in `otherShard` where it does not belong.
/// 3. Files under the input folder that no mapping reads as a source or a join (lookups with
///    `input:`…) are copied to every shard.
///
/// Refused (`ErrorCode.splitUnsupported`) for mappings that read HL7 or XML (only delimited files
/// are split), and for mappings calling `row_id` (its record numbers would change); the checks of
/// a sharded run (`Preflight.shardProblems`) apply too. A record rejected before its subject is
/// known goes to shard 0 with the rows its joins found; when a join was ambiguous, every joined
/// row with that key (found again by a hash of the key, on disk) goes to shard 0 too. Rejects
/// and lineage name lines of the split files.
package enum ShardSplit {
    /// What a split did.
    package struct Summary: Sendable {
        /// Input files split by record.
        package var splitFiles: [String]
        /// Input files copied to every shard.
        package var copiedFiles: [String]
        /// Records routed (a record routed to two shards counts twice).
        package var routes: Int
        /// Lines written per shard (the header lines of each file included).
        package var linesPerShard: [Int]
    }

    /// Splits `options.inputDirectory` into `output/shard-0 …` for `count` shards, keyed by
    /// `options.key` (the run's key; nil: `ShardAssignment.publicKey`).
    package static func split(plans: [MappingPlan], options: RunOptions, count: Int, output: String) throws(RunError) -> Summary {
        guard let spec = ShardSpec(index: 0, count: count) else {
            throw RunError(.configuration, "split: --shards is a number of shards, at least 1", code: .splitUnsupported)
        }
        var problems = Preflight.check(plans, options: options).filter { $0.severity == .error }
        problems += Preflight.shardProblems(plans)
        for p in plans where p.derivation == nil {
            let format = p.spec.source.format.text.lowercased()
            if format != "csv" {
                problems.append(
                    Diagnostic(
                        code: ErrorCode.splitUnsupported.rawValue,
                        message:
                            "split: mapping \(p.id) reads \(format) records; only delimited files are split (run --shard i/N on the whole input)",
                        file: p.spec.file))
            }
            if p.calls(anyOf: ["row_id"]) {
                problems.append(
                    Diagnostic(
                        code: ErrorCode.splitUnsupported.rawValue,
                        message:
                            "split: mapping \(p.id) calls row_id, whose record numbers would change in split files (run --shard i/N on the whole input)",
                        file: p.spec.file))
            }
        }
        if !problems.isEmpty {
            throw RunError(.configuration, "split: the input cannot be split by subject", diagnostics: problems, code: .splitUnsupported)
        }
        try PathContainment.verify(plans: plans, inputDirectory: options.inputDirectory)
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw RunError(.io, "split: cannot create \(output): \(error.localizedDescription)", code: .runIO)
        }
        let routesPath = output + "/.harmonize-split-routes-\(String(UInt32.random(in: 0...UInt32.max), radix: 16)).sqlite"
        defer {
            FileOps.remove(routesPath)
            FileOps.remove(routesPath + "-journal")
        }
        var files: [String] = []
        var fileIndex: [String: Int32] = [:]
        var routes = 0
        do {
            let db = try SQLiteConnection(path: routesPath)
            try db.execute(
                """
                PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE; PRAGMA cache_size=-16384;
                CREATE TABLE r(file INTEGER NOT NULL, line INTEGER NOT NULL, shard INTEGER NOT NULL);
                CREATE TABLE k(j INTEGER NOT NULL, key INTEGER NOT NULL, file INTEGER NOT NULL, line INTEGER NOT NULL);
                CREATE TABLE a(j INTEGER NOT NULL, key INTEGER NOT NULL);
                BEGIN;
                """)
            let insert = try db.prepare("INSERT INTO r VALUES (?,?,?)")
            let insertKeyed = try db.prepare("INSERT INTO k VALUES (?,?,?,?)")
            let insertAmbiguous = try db.prepare("INSERT INTO a VALUES (?,?)")
            var nextJoin = 0
            var routeFailure: SQLiteError?
            let route = { (file: Int32, line: Int, shard: Int) in
                guard routeFailure == nil else { return }
                insert.bind(.int(Int(file)), at: 1)
                insert.bind(.int(line), at: 2)
                insert.bind(.int(shard), at: 3)
                do throws(SQLiteError) {
                    try insert.step()
                } catch {
                    routeFailure = error
                }
                insert.reset()
                routes += 1
            }
            /// Runs one insert of bound values, keeping the first failure for after the mapping.
            func store(_ st: SQLiteStatement, _ values: [Value]) {
                guard routeFailure == nil else { return }
                for (i, v) in values.enumerated() { st.bind(v, at: Int32(i + 1)) }
                do throws(SQLiteError) {
                    try st.step()
                } catch {
                    routeFailure = error
                }
                st.reset()
            }
            let inputs = InputWatch()
            let context = RunContext(options: options)
            defer { context.close() }
            func open(_ file: String, spec: SourceSpec, dialect: Dialect) throws(RunError) -> (any RecordReader, Int32) {
                let source: any ByteSource = try inputs.open(options.inputDirectory + "/" + file, name: file)
                let reader = try ReaderFactory.makeReader(spec: spec, dialect: dialect, source: source, displayName: file)
                if let known = fileIndex[file] { return (reader, known) }
                let id = Int32(files.count)
                files.append(file)
                fileIndex[file] = id
                return (reader, id)
            }
            let spill = options.spillDirectory ?? output
            for (pi, plan) in plans.enumerated() where plan.derivation == nil {
                let callSites = try context.bind(
                    plan, inputDirectory: options.inputDirectory, lookupBudget: Pipeline.lookupBudget(options.memoryBudget, plans: plans),
                    spillDirectory: spill)
                let executor = MappingExecutor(
                    plan: plan, mappingIndex: Int32(pi), tableIndices: plan.targets.map { _ in 0 }, batchRows: 1, recordsLineage: false,
                    emit: { _ throws(SinkError) in }, emitRejects: { _ throws(SinkError) in }, callSites: callSites,
                    sharding: ShardAssignment(shard: spec, key: options.key))
                executor.routing = route
                _ = try Pipeline.runPlan(
                    plan, executor: executor, budget: options.memoryBudget, spillDirectory: spill,
                    files: InputFiles.match(plan.spec.source.files.text, under: options.inputDirectory),
                    openSource: { file throws(RunError) in try open(file, spec: plan.spec.source, dialect: plan.dialect) },
                    openJoin: { (join: PlannedJoin) throws(RunError) in
                        var inputs: [PlannedJoin.Input] = []
                        for f in InputFiles.match(join.spec.files.text, under: options.inputDirectory) {
                            let (reader, id) = try open(f, spec: join.sourceSpec, dialect: join.dialect)
                            inputs.append(.init(reader: reader, fileIndex: id, displayName: f))
                        }
                        // The runtime loading this join: track its partners, hear of its records.
                        if let runtime = executor.joins.first(where: { $0.join === join }) {
                            runtime.tracksPartners = true
                            runtime.onRecord = { file, line in route(file, line, -1) }
                            // Rows of a key found ambiguous go to shard 0, where the record is.
                            let jid = nextJoin
                            nextJoin += 1
                            runtime.onKeyedRow = { file, line, key in store(insertKeyed, [.int(jid), .int(Int(key)), .int(Int(file)), .int(line)]) }
                            runtime.onAmbiguous = { key in store(insertAmbiguous, [.int(jid), .int(Int(key))]) }
                        }
                        return inputs
                    },
                    fileName: { files[Int($0)] },
                    // A joined row rejected while indexed: its shard-0 run rejects it.
                    joinReject: { r, fid in route(fid, r.location.line ?? 0, 0) },
                    flushJoinRejects: {}, progress: { _, _ in }, finishedFile: { _, _ in })
                if let routeFailure { throw routeFailure }
            }
            try db.execute(
                """
                INSERT INTO r SELECT k.file, k.line, 0 FROM k JOIN (SELECT DISTINCT j, key FROM a) x ON k.j = x.j AND k.key = x.key;
                COMMIT;
                """)
            try inputs.verifyAll()
            var summary = Summary(splitFiles: files, copiedFiles: [], routes: routes, linesPerShard: Array(repeating: 0, count: count))
            let select = try db.prepare("SELECT line, shard FROM r WHERE file = ? ORDER BY line, shard")
            for (id, file) in files.enumerated() {
                select.bind(.int(id), at: 1)
                try write(
                    file: file, input: options.inputDirectory, output: output, count: count, routes: select,
                    lines: &summary.linesPerShard)
                select.reset()
            }
            summary.copiedFiles = try copyOthers(input: options.inputDirectory, output: output, count: count, skipping: Set(files))
            return summary
        } catch let e as RunError {
            throw e
        } catch let e as SQLiteError {
            throw RunError(.io, "split: the routing table in \(output) failed: \(e.message)", code: .runIO)
        } catch {
            throw RunError(.io, "split: \(error)", code: .runIO)
        }
    }

    /// The shard folder of shard `i`.
    package static func folder(_ output: String, shard i: Int) -> String { output + "/shard-\(i)" }

    /// Copies `file` line by line to the shards of its records (`routes`: line, shard, ordered).
    static func write(
        file: String, input: String, output: String, count: Int, routes: SQLiteStatement, lines: inout [Int]
    ) throws {
        var writers: [BufferedFileWriter] = []
        for i in 0..<count { writers.append(try BufferedFileWriter.shardFile(folder(output, shard: i) + "/" + file)) }
        guard let reader = FileHandle(forReadingAtPath: input + "/" + file) else {
            throw RunError(.io, "split: cannot read \(file)", code: .runIO, location: .init(file: file))
        }
        defer { reader.closeAfterReading() }
        let all = Set(0..<count)
        var destination = all  // lines before the first record: every shard
        var nextRoute: (line: Int, shard: Int)?
        func advance() throws {
            if try routes.step(), case .int(let l) = routes.column(0), case .int(let s) = routes.column(1) {
                nextRoute = (l, s)
            } else {
                nextRoute = nil
            }
        }
        try advance()
        var line = 1
        var lineStart = true
        var swallowLF = false
        while let chunk = try reader.read(upToCount: 1 << 20), !chunk.isEmpty {
            try chunk.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                let bytes = raw.bindMemory(to: UInt8.self)
                var i = 0
                var segment = 0
                while i < bytes.count {
                    if lineStart {
                        lineStart = false
                        if swallowLF && bytes[i] == 10 {
                            // The LF of a CRLF split across chunks: same line end.
                            swallowLF = false
                            i += 1
                            lineStart = true
                            continue
                        }
                        swallowLF = false
                        if let r = nextRoute, r.line <= line {
                            var shards = Set<Int>()
                            while let r = nextRoute, r.line <= line {
                                if r.line == line && r.shard >= 0 { shards.insert(r.shard) }
                                try advance()
                            }
                            destination = shards.isEmpty ? [0] : shards
                        }
                    }
                    let c = bytes[i]
                    i += 1
                    if c == 10 || c == 13 {
                        if c == 13 {
                            if i < bytes.count {
                                if bytes[i] == 10 { i += 1 }
                            } else {
                                swallowLF = true
                            }
                        }
                        let piece = UnsafeBufferPointer(rebasing: bytes[segment..<i])
                        for s in destination {
                            try writers[s].write(piece)
                            lines[s] += 1
                        }
                        segment = i
                        line += 1
                        lineStart = true
                    }
                }
                if segment < bytes.count {
                    let piece = UnsafeBufferPointer(rebasing: bytes[segment..<bytes.count])
                    for s in destination { try writers[s].write(piece) }
                }
            }
        }
        for w in writers { try w.close() }
    }

    /// Copies the files no mapping reads to every shard; returns their names.
    static func copyOthers(input: String, output: String, count: Int, skipping: Set<String>) throws -> [String] {
        var out: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: input) else { return [] }
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue,
                !skipping.contains(relative), !(relative as NSString).lastPathComponent.hasPrefix(".")
            else { continue }
            for i in 0..<count {
                let target = folder(output, shard: i) + "/" + relative
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
                try FileManager.default.copyItem(atPath: input + "/" + relative, toPath: target)
            }
            out.append(relative)
        }
        return out.sorted()
    }
}

extension BufferedFileWriter {
    /// A writer of a split's shard file: its folders created, an older file replaced.
    static func shardFile(_ path: String) throws(RunError) -> BufferedFileWriter {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw RunError(.io, "split: cannot create \(path)", code: .runIO)
        }
        do {
            return try BufferedFileWriter(creating: path)
        } catch {
            throw RunError(.io, "split: cannot create \(path): \(error)", code: .runIO)
        }
    }
}
