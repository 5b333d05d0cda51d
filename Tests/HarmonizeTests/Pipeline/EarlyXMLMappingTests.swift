import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// A later mapping's records mapped during an earlier mapping's parse of the same XML file
/// (`EarlyXMLMapping`, issue 13): in a run whose rows go nowhere (`--sink none`), the later
/// mapping's workers map its records as the parse goes, and the run's rejects (in order, with
/// their locations and messages), ledger, counts and inputs are those of the mapping reading
/// its records at its turn, or parsing the file itself; for every chunk size, for documents that
/// end well or badly, and when the memory share splits the file into a part mapped during the
/// parse and a part mapped at the mapping's turn. A sink that keeps rows is not given early.
@Suite struct EarlyXMLMappingTests {
    /// A sink that keeps the rejects it is given and counts the rows it is handed; it discards
    /// them (as `--sink none` does) or keeps them.
    final class Recorder: Sink {
        let discardsRows: Bool
        var rejects: [RunReject] = []
        var rows = 0
        init(discardsRows: Bool) { self.discardsRows = discardsRows }
        func open(tables: [TargetTable], run: RunManifest) throws(SinkError) {}
        func write(_ batch: RowBatch) throws(SinkError) { rows += batch.rowCount }
        func writeRejects(_ rejects: [RunReject]) throws(SinkError) { self.rejects += rejects }
        var supportsUpdates: Bool { true }
        func finish(run: RunManifest) throws(SinkError) {}
        func abort() {}
    }

    /// Stays with three diagnoses each; one diagnosis in seven has no code (its condition has no
    /// id: a reject of the later mapping), one stay in five has no patient (a reject of the first).
    static func stays(_ n: Int, from first: Int = 1) -> String {
        var s = "<?xml version=\"1.0\"?>\n<export>\n"
        var d = 0
        for i in first..<(first + n) {
            s += "<sejour id=\"S\(i)\">" + (i % 5 == 0 ? "" : "<patient ipp=\"\(1000 + i % 37)\"/>") + "<unite code=\"UF\(i % 9)\">"
            for k in 0..<3 {
                d += 1
                s += d % 7 == 0 ? "<diagnostic type=\"DAS\"/>" : "<diagnostic type=\"DP\" code=\"C\(i)-\(k)\"/>"
            }
            s += "</unite></sejour>\n"
        }
        return s + "</export>\n"
    }

    static let staysMapping = """
        harmonize: 1
        id: t.stays
        version: 0.1.0
        source: {format: xml, files: "*.xml", record: /export/sejour}
        target: visit_occurrence
        fields:
          visit_occurrence_id: "to_int(substr(`@id`, 2))"
          person_id: "pseudonym_int(`patient/@ipp`, 'person')"
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
          condition_occurrence_id: "pseudonym_int(`@code`, 'condition')"   # codes are unique here
          person_id: "pseudonym_int(`../../patient/@ipp` ?? 'none', 'person')"
          condition_concept_id: "0"
          condition_start_date: "parse_date('2024-01-01', 'yyyy-MM-dd')"
          condition_type_concept_id: "32817"
          condition_source_value: "`@code`"
          condition_status_source_value: "`@type`"

        """

    struct Outcome {
        var manifest: RunManifest
        var rejects: [RunReject]
        /// Rows the recording sink was handed.
        var rowsSent: Int
    }

    /// Runs the two mappings over `input` into a discarding sink (or `sink`).
    static func run(
        _ dir: String, input: String, threads: Int = 2, chunk: Int = 2048, early: Int? = nil, sharing: Bool = true, sink: (any Sink)? = nil
    ) throws -> Outcome {
        TestSupport.write(staysMapping, to: dir + "/stays.yaml")
        TestSupport.write(diagnosesMapping, to: dir + "/diagnoses.yaml")
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plans = try ["stays", "diagnoses"].map { try MappingPlanner.plan(MappingLoader.load(path: dir + "/\($0).yaml"), context: context) }
        var options = RunOptions(inputDirectory: input)
        options.key = try PseudonymKey(bytes: Array(repeating: 7, count: 32))
        options.runID = "early"
        options.holdsBackOrphans = false
        options.threads = threads
        options.chunkRecords = chunk
        options.earlyMappingBytes = early
        options.sharesXMLParses = sharing
        let recorder = (sink as? Recorder) ?? Recorder(discardsRows: true)
        let manifest = try Pipeline(plans: plans, options: options).run(into: sink ?? recorder)
        return Outcome(manifest: manifest, rejects: recorder.rejects, rowsSent: recorder.rows)
    }

    /// The same rejects (in order), ledger, inputs and counts.
    static func expectSame(_ a: Outcome, _ b: Outcome, _ label: String) {
        #expect(a.rejects == b.rejects, "\(label): rejects differ")
        #expect(a.manifest.ledger == b.manifest.ledger, "\(label): ledger differs")
        #expect(a.manifest.inputs == b.manifest.inputs, "\(label): inputs differ")
        #expect(a.manifest.tables == b.manifest.tables, "\(label): counts differ")
    }

    @Test(arguments: [1, 3, 2048])
    func aDryRunMapsTheLaterMappingDuringTheParse(chunk: Int) throws {
        let dir = TestSupport.temporaryDirectory("early-xml-\(chunk)")
        TestSupport.write(Self.stays(300), to: dir + "/input/1.xml")
        TestSupport.write(Self.stays(40, from: 1000), to: dir + "/input/2.xml")
        let early = try Self.run(dir, input: dir + "/input", chunk: chunk)
        let atItsTurn = try Self.run(dir, input: dir + "/input", chunk: chunk, early: 0)
        let parsedTwice = try Self.run(dir, input: dir + "/input", chunk: chunk, sharing: false)
        #expect(early.manifest.sharedParses?.map(\.mappedDuringParse) == [900, 120])
        #expect(atItsTurn.manifest.sharedParses?.map(\.mappedDuringParse) == [nil, nil])
        // Stays without a patient (60 + 8), diagnoses without a code (900 / 7 + 120 / 7).
        #expect(early.rejects.count == 60 + 8 + 900 / 7 + 120 / 7, "\(early.rejects.count)")
        #expect(early.rejects.contains { $0.reject.reason == .targetRequiredNull && $0.reject.location.file == "2.xml" })
        let written = early.manifest.tables.first { $0.table == "condition_occurrence" }?.rows
        #expect(written == 1020 - 1020 / 7 && written != nil, "\(early.manifest.tables)")
        Self.expectSame(early, atItsTurn, "chunk \(chunk), at its turn")
        Self.expectSame(early, parsedTwice, "chunk \(chunk), parsed twice")
    }

    /// Past its memory share, the rest of the file goes to the spill and is mapped at the
    /// mapping's turn, after the records mapped during the parse: the same outcome.
    @Test func aSmallMemoryShareMapsAPrefixDuringTheParse() throws {
        let dir = TestSupport.temporaryDirectory("early-xml-share")
        TestSupport.write(Self.stays(3000), to: dir + "/input/1.xml")
        let prefix = try Self.run(dir, input: dir + "/input", chunk: 16, early: 1)
        let whole = try Self.run(dir, input: dir + "/input", chunk: 16)
        let none = try Self.run(dir, input: dir + "/input", chunk: 16, early: 0)
        let mapped = prefix.manifest.sharedParses?.first?.mappedDuringParse ?? 0
        #expect(mapped > 0 && mapped < 9000, "\(mapped)")
        #expect(whole.manifest.sharedParses?.first?.mappedDuringParse == 9000)
        Self.expectSame(prefix, none, "prefix")
        Self.expectSame(whole, none, "whole")
    }

    /// Rows that go nowhere are not kept (`MappingExecutor.keepsRows`): every row is still
    /// evaluated, conformed and counted, so the rejects, ledger and counts are those of a run
    /// whose sink keeps its rows, with one worker and with two; the discarding sink is handed none.
    @Test(arguments: [1, 2])
    func aDryRunKeepsNoRowsAndCountsTheSame(threads: Int) throws {
        let dir = TestSupport.temporaryDirectory("early-xml-rows-\(threads)")
        TestSupport.write(Self.stays(200), to: dir + "/input/1.xml")
        let kept = Recorder(discardsRows: false)
        let keeping = try Self.run(dir, input: dir + "/input", threads: threads, chunk: 64, sink: kept)
        let dry = try Self.run(dir, input: dir + "/input", threads: threads, chunk: 64)
        #expect(dry.rowsSent == 0)
        #expect(kept.rows == 160 + (600 - 600 / 7) && kept.rows > 0, "\(kept.rows)")
        #expect(dry.manifest.tables.map(\.rows).reduce(0, +) == kept.rows)
        Self.expectSame(keeping, dry, "\(threads) workers")
    }

    /// A folder of files whose later mapping waits for its turn: at most eight early mappings
    /// are live at once (each holds workers); the files past them wait in their spill.
    @Test func atMostEightFilesAreMappedEarlyAtOnce() throws {
        let dir = TestSupport.temporaryDirectory("early-xml-live")
        for i in 1...10 { TestSupport.write(Self.stays(5, from: i * 100), to: dir + "/input/\(String(format: "%02d", i)).xml") }
        let early = try Self.run(dir, input: dir + "/input", chunk: 4)
        let none = try Self.run(dir, input: dir + "/input", chunk: 4, early: 0)
        #expect(early.manifest.sharedParses?.map(\.mappedDuringParse) == Array(repeating: 15, count: 8) + [nil, nil])
        Self.expectSame(early, none, "ten files")
    }

    /// Documents that end badly (not well-formed, refused entities, too deep): the later
    /// mapping's records mapped during the parse give the rejects and ledger it gives at its turn,
    /// and where its tap cannot be used the mapping parses the file itself.
    @Test func documentsThatEndBadlyGiveTheSameOutcome() throws {
        let dir = TestSupport.temporaryDirectory("early-xml-bad")
        for (i, d) in XMLSharedParseTests.documents.enumerated() {
            let text = d.text.replacingOccurrences(of: "id=\"S", with: "id=\"S\(i + 1)0")
            TestSupport.write(text, to: dir + "/input/\(i + 1).xml")
        }
        let early = try Self.run(dir, input: dir + "/input", chunk: 1)
        let none = try Self.run(dir, input: dir + "/input", chunk: 1, early: 0)
        let parsedTwice = try Self.run(dir, input: dir + "/input", chunk: 1, sharing: false)
        #expect(early.manifest.sharedParses?.contains { ($0.mappedDuringParse ?? 0) > 0 } == true)
        #expect(early.rejects.contains { $0.reject.reason == .structureError })
        Self.expectSame(early, none, "at its turn")
        Self.expectSame(early, parsedTwice, "parsed twice")
    }

    /// A sink that keeps rows (SQLite), one worker, or no XML mapping reading the same file: no
    /// record is mapped during another mapping's parse.
    @Test func onlyDryRunsWithWorkersMapDuringTheParse() throws {
        let dir = TestSupport.temporaryDirectory("early-xml-kept")
        TestSupport.write(Self.stays(50), to: dir + "/input/1.xml")
        let sqlite = try Self.run(dir, input: dir + "/input", sink: PipelinedSink(SQLiteSink(outputPath: dir + "/out.sqlite")))
        #expect(sqlite.manifest.sharedParses?.map(\.mappedDuringParse) == [nil])
        let one = try Self.run(dir, input: dir + "/input", threads: 1)
        #expect(one.manifest.sharedParses?.map(\.mappedDuringParse) == [nil])
        let two = try Self.run(dir, input: dir + "/input")
        #expect(two.manifest.sharedParses?.map(\.mappedDuringParse) == [150])
        Self.expectSame(one, two, "one worker, two")
    }

    /// From the CLI: `run --sink none` over the bundled hospital fixtures prints the same ledger
    /// with the diagnoses mapped during the stays' parse as with each file parsed per mapping.
    @Test func theCLIsDryRunPrintsTheSameLedger() throws {
        let env = ["HZ_EARLY_KEY": String(repeating: "e", count: 32)]
        func run(_ extra: [String]) throws -> TestSupport.CommandResult {
            try TestSupport.runCLI(
                [
                    "run", "--mappings", TestSupport.path("mappings/hospital"), "--input", TestSupport.path("fixtures/hospital"), "--sink", "none",
                    "--key-env", "HZ_EARLY_KEY", "--no-progress", "--no-quality", "--max-reject-rate", "1", "--threads", "2",
                ] + extra, environment: env)
        }
        let early = try run([])
        let each = try run(["--no-shared-parse"])
        #expect(early.status == each.status && early.status <= 1, "\(early.stderr)")
        // The ledger and counts (the summary's other lines name the run and its time).
        let body = { (r: TestSupport.CommandResult) in
            r.stderr.split(separator: "\n").filter { $0.hasPrefix("hospital.") || $0.hasPrefix("rows written") }.joined(separator: "\n")
        }
        #expect(body(early) == body(each) && body(early).contains("hospital.his_visit "), "\(early.stderr)\n\(each.stderr)")
    }
}
