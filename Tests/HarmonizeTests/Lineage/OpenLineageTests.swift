import Foundation
import Testing

/// The events of `run --openlineage` validate against the OpenLineage schemas copied in
/// `fixtures/openlineage` (a JSON Schema subset: $ref, allOf, anyOf, oneOf, type, required,
/// properties, additionalProperties, items, enum, formats uuid / date-time / uri).
@Suite struct OpenLineageTests {
    /// Schemas by `$id`.
    static func registry() throws -> [String: Any] {
        var out: [String: Any] = [:]
        let dir = TestSupport.path("fixtures/openlineage")
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) where f.hasSuffix(".json") {
            let s = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + f)))
            if let d = s as? [String: Any], let id = d["$id"] as? String { out[id] = d }
        }
        return out
    }

    struct Validator {
        var registry: [String: Any]
        var errors: [String] = []

        func resolve(_ ref: String, base: String) -> (Any, String)? {
            let parts = ref.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let doc = parts[0].isEmpty ? base : parts[0]
            guard var node: Any = registry[doc] else { return nil }
            if parts.count > 1 {
                for key in parts[1].split(separator: "/") {
                    guard let d = node as? [String: Any], let next = d[String(key)] else { return nil }
                    node = next
                }
            }
            return (node, doc)
        }

        mutating func check(_ value: Any, _ schema: Any, base: String, at path: String) {
            guard let s = schema as? [String: Any] else { return }
            if let ref = s["$ref"] as? String {
                guard let (target, doc) = resolve(ref, base: base) else {
                    errors.append("\(path): unresolved \(ref)")
                    return
                }
                check(value, target, base: doc, at: path)
            }
            for sub in s["allOf"] as? [Any] ?? [] { check(value, sub, base: base, at: path) }
            for key in ["anyOf", "oneOf"] {
                guard let options = s[key] as? [Any] else { continue }
                let ok = options.contains { o in
                    var v = Validator(registry: registry)
                    v.check(value, o, base: base, at: path)
                    return v.errors.isEmpty
                }
                if !ok { errors.append("\(path): matches none of \(key)") }
            }
            if let type = s["type"] as? String {
                let ok: Bool
                switch type {
                case "object": ok = value is [String: Any]
                case "array": ok = value is [Any]
                case "string": ok = value is String
                case "boolean": ok = (value as? Bool) != nil
                case "integer": ok = (value as? NSNumber).map { $0.doubleValue.rounded() == $0.doubleValue } ?? false
                case "number": ok = value is NSNumber
                default: ok = true
                }
                if !ok { errors.append("\(path): expected \(type)") }
            }
            if let e = s["enum"] as? [String], let v = value as? String, !e.contains(v) { errors.append("\(path): \(v) not in enum") }
            if let format = s["format"] as? String, let v = value as? String {
                let ok: Bool
                switch format {
                case "uuid": ok = v.range(of: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", options: .regularExpression) != nil
                case "date-time":
                    ok = v.range(of: "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?(Z|[+-]\\d\\d:\\d\\d)$", options: .regularExpression) != nil
                case "uri": ok = v.range(of: "^[a-zA-Z][a-zA-Z0-9+.-]*:", options: .regularExpression) != nil
                default: ok = true
                }
                if !ok { errors.append("\(path): not a \(format)") }
            }
            if let obj = value as? [String: Any] {
                for r in s["required"] as? [String] ?? [] where obj[r] == nil { errors.append("\(path): missing \(r)") }
                let props = s["properties"] as? [String: Any] ?? [:]
                for (k, v) in obj {
                    if let p = props[k] {
                        check(v, p, base: base, at: path + "." + k)
                    } else if let extra = s["additionalProperties"], !(extra is Bool) {
                        check(v, extra, base: base, at: path + "." + k)
                    }
                }
            }
            if let arr = value as? [Any], let items = s["items"] {
                for (i, v) in arr.enumerated() { check(v, items, base: base, at: "\(path)[\(i)]") }
            }
        }
    }

    /// Validates an event against the core RunEvent, then each facet against its own schema.
    static func validate(_ event: [String: Any], registry: [String: Any]) -> [String] {
        let core = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
        var v = Validator(registry: registry)
        v.check(event, ["$ref": "#/$defs/RunEvent"], base: core, at: "event")
        func facets(_ container: Any?, at path: String) {
            guard let d = container as? [String: Any] else { return }
            for (key, facet) in d {
                guard let f = facet as? [String: Any], let url = f["_schemaURL"] as? String else {
                    v.errors.append("\(path).\(key): no _schemaURL")
                    continue
                }
                let doc = String(url.split(separator: "#")[0])
                guard v.registry[doc] != nil else {
                    v.errors.append("\(path).\(key): schema \(doc) not in the fixtures")
                    continue
                }
                v.check(f, ["$ref": url], base: doc, at: path + "." + key)
            }
        }
        facets((event["run"] as? [String: Any])?["facets"], at: "run.facets")
        facets((event["job"] as? [String: Any])?["facets"], at: "job.facets")
        for (i, d) in (event["inputs"] as? [[String: Any]] ?? []).enumerated() {
            facets(d["facets"], at: "inputs[\(i)].facets")
            facets(d["inputFacets"], at: "inputs[\(i)].inputFacets")
        }
        for (i, d) in (event["outputs"] as? [[String: Any]] ?? []).enumerated() {
            facets(d["facets"], at: "outputs[\(i)].facets")
            facets(d["outputFacets"], at: "outputs[\(i)].outputFacets")
        }
        return v.errors
    }

    @Test func validatorRejectsBrokenEvents() throws {
        let registry = try Self.registry()
        let broken: [String: Any] = [
            "eventType": "BEGIN", "eventTime": "yesterday", "producer": "harmonize", "schemaURL": "x:y", "run": ["runId": "42"], "job": ["name": "j"],
        ]
        let errors = Self.validate(broken, registry: registry)
        for needle in ["not in enum", "not a date-time", "not a uri", "not a uuid", "missing namespace"] {
            #expect(errors.contains { $0.contains(needle) }, "\(needle): \(errors)")
        }
    }

    @Test func runWritesStartAndCompleteEventsThatValidate() throws {
        let registry = try Self.registry()
        let dir = TestSupport.temporaryDirectory("ol")
        let events = dir + "/events.jsonl"
        let r = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"),
            "--output", dir + "/o.sqlite", "--openlineage", events,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let parsed = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(parsed.map { $0["eventType"] as? String } == ["START", "COMPLETE"])
        let ids = parsed.map { ($0["run"] as? [String: Any])?["runId"] as? String }
        #expect(ids[0] != nil && ids[0] == ids[1])
        for e in parsed { #expect(Self.validate(e, registry: registry).isEmpty, "\(Self.validate(e, registry: registry))") }
        let outputs = try #require(parsed[1]["outputs"] as? [[String: Any]])
        // cdm_source: the row describing the run (no column reads a source field).
        #expect(Set(outputs.compactMap { $0["name"] as? String }) == ["person", "observation_period", "measurement", "observation", "cdm_source"])
        let measurement = try #require(outputs.first { $0["name"] as? String == "measurement" })
        let stats = (measurement["outputFacets"] as? [String: Any])?["outputStatistics"] as? [String: Any]
        #expect(stats?["rowCount"] as? Int == 28)
        // Column-level lineage (validated above against ColumnLineageDatasetFacet 1-2-0).
        let columnLineage = try #require((measurement["facets"] as? [String: Any])?["columnLineage"] as? [String: Any])
        let fields = try #require(columnLineage["fields"] as? [String: Any])
        let concept = try #require((fields["measurement_concept_id"] as? [String: Any])?["inputFields"] as? [[String: Any]])
        #expect(concept.count == 1)
        #expect(concept.first?["name"] as? String == "mesures.csv")
        #expect(concept.first?["field"] as? String == "code")
        let t = try #require((concept.first?["transformations"] as? [[String: Any]])?.first)
        #expect(t["type"] as? String == "DIRECT")
        #expect(t["subtype"] as? String == "TRANSFORMATION")
        #expect(t["description"] as? String == "lookup 'measures'")
        let id = (fields["measurement_id"] as? [String: Any])?["inputFields"] as? [[String: Any]]
        #expect((id?.first?["transformations"] as? [[String: Any]])?.first?["subtype"] as? String == "IDENTITY")
        let dataset = try #require(columnLineage["dataset"] as? [[String: Any]])
        #expect(
            dataset.contains {
                $0["field"] as? String == "code" && ($0["transformations"] as? [[String: Any]])?.first?["subtype"] as? String == "FILTER"
            })
        let inputs = try #require(parsed[1]["inputs"] as? [[String: Any]])
        #expect(inputs.contains { ($0["inputFacets"] as? [String: Any])?["dataQualityAssertions"] != nil })

        // A failing run (no input) appends START and FAIL for the same run.
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        let bad = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", dir + "/empty", "--output", dir + "/o2.sqlite", "--openlineage",
            events,
        ])
        #expect(bad.status == 3)
        let all = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n")
        #expect(all.count == 4)
        let fail = try #require(try JSONSerialization.jsonObject(with: Data(all[3].utf8)) as? [String: Any])
        #expect(fail["eventType"] as? String == "FAIL")
        #expect(Self.validate(fail, registry: registry).isEmpty, "\(Self.validate(fail, registry: registry))")
    }

    /// Joined fields come from the joined file; join keys read the driving file (INDIRECT/JOIN).
    @Test func columnLineageNamesTheJoinedFile() throws {
        let registry = try Self.registry()
        let dir = TestSupport.temporaryDirectory("ol-join")
        let events = dir + "/events.jsonl"
        let r = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("fixtures/engine/joins/mappings/drugs.yaml"), "--input",
            TestSupport.path("fixtures/engine/joins/input"),
            "--output", dir + "/o.sqlite", "--openlineage", events, "--no-quality", "--max-reject-rate", "1",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOfFile: events, encoding: .utf8).split(separator: "\n")
        let complete = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(Self.validate(complete, registry: registry).isEmpty, "\(Self.validate(complete, registry: registry))")
        let drug = try #require((complete["outputs"] as? [[String: Any]])?.first { $0["name"] as? String == "drug_exposure" })
        let facet = try #require((drug["facets"] as? [String: Any])?["columnLineage"] as? [String: Any])
        let person = try #require(((facet["fields"] as? [String: Any])?["person_id"] as? [String: Any])?["inputFields"] as? [[String: Any]])
        #expect(person.map { "\($0["name"] ?? "").\($0["field"] ?? "")" } == ["prs.csv.ben"])
        let dataset = try #require(facet["dataset"] as? [[String: Any]])
        #expect(dataset.map { "\($0["name"] ?? "").\($0["field"] ?? "")" } == ["pha.csv.k1", "pha.csv.k2"])
        #expect(dataset.allSatisfy { ($0["transformations"] as? [[String: Any]])?.first?["subtype"] as? String == "JOIN" })
    }
}
