import Foundation
import Testing

/// Golden files: compares text with a file under `fixtures/`; with `RECORD_GOLDEN=1` it rewrites
/// the file and still fails, so a re-record is never committed by accident.
enum Golden {
    static var recording: Bool { ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1" }

    static func assertMatches(_ actual: String, golden relativePath: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let path = TestSupport.path(relativePath)
        if recording {
            TestSupport.write(actual, to: path)
            Issue.record("re-recorded \(relativePath); unset RECORD_GOLDEN and run again", sourceLocation: sourceLocation)
            return
        }
        guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
            Issue.record("missing golden file \(relativePath) (run with RECORD_GOLDEN=1 to create it)", sourceLocation: sourceLocation)
            return
        }
        if expected != actual {
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            var diff: [String] = []
            for i in 0..<max(e.count, a.count) where (i < e.count ? e[i] : nil) != (i < a.count ? a[i] : nil) {
                let exp = i < e.count ? String(e[i]) : "<none>"
                let act = i < a.count ? String(a[i]) : "<none>"
                diff.append("line \(i + 1):\n  expected: \(exp)\n  actual:   \(act)")
                if diff.count == 10 { break }
            }
            let message = "\(relativePath) differs:\n" + diff.joined(separator: "\n")
            Issue.record("\(message)", sourceLocation: sourceLocation)
        }
    }
}
