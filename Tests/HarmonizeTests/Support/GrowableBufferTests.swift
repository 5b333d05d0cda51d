import Testing

@testable import Harmonize

/// The buffer the XML collectors and record chunks append to: values kept in order across
/// growth, bulk and single appends, and `removeAll` keeping the storage.
@Suite struct GrowableBufferTests {
    @Test(arguments: [1, 3, 16, 4096])
    func valuesStayInOrderAcrossGrowth(capacity: Int) {
        var b = GrowableBuffer<Int32>(capacity: capacity)
        var expected: [Int32] = []
        for i in 0..<5_000 {
            if i % 7 == 0 {
                let run = (0..<Int32(i % 13)).map { $0 &* 31 &+ Int32(i) }
                run.withUnsafeBufferPointer { b.append($0) }
                expected.append(contentsOf: run)
            } else {
                b.append(Int32(i))
                expected.append(Int32(i))
            }
        }
        #expect(b.count == expected.count)
        #expect(Array(b.buffer) == expected)
        #expect(b[17] == expected[17])
        b[17] = -1
        #expect(b.buffer[17] == -1)
        // An empty run appends nothing.
        b.append(UnsafeBufferPointer(start: nil, count: 0))
        #expect(b.count == expected.count)
    }

    @Test func removeAllKeepsTheStorage() {
        var b = GrowableBuffer<UInt8>(capacity: 4)
        Array("a longer run of bytes".utf8).withUnsafeBufferPointer { b.append($0) }
        let base = b.base
        b.removeAll()
        #expect(b.count == 0 && b.buffer.isEmpty)
        Array("again".utf8).withUnsafeBufferPointer { b.append($0) }
        #expect(b.base == base)
        #expect(String(decoding: b.buffer, as: UTF8.self) == "again")
    }

    /// Byte runs of every length up to 40 (the inline copies cover 0–3, 4–7 and 8–16 bytes, a
    /// longer run goes to `memmove`) land whole, after what the buffer held, across growth.
    @Test func byteRunsOfEveryLengthAreCopiedWhole() {
        var b = GrowableBuffer<UInt8>(capacity: 1)
        var expected: [UInt8] = []
        for n in 0...40 {
            let run = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ n) }
            run.withUnsafeBufferPointer { b.appendBytes($0) }
            expected.append(contentsOf: run)
            #expect(Array(b.buffer) == expected, "after a run of \(n) bytes")
        }
        b.appendBytes(UnsafeBufferPointer(start: nil, count: 0))
        #expect(b.count == expected.count)
    }

    /// Values left for the caller to write: the run starts after what the buffer held, and the
    /// buffer keeps what was written across later growth.
    @Test func uninitializedRunsAreWrittenInPlace() {
        var b = GrowableBuffer<Int>(capacity: 2)
        b.append(7)
        let run = b.appendUninitialized(5)
        for i in 0..<5 { run[i] = 100 + i }
        #expect(Array(b.buffer) == [7, 100, 101, 102, 103, 104])
        _ = b.appendUninitialized(0)
        for i in 0..<100 { b.append(i) }
        #expect(Array(b.buffer.prefix(6)) == [7, 100, 101, 102, 103, 104])
        #expect(b.count == 106)
    }

    /// `ByteRun.contains` finds a byte at every position of runs of every length (a word at a
    /// time past 8 bytes, the last word overlapping), and never finds one that is absent,
    /// whatever the bytes around it (the borrow of `hasZeroByte` must not invent a match).
    @Test func aByteIsFoundAtEveryPositionAndOnlyWhenThere() {
        for n in 0...40 {
            // Bytes next to '&' (0x26): 0x25, 0x27, 0xA6 (its high bit set), 0x00 and 0x01.
            let filler: [UInt8] = [0x25, 0x27, 0xA6, 0x00, 0x01, 0x61]
            let run = (0..<n).map { filler[$0 % filler.count] }
            run.withUnsafeBufferPointer { p in
                #expect(n == 0 || !ByteRun.contains(0x26, p.baseAddress!, n), "absent from \(n) bytes")
            }
            for at in 0..<n {
                var with = run
                with[at] = 0x26
                with.withUnsafeBufferPointer { p in
                    #expect(ByteRun.contains(0x26, p.baseAddress!, n), "at \(at) of \(n)")
                    // Only the first `at` bytes: not there.
                    if at > 0 { #expect(!ByteRun.contains(0x26, p.baseAddress!, at), "before \(at) of \(n)") }
                }
            }
        }
        for v: UInt64 in [0, 0xFF, 0x0100, 0x8000_0000_0000_0000, 0x0101_0101_0101_0101, 0x8080_8080_8080_8080, .max] {
            let bytes = withUnsafeBytes(of: v) { Array($0) }
            #expect(ByteRun.hasZeroByte(v) == bytes.contains(0), "\(v)")
        }
    }
}
