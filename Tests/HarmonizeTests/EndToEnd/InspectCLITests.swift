import Foundation
import Testing

/// `harmonize-run inspect` on CSV files whose dialect or types were guessed wrong before
/// (issue 16): one test per wrong guess, through the CLI binary.
@Suite struct InspectCLITests {
    /// Runs `inspect FILE --json` on `text` and returns the exit status and the decoded report.
    func inspect(_ text: String, name: String = "data.csv", _ extra: [String] = []) throws -> (Int32, [String: Any], String) {
        let dir = TestSupport.temporaryDirectory("inspect")
        let path = dir + "/" + name
        TestSupport.write(text, to: path)
        let r = try TestSupport.runCLI(["inspect", path, "--json"] + extra)
        let object = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any] ?? [:]
        return (r.status, object, r.stderr)
    }

    func column(_ report: [String: Any], _ position: Int) -> [String: Any] {
        let columns = report["columns"] as? [[String: Any]] ?? []
        return columns.first { ($0["position"] as? Int) == position } ?? [:]
    }

    func dialect(_ report: [String: Any]) -> [String: Any] { report["dialect"] as? [String: Any] ?? [:] }

    @Test func headerlessFileIsNotGivenAHeader() throws {
        let (status, report, stderr) = try inspect("1,2021-03-04,12.5\n2,2021-03-05,13.25\n3,2021-04-01,9.0\n")
        #expect(status == 0, "\(stderr)")
        #expect(dialect(report)["header"] as? Bool == false)
        #expect(report["recordCount"] as? Int == 3, "the first record is data")
        #expect(column(report, 1)["type"] as? String == "integer")
        #expect(column(report, 2)["type"] as? String == "date")
        #expect(column(report, 2)["format"] as? String == "yyyy-MM-dd")
        #expect(column(report, 3)["type"] as? String == "number")
        // A header over the same data is still a header.
        let (_, withHeader, _) = try inspect("id,day,value\n1,2021-03-04,12.5\n2,2021-03-05,13.25\n")
        #expect(dialect(withHeader)["header"] as? Bool == true)
        #expect(column(withHeader, 1)["name"] as? String == "id")
        // --header forces it back (the typed first record then counts as the header).
        let (_, forced, _) = try inspect("1,2021-03-04,12.5\n2,2021-03-05,13.25\n", ["--header"])
        #expect(dialect(forced)["header"] as? Bool == true)
        #expect(forced["recordCount"] as? Int == 1)
    }

    @Test func headerlessFileWithRepeatedValuesDoesNotExitThree() throws {
        let (status, report, stderr) = try inspect("a,a,1\nb,b,2\n")
        #expect(status == 0, "\(stderr)")
        #expect(dialect(report)["header"] as? Bool == false)
        let (forced, _, err) = try inspect("x,x,1\ny,y,2\n", ["--header"])
        #expect(forced == 2, "a header that repeats a name is a usage problem, not I/O")
        #expect(!err.contains("'x'"), "the error quotes no cell: \(err)")
    }

    @Test func preambleIsDetectedWithASkipLinesHint() throws {
        let text = "Export of 2024-01-02\nSite: north\nid;name;value\n1;a;3\n2;b;4\n3;c;5\n"
        let (status, report, stderr) = try inspect(text)
        #expect(status == 0, "\(stderr)")
        let d = dialect(report)
        #expect(d["skipLines"] as? Int == 2)
        #expect(d["delimiter"] as? String == ";")
        #expect(d["header"] as? Bool == true)
        #expect((d["evidence"] as? [String] ?? []).contains { $0.contains("--skip-lines 2") })
        #expect(column(report, 1)["name"] as? String == "id")
        #expect(column(report, 1)["type"] as? String == "integer")
        #expect(report["recordCount"] as? Int == 3)
        // The text output gives the hint too, and --skip-lines overrides the guess.
        let dir = TestSupport.temporaryDirectory("inspect")
        TestSupport.write(text, to: dir + "/p.csv")
        let r = try TestSupport.runCLI(["inspect", dir + "/p.csv"])
        #expect(r.stdout.contains("skip_lines: 2"))
        #expect(r.stdout.contains("--skip-lines 2"))
        let (_, given, _) = try inspect(text, ["--skip-lines", "1", "--delimiter", ";", "--no-header"])
        #expect(dialect(given)["skipLines"] as? Int == 1)
        #expect(dialect(given)["header"] as? Bool == false)
    }

    @Test func decimalCommaIsReportedWithItsCharacter() throws {
        let (status, report, stderr) = try inspect("id;mesure\n1;1,54\n2;12\n3;0,5\n")
        #expect(status == 0, "\(stderr)")
        #expect(column(report, 2)["type"] as? String == "number")
        #expect(column(report, 2)["decimalChar"] as? String == ",")
        #expect(column(report, 1)["decimalChar"] == nil)
    }

    @Test func zeroPaddedCodesStayStrings() throws {
        let (status, report, stderr) = try inspect("zip,n\n02155,1\n75011,2\n00501,3\n")
        #expect(status == 0, "\(stderr)")
        let zip = column(report, 1)
        #expect(zip["type"] as? String == "string")
        #expect(zip["leadingZeros"] as? Int == 2)
        #expect((zip["notes"] as? [String] ?? []).contains { $0.contains("leading zeros") })
        #expect(column(report, 2)["type"] as? String == "integer")
    }

    @Test func isoTimestampsWithZOrAnOffsetAreDatetimes() throws {
        let (status, report, stderr) = try inspect(
            "at,local,mixed\n2024-01-02T10:11:12Z,2024-01-02T10:11:12+02:00,2024-01-02T10:11:12+02:00\n"
                + "2024-03-04T00:00:00.250Z,2024-05-06T23:59:59+02:00,2024-05-06T23:59:59-05:00\n")
        #expect(status == 0, "\(stderr)")
        #expect(column(report, 1)["type"] as? String == "datetime")
        #expect(column(report, 1)["format"] as? String == "default")
        #expect(column(report, 2)["type"] as? String == "datetime")
        #expect(column(report, 2)["format"] as? String == "yyyy-MM-dd'T'HH:mm:ss'+02:00'")
        #expect(column(report, 3)["type"] as? String == "string", "offsets that vary cannot be one format")
    }

    @Test func columnsComeInFileOrderAndJSONIsTyped() throws {
        let (_, report, _) = try inspect("zeta,alpha,mid\n1,true,x\n2,false,y\n")
        let names = (report["columns"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(names == ["zeta", "alpha", "mid"])
        #expect(column(report, 2)["type"] as? String == "boolean")
        #expect(dialect(report)["byteOrderMark"] as? Bool == false, "booleans are JSON booleans")
        #expect(column(report, 1)["values"] as? Int == 2, "counts are JSON numbers")
        let dir = TestSupport.temporaryDirectory("inspect")
        TestSupport.write("zeta,alpha\n1,2\n", to: dir + "/o.csv")
        let text = try TestSupport.runCLI(["inspect", dir + "/o.csv"]).stdout
        let z = try #require(text.range(of: "1. zeta: integer"))
        let a = try #require(text.range(of: "2. alpha: integer"))
        #expect(z.lowerBound < a.lowerBound)
    }

    @Test func exitCodesMatchTheHelp() throws {
        let missing = try TestSupport.runCLI(["inspect", "/nonexistent/harmonize/file.csv"])
        #expect(missing.status == 3, "a file that cannot be read is an I/O error")
        let (badDelimiter, _, _) = try inspect("a,b\n1,2\n", ["--delimiter", ";;"])
        #expect(badDelimiter == 2)
        let (badEncoding, _, _) = try inspect("a,b\n1,2\n", ["--encoding", "ebcdic"])
        #expect(badEncoding == 2)
        let (ragged, report, _) = try inspect("a,b\n1,2\n3\n4,5\n")
        #expect(ragged == 1, "a rejected record")
        #expect((report["rejects"] as? [[String: Any]] ?? []).count == 1)
        let help = try TestSupport.runCLI(["inspect", "--help"]).stdout
        #expect(help.contains("3 I/O"))
    }
}
