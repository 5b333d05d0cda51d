import Foundation
import Testing

/// The HTML run report opened in a real browser: headless Chromium (Debian's `chromium`
/// package) renders it with no console message and no network request, and takes a screenshot.
///
/// `.ci/run` installs Chromium and sets `HARMONIZE_REQUIRE_CHROMIUM=1`, so there a missing
/// browser fails the test; elsewhere the test is skipped when no Chromium is found.
@Suite struct ReportChromiumTests {
    static let chromium: String? = {
        let env = ProcessInfo.processInfo.environment
        let candidates = [env["HARMONIZE_CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
    static let required = ProcessInfo.processInfo.environment["HARMONIZE_REQUIRE_CHROMIUM"] == "1"

    /// Runs Chromium headless on `page` with `arguments`; returns its exit status and stderr.
    static func chrome(_ arguments: [String], profile: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: chromium ?? "/usr/bin/chromium")
        p.arguments =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                // Any host name fails to resolve: a fetch from the page would show as a console error.
                "--host-resolver-rules=MAP * ~NOTFOUND", "--user-data-dir=" + profile,
                "--enable-logging=stderr", "--v=0",
            ] + arguments
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func theReportRendersInHeadlessChromiumWithoutConsoleMessages() throws {
        guard Self.chromium != nil else {
            #expect(!Self.required, "HARMONIZE_REQUIRE_CHROMIUM=1 but no Chromium found (set HARMONIZE_CHROMIUM or install Debian's chromium)")
            return
        }
        let dir = TestSupport.temporaryDirectory("chromium")
        let out = dir + "/omop.sqlite"
        // A run with rejects (a bad line added to the research fixture) and quality checks.
        let input = dir + "/input"
        try FileManager.default.copyItem(atPath: TestSupport.path("fixtures/research/input"), toPath: input)
        let mesures = input + "/mesures.csv"
        let text = try String(contentsOfFile: mesures, encoding: .utf8)
        TestSupport.write(text + "999;P0001;31/02/2020;08:30;POIDS;lourd;kg;;\n", to: mesures)
        let run = try TestSupport.runCLI(
            ["run", "--mappings", TestSupport.path("mappings/research"), "--input", input, "--output", out, "--lineage", "--max-reject-rate", "1"])
        #expect(run.status == 0, "\(run.stderr)")
        let html = dir + "/report.html"
        let rep = try TestSupport.runCLI(["report", "--output", out, "--html", html])
        #expect(rep.status == 0, "\(rep.stderr)")
        let url = URL(fileURLWithPath: html).absoluteString

        // 1. The page as the browser built it: every section is in the rendered DOM.
        let dom = try Self.chrome(["--dump-dom", url], profile: dir + "/profile-dom")
        #expect(dom.status == 0, "\(dom.stderr)")
        for part in [
            "Rows per table", "Ledger", "Rejects by reason", "Data quality", "Lineage", "<svg", "research.measurements", "measurement", "type-error",
        ] {
            #expect(dom.stdout.contains(part), "the rendered page lacks \(part)")
        }

        // 2. A screenshot, and nothing on the console (errors, warnings, failed fetches).
        let png = dir + "/report.png"
        let shot = try Self.chrome(["--screenshot=" + png, "--window-size=1280,2400", "--hide-scrollbars", url], profile: dir + "/profile-shot")
        #expect(shot.status == 0, "\(shot.stderr)")
        let console = shot.stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") || $0.contains("net::ERR_") }
        #expect(console.isEmpty, "console messages: \(console)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: png)))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "not a PNG")
        // IHDR: width and height (big-endian) at bytes 16 and 20.
        if bytes.count > 24 {
            let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
            let height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
            #expect(width == 1280 && height == 2400, "\(width)×\(height)")
        }
        // A blank page compresses to a few kilobytes; the report's tables, bars and picture do not.
        #expect(bytes.count > 30_000, "screenshot of \(bytes.count) bytes: blank page?")
        // Kept for a human to look at (swift test prints nothing about it on success).
        let keep = TestSupport.path(".build/report-screenshot.png")
        try? FileManager.default.removeItem(atPath: keep)
        try? FileManager.default.copyItem(atPath: png, toPath: keep)
    }

    /// `scan --html`: the profile page renders in headless Chromium with its table of columns,
    /// small cells shown as `<11`, no value of an identifying column, and no console message,
    /// script or fetch.
    @Test func theScanPageRendersInHeadlessChromium() throws {
        guard Self.chromium != nil else {
            #expect(!Self.required, "HARMONIZE_REQUIRE_CHROMIUM=1 but no Chromium found (set HARMONIZE_CHROMIUM or install Debian's chromium)")
            return
        }
        let dir = TestSupport.temporaryDirectory("chromium-scan")
        var text = "Extraction du 02/01/2024\nid;nom;numero;mesure;jour\n"
        for i in 1...40 {
            let nir = "1\(String(format: "%02d", 50 + i % 40))0175\(String(format: "%03d", 100 + i))\(String(format: "%03d", 200 + i))"
            text += "\(i);Dupontel\(i % 3);\(nir);\(i % 2),5;2024-01-\(String(format: "%02d", i % 28 + 1))\n"
        }
        TestSupport.write(text, to: dir + "/mesures.csv")
        let html = dir + "/scan.html"
        let r = try TestSupport.runCLI(["scan", dir + "/mesures.csv", "--html", html])
        #expect(r.status == 0, "\(r.stderr)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        for external in ["<script", "<link", "src=", "http://", "https://", "@import", "url("] {
            #expect(!page.contains(external), "the page refers to \(external)")
        }
        let url = URL(fileURLWithPath: html).absoluteString
        let dom = try Self.chrome(["--dump-dom", url], profile: dir + "/profile-dom")
        #expect(dom.status == 0, "\(dom.stderr)")
        for part in [
            "Harmonize scan", "<table class=\"columns\"", "mesures.csv", ">nom<", ">mesure<", ">jour<", "decimalChar", "skip_lines 1", "&lt;11",
            "not listed",
        ] {
            #expect(dom.stdout.contains(part), "the rendered page lacks \(part)")
        }
        // The 20-and-20 values of mesure are listed with their counts; no name or NIR is.
        #expect(dom.stdout.contains("<code>0,5</code> 20"))
        #expect(!dom.stdout.contains("Dupontel"))
        #expect(!dom.stdout.contains("1510175101201"), "a NIR-like value is listed")
        #expect(dom.stdout.contains("the values look like NIRs"))
        let shot = try Self.chrome(["--screenshot=" + dir + "/scan.png", "--window-size=1280,1600", url], profile: dir + "/profile-shot")
        #expect(shot.status == 0, "\(shot.stderr)")
        let console = shot.stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") || $0.contains("net::ERR_") }
        #expect(console.isEmpty, "console messages: \(console)")
        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/scan.png")))
        #expect(png.count > 10_000, "screenshot of \(png.count) bytes: blank page?")
    }

    /// The check above would notice a page that logs or fetches: shown on a page that does both.
    @Test func aPageThatLogsOrFetchesIsCaught() throws {
        guard Self.chromium != nil else { return }
        let dir = TestSupport.temporaryDirectory("chromium-bad")
        let page = dir + "/bad.html"
        TestSupport.write(
            "<!DOCTYPE html><html><body><img src=\"https://example.invalid/x.png\"><script>console.warn('w')</script></body></html>", to: page)
        let shot = try Self.chrome(["--screenshot=" + dir + "/bad.png", URL(fileURLWithPath: page).absoluteString], profile: dir + "/profile")
        let console = shot.stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") || $0.contains("net::ERR_") }
        #expect(!console.isEmpty, "\(shot.stderr)")
    }
}
