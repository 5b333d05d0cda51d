import Testing

@testable import Harmonize

@Suite struct CSVRejectTests {
    @Test func raggedRowsAreRejectedAndReadingGoesOn() throws {
        let text = "a,b,c\n1,2,3\n4,5\n6,7,8,9\n\"x\ny\",8,9\n"
        let ev = try CSVTest.events(CSVTest.bytes(text))
        #expect(
            ev == [
                .record(fields: ["1", "2", "3"], quoted: [false, false, false], line: 2, record: 1),
                .rejected(reason: .missingCell, line: 3, record: 2, field: "c"),
                .rejected(reason: .extraCell, line: 4, record: 3, field: nil),
                .record(fields: ["x\ny", "8", "9"], quoted: [true, false, false], line: 5, record: 4),
            ])
    }

    @Test func rejectCarriesLocationAndNoValues() throws {
        let r = try CSVTest.reader(CSVTest.bytes("a,b,c\nsecret1,secret2\n"), dialect: Dialect(delimiter: 44))
        guard case .rejected(let j) = try r.next() else {
            Issue.record("expected a reject")
            return
        }
        #expect(j.reason == .missingCell)
        #expect(j.location == SourceLocation(file: "test.csv", line: 2, column: 3, record: 1))
        #expect(!j.message.contains("secret"))
        #expect(r.fieldCount == 0)
    }

    @Test func padPolicyAcceptsShortRows() throws {
        let r = try CSVTest.reader(CSVTest.bytes("a,b,c\n1,2\n1,2,3,4\n"), dialect: Dialect(raggedRows: .pad))
        #expect(try r.next().isRecord)
        #expect(r.fieldCount == 2)
        #expect(r.string(2) == "")
        guard case .rejected(let j) = try r.next() else {
            Issue.record("extra cells must still be rejected")
            return
        }
        #expect(j.reason == .extraCell)
    }

    @Test func unterminatedQuoteAtEOF() throws {
        let ev = try CSVTest.events(CSVTest.bytes("a,b\n1,2\n3,\"open\n4,5\n"))
        #expect(
            ev == [
                .record(fields: ["1", "2"], quoted: [false, false], line: 2, record: 1),
                .rejected(reason: .structureError, line: 3, record: 2, field: nil),
            ])
    }

    @Test func fieldLimit() throws {
        let big = String(repeating: "x", count: 100)
        let text = "a,b\n1,\(big)\n2,\"\(big)\"\n3,ok\n"
        let ev = try CSVTest.events(
            CSVTest.bytes(text), dialect: Dialect(delimiter: 44), limits: ReaderLimits(maxFieldBytes: 99))
        #expect(
            ev == [
                .rejected(reason: .limitExceeded, line: 2, record: 1, field: "b"),
                .rejected(reason: .limitExceeded, line: 3, record: 2, field: "b"),
                .record(fields: ["3", "ok"], quoted: [false, false], line: 4, record: 3),
            ])
    }

    @Test func columnLimit() throws {
        let wide = (1...100).map(String.init).joined(separator: ",")
        let d = Dialect(delimiter: 44, header: false, columns: ["a", "b"])
        let ev = try CSVTest.events(CSVTest.bytes("\(wide)\n1,2\n"), dialect: d, limits: ReaderLimits(maxColumns: 10))
        #expect(
            ev == [
                .rejected(reason: .limitExceeded, line: 1, record: 1, field: nil),
                .record(fields: ["1", "2"], quoted: [false, false], line: 2, record: 2),
            ])
    }

    @Test func hugeRecordIsSkippedWithBoundedMemory() throws {
        // A 2 MB quoted field (with embedded newlines) under a 64 KiB record limit.
        var bytes = CSVTest.bytes("a,b\n1,\"")
        let chunk = [UInt8](repeating: UInt8(ascii: "y"), count: 999) + [10]
        for _ in 0..<2_000 { bytes.append(contentsOf: chunk) }
        bytes += CSVTest.bytes("\"\n2,after\n")
        let limits = ReaderLimits(maxFieldBytes: 1 << 10, maxRecordBytes: 64 << 10)
        let r = try CSVTest.reader(bytes, limits: limits, readerChunk: 16 << 10)
        let ev = try CSVTest.events(r)
        #expect(
            ev == [
                .rejected(reason: .limitExceeded, line: 2, record: 1, field: nil),
                .record(fields: ["2", "after"], quoted: [false, false], line: 2_003, record: 2),
            ])
        #expect(r.cap <= (64 << 10) + (16 << 10) + 64)
        #expect(r.bytesRead == Int64(bytes.count))
    }

    @Test func oversizedUnterminatedRecordIsAStructureError() throws {
        var bytes = CSVTest.bytes("a\n\"")
        bytes += [UInt8](repeating: UInt8(ascii: "z"), count: 10_000)
        let ev = try CSVTest.events(bytes, limits: ReaderLimits(maxRecordBytes: 100), readerChunk: 256)
        #expect(ev == [.rejected(reason: .structureError, line: 2, record: 1, field: nil)])
    }

    @Test func recordLimitWhenTheRecordFitsInTheBuffer() throws {
        let ev = try CSVTest.events(
            CSVTest.bytes("a,b\n1,\(String(repeating: "q", count: 50))\n2,3\n"), limits: ReaderLimits(maxRecordBytes: 20))
        #expect(
            ev == [
                .rejected(reason: .limitExceeded, line: 2, record: 1, field: nil),
                .record(fields: ["2", "3"], quoted: [false, false], line: 3, record: 2),
            ])
    }
}

extension ReadEvent {
    var isRecord: Bool {
        if case .record = self { return true }
        return false
    }
}
