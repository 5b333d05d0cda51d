import Foundation

/// Runs a mapping in memory, without a database or an input folder: records in; rows, rejects and
/// lineage out. It plans the mapping with the real planner (branches instrumented for coverage)
/// and maps records with the real executor and the reader of the source's format (delimited
/// text, HL7 v2, XML, as `ReaderFactory` makes it in a run), so paths, schema types, formats and
/// constraints apply exactly as in a run.
///
/// ```swift
/// let runner = try MappingTestRunner(mappingFile: "mappings/research/questionnaire.yaml", context: context)
/// let run = try runner.run(records: [["id_reponse": "7", "patient_id": "P0002", "date_questionnaire": "17/02/2020",
///                                     "question": "DOULEUR", "reponse": "4"]])
/// #expect(run.rows("observation")[0]["value_as_number"] == .double(4))
/// let report = runner.runTests()   // the cases of the mapping's `tests:` list, with coverage
/// ```
///
/// Not thread-safe: use one runner from one thread.
public final class MappingTestRunner {
    /// The planned mapping.
    public let plan: MappingPlan
    /// The cases of the mapping's `tests:` list.
    package let cases: [MappingTestCase]
    /// Branch hit counts accumulated over every run of this runner.
    package let branches: CoverageRecorder
    /// Filter outcomes accumulated over every run (index 0: record filter; 1 + i: target i).
    public private(set) var filterOutcomes: [(passed: Int, failed: Int)]
    /// Lookups found in each declared lookup over every run (by lookup name).
    private var lookupHits: [String: Int] = [:]
    private let mappingDirectory: String
    /// The key the runs use (the public mapping-test key by default: never one for real data).
    public let key: PseudonymKey?

    /// Loads, plans and reads the test cases of a mapping file. Runs use `key` (the public
    /// mapping-test key by default) for the keyed functions.
    /// - Throws: `DiagnosticsError` with every problem of the mapping or of its `tests:`.
    public init(mappingFile: String, context: PlanningContext, key: PseudonymKey? = .mappingTests) throws(DiagnosticsError) {
        self.key = key
        let spec = try MappingLoader.load(path: mappingFile)
        let recorder = CoverageRecorder()
        var ctx = context
        ctx.coverage = recorder
        var diagnostics: [Diagnostic] = []
        var plan: MappingPlan?
        do {
            plan = try MappingPlanner.plan(spec, context: ctx)
        } catch {
            diagnostics.append(contentsOf: error.diagnostics)
        }
        var cases: [MappingTestCase] = []
        do {
            cases = try MappingTestLoader.load(path: mappingFile)
        } catch {
            diagnostics.append(contentsOf: error.diagnostics)
        }
        if let plan { diagnostics.append(contentsOf: Self.check(cases, against: plan)) }
        guard let plan, !diagnostics.contains(where: { $0.severity == .error }) else { throw DiagnosticsError(diagnostics) }
        self.plan = plan
        self.cases = cases
        self.branches = recorder
        self.filterOutcomes = Array(repeating: (0, 0), count: plan.targets.count + 1)
        self.mappingDirectory = MappingPlanner.directory(of: mappingFile)
    }

    /// Checks cases against the plan before running them: expected tables and columns, lookup names
    /// and inline record fields must exist (HZ1410–HZ1413, located at the case).
    package static func check(_ cases: [MappingTestCase], against plan: MappingPlan) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let file = plan.spec.file
        func report(_ code: String, _ c: MappingTestCase, _ message: String, among: [String], near: String) {
            let notes = Suggestion.closest(to: near, in: among).map { ["did you mean '\($0)'?"] } ?? []
            out.append(Diagnostic(code: code, message: "test case '\(c.name)': \(message)", file: file, line: c.line, column: c.column, notes: notes))
        }
        let tables = plan.targets.map(\.table)
        let lookupNames = plan.lookups.map(\.spec.name.text)
        let sourceFields: [String]? = plan.schema.map { $0.fields.map(\.name) } ?? plan.spec.source.dialect.columns
        for c in cases {
            for e in c.expected {
                guard let t = tables.first(where: { $0.name == e.table }) else {
                    report("HZ1410", c, "the mapping writes no table '\(e.table)'", among: tables.map(\.name), near: e.table)
                    continue
                }
                let names = t.columns.map(\.name)
                var seen: Set<String> = []
                for row in e.rows {
                    for f in row where !names.contains(where: { $0.lowercased() == f.field.lowercased() }) && seen.insert(f.field).inserted {
                        report("HZ1411", c, "table '\(t.name)' has no column '\(f.field)'", among: names, near: f.field)
                    }
                }
            }
            for name in c.lookups.keys.sorted() where !lookupNames.contains(name) {
                report("HZ1412", c, "the mapping has no lookup '\(name)'", among: lookupNames, near: name)
            }
            if case .records = c.input, !plan.isDelimited {
                out.append(
                    Diagnostic(
                        code: "HZ1414",
                        message:
                            "test case '\(c.name)': inline 'records' are for csv sources; give this \(plan.spec.source.format.text) source's text under 'text: |' or a fixture under 'file:'",
                        file: file, line: c.line, column: c.column))
            }
            if case .records(let rows) = c.input, plan.isDelimited, let sourceFields {
                var seen: Set<String> = []
                for r in rows {
                    for k in r.keys.sorted() where !sourceFields.contains(k) && seen.insert(k).inserted {
                        report("HZ1413", c, "the source has no field '\(k)'", among: sourceFields, near: k)
                    }
                }
            }
        }
        return out
    }

    /// Maps inline records (field → cell text; absent fields are empty cells) of a delimited (`csv`)
    /// source. The records are written as delimited text in the source's delimiter (UTF-8) and read
    /// back by the real reader. HL7 v2 and XML sources take `run(text:)` or `run(file:)`.
    /// - Parameter lookups: lookup name → rows (column → text) replacing that lookup's file.
    /// - Throws: `RunError` when a record names a field the source does not have, or a lookup
    ///   cannot be loaded.
    package func run(
        records: [[String: String]], lookups: [String: [[String: String]]] = [:], joins: [String: [[String: String]]] = [:]
    ) throws(RunError) -> InMemoryRun {
        guard plan.isDelimited else {
            throw RunError(
                .configuration,
                "inline records are for csv sources; give this \(plan.spec.source.format.text) source's text (run(text:)) or a fixture (run(file:))")
        }
        let (bytes, dialect) = try render(records)
        return try run(source: { MemoryByteSource(bytes) }, name: "<records>", dialect: dialect, lookups: lookups, joins: joins)
    }

    /// Maps a fixture file in the source's own format (HL7 v2 messages, an XML document, or
    /// delimited text with the source's dialect and encoding), relative to the mapping file unless
    /// absolute.
    package func run(file: String, lookups: [String: [[String: String]]] = [:], joins: [String: [[String: String]]] = [:]) throws(RunError)
        -> InMemoryRun
    {
        let path = file.hasPrefix("/") ? file : mappingDirectory + "/" + file
        func source() throws(RunError) -> any ByteSource {
            do throws(SourceIOError) {
                return try FileByteSource(path: path)
            } catch {
                throw RunError(.io, error.description)
            }
        }
        return try run(source: source, name: file, dialect: plan.spec.source.dialect, lookups: lookups, joins: joins)
    }

    /// Maps source text in the source's own format, given as text: HL7 v2 message(s) (segments on
    /// separate lines), an XML document, or delimited text in the source's dialect. The text is
    /// read as UTF-8 bytes (a delimited source's `encoding` is taken as UTF-8; an HL7 message's
    /// MSH-18 and an XML declaration still apply, so leave them ASCII/UTF-8 compatible).
    package func run(text: String, lookups: [String: [[String: String]]] = [:], joins: [String: [[String: String]]] = [:]) throws(RunError)
        -> InMemoryRun
    {
        var dialect = plan.spec.source.dialect
        dialect.encoding = .utf8
        return try run(source: { MemoryByteSource(Array(text.utf8)) }, name: "<text>", dialect: dialect, lookups: lookups, joins: joins)
    }

    /// Runs every case of the mapping's `tests:` list and measures coverage.
    public func runTests() -> MappingTestReport {
        var results: [MappingTestResult] = []
        var checked: Set<String> = []
        for c in cases {
            var failures: [MappingTestFailure] = []
            do {
                let run: InMemoryRun
                switch c.input {
                case .records(let r): run = try self.run(records: r, lookups: c.lookups, joins: c.joins)
                case .file(let f): run = try self.run(file: f, lookups: c.lookups, joins: c.joins)
                case .text(let t): run = try self.run(text: t, lookups: c.lookups, joins: c.joins)
                }
                failures = MappingTestComparison.compare(c, run, plan: plan)
                for e in c.expected where !(run.tables[e.table] ?? []).isEmpty {
                    for row in e.rows { for f in row { checked.insert("\(e.table).\(f.field.lowercased())") } }
                }
            } catch {
                failures = [MappingTestFailure(testCase: c.name, message: "cannot run: \(error.message)")]
            }
            results.append(MappingTestResult(name: c.name, line: c.line, failures: failures))
        }
        return MappingTestReport(
            mappingID: plan.id, file: plan.spec.file, results: results, coverage: coverage(checkedFields: checked))
    }

    /// Coverage of the runs so far, given the `table.column` (lower-case) names checked by cases.
    func coverage(checkedFields: Set<String>) -> MappingCoverage {
        var cov = MappingCoverage()
        // Targets of one table are told apart by the line of their `table:` (expected rows are
        // matched per table, so a column counts as covered for every target of its table).
        let repeated = Set(Dictionary(grouping: plan.targets, by: { $0.table.name }).filter { $0.value.count > 1 }.keys)
        let aligned = plan.spec.targets.count == plan.targets.count
        let labels = plan.targets.enumerated().map { ti, t in
            guard repeated.contains(t.table.name) else { return t.table.name }
            return t.table.name + (aligned ? "@line \(plan.spec.targets[ti].table.line)" : "#\(ti + 1)")
        }
        for (ti, t) in plan.targets.enumerated() {
            let label = labels[ti]
            for (i, c) in t.table.columns.enumerated() where t.columns[i] != nil {
                cov.fields.append(.init(name: "\(label).\(c.name)", covered: checkedFields.contains("\(t.table.name).\(c.name.lowercased())")))
            }
        }
        for (b, n) in zip(branches.branches, branches.counts) {
            cov.branches.append(.init(name: "line \(b.line):\(b.column) \(b.label)", covered: n > 0))
        }
        for l in plan.lookups { cov.lookups.append(.init(name: l.spec.name.text, covered: (lookupHits[l.spec.name.text] ?? 0) > 0)) }
        if plan.filter != nil {
            cov.filters.append(.init(name: "filter true", covered: filterOutcomes[0].passed > 0))
            cov.filters.append(.init(name: "filter false", covered: filterOutcomes[0].failed > 0))
        }
        for (i, t) in plan.targets.enumerated() where t.filter != nil {
            cov.filters.append(.init(name: "\(labels[i]) filter true", covered: filterOutcomes[i + 1].passed > 0))
            cov.filters.append(.init(name: "\(labels[i]) filter false", covered: filterOutcomes[i + 1].failed > 0))
        }
        return cov
    }

    /// `source` opens the case's bytes (again for each pass: `deduplicate: {keep: last}` reads twice).
    private func run(
        source: () throws(RunError) -> any ByteSource, name: String, dialect: Dialect, lookups: [String: [[String: String]]],
        joins: [String: [[String: String]]]
    ) throws(RunError) -> InMemoryRun {
        for (n, _) in lookups where !plan.lookups.contains(where: { $0.spec.name.text == n }) {
            throw RunError(.configuration, "the mapping has no lookup '\(n)'")
        }
        for (n, _) in joins where !plan.joins.contains(where: { $0.name == n }) {
            throw RunError(.configuration, "the mapping has no join '\(n)'")
        }
        var options = RunOptions(inputDirectory: mappingDirectory)
        options.key = key
        let context = RunContext(options: options)
        var loaded: [(String, LoadedLookupTable)] = []
        for l in plan.lookups {
            let table: LoadedLookupTable
            if let rows = lookups[l.spec.name.text] {
                table = try l.load(rows: rows)
            } else {
                guard !l.spec.relativeToInput else {
                    throw RunError(.configuration, "lookup '\(l.spec.name.text)' reads from the input folder: give its rows in the case's 'lookups'")
                }
                table = try l.load(
                    path: l.path(mappingDirectory: mappingDirectory, inputDirectory: nil), environment: context.environment,
                    budget: CSVLookupTable.testBudget, spillDirectory: NSTemporaryDirectory())
            }
            context.environment.loadedLookups.add(table, for: l)
            loaded.append((l.spec.name.text, table))
        }
        defer {
            for (name, t) in loaded {
                lookupHits[name, default: 0] += t.hits
                t.close()
            }
        }
        let callSites = try context.bindCallSites(plan)
        let sink = MemorySink()
        try? sink.open(
            tables: plan.targets.map(\.table),
            run: RunManifest(
                runID: "", engineVersion: "", startedAt: "", finishedAt: "", status: "", model: "", parameters: [:], mappings: [], inputs: [],
                ledger: [], tables: []))
        let emit = ConflictTagging.emit(plan: plan, tableIndices: Array(plan.targets.indices)) { b throws(SinkError) in try sink.write(b) }
        let executor = MappingExecutor(
            plan: plan, mappingIndex: 0, tableIndices: Array(plan.targets.indices), batchRows: 1024, recordsLineage: true,
            emit: emit, emitRejects: { r throws(SinkError) in try sink.writeRejects(r) }, callSites: callSites)
        var names: [Int32: String] = [0: name]
        var joinRejects: [RunReject] = []
        let ledgers = try Pipeline.runPlan(
            plan, executor: executor, budget: 64 << 20, spillDirectory: NSTemporaryDirectory(), files: [name],
            openSource: { (_: String) throws(RunError) in
                (try ReaderFactory.makeReader(spec: plan.spec.source, dialect: dialect, source: try source(), displayName: name), 0)
            },
            openJoin: { (j: PlannedJoin) throws(RunError) in
                guard let rows = joins[j.name] else {
                    throw RunError(.configuration, "join '\(j.name)' reads the input folder: give its rows in the case's 'joins'")
                }
                let fid = Int32(names.count)
                let display = "<join \(j.name)>"
                names[fid] = display
                let (bytes, d) = Self.renderDelimited(
                    rows, columns: j.schema.map { $0.fields.map(\.name) } ?? j.dialect.columns, dialect: j.dialect, strict: j.schema != nil)
                guard let bytes else { throw RunError(.configuration, "joined rows of '\(j.name)' name a field its schema does not have") }
                var spec = j.sourceSpec
                spec.dialect = d
                return [
                    .init(
                        reader: try ReaderFactory.makeReader(spec: spec, dialect: d, source: MemoryByteSource(bytes), displayName: display),
                        fileIndex: fid, displayName: display)
                ]
            },
            fileName: { names[$0] ?? "" },
            joinReject: { r, fid in joinRejects.append(RunReject(reject: r, mapping: 0, file: fid)) },
            flushJoinRejects: { () throws(RunError) in
                do throws(SinkError) {
                    try sink.writeRejects(joinRejects)
                } catch {
                    throw RunError(.io, error.message)
                }
                joinRejects = []
            },
            progress: { _, _ in }, finishedFile: { _, _ in })
        // One entry for the case: records read, and every outcome of records and of groups.
        var ledger = ledgers[0]
        for extra in ledgers.dropFirst() {
            ledger.written += extra.written
            ledger.rejected += extra.rejected
            ledger.filtered += extra.filtered
        }
        try executor.flushAll()
        for (i, o) in executor.filterOutcomes.enumerated() {
            filterOutcomes[i].passed += o.passed
            filterOutcomes[i].failed += o.failed
        }
        var tables: [String: [InMemoryRow]] = [:]
        for (ti, t) in plan.targets.enumerated() {
            let names = t.table.columns.map(\.name)
            // Updates (`on_conflict: update`) applied as a database would: one row per key.
            let rows = sink.rowsWithLineage(ofTable: ti).map { r in
                InMemoryRow(
                    table: t.table.name, columns: names, values: r.values, lineage: r.lineage ?? RowLineage(mapping: 0, file: 0, line: 0, record: 0))
            }
            tables[t.table.name, default: []].append(contentsOf: rows)
        }
        return InMemoryRun(tables: tables, rejects: sink.rejects.map(\.reject), ledger: ledger)
    }

    /// Writes rows as delimited UTF-8 text with a header (the given columns first, then any other
    /// the rows name unless `strict`); nil bytes when `strict` and a row names another column.
    static func renderDelimited(_ rows: [[String: String]], columns: [String]?, dialect: Dialect, strict: Bool) -> ([UInt8]?, Dialect) {
        var d = dialect
        d.encoding = .utf8
        d.header = true
        d.columns = nil
        d.skipLines = 0
        d.quote = UInt8(ascii: "\"")
        d.escape = nil
        let delimiter = d.delimiter ?? UInt8(ascii: ",")
        d.delimiter = delimiter
        var cols = columns ?? []
        for r in rows {
            for k in r.keys.sorted() where !cols.contains(k) {
                if strict { return (nil, d) }
                cols.append(k)
            }
        }
        let sep = Character(Unicode.Scalar(delimiter))
        func cell(_ s: String) -> String {
            let needs = s.contains(sep) || s.contains("\"") || s.contains("\n") || s.contains("\r") || s.hasPrefix(" ") || s.hasSuffix(" ")
            return needs ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var text = cols.map(cell).joined(separator: String(sep)) + "\n"
        for r in rows { text += cols.map { cell(r[$0] ?? "") }.joined(separator: String(sep)) + "\n" }
        return (Array(text.utf8), d)
    }

    /// Writes inline records as delimited UTF-8 text in the source's delimiter, with a header.
    private func render(_ records: [[String: String]]) throws(RunError) -> ([UInt8], Dialect) {
        let declared: [String]? = plan.schema.map { $0.fields.map(\.name) } ?? plan.spec.source.dialect.columns
        if let declared {
            for r in records {
                for k in r.keys.sorted() where !declared.contains(k) {
                    let s = Suggestion.closest(to: k, in: declared)
                    throw RunError(
                        .configuration,
                        "a test record names field '\(k)', which the source does not have" + (s.map { " (did you mean '\($0)'?)" } ?? ""))
                }
            }
        }
        let (bytes, dialect) = Self.renderDelimited(
            records, columns: declared ?? plan.fields.map(\.name), dialect: plan.spec.source.dialect, strict: false)
        return (bytes ?? [], dialect)
    }
}

extension MappingPlan {
    /// Whether the source is delimited text (`format: csv`), whose records can be given inline.
    var isDelimited: Bool { spec.source.format.text.lowercased() == "csv" }
}

@available(*, unavailable)
extension MappingTestRunner: Sendable {}
