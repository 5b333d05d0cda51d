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
}
