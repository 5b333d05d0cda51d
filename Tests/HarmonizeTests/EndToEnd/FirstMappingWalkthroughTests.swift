import Foundation
import Testing

@testable import Harmonize

/// The steps of docs/first-mapping.md on `fixtures/messy/labs_export.csv`: scan, draft, check,
/// test, run, report.
@Suite struct FirstMappingWalkthroughTests {
    @Test func scanDraftCheckTestRunReport() throws {
        let dir = TestSupport.temporaryDirectory("walkthrough")
        let file = TestSupport.path("fixtures/messy/labs_export.csv")
        let scan = try TestSupport.runCLI(["scan", file, "--draft", dir + "/labs.yaml"])
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stdout.contains("skip_lines 1"))
        #expect(scan.stdout.contains("5. valeur: number (decimalChar \",\")"))
        #expect(scan.stdout.contains("7. preleve_le: datetime (format \"default\")"))
        #expect(scan.stdout.contains("leading zeros"))
        #expect(!scan.stdout.contains("00123"), "patient values are never listed")
        #expect(try TestSupport.runCLI(["check", "--mappings", dir + "/labs.yaml"]).status == 0)
        let mapping = TestSupport.path("fixtures/messy/labs-measurement.yaml")
        let test = try TestSupport.runCLI(["test", "--mappings", mapping])
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
        let out = dir + "/labs.sqlite"
        let run = try TestSupport.runCLI(
            [
                "run", "--mappings", mapping, "--input", TestSupport.path("fixtures/messy"), "--output", out, "--key-env", "HZ_LABS_KEY",
                "--no-quality",
            ],
            environment: ["HZ_LABS_KEY": String(repeating: "k", count: 40)])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("1 input file(s) that no mapping reads: labs-measurement.yaml"), "\(run.stderr)")
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.scalar("SELECT count(*) FROM measurement") == .int(5))
        #expect(try db.scalar("SELECT count(DISTINCT measurement_id) FROM measurement") == .int(5))
        #expect(
            try db.scalar("SELECT value_as_number FROM measurement WHERE measurement_source_value = '02345' AND measurement_date = '2024-03-01'")
                == .double(1.54))
        let report = try TestSupport.runCLI(["report", "--output", out, "--html", dir + "/labs.html"])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/labs.html"))
    }
}
