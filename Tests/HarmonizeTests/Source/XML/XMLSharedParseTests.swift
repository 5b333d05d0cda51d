import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// One parse of an XML file for every mapping that reads it (issue 13): a later mapping reads the
/// records a tap of the first mapping's parse extracted for it, and they are exactly those of a
/// parse of its own (records, values, record numbers, lines, rejects and their messages), for
/// documents that end well or badly, in both orders of two record paths, for every chunk size; a
/// tap that cannot give them (the first mapping's collector stopped the parse where the later
/// mapping would have read on) is not used. The first mapping's own reading is unchanged.
@Suite struct XMLSharedParseTests {
    struct Side {
        var record: String
        var fields: [String]
        var maxDepth = 64
        var maxText = 1 << 20

        var options: XMLReaderOptions { XMLReaderOptions(record: record, maxDepth: maxDepth, maxRecordTextBytes: maxText) }
    }

    static let stays = Side(record: "/export/sejour", fields: ["@id", "patient/@ipp", "unite/@code", "entree/@date"])
    static let diagnoses = Side(
        record: "/export/sejour/unite/diagnostic", fields: ["@code", "../../@id", "../@code", "@type", ".", "../../patient/@ipp"])
    static let external = "<?xml version=\"1.0\"?>\n<!DOCTYPE export SYSTEM \"export.dtd\">\n"

    static let good = """
        <?xml version="1.0" encoding="UTF-8"?>
        <export>
          <sejour id="S1"><patient ipp="100"/><entree date="2024-01-01"/>
            <unite code="UF1"><diagnostic type="DP" code="E11">diabète &amp; <![CDATA[<suivi>]]></diagnostic><diagnostic type="DAS" code="I10"/></unite>
          </sejour>
          <sejour id="S2"><patient ipp="200"/><unite code="UF2"/></sejour>
          <sejour id="S3"><patient ipp="300"/><unite code="UF3"><diagnostic type="DP" code="J45">é</diagnostic></unite></sejour>
        </export>

        """

    /// The documents: name, text, and whether the tap of the diagnoses in a parse for the stays
    /// (then of the stays in a parse for the diagnoses) is expected to be usable.
    static let documents: [(name: String, text: String, diagnosesTapUsable: Bool, staysTapUsable: Bool)] = [
        ("well-formed", good, true, true),
        ("empty", "<export/>", true, true),
        (
            "not well-formed in a stay",
            "<export><sejour id=\"S1\"><unite code=\"U\"><diagnostic code=\"A\"/></unite></sejour><sejour id=\"S2\"><unite><diagnostic code=\"B\"/></sejour></export>",
            true, true
        ),
        (
            "undeclared entity in a stay's attribute",
            external
                + "<export><sejour id=\"S1\"><unite code=\"U\"><diagnostic code=\"A\"/></unite></sejour><sejour id=\"S&ent;\"><unite code=\"U\"><diagnostic code=\"B\"/></unite></sejour><sejour id=\"S3\"/></export>",
            // The stays' collector rejects one stay and reads on; the diagnoses' stops the document.
            true, false
        ),
        (
            "undeclared entity in a diagnosis",
            external
                + "<export><sejour id=\"S1\"><unite code=\"U\"><diagnostic code=\"A\">x &ent;</diagnostic></unite></sejour><sejour id=\"S2\"/></export>",
            true, true
        ),
        (
            "DOCTYPE declaring an entity",
            "<?xml version=\"1.0\"?>\n<!DOCTYPE export [<!ENTITY e \"x\">]>\n<export><sejour id=\"S1\"><unite><diagnostic code=\"&e;\"/></unite></sejour></export>",
            true,
            true
        ),
        (
            "too deep inside a stay",
            "<export><sejour id=\"S1\"><unite code=\"U\"><diagnostic code=\"A\">" + String(repeating: "<a>", count: 70)
                + String(repeating: "</a>", count: 70)
                + "</diagnostic></unite></sejour><sejour id=\"S2\"><unite code=\"U\"><diagnostic code=\"B\"/></unite></sejour></export>",
            true, true
        ),
    ]

    /// Every event of `reader` (values of `fields`), with the coordinates and messages of rejects.
    static func read(_ reader: any RecordReader, fields: [String]) throws -> [String] {
        let positions = try reader.bind(fields: fields)
        var out: [String] = []
        for _ in 0..<10_000 {
            switch try reader.next() {
            case .record:
                let l = reader.location
                let values = positions.map { p in reader.withField(p) { String(decoding: $0, as: UTF8.self) } }
                out.append("record \(l.record ?? -1) line \(l.line ?? -1) \(l.path ?? "") [\(values.joined(separator: "|"))]")
            case .rejected(let j):
                out.append("reject \(j.reason.rawValue) record \(j.location.record ?? -1) line \(j.location.line ?? -1): \(j.message)")
            case .end:
                return out
            }
        }
        return out
    }

    static func alone(_ bytes: [UInt8], _ side: Side, chunk: Int) throws -> [String] {
        try read(XMLRecordReader(source: MemoryByteSource(bytes, chunkSize: chunk), displayName: "t.xml", options: side.options), fields: side.fields)
    }

    /// The first side's events with a tap of the later side, and the later side's events read
    /// back from the tap (nil when the tap is not usable).
    static func shared(_ bytes: [UInt8], first: Side, later: Side, chunk: Int) throws -> (first: [String], later: [String]?, parsed: Int64) {
        let tap = try #require(XMLRecordTap(options: later.options, names: later.fields, spillDirectory: TestSupport.temporaryDirectory("xml-tap")))
        let reader = try XMLRecordReader(source: MemoryByteSource(bytes, chunkSize: chunk), displayName: "t.xml", options: first.options, taps: [tap])
        let firstEvents = try read(reader, fields: first.fields)
        #expect(tap.state != .reading, "the parse is over")
        guard tap.state == .complete else { return (firstEvents, nil, 0) }
        let spilled = SpilledXMLRecordReader(tap: tap, displayName: "t.xml")
        let events = try read(spilled, fields: later.fields)
        #expect(spilled.bytesRead == reader.bytesRead)
        return (firstEvents, events, tap.totalBytes)
    }

    @Test(arguments: [1, 7, 1 << 16])
    func aLaterMappingReadsFromTheTapWhatItsOwnParseGives(chunk: Int) throws {
        for d in Self.documents {
            let bytes = Array(d.text.utf8)
            for (first, later, usable) in [(Self.stays, Self.diagnoses, d.diagnosesTapUsable), (Self.diagnoses, Self.stays, d.staysTapUsable)] {
                let label = "\(d.name), \(later.record) from a parse for \(first.record), chunks of \(chunk)"
                let s = try Self.shared(bytes, first: first, later: later, chunk: chunk)
                #expect(s.first == (try Self.alone(bytes, first, chunk: chunk)), "\(label): the first mapping's reading changed")
                #expect((s.later != nil) == usable, "\(label): tap usable")
                if let tapped = s.later {
                    #expect(tapped == (try Self.alone(bytes, later, chunk: chunk)), "\(label)")
                    #expect(s.parsed > 0, "\(label)")
                }
            }
        }
        // The well-formed document gives records on both sides (the comparison is not of nothing).
        let good = Array(Self.good.utf8)
        #expect(try Self.alone(good, Self.diagnoses, chunk: chunk).count == 3)
        #expect(try Self.alone(good, Self.stays, chunk: chunk).count == 3)
    }

    /// A limit of the later mapping's own (smaller text per record) applies to its tap.
    @Test func theLaterMappingsLimitsApplyToItsTap() throws {
        var small = Self.diagnoses
        small.maxText = 8
        let bytes = Array(Self.good.utf8)
        let s = try Self.shared(bytes, first: Self.stays, later: small, chunk: 1 << 16)
        let alone = try Self.alone(bytes, small, chunk: 1 << 16)
        #expect(s.later == alone)
        #expect(alone.contains { $0.hasPrefix("reject limit-exceeded") })
    }

    /// A tap whose fields cannot be bound is not made (the later mapping parses the file itself
    /// and reports the error as before).
    @Test func aTapThatCannotBindIsNotMade() {
        #expect(
            XMLRecordTap(options: Self.diagnoses.options, names: ["x:undeclared/@a"], spillDirectory: TestSupport.temporaryDirectory("xml-tap"))
                == nil)
        #expect(XMLRecordTap(options: Self.stays.options, names: ["../../../@id"], spillDirectory: TestSupport.temporaryDirectory("xml-tap")) == nil)
        #expect(XMLRecordTap(options: Self.stays.options, names: ["@id"], spillDirectory: "/nonexistent/folder") == nil)
    }

    /// The spills of a run share one disk budget: the tap whose block takes the total past it is
    /// abandoned and its file emptied (its bytes given back), the others stay usable; a spill
    /// released gives its bytes back. The first mapping's reading goes on unchanged.
    @Test func theSpillsShareOneDiskBudget() throws {
        let dir = TestSupport.temporaryDirectory("xml-tap")
        let bytes = Array(Self.good.utf8)
        let chunk = 1 << 16  // one block per tap: the second is the one that passes the budget
        let roomy = XMLSpillBudget()
        let size: Int = try {
            let alone = try #require(XMLRecordTap(options: Self.diagnoses.options, names: Self.diagnoses.fields, spillDirectory: dir, budget: roomy))
            _ = try Self.read(
                XMLRecordReader(source: MemoryByteSource(bytes, chunkSize: chunk), displayName: "t.xml", options: Self.stays.options, taps: [alone]),
                fields: Self.stays.fields)
            #expect(alone.state == .complete && alone.spill.fileBytes > 0 && roomy.used == alone.spill.fileBytes)
            return alone.spill.fileBytes
        }()
        #expect(roomy.used == 0, "a released spill gives its bytes back")
        // Room for one spill of that size: the first tap fills it, the second passes it.
        let budget = XMLSpillBudget(limit: size)
        try {
            let first = try #require(XMLRecordTap(options: Self.diagnoses.options, names: Self.diagnoses.fields, spillDirectory: dir, budget: budget))
            let second = try #require(
                XMLRecordTap(options: Self.diagnoses.options, names: Self.diagnoses.fields, spillDirectory: dir, budget: budget))
            let reader = try XMLRecordReader(
                source: MemoryByteSource(bytes, chunkSize: chunk), displayName: "t.xml", options: Self.stays.options, taps: [first, second])
            #expect(try Self.read(reader, fields: Self.stays.fields) == (try Self.alone(bytes, Self.stays, chunk: chunk)))
            #expect(first.state == .complete && second.state == .abandoned)
            #expect(second.spill.fileBytes == 0 && budget.used == size)
            let spilled = SpilledXMLRecordReader(tap: first, displayName: "t.xml")
            #expect(try Self.read(spilled, fields: Self.diagnoses.fields) == (try Self.alone(bytes, Self.diagnoses, chunk: chunk)))
        }()
        #expect(budget.used == 0, "released spills give their bytes back")
    }

    /// A reader dropped before the end of the document leaves its taps unusable.
    @Test func aParseNotReadToTheEndLeavesItsTapsUnusable() throws {
        let tap = try #require(
            XMLRecordTap(options: Self.diagnoses.options, names: Self.diagnoses.fields, spillDirectory: TestSupport.temporaryDirectory("xml-tap")))
        let reader = try XMLRecordReader(
            source: MemoryByteSource(Array(Self.good.utf8), chunkSize: 16), displayName: "t.xml", options: Self.stays.options, taps: [tap])
        _ = try reader.bind(fields: Self.stays.fields)
        guard case .record = try reader.next() else {
            Issue.record("a record first")
            return
        }
        #expect(tap.state == .reading)
    }

    // MARK: end to end

    static let environment = ["HZ_SHARED_KEY": String(repeating: "s", count: 32)]

    static func run(mappings: [String], input: String, output: String, shared: Bool, threads: Int = 1) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(
            ["run"] + mappings.flatMap { ["--mappings", $0] } + [
                "--input", input, "--output", output, "--run-id", "shared-parse", "--key-env", "HZ_SHARED_KEY", "--lineage", "--no-progress",
                "--no-quality", "--keep-orphans", "--max-reject-rate", "1", "--threads", String(threads),
            ] + (shared ? [] : ["--no-shared-parse"]), environment: environment)
    }

    /// The bundled hospital mappings (four read the HIS export) give the same output, ledger,
    /// input hashes and counts with the file parsed once or once per mapping, with one and two
    /// workers; the manifest names the mappings that read from another's parse.
    @Test(arguments: [1, 2])
    func theHospitalFixturesGiveTheSameOutputParsedOnce(threads: Int) throws {
        let dir = TestSupport.temporaryDirectory("shared-parse-hospital")
        let mappings = [TestSupport.path("mappings/hospital")]
        let input = TestSupport.path("fixtures/hospital")
        let once = try Self.run(mappings: mappings, input: input, output: dir + "/once.sqlite", shared: true, threads: threads)
        let each = try Self.run(mappings: mappings, input: input, output: dir + "/each.sqlite", shared: false, threads: threads)
        #expect(once.status == 0 || once.status == 1, "\(once.stderr)")
        #expect(each.status == once.status, "\(each.stderr)")
        try Self.expectSame(dir + "/once.sqlite", dir + "/each.sqlite")
        let m = try ParallelMappingTests.manifest(dir + "/once.sqlite")
        let reads = m.sharedParses ?? []
        let xmlMappings = ["hospital.his_condition", "hospital.his_procedure", "hospital.his_visit", "hospital.his_visit_detail"]
        #expect(Set(reads.map(\.mapping)).union(reads.map(\.parsedBy)) == Set(xmlMappings), "\(reads)")
        #expect(reads.count == 3 && Set(reads.map(\.parsedBy)).count == 1 && reads.allSatisfy { $0.file == "his/sejours.xml" }, "\(reads)")
        #expect(try ParallelMappingTests.manifest(dir + "/each.sqlite").sharedParses == nil)
    }

    /// Two mappings over documents that end badly, in both orders: the same output as separate
    /// parses; where the first mapping's collector stopped the parse (an entity in an ancestor of
    /// its records, inside the other's), the other parses the file itself.
    @Test func documentsThatEndBadlyGiveTheSameOutputInBothOrders() throws {
        let dir = TestSupport.temporaryDirectory("shared-parse-bad")
        let input = dir + "/input"
        for (i, d) in Self.documents.enumerated() {
            // Stay ids of their own per document (S1 → S201 in the second).
            let text = d.text.replacingOccurrences(of: "id=\"S", with: "id=\"S\(i + 1)0")
            TestSupport.write(text, to: input + "/\(i + 1).xml")
        }
        TestSupport.write(Self.staysMapping, to: dir + "/stays.yaml")
        TestSupport.write(Self.diagnosesMapping, to: dir + "/diagnoses.yaml")
        for (order, label) in [
            ([dir + "/stays.yaml", dir + "/diagnoses.yaml"], "stays-first"), ([dir + "/diagnoses.yaml", dir + "/stays.yaml"], "diagnoses-first"),
        ] {
            let once = try Self.run(mappings: order, input: input, output: dir + "/\(label)-once.sqlite", shared: true)
            let each = try Self.run(mappings: order, input: input, output: dir + "/\(label)-each.sqlite", shared: false)
            #expect(once.status <= 1 && each.status == once.status, "\(label): \(once.stderr) \(each.stderr)")
            try Self.expectSame(dir + "/\(label)-once.sqlite", dir + "/\(label)-each.sqlite")
            let reads = try ParallelMappingTests.manifest(dir + "/\(label)-once.sqlite").sharedParses ?? []
            let expected = Self.documents.enumerated().compactMap { i, d in
                (label == "stays-first" ? d.diagnosesTapUsable : d.staysTapUsable) ? "\(i + 1).xml" : nil
            }
            #expect(reads.map(\.file) == expected, "\(label)")
            #expect(reads.allSatisfy { $0.parsedBy == (label == "stays-first" ? "t.stays" : "t.diagnoses") }, "\(label)")
        }
    }

    static let staysMapping = """
        harmonize: 1
        id: t.stays
        version: 0.1.0
        source: {format: xml, files: "*.xml", record: /export/sejour}
        target: visit_occurrence
        fields:
          visit_occurrence_id: "to_int(substr(`@id`, 2))"
          person_id: "pseudonym_int(`patient/@ipp` ?? 'none', 'person')"
          visit_concept_id: "9201"
          visit_start_date: "parse_date('2024-01-01', 'yyyy-MM-dd')"
          visit_end_date: "parse_date('2024-01-01', 'yyyy-MM-dd')"
          visit_type_concept_id: "32817"
          visit_source_value: "`unite/@code`"

        """
    static let diagnosesMapping = """
        harmonize: 1
        id: t.diagnoses
        version: 0.1.0
        source: {format: xml, files: "*.xml", record: /export/sejour/unite/diagnostic}
        target: condition_occurrence
        fields:
          condition_occurrence_id: "pseudonym_int(concat(`../../@id`, '/', `@code`), 'condition')"
          person_id: "1"
          condition_concept_id: "0"
          condition_start_date: "parse_date('2024-01-01', 'yyyy-MM-dd')"
          condition_type_concept_id: "32817"
          condition_source_value: "`@code`"
          condition_status_source_value: "`.`"

        """

    /// At most `maxWaitingXMLTaps` taps wait for their mapping at once (each holds an open spill
    /// file): past it, the files are parsed by each mapping, and the output is the same.
    @Test func theTapsWaitingAtOnceAreBounded() throws {
        let dir = TestSupport.temporaryDirectory("shared-parse-cap")
        let input = dir + "/input"
        for i in 1...5 {
            TestSupport.write(Self.good.replacingOccurrences(of: "id=\"S", with: "id=\"S\(i)0"), to: input + "/\(i).xml")
        }
        TestSupport.write(Self.staysMapping, to: dir + "/stays.yaml")
        TestSupport.write(Self.diagnosesMapping, to: dir + "/diagnoses.yaml")
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plans = try ["stays", "diagnoses"].map { try MappingPlanner.plan(MappingLoader.load(path: dir + "/\($0).yaml"), context: context) }
        func run(cap: Int, sharing: Bool) throws -> (manifest: RunManifest, dump: [String: [[Value]]]) {
            var options = RunOptions(inputDirectory: input)
            options.key = try PseudonymKey(bytes: Array(repeating: 7, count: 32))
            options.runID = "cap"
            options.holdsBackOrphans = false
            options.sharesXMLParses = sharing
            options.maxWaitingXMLTaps = cap
            let out = dir + "/\(cap)-\(sharing).sqlite"
            let manifest = try Pipeline(plans: plans, options: options).run(into: PipelinedSink(SQLiteSink(outputPath: out)))
            return (manifest, try ParallelMappingTests.dump(out))
        }
        let capped = try run(cap: 2, sharing: true)
        let uncapped = try run(cap: 64, sharing: true)
        let none = try run(cap: 64, sharing: false)
        #expect(capped.manifest.sharedParses?.map(\.file) == ["1.xml", "2.xml"])
        #expect(uncapped.manifest.sharedParses?.map(\.file) == ["1.xml", "2.xml", "3.xml", "4.xml", "5.xml"])
        #expect(none.manifest.sharedParses == nil)
        #expect(none.dump.values.contains { !$0.isEmpty })
        #expect(capped.dump == none.dump)
        #expect(uncapped.dump == none.dump)
    }

    /// The two outputs hold the same rows in every table (rows in stored order, books sorted),
    /// and their manifests the same ledger, inputs (hashes, bytes, records) and counts.
    static func expectSame(_ a: String, _ b: String) throws {
        let x = try ParallelMappingTests.dump(a)
        let y = try ParallelMappingTests.dump(b)
        #expect(x.keys.sorted() == y.keys.sorted())
        #expect(x.values.contains { !$0.isEmpty })
        for t in x.keys.sorted() { #expect(x[t] == y[t], "\(t) differs") }
        let ma = try ParallelMappingTests.manifest(a)
        let mb = try ParallelMappingTests.manifest(b)
        #expect(ma.ledger == mb.ledger)
        #expect(ma.inputs == mb.inputs)
        #expect(ma.tables == mb.tables)
    }
}
