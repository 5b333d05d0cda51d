import Testing

@testable import Harmonize

/// A chunk filled from an XML reader takes the collector's queued records together
/// (`XMLQueuedRecords`: one copy of their values, each record's ends from its spans): it must
/// hold what a fill record by record holds: the same records in every chunk, with the same field
/// bytes, locations and rejects in place, and the same counts, whatever the chunks' record and
/// byte limits.
@Suite struct RecordChunkQueuedFillTests {
    /// Hides the reader's queue: `RecordChunk.fill` takes its records one at a time.
    final class OneByOne: RecordReader {
        let inner: XMLRecordReader
        init(_ inner: XMLRecordReader) { self.inner = inner }
        func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] { try inner.bind(fields: fields) }
        func next() throws -> ReadEvent { try inner.next() }
        func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
            try inner.withField(position, body)
        }
        func field(_ position: Int) -> UnsafeBufferPointer<UInt8> { inner.field(position) }
        var location: Harmonize.SourceLocation { inner.location }
        var recordPosition: RecordPosition? { inner.recordPosition }
        var bytesRead: Int64 { inner.bytesRead }
    }

    /// Stays with units and diagnoses: absent and empty values, ancestors' values, a diagnosis
    /// too deep and one with too much text (rejected in place), and, when `broken`, a document
    /// that is not well-formed after its 150th stay.
    static func document(stays: Int, broken: Bool) -> String {
        var s = "<export>\n"
        for i in 0..<stays {
            if broken && i == 150 {
                s += "<sejour id=\"S\(i)\"><unite code=\"U\"></sejour>\n"
                continue
            }
            s += "<sejour id=\"S\(i)\"\(i % 4 == 0 ? "" : " finess=\"75\(i)\"")>"
            s += "<unite code=\"\(i % 5 == 0 ? "" : "UF\(i % 100)")\">"
            for d in 0..<(i % 4) {
                if i % 17 == 3 && d == 1 {
                    s += "<diagnostic code=\"X\"><a><b><c>deep</c></b></a></diagnostic>"
                } else if i % 23 == 7 && d == 0 {
                    s += "<diagnostic code=\"Y\">" + String(repeating: "t", count: 300) + "</diagnostic>"
                } else {
                    let code = d == 2 ? "" : " code=\"C\(i).\(d)\""
                    s += "<diagnostic type=\"\(d == 0 ? "DP" : "DAS")\"\(code)>\(d == 1 ? "note \(i)" : "")</diagnostic>"
                }
            }
            s += "</unite></sejour>\n"
        }
        return s + "</export>\n"
    }

    /// Every chunk of the file: its records' events (location, then fields or the reject), its
    /// `.record` count, and where the reader was after it.
    static func chunks(_ reader: some RecordReader, fields: [String], limit: Int, bytes: Int) throws -> [[String]] {
        let columns = try reader.bind(fields: fields)
        var out: [[String]] = []
        var records = 0
        var ended = false
        while !ended {
            let chunk = RecordChunk(sequence: out.count, fieldCount: fields.count, recordsBefore: records, capacity: limit)
            ended = try chunk.fill(from: reader, columns: columns, limit: limit, bytes: bytes, records: &records)
            let events = ["records \(records), bytes read \(chunk.bytesRead), field bytes \(chunk.byteCount)"]
            out.append(events + (try chunk.readBack(names: fields).events))
        }
        return out
    }

    @Test(arguments: [(1, 1 << 20), (3, 1 << 20), (2048, 1 << 20), (2048, 40), (7, 1)])
    func queuedRecordsFillTheSameChunks(limit: Int, bytes: Int) throws {
        let fields = ["@code", "@type", ".", "../@code", "../../@id", "../../@finess"]
        let options = XMLReaderOptions(record: "/export/sejour/unite/diagnostic", maxDepth: 2, maxRecordTextBytes: 200)
        for broken in [false, true] {
            let text = Array(Self.document(stays: 400, broken: broken).utf8)
            func reader() throws -> XMLRecordReader {
                try XMLRecordReader(source: MemoryByteSource(text, chunkSize: 301), displayName: "his.xml", options: options)
            }
            let together = try Self.chunks(reader(), fields: fields, limit: limit, bytes: bytes)
            let oneByOne = try Self.chunks(OneByOne(reader()), fields: fields, limit: limit, bytes: bytes)
            #expect(together == oneByOne, "limit \(limit), bytes \(bytes), broken \(broken)")
            let events = together.flatMap { $0.dropFirst() }
            // What the document holds: records, rejects of both limits, and the end of a broken one.
            #expect(events.count > (broken ? 200 : 550))
            #expect(events.contains { $0.contains("reject limit-exceeded") })
            #expect(events.contains { $0.hasPrefix("his.xml:3 record 1 at") && $0.hasSuffix(" C1.0|DP||UF1|S1|751") })
            #expect(events.contains { $0.contains("reject structure-error") } == broken)
            if limit == 1 { #expect(together.allSatisfy { $0.count <= 2 }) }
        }
    }
}
