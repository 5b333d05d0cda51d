import Crypto
import Foundation
import Testing

@testable import Harmonize

/// An input's SHA-256 (run manifest) is the same whether its bytes are hashed on the reading
/// thread or, past the first MiB, on a thread of their own.
@Suite struct HashingByteSourceTests {
    /// Deterministic bytes (no two runs differ).
    static func bytes(_ count: Int) -> [UInt8] {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: x >> 33)
        }
    }

    /// Reads `source` to its end in reads of varying sizes (1 byte to 300 KiB).
    static func drain(_ source: HashingByteSource, capacity: Int = 300_000) throws -> Int {
        var buffer = [UInt8](repeating: 0, count: capacity)
        let sizes = [1, 7, 4096, 65_536, capacity, 333]
        var total = 0
        var k = 0
        while true {
            let want = sizes[k % sizes.count]
            k += 1
            let n = try buffer.withUnsafeMutableBytes { try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want])) }
            if n == 0 { return total }
            total += n
        }
    }

    @Test(arguments: [0, 1, 5000, 1 << 20, Int.max])
    func theDigestIsTheWholeInputsWhereverItIsComputed(inlineLimit: Int) throws {
        let data = Self.bytes(3 * (1 << 20) + 17)
        let expected = Hex.string(Array(SHA256.hash(data: data)))
        let source = HashingByteSource(MemoryByteSource(data, chunkSize: 100_003), inlineLimit: inlineLimit)
        #expect(try Self.drain(source) == data.count)
        #expect(source.hashesInBackground == (inlineLimit < data.count))
        #expect(source.hexDigest() == expected)
    }

    @Test(arguments: [(1, 1), (7, 2), (1 << 18, 4)])
    func theHashingThreadTakesEveryByteInOrder(slotBytes: Int, depth: Int) {
        let data = Self.bytes(200_001)
        var start = SHA256()
        data[0..<1000].withUnsafeBytes { start.update(bufferPointer: $0) }
        let hasher = BackgroundHasher(continuing: start, slotBytes: slotBytes, depth: depth)
        var offset = 1000
        var step = 1
        while offset < data.count {
            let n = min(step, data.count - offset)
            data[offset..<(offset + n)].withUnsafeBytes { hasher.submit($0) }
            offset += n
            step = step * 3 % 9973 + 1
        }
        #expect(hasher.finish() == Array(SHA256.hash(data: data)))
        #expect(hasher.finish() == Array(SHA256.hash(data: data)), "finish is idempotent")
    }

    @Test func aSourceLeftBeforeItsEndStopsItsThread() throws {
        // A run that fails mid-file drops its sources without asking for their digest.
        for _ in 0..<20 {
            let source = HashingByteSource(MemoryByteSource(Self.bytes(100_000), chunkSize: 10_000), inlineLimit: 0)
            var buffer = [UInt8](repeating: 0, count: 10_000)
            _ = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            #expect(source.hashesInBackground)
        }
    }

    /// Through the CLI: the manifest's hash of an input of several MiB is the file's SHA-256.
    @Test func theRunManifestHoldsTheFilesHashPastTheFirstMiB() throws {
        let dir = TestSupport.temporaryDirectory("hash-large")
        let input = dir + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        var csv = "id;city\n"
        for i in 1...120_000 { csv += "\(i);City number \(i % 977) of the region\n" }
        TestSupport.write(csv, to: input + "/loc.csv")
        TestSupport.write(
            """
            harmonize: 1
            id: t.hash
            source: {files: "loc.csv", dialect: {delimiter: ";"}}
            target: location
            fields:
              location_id: "to_int(id)"
              city: city
            """, to: dir + "/m.yaml")
        let out = dir + "/out.sqlite"
        let r = try TestSupport.runCLI(["run", "--mappings", dir + "/m.yaml", "--input", input, "--output", out, "--no-quality"])
        #expect(r.status == 0, "\(r.stderr)")
        let expected = Hex.string(Array(SHA256.hash(data: Array(csv.utf8))))
        #expect(csv.utf8.count > 4 << 20)
        let db = try SQLiteConnection(path: out, readOnly: true)
        #expect(try db.scalar("SELECT sha256 FROM harmonize_run_input WHERE path = 'loc.csv'") == .string(expected))
        #expect(try db.scalar("SELECT count(*) FROM location") == .int(120_000))
    }
}
