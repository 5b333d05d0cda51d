import Foundation
import Testing

@testable import Harmonize

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The XML spill's writing thread: the file holds every byte submitted, in order, wherever the
/// submissions fall across its buffers; a write that fails is reported by `finish`.
@Suite struct BackgroundFileWriterTests {
    private static func temporaryPath() -> String {
        NSTemporaryDirectory() + "/harmonize-bgwriter-\(UUID().uuidString)"
    }

    @Test(arguments: [(slotBytes: 1, depth: 1), (slotBytes: 4096, depth: 2), (slotBytes: 1 << 18, depth: 4)])
    func theFileHoldsEveryByteSubmittedInOrder(slotBytes: Int, depth: Int) throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        let data = HashingByteSourceTests.bytes(slotBytes == 1 ? 5_000 : 700_001)
        let writer = BackgroundFileWriter(fd: fd, offset: 3, slotBytes: slotBytes, depth: depth)
        // Submissions of varied sizes: inside a buffer, across buffers, and larger than all of them.
        let sizes = [1, 7, 4095, 0, 65_536, 300_000, 333]
        var at = 0
        var k = 0
        while at < data.count {
            let n = min(sizes[k % sizes.count], data.count - at)
            data.withUnsafeBytes { writer.submit(UnsafeRawBufferPointer(rebasing: $0[at..<(at + n)])) }
            at += n
            k += 1
        }
        #expect(writer.finish())
        // Later submissions are ignored, and finishing again gives the same answer.
        data.withUnsafeBytes { writer.submit($0) }
        #expect(writer.finish())
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written.count == data.count + 3)
        #expect(Array(written[0..<3]) == [0, 0, 0])
        #expect(Array(written[3...]) == data)
    }

    @Test func aWriteThatFailsIsReportedByFinish() throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        let created = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        try #require(created >= 0)
        close(created)
        // Opened for reading only: every write fails.
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        let writer = BackgroundFileWriter(fd: fd, slotBytes: 4096, depth: 2)
        let data = HashingByteSourceTests.bytes(20_000)
        data.withUnsafeBytes { writer.submit($0) }
        #expect(!writer.finish())
        #expect(!writer.finish())
    }

    @Test func aWriterGivenNothingStartsNoThreadAndSucceeds() {
        let writer = BackgroundFileWriter(fd: -1)
        #expect(writer.finish())
    }
}
