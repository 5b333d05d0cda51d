/// What a run checks before it reads any data, as a library: a run of these plans with these
/// options would fail or be wrong, and says why, once, instead of rejecting every record.
///
/// `Pipeline.run(into:)` runs the preflight first and stops with `ErrorCode.preflightFailed`
/// (exit code 2) carrying the diagnostics; `harmonize-run` runs it right after planning and only
/// renders what it returns.
///
/// | code | problem |
/// | --- | --- |
/// | HZ1018 | two mappings have the same id |
/// | HZ7101 | a mapping calls `pseudonym`, `pseudonym_int`, `date_shift` or `row_id` and the run has no key |
/// | HZ7102 | a mapping calls `date_shift` and the run's largest shift is 0 |
/// | HZ7103 | a mapping calls a vocabulary function and the run has no vocabulary store |
/// | HZ7104 | an objection list is given and a mapping has no `source: subject:` |
/// | HZ7106 | a mapping updates rows (`on_conflict: update`) and the output cannot |
/// | HZ7107 | two mappings write one table with different definitions |
/// | HZ7201 | a split run (`--shard i/N`, N > 1) groups records by keys that do not hold the subject |
/// | HZ7202 | a split run mixes mappings with and without `subject:`, one without writing person rows |
public enum Preflight {
    /// Functions that need the run's pseudonymisation key.
    public static let keyedFunctions: Set<String> = ["pseudonym", "pseudonym_int", "date_shift", "row_id"]

    /// Every problem of a run of `plans` with `options`, before reading anything. Pass what the
    /// output can do (`Sink.supportsUpdates`) when known. Errors stop the run; there are no
    /// warnings yet.
    public static func check(_ plans: [MappingPlan], options: RunOptions, sinkSupportsUpdates: Bool? = nil) -> [Diagnostic] {
        var out: [Diagnostic] = []
        func report(_ code: ErrorCode, _ plan: MappingPlan?, _ message: String, notes: [String] = []) {
            out.append(Diagnostic(code: code.rawValue, message: message, file: plan?.spec.file, notes: notes))
        }
        var ids: [String: MappingPlan] = [:]
        for p in plans {
            if let other = ids[p.id] {
                report("HZ1018", p, "mapping id '\(p.id)' is also used by \(other.spec.file)")
            } else {
                ids[p.id] = p
            }
        }
        var tables: [String: (table: TargetTable, plan: MappingPlan)] = [:]
        for p in plans {
            for t in p.targets {
                if let existing = tables[t.table.name] {
                    if existing.table != t.table {
                        report(
                            .tableDefinitionsDiffer, p,
                            "mappings \(existing.plan.id) and \(p.id) write table \(t.table.name) with different definitions (different target models?)"
                        )
                    }
                } else {
                    tables[t.table.name] = (t.table, p)
                }
            }
        }
        for p in plans where p.derivation == nil {
            if options.key == nil, p.calls(anyOf: keyedFunctions) {
                report(
                    .keyMissing, p, "mapping \(p.id) computes pseudonyms: the run needs a key",
                    notes: ["harmonize-run: --key-file FILE or --key-env NAME; Swift: RunOptions.key"])
            }
            if options.dateShiftDays <= 0, p.calls(anyOf: ["date_shift"]) {
                report(
                    .dateShiftMissing, p, "mapping \(p.id) calls date_shift: the run needs the largest shift in days",
                    notes: ["harmonize-run: --date-shift-days N; Swift: RunOptions.dateShiftDays"])
            }
            if options.vocabulary == nil, p.calls(anyOf: FunctionRegistry.vocabularyFunctionNames) {
                report(
                    .vocabularyMissing, p, "mapping \(p.id) calls vocabulary functions: the run needs the vocabulary store",
                    notes: ["harmonize-run: --vocabulary FILE; Swift: RunOptions.vocabulary and FunctionRegistry.registerVocabulary"])
            }
            if options.exclusion != nil, p.subject == nil {
                report(
                    .subjectMissing, p,
                    "an objection list is given, but mapping \(p.id) does not say which person a record is about ('subject:' under 'source:')")
            }
            if sinkSupportsUpdates == false, p.targets.contains(where: { $0.conflict.updates }) {
                let names = p.targets.filter { $0.conflict.updates }.map(\.table.name).joined(separator: ", ")
                report(
                    .sinkCannotUpdate, p,
                    "mapping \(p.id) updates rows of \(names) (on_conflict: update), which this output cannot do: it only appends rows; write to SQLite (--sink sqlite)"
                )
            }
        }
        if let shard = options.shard, shard.count > 1 { out += shardProblems(plans) }
        return out
    }

    /// What stops a split run (`--shard i/N`, N > 1) from equalling the whole run: a grouping
    /// whose keys do not hold the subject's fields (a group could gather records of persons of
    /// two shards), or mappings with a subject next to one without that writes person rows (its
    /// rows would all land in shard 0, away from their persons).
    static func shardProblems(_ plans: [MappingPlan]) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let withSubject = plans.filter { $0.derivation == nil && $0.subject != nil }
        for p in withSubject {
            guard let g = p.group, let subject = p.subject else { continue }
            let keyFields = Set(g.by.flatMap(\.referencedIdentifiers))
            let missing = subject.referencedIdentifiers.filter { !keyFields.contains($0) }
            if !missing.isEmpty {
                out.append(
                    Diagnostic(
                        code: ErrorCode.shardGroupAcrossSubjects.rawValue,
                        message:
                            "mapping \(p.id) groups records by keys without \(missing.joined(separator: ", ")) (read by its subject): a group could span shards; run it unsplit",
                        file: p.spec.file))
            }
        }
        guard !withSubject.isEmpty else { return out }
        for p in plans where p.derivation == nil && p.subject == nil {
            guard p.targets.contains(where: { t in t.table.columns.contains { $0.name == "person_id" } }) else { continue }
            out.append(
                Diagnostic(
                    code: ErrorCode.shardSubjectMissing.rawValue,
                    message:
                        "mapping \(p.id) writes person rows but does not say whose record it reads ('subject:' under 'source:'): in a split run its rows would all go to shard 0",
                    file: p.spec.file))
        }
        return out
    }
}
