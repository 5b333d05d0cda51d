import Foundation
import Testing

@testable import Harmonize

/// Every file of fixtures/malformed/hl7/ (written by Scripts/make_malformed.py) yields at least one
/// reject whose reason is the file name's prefix, located by file and message number; none crashes
/// or hangs (R20).
@Suite struct HL7MalformedCorpusTests {
    static let folder = TestSupport.path("fixtures/malformed/hl7")
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasSuffix(".hl7") }.sorted()

    @Test func theCorpusIsThere() {
        #expect(Self.files.count >= 30)
    }

    @Test(arguments: files)
    func isRejectedWithItsReasonAndLocation(_ name: String) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/" + name)))
        let expected = name.components(separatedBy: "--").first ?? ""
        let reader = HL7Reader(
            source: MemoryByteSource(bytes, chunkSize: 4096), displayName: name,
            options: HL7ReaderOptions(record: .message, maxMessageBytes: 64 << 10))
        _ = try reader.bind(fields: ["MSH-10", "PID-3.1"])
        var rejects: [Reject] = []
        var events = 0
        loop: while events < 10_000 {
            events += 1
            switch try reader.next() {
            case .record: continue
            case .rejected(let r): rejects.append(r)
            case .end: break loop
            }
        }
        #expect(events < 10_000, "the reader ends")
        #expect(!rejects.isEmpty)
        #expect(rejects.first?.reason.rawValue == expected)
        for r in rejects {
            #expect(r.location.file == name)
            #expect((r.location.record ?? 0) >= 1)
            #expect(r.location.path != nil)
        }
    }
}
