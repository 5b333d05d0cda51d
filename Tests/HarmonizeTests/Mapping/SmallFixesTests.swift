import Foundation
import Testing

@testable import Harmonize

/// Issue 15, item 10: YAML errors carry their position as `FILE:line:col:`, and `--key-env` takes
/// `base64:` / `hex:` values.
@Suite struct SmallFixesTests {
    @Test(arguments: [
        ("harmonize: 1\nid: x\nsource: {files: a.csv\ntarget: location\n", 4),
        ("harmonize: 1\nid: x\n  bad: [1, 2\n", 3),
        ("harmonize: 1\nid: x\nid: y\n", 2),
    ])
    func yamlErrorsArePositioned(yaml: String, line: Int) {
        do {
            _ = try MappingLoader.load(yaml: yaml, file: "m.yaml")
            Issue.record("loaded")
        } catch {
            let d = error.diagnostics.first
            #expect(d?.code == "HZ1001")
            #expect(d?.line != nil && d?.column != nil, "\(error)")
            #expect(d?.description.hasPrefix("m.yaml:\(d?.line ?? 0):\(d?.column ?? 0): error: YAML syntax error") == true, "\(error)")
            #expect(!(d?.message.contains("in line") ?? true), "the position is not repeated inside the message")
        }
    }

    @Test func keyEnvironmentValuesMayBeEncoded() throws {
        let raw = Array(repeating: UInt8(0xAB), count: 32)
        #expect(try PseudonymKey.environmentKeyBytes("hex:" + String(repeating: "ab", count: 32), name: "K") == raw)
        #expect(try PseudonymKey.environmentKeyBytes("hex:" + String(repeating: "AB", count: 32), name: "K") == raw)
        #expect(try PseudonymKey.environmentKeyBytes("base64:" + Data(raw).base64EncodedString(), name: "K") == raw)
        #expect(try PseudonymKey.environmentKeyBytes("plain text key", name: "K") == Array("plain text key".utf8))
        #expect(throws: PseudonymKey.Failure.self) { try PseudonymKey.environmentKeyBytes("hex:abc", name: "K") }
        #expect(throws: PseudonymKey.Failure.self) { try PseudonymKey.environmentKeyBytes("base64:!!!", name: "K") }
        do {
            _ = try PseudonymKey.environmentKeyBytes("hex:zz-secret", name: "K")
        } catch {
            #expect(!error.description.contains("secret"), "the value is never shown")
        }
    }
}
