import Foundation

/// OpenLineage run events (spec 2-0-2) for a Harmonize run, one JSON object per line: START before
/// the run, COMPLETE (or FAIL) after it. Inputs are the files read, outputs the tables written with
/// their row counts (`outputStatistics`) and columns (`schema`); the data-quality results, when
/// given, go into a `dataQualityAssertions` facet on the output database dataset. Counts and
/// names only, never values.
package enum OpenLineageEvents {
    static let producer = "https://github.com/harmonize/harmonize-run/tree/\(HarmonizeVersion.current)"
    static let core = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

    static func facet(_ name: String, _ version: String, _ fields: [String: JSONValue]) -> JSONValue {
        var f = fields
        f["_producer"] = .string(producer)
        f["_schemaURL"] = .string("https://openlineage.io/spec/facets/\(version)/\(name).json#/$defs/\(name)")
        return .object(f)
    }

    /// The job: namespace `harmonize` (or the project), name from the mapping ids.
    static func job(namespace: String, name: String) -> JSONValue {
        .object([
            "namespace": .string(namespace), "name": .string(name),
            "facets": .object([
                "jobType": facet(
                    "JobTypeJobFacet", "2-0-4", ["processingType": .string("BATCH"), "integration": .string("HARMONIZE"), "jobType": .string("JOB")])
            ]),
        ])
    }

    static func run(_ runID: String) -> JSONValue {
        .object([
            "runId": .string(runID),
            "facets": .object([
                "processing_engine": facet(
                    "ProcessingEngineRunFacet", "1-1-1", ["version": .string(HarmonizeVersion.current), "name": .string("harmonize")])
            ]),
        ])
    }

    static func event(_ type: String, time: String, runID: String, job: JSONValue, inputs: [JSONValue], outputs: [JSONValue]) -> String {
        JSONValue.object([
            "eventType": .string(type), "eventTime": .string(time), "producer": .string(producer), "schemaURL": .string(core),
            "run": run(runID), "job": job, "inputs": .array(inputs), "outputs": .array(outputs),
        ]).rendered(pretty: false)
    }

    /// An RFC 3339 UTC time.
    public static func now() -> String {
        CivilDate.isoDateTimeString(secondsSinceEpoch: Int(Date().timeIntervalSince1970)) + "Z"
    }

    /// The START event: the job and the output database it will write.
    public static func start(runID: String, jobNamespace: String, jobName: String, outputNamespace: String, time: String = now()) -> String {
        event("START", time: time, runID: runID, job: job(namespace: jobNamespace, name: jobName), inputs: [], outputs: [])
    }

    /// The COMPLETE event: inputs read, tables written with row counts and columns, and quality
    /// assertions when given.
    public static func complete(
        manifest: RunManifest, jobNamespace: String, jobName: String, inputNamespace: String, outputNamespace: String, model: TargetModel?,
        quality: QualityReport?, time: String = now()
    ) -> String {
        let inputs: [JSONValue] = manifest.inputs.map { i in
            .object(["namespace": .string(inputNamespace), "name": .string(i.path)])
        }
        let outputs: [JSONValue] = manifest.tables.map { t in
            var facets: [String: JSONValue] = [:]
            if let table = model?.table(named: t.table) {
                facets["schema"] = facet(
                    "SchemaDatasetFacet", "1-2-0",
                    [
                        "fields": .array(
                            table.columns.enumerated().map { i, c in
                                .object(["name": .string(c.name), "type": .string(c.type.description), "ordinal_position": .int(i + 1)])
                            })
                    ])
            }
            if let lineage = columnLineage(table: t.table, manifest: manifest, inputNamespace: inputNamespace) {
                facets["columnLineage"] = lineage
            }
            return .object([
                "namespace": .string(outputNamespace), "name": .string(t.table), "facets": .object(facets),
                "outputFacets": .object(["outputStatistics": facet("OutputStatisticsOutputDatasetFacet", "1-0-2", ["rowCount": .int(t.rows)])]),
            ])
        }
        if let quality {
            // Quality results describe the output database; the spec places dataQualityAssertions on
            // input datasets, so the database is also listed as an input of the completed run.
            let assertions: [JSONValue] = quality.results.filter { $0.status == .passed || $0.status == .failed }.map { r in
                var a: [String: JSONValue] = [
                    "assertion": .string(r.check.id), "success": .bool(r.status == .passed), "name": .string(r.check.type.rawValue),
                    "actual": .string(String(r.rowsViolating)), "expected": .string("≤ \(r.check.threshold)% of \(r.rowsChecked) rows"),
                ]
                if let f = r.check.field { a["column"] = .string(f) }
                return .object(a)
            }
            let db: JSONValue = .object([
                "namespace": .string(outputNamespace), "name": .string("database"),
                "inputFacets": .object([
                    "dataQualityAssertions": facet("DataQualityAssertionsDatasetFacet", "1-1-0", ["assertions": .array(assertions)])
                ]),
            ])
            return event(
                "COMPLETE", time: time, runID: manifest.runID, job: job(namespace: jobNamespace, name: jobName), inputs: inputs + [db],
                outputs: outputs)
        }
        return event(
            "COMPLETE", time: time, runID: manifest.runID, job: job(namespace: jobNamespace, name: jobName), inputs: inputs, outputs: outputs)
    }

    /// The `columnLineage` facet (ColumnLineageDatasetFacet 1-2-0) of one output table, from the
    /// column lineage in the manifest: each column's input fields in the files its mappings read,
    /// with OpenLineage transformation types (identity → DIRECT/IDENTITY, transformation and
    /// lookup → DIRECT/TRANSFORMATION, filter → INDIRECT/FILTER under `dataset`, join →
    /// INDIRECT/JOIN; pseudonyms and date shifts set `masking`). Nil when nothing is recorded.
    static func columnLineage(table: String, manifest: RunManifest, inputNamespace: String) -> JSONValue? {
        var fields: [String: [JSONValue]] = [:]
        var order: [String] = []
        var dataset: [JSONValue] = []
        func transformation(_ i: ColumnLineage.Input) -> JSONValue {
            let (type, subtype): (String, String)
            switch i.kind {
            case .identity: (type, subtype) = ("DIRECT", "IDENTITY")
            case .transformation, .lookup: (type, subtype) = ("DIRECT", "TRANSFORMATION")
            case .filter: (type, subtype) = ("INDIRECT", "FILTER")
            case .join: (type, subtype) = ("INDIRECT", "JOIN")
            }
            var t: [String: JSONValue] = ["type": .string(type), "subtype": .string(subtype), "masking": .bool(i.masked == true)]
            if let l = i.lookup { t["description"] = .string("lookup '\(l)'") }
            return .object(t)
        }
        for m in manifest.mappings {
            let driving = manifest.ledger.filter { $0.mapping == m.id }.map(\.file)
            // A joined file's fields come from the join's files; join keys read the driving files.
            func filesOf(_ i: ColumnLineage.Input) -> [String] {
                guard let j = i.join, i.kind != .join else { return driving }
                return manifest.joins.filter { $0.mapping == m.id && $0.join == j }.flatMap(\.files)
            }
            for t in m.columnLineage ?? [] where t.table == table {
                for c in t.columns {
                    if fields[c.column] == nil {
                        fields[c.column] = []
                        order.append(c.column)
                    }
                    for i in c.inputs {
                        for f in filesOf(i) {
                            fields[c.column, default: []].append(
                                .object([
                                    "namespace": .string(inputNamespace), "name": .string(f), "field": .string(i.field),
                                    "transformations": .array([transformation(i)]),
                                ]))
                        }
                    }
                }
                for i in t.filters {
                    for f in filesOf(i) {
                        dataset.append(
                            .object([
                                "namespace": .string(inputNamespace), "name": .string(f), "field": .string(i.field),
                                "transformations": .array([transformation(i)]),
                            ]))
                    }
                }
            }
        }
        guard !order.isEmpty else { return nil }
        var out: [String: JSONValue] = [:]
        for c in order { out[c] = .object(["inputFields": .array(fields[c] ?? [])]) }
        var body: [String: JSONValue] = ["fields": .object(out)]
        if !dataset.isEmpty { body["dataset"] = .array(dataset) }
        return facet("ColumnLineageDatasetFacet", "1-2-0", body)
    }

    /// The FAIL event, with the error message (no values: run errors carry none).
    public static func fail(runID: String, jobNamespace: String, jobName: String, message: String, time: String = now()) -> String {
        let runValue: JSONValue = .object([
            "runId": .string(runID),
            "facets": .object([
                "processing_engine": facet(
                    "ProcessingEngineRunFacet", "1-1-1", ["version": .string(HarmonizeVersion.current), "name": .string("harmonize")]),
                "errorMessage": facet("ErrorMessageRunFacet", "1-0-1", ["message": .string(message), "programmingLanguage": .string("Swift")]),
            ]),
        ])
        return JSONValue.object([
            "eventType": .string("FAIL"), "eventTime": .string(time), "producer": .string(producer), "schemaURL": .string(core),
            "run": runValue, "job": job(namespace: jobNamespace, name: jobName), "inputs": .array([]), "outputs": .array([]),
        ]).rendered(pretty: false)
    }
}
