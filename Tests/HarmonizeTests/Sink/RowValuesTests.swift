import Testing

@testable import Harmonize

/// A batch's cells (`RowValues`): filled in place by the mapping (`RowCells`), handed to the sink
/// without a copy, and copied on write like an array when shared.
@Suite struct RowValuesTests {
    static let sample: [Value] = [.int(1), .string("a text longer than fifteen bytes"), .null, .double(2.5), .date(19_000), .bool(true)]

    @Test func itReadsLikeTheArrayItWasMadeFrom() {
        var v = RowValues()
        v.append(contentsOf: Self.sample)
        #expect(v.count == Self.sample.count)
        #expect(Array(v) == Self.sample)
        #expect(v[1] == .string("a text longer than fifteen bytes"))
        #expect(Array(v[2..<4]) == [.null, .double(2.5)])
        #expect(v.withUnsafeBufferPointer { Array($0) } == Self.sample)
        let literal: RowValues = [.int(1), .string("a text longer than fifteen bytes"), .null, .double(2.5), .date(19_000), .bool(true)]
        #expect(literal == v)
        #expect(RowValues() == [])
    }

    @Test func aCopyKeepsItsValuesWhenTheOriginalChanges() {
        var a = RowValues()
        a.append(contentsOf: Self.sample)
        let b = a
        a.append(.string("after the copy, also longer than fifteen"))
        #expect(Array(b) == Self.sample)
        #expect(a.count == Self.sample.count + 1)
        var c = a
        c.removeLast(3)
        #expect(Array(c) == Array(Self.sample.prefix(4)))
        #expect(a.count == Self.sample.count + 1)
        var d = b
        d.replaceSubrange(1..<3, with: [.int(7)])
        #expect(Array(d) == [.int(1), .int(7), .double(2.5), .date(19_000), .bool(true)])
        #expect(Array(b) == Self.sample)
        var e = b
        e.reserveCapacity(100)
        #expect(e.capacity >= 100)
        #expect(e == b)
        e += [.null]
        #expect(e.count == b.count + 1)
        #expect(b.count == Self.sample.count)
    }

    @Test func cellsGrowTruncateAndAreTakenWhole() {
        var cells = RowCells(capacity: 2, holding: [.int(0)])
        for i in 1...40 { cells.append(i % 2 == 0 ? .int(i) : .string("cell number \(i), longer than fifteen bytes")) }
        #expect(cells.count == 41)
        cells.truncate(to: 30)
        #expect(cells.count == 30)
        let taken = cells.take()
        #expect(cells.count == 0)
        #expect(taken.count == 30)
        #expect(taken[0] == .int(0))
        #expect(taken[29] == .string("cell number 29, longer than fifteen bytes"))
        #expect(taken[28] == .int(28))
        // The cells go on in a new buffer; the values taken do not change.
        cells.append(.int(99))
        #expect(cells.take() == [.int(99)])
        #expect(taken.count == 30)
        cells.append(.string("left when the cells are settled, longer than fifteen"))
        cells.settle()
    }

    /// Rows left in a batch when a file ends (fewer than a batch) go on with the next file's
    /// rows, in order, in batches of `batchRows`.
    @Test func rowsLeftAtAFilesEndGoOnWithTheNextFile() throws {
        let plan = try RecordStagesTests.plan()
        let callSites = try RunContext(options: RunOptions(inputDirectory: ".")).bindCallSites(plan)
        var sizes: [Int] = []
        var ids: [Value] = []
        let executor = MappingExecutor(
            plan: plan, mappingIndex: 0, tableIndices: [0], batchRows: 3, recordsLineage: false,
            emit: { b in
                sizes.append(b.rowCount)
                for r in 0..<b.rowCount { ids.append(b.values[r * b.columnCount]) }
            }, emitRejects: { _ in }, callSites: callSites)
        for file in 0..<3 {
            _ = try executor.run(reader: try RecordStagesTests.reader(), fileIndex: Int32(file), filePath: "in.csv") { _ in }
        }
        try executor.flushAll()
        #expect(sizes == [3, 3])
        #expect(ids == [.int(1), .int(6), .int(1), .int(6), .int(1), .int(6)])
    }
}
