import Foundation
import Testing

@testable import Harmonize

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `harmonize-run vocabulary diff` (issue 17) on the two vocabulary fixtures: `fixtures/vocabulary`
/// and `fixtures/vocabulary-next`, whose README lists every change the second release makes. The
/// diff must find exactly those, code by code; restricted to an SNDS run (`--output`), it must
/// find the E11.9, C50.9 and I10 changes with the rows that used them.
@Suite(.serialized) struct VocabularyDiffTests {
    static let old = TestSupport.path("fixtures/vocabulary")
    static let next = TestSupport.path("fixtures/vocabulary-next")
    static let environment = ["HZ_VD_KEY": String(repeating: "v", count: 32)]

    static func diff() throws -> VocabularyDiff {
        try VocabularyDiff.compare(old: VocabularyStore(path: old), new: VocabularyStore(path: next))
    }

    /// `VOCABULARY CODE` of the changes of a kind.
    static func codes(_ d: VocabularyDiff, _ kind: VocabularyDiff.Kind) -> [String] {
        d.changes(kind).map { "\($0.vocabulary) \($0.code)" }
    }

    @Test func theNextFixtureChangesExactlyWhatItsReadmeLists() throws {
        let d = try Self.diff()
        #expect(d.oldRelease == "v5.0 09-APR-22")
        #expect(d.newRelease == "v5.0 30-NOV-26 (Harmonize fixture next)")
        // Every vocabulary's version moved (the fixture rewrites them all).
        #expect(d.versions.first == .init(vocabulary: "None", old: "v5.0 09-APR-22", new: "v5.0 30-NOV-26 (Harmonize fixture next)"))
        #expect(d.versions.count == 13)
        #expect(d.versions.contains(.init(vocabulary: "CIM10", old: "Harmonize fixture 2026-11", new: "Harmonize fixture 2026-12")))

        // Added: 201820 Diabetes mellitus (SNOMED 73211009) and CIM10 U07.2.
        #expect(Self.codes(d, .added) == ["CIM10 U07.2", "SNOMED 73211009"])
        let u072 = try #require(d.changes(.added).first { $0.code == "U07.2" })
        #expect(u072.old == nil && u072.new?.conceptID == 2_000_000_025 && u072.new?.targetID == nil)
        #expect(d.changes(.added).first { $0.code == "73211009" }?.new?.targetID == 201_820)
        // Invalidated: D64.9 (with its Maps to, so it lost its standard concept too).
        #expect(Self.codes(d, .invalidated) == ["CIM10 D64.9"])
        #expect(d.changes(.invalidated).first?.new?.invalidReason == "D")
        // Maps to: E11.9 changed target, C50.9 (and D64.9) lost it, E78.0 gained one.
        #expect(Self.codes(d, .targetChanged) == ["CIM10 E11.9"])
        let e119 = try #require(d.changes(.targetChanged).first)
        #expect(e119.old?.targetID == 201_826 && e119.new?.targetID == 201_820)
        #expect(e119.old?.targetName == "Type 2 diabetes mellitus" && e119.new?.targetName == "Diabetes mellitus")
        #expect(Self.codes(d, .targetLost) == ["CIM10 C50.9", "CIM10 D64.9"])
        #expect(d.changes(.targetLost).first?.old?.targetID == 4_112_853)
        #expect(d.changes(.targetLost).allSatisfy { $0.new?.targetID == nil })
        #expect(Self.codes(d, .targetGained) == ["CIM10 E78.0"])
        #expect(d.changes(.targetGained).first?.new?.targetID == 432_867)
        // Domain: Essential hypertension (SNOMED 59621000) and CIM10 I10, Condition → Observation.
        #expect(Self.codes(d, .domainChanged) == ["CIM10 I10", "SNOMED 59621000"])
        for c in d.changes(.domainChanged) {
            #expect(c.old?.routingDomain == "Condition" && c.new?.routingDomain == "Observation", "\(c.code)")
        }
        // Nothing else.
        for k in [VocabularyDiff.Kind.removed, .reinstated, .destandardised, .standardised, .sourceConceptChanged] {
            #expect(Self.codes(d, k).isEmpty, "\(k)")
        }
        #expect(d.changes.count == 8)
        // Per vocabulary counts.
        let cim10 = try #require(d.counts.first { $0.vocabulary == "CIM10" })
        #expect(cim10.newCodes == cim10.oldCodes + 1)
        #expect(
            cim10.changes == [.added: 1, .invalidated: 1, .targetChanged: 1, .targetLost: 2, .targetGained: 1, .domainChanged: 1])
        #expect(d.counts.first { $0.vocabulary == "SNOMED" }?.changes == [.added: 1, .domainChanged: 1])
        #expect(d.counts.filter { !$0.changes.isEmpty }.map(\.vocabulary) == ["CIM10", "SNOMED"])
    }

    @Test func aReleaseComparedWithItselfChangesNothing() throws {
        let d = try VocabularyDiff.compare(old: VocabularyStore(path: Self.old), new: VocabularyStore(path: Self.old))
        #expect(d.changes.isEmpty && d.versions.isEmpty)
        #expect(d.counts.allSatisfy { $0.oldCodes == $0.newCodes && $0.changes.isEmpty })
    }

    @Test func onlyTheCodesGivenAreCompared() throws {
        let d = try VocabularyDiff.compare(
            old: VocabularyStore(path: Self.old), new: VocabularyStore(path: Self.next),
            codes: [("CIM10", "E11.9"), ("CIM10", "I10"), ("CIM10", "E11.9"), ("CIM10", "J45.9"), ("CIM10", "NOPE")])
        #expect(d.changes.map(\.code) == ["E11.9", "I10"])
        #expect(d.counts.map { [$0.vocabulary, "\($0.oldCodes)", "\($0.newCodes)"] } == [["CIM10", "3", "3"]])
    }

    @Test func theCommandPrintsTextAndJSON() throws {
        let text = try TestSupport.runCLI(["vocabulary", "diff", Self.old, Self.next])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("(v5.0 09-APR-22) → "), "\(text.stdout)")
        #expect(text.stdout.contains("target_changed (1)"))
        #expect(text.stdout.contains("E11.9") && text.stdout.contains("201826 Type 2 diabetes mellitus → 201820 Diabetes mellitus"))
        #expect(text.stdout.contains("target_lost (2)"))
        #expect(text.stdout.contains("domain_changed (2)") && text.stdout.contains("Condition → Observation"))

        let json = try TestSupport.runCLI(["vocabulary", "diff", Self.old, Self.next, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((doc["new"] as? [String: Any])?["release"] as? String == "v5.0 30-NOV-26 (Harmonize fixture next)")
        let changes = try #require(doc["changes"] as? [[String: Any]])
        #expect(changes.count == 8)
        let e119 = try #require(changes.first { $0["code"] as? String == "E11.9" })
        #expect(e119["kinds"] as? [String] == ["target_changed"])
        #expect((e119["new"] as? [String: Any])?["target_id"] as? Int == 201_820)
        let counts = try #require(doc["counts"] as? [[String: Any]])
        #expect((counts.first { $0["vocabulary"] as? String == "CIM10" }?["changes"] as? [String: Int])?["target_lost"] == 2)

        // A release that is neither a store nor an Athena folder: exit 2, with its code.
        let bad = TestSupport.temporaryDirectory("vd-bad")
        let refused = try TestSupport.runCLI(["vocabulary", "diff", Self.old, bad])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("HZ6101"), "\(refused.stderr)")
        let noOutput = try TestSupport.runCLI(["vocabulary", "diff", Self.old, Self.next, "--output", bad + "/none.sqlite"])
        #expect(noOutput.status == 3)
        #expect(noOutput.stderr.contains("HZ6102"), "\(noOutput.stderr)")
    }

    /// The SNDS fixture run with `--lineage`, into a fresh folder.
    static func sndsRun(_ label: String, lineage: Bool = true) throws -> String {
        let out = TestSupport.temporaryDirectory(label) + "/snds.sqlite"
        let r = try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("mappings/snds"), "--input", TestSupport.path("fixtures/snds/input"), "--output", out,
                "--key-env", "HZ_VD_KEY", "--vocabulary", old, "--max-reject-rate", "0.05", "--no-progress", "--no-quality",
            ] + (lineage ? ["--lineage"] : []), environment: environment)
        #expect(r.status == 0, "\(r.stderr)")
        return out
    }

    /// Rows of the output whose source concept is `conceptID`, over the tables a diagnosis can go to.
    static func rows(_ db: SQLiteConnection, sourceConcept conceptID: Int) throws -> Int {
        var n = 0
        for (table, column) in [
            ("condition_occurrence", "condition_source_concept_id"), ("observation", "observation_source_concept_id"),
            ("measurement", "measurement_source_concept_id"), ("procedure_occurrence", "procedure_source_concept_id"),
        ] {
            n += try db.scalar("SELECT count(*) FROM \(table) WHERE \(column) = ?1", [.int(conceptID)]).intValue ?? 0
        }
        return n
    }

    @Test func restrictedToAnSNDSOutputItCountsTheRowsThatUsedEachChangedCode() throws {
        let out = try Self.sndsRun("vd-snds")
        let db = try SQLiteConnection(path: out, readOnly: true)
        // What the rows hold, counted independently of the lineage: the source concept columns.
        let e119 = try Self.rows(db, sourceConcept: 2_000_000_002)
        let c509 = try Self.rows(db, sourceConcept: 2_000_000_006)
        let i10 = try Self.rows(db, sourceConcept: 2_000_000_001)
        #expect(e119 > 0 && c509 > 0 && i10 > 0)

        let r = try TestSupport.runCLI(["vocabulary", "diff", Self.old, Self.next, "--output", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let inUse = try #require(doc["in_use"] as? [String: Any])
        #expect(inUse["basis"] as? String == "lineage")
        let codes = try #require(inUse["codes"] as? [[String: Any]])
        func used(_ code: String) -> [String: Any]? { codes.first { $0["vocabulary"] as? String == "CIM10" && $0["code"] as? String == code } }
        #expect(used("E11.9")?["kinds"] as? [String] == ["target_changed"])
        #expect(used("E11.9")?["rows"] as? Int == e119)
        #expect(used("C50.9")?["kinds"] as? [String] == ["target_lost"])
        #expect(used("C50.9")?["rows"] as? Int == c509)
        #expect(used("I10")?["kinds"] as? [String] == ["domain_changed"])
        #expect(used("I10")?["rows"] as? Int == i10)
        #expect((used("I10")?["rows_by_table"] as? [String: Int])?["condition_occurrence"] == i10)
        // The fixture's data uses none of the other changed codes.
        #expect(Set(codes.compactMap { $0["code"] as? String }) == ["E11.9", "C50.9", "I10"])
        let summaries = try #require(inUse["summaries"] as? [[String: Any]])
        let cim10 = try #require(summaries.first { $0["vocabulary"] as? String == "CIM10" })
        let distinctUsed = try db.scalar(
            "SELECT count(DISTINCT code) FROM harmonize_lineage_entry WHERE vocabulary = 'CIM10' AND function IN ('standard_concept_id', 'source_concept_id', 'standard_domain')"
        ).intValue
        #expect(cim10["codes_used"] as? Int == distinctUsed)
        let sentence = try #require(cim10["sentence"] as? String)
        #expect(sentence.hasPrefix("of the \(distinctUsed ?? -1) CIM10 codes your data uses"), "\(sentence)")
        #expect(sentence.contains("1 changed target (\(e119) row"), "\(sentence)")
        #expect(sentence.contains("1 lost its standard concept (\(c509) row"), "\(sentence)")
        #expect(sentence.contains("1 moved from Condition to Observation (\(i10) row"), "\(sentence)")

        // The text form says the same sentence; the HTML page, well-formed, too.
        let html = TestSupport.temporaryDirectory("vd-html") + "/diff.html"
        let text = try TestSupport.runCLI(["vocabulary", "diff", Self.old, Self.next, "--output", out, "--html", html])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains(sentence), "\(text.stdout)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("Vocabulary release diff") && page.contains(ReportEscaping.html(sentence)))
        #expect(XMLParser(data: Data(page.replacingOccurrences(of: "<!DOCTYPE html>", with: "").utf8)).parse(), "well-formed")

        // The run report with the diff section.
        let report = TestSupport.temporaryDirectory("vd-report") + "/report.html"
        let rep = try TestSupport.runCLI(["report", "--output", out, "--html", report, "--vocabulary-diff", Self.old, Self.next])
        #expect(rep.status == 0, "\(rep.stderr)")
        let reportPage = try String(contentsOfFile: report, encoding: .utf8)
        #expect(reportPage.contains("Harmonize report") && reportPage.contains("Vocabulary release diff"))
        #expect(reportPage.contains("Vocabulary release <code>v5.0 09-APR-22</code>"))
        #expect(reportPage.contains(ReportEscaping.html(sentence)))
        #expect(XMLParser(data: Data(reportPage.replacingOccurrences(of: "<!DOCTYPE html>", with: "").utf8)).parse(), "well-formed")
    }

    @Test func aPostgreSQLOutputGivesWhatTheSQLiteOutputGives() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let schema = PostgresTestServer.schema("vdiff")
        defer { PostgresTestServer.drop(uri, schema: schema) }
        let sqlite = try Self.sndsRun("vd-pg")
        let postgres = PostgresTestServer.output(uri, schema: schema)
        let r = try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("mappings/snds"), "--input", TestSupport.path("fixtures/snds/input"), "--output", postgres,
                "--key-env", "HZ_VD_KEY", "--vocabulary", Self.old, "--max-reject-rate", "0.05", "--no-progress", "--no-quality", "--lineage",
            ], environment: Self.environment)
        #expect(r.status == 0, "\(r.stderr)")
        func inUse(_ output: String) throws -> NSDictionary? {
            let d = try TestSupport.runCLI(["vocabulary", "diff", Self.old, Self.next, "--output", output, "--json"])
            #expect(d.status == 0, "\(d.stderr)")
            var doc = try #require(try JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as? [String: Any])["in_use"] as? [String: Any]
            doc?["output"] = nil
            return doc.map { NSDictionary(dictionary: $0) }
        }
        let a = try inUse(sqlite)
        let b = try inUse(postgres)
        #expect(a != nil && a == b)
    }

    @Test func withoutLineageOnlyTheUnmappedCodesAreKnownAndItSaysSo() throws {
        let out = try Self.sndsRun("vd-snds-nolineage", lineage: false)
        let r = try TestSupport.runCLI(["vocabulary", "diff", Self.old, Self.next, "--output", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("without --lineage"), "\(r.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let inUse = try #require(doc["in_use"] as? [String: Any])
        #expect(inUse["basis"] as? String == "unmapped_codes")
        // The fixture's unmapped codes gain nothing in the next release.
        #expect((inUse["codes"] as? [Any])?.isEmpty == true)
    }
}

/// The escaping of the HTML report, for comparing a sentence with the page.
enum ReportEscaping {
    static func html(_ s: String) -> String { HTMLReport.esc(s) }
}
