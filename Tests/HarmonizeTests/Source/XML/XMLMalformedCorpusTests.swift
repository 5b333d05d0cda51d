import Foundation
import Testing

@testable import Harmonize

/// Every file of fixtures/malformed/xml/ (written by Scripts/make_malformed.py) yields a reject
/// whose reason is the file name's prefix, located by file and record number, quickly; none
/// crashes or hangs, and no external content is read.
@Suite struct XMLMalformedCorpusTests {
    static let folder = TestSupport.path("fixtures/malformed/xml")
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasSuffix(".xml") }.sorted()

    @Test func theCorpusIsThere() {
        #expect(Self.files.count >= 30)
    }

    @Test(arguments: files)
    func isRejectedWithItsReasonAndLocation(_ name: String) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/" + name)))
        let expected = name.components(separatedBy: "--").first ?? ""
        let start = ContinuousClock.now
        let reader = try XMLRecordReader(
            source: MemoryByteSource(bytes, chunkSize: 4096), displayName: name,
            options: XMLReaderOptions(record: "/export/sejour", maxDepth: 32, maxRecordTextBytes: 64 << 10))
        _ = try reader.bind(fields: ["@id", "."])
        var rejects: [Reject] = []
        var events = 0
        loop: while events < 10_000 {
            events += 1
            switch try reader.next() {
            case .record:
                reader.withField(1) { #expect(!String(decoding: $0, as: UTF8.self).contains("root:")) }
            case .rejected(let r): rejects.append(r)
            case .end: break loop
            }
        }
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(!rejects.isEmpty)
        #expect(rejects.first?.reason.rawValue == expected)
        for r in rejects {
            #expect(r.location.file == name)
            #expect((r.location.record ?? 0) >= 1)
        }
    }
}
