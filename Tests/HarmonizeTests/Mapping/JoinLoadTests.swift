import Foundation
import Testing

@testable import Harmonize

/// Loading a join index over several chunks of the joined file, read on a thread of its own
/// (`ChunkedRead`): the same rows, rejects and counts as one thread reading the file, and a
/// failure while loading stops the run without leaving the reading thread behind.
@Suite(.serialized) struct JoinLoadTests {
    static let mapping = """
        harmonize: 1
        id: t.drugs
        source: {files: pha.csv, dialect: {delimiter: ";"}}
        joins:
          - name: prs
            files: prs.csv
            dialect: {delimiter: ";"}
            schema:
              fields:
                - {name: k1, type: integer}
                - {name: ben, type: string}
                - {name: soin, type: date, format: "%d/%m/%Y"}
            on: {k1: "to_int(k1)"}
        target: drug_exposure
        fields:
          drug_exposure_id: "to_int(k1)"
          person_id: "to_int(substr(prs.ben, 2))"
          drug_concept_id: 0
          drug_exposure_start_date: prs.soin
          drug_exposure_end_date: prs.soin
          drug_type_concept_id: 32810
        """

    /// A joined file of `rows` claim lines (`k1` = 1…rows), with, at the given row numbers, a
    /// line of the wrong shape (rejected by the reader), a date that does not exist (rejected by
    /// the join's schema), and a second line for key 100 (ambiguous). Returns the file's text and
    /// the line numbers of the special lines.
    static func joinedFile(rows: Int, ragged: Set<Int>, badDates: Set<Int>) -> (text: String, raggedLines: [Int], badDateLines: [Int]) {
        var out = "k1;ben;soin\n"
        var line = 1
        var raggedLines: [Int] = []
        var badDateLines: [Int] = []
        for i in 1...rows {
            line += 1
            if ragged.contains(i) {
                out += "\(i);B1;01/02/2020;extra;fields\n"
                raggedLines.append(line)
            } else if badDates.contains(i) {
                out += "\(i);B1;31/02/2020\n"
                badDateLines.append(line)
            } else {
                out += "\(i);B\(i % 50 + 1);\(String(format: "%02d", i % 28 + 1))/03/2021\n"
            }
            if i == 100 {
                line += 1
                out += "100;B9;01/01/2020\n"
            }
        }
        return (out, raggedLines, badDateLines)
    }

    @Test(.timeLimit(.minutes(2))) func aJoinedFileOfManyChunksGivesTheRowsRejectsAndCountsOfOneThread() throws {
        let dir = TestSupport.temporaryDirectory("join-load")
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        // Chunks hold 4,096 records: the special lines sit at and around their boundaries.
        let rows = 10_000
        let ragged: Set<Int> = [4095, 4096, 8193]
        let badDates: Set<Int> = [2048, 4097, 9998]
        let joined = Self.joinedFile(rows: rows, ragged: ragged, badDates: badDates)
        TestSupport.write(joined.text, to: dir + "/in/prs.csv")
        let driving = [1, 100, 2048, 4095, 4096, 4097, 4098, 8192, 8194, 9999, 10_000, 10_001]
        TestSupport.write("k1\n" + driving.map(String.init).joined(separator: "\n") + "\n", to: dir + "/in/pha.csv")
        TestSupport.write(Self.mapping, to: dir + "/m.yaml")
        let r = try TestSupport.runCLI([
            "run", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--output", dir + "/out.sqlite", "--no-quality", "--json",
            "--max-reject-rate", "1",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let db = try SQLiteConnection(path: dir + "/out.sqlite", readOnly: true)
        let matched = [1, 4098, 8192, 8194, 9999, 10_000]
        #expect(
            try db.query("SELECT drug_exposure_id, person_id, drug_exposure_start_date FROM drug_exposure ORDER BY 1")
                == matched.map { i in [.int(i), .int(i % 50 + 1), .string("2021-03-\(String(format: "%02d", i % 28 + 1))")] })
        // The joined file's rejects, in the file's order, each at its line.
        let joinRejects = try db.query("SELECT line, rule FROM harmonize_reject WHERE file = 'prs.csv' ORDER BY rowid")
        #expect(joinRejects.map { $0[0] } == (joined.raggedLines + joined.badDateLines).sorted().map { .int($0) })
        #expect(joinRejects.allSatisfy { $0[1] == .string("join.prs") })
        #expect(
            try db.query("SELECT reason, line FROM harmonize_reject WHERE file = 'pha.csv' ORDER BY line") == [
                [.string("join-ambiguous"), .int(3)], [.string("join-missing"), .int(4)], [.string("join-missing"), .int(5)],
                [.string("join-missing"), .int(6)], [.string("join-missing"), .int(7)], [.string("join-missing"), .int(13)],
            ])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let manifest = try #require(json["manifest"] as? [String: Any])
        let join = try #require((manifest["joins"] as? [[String: Any]])?.first)
        #expect(join["read"] as? Int == rows + 1)
        #expect(join["rejected"] as? Int == ragged.count + badDates.count)
        #expect(join["indexed"] as? Int == rows - ragged.count - badDates.count)
        #expect(join["ambiguousKeys"] as? Int == 1)
        #expect(join["matched"] as? Int == matched.count)
        // The joined file was read to its end and hashed: its record count and digest are known.
        let inputs = try #require(manifest["inputs"] as? [[String: Any]])
        let prs = try #require(inputs.first { $0["path"] as? String == "prs.csv" })
        #expect((prs["sha256"] as? String)?.count == 64)
        #expect(prs["bytes"] as? Int == joined.text.utf8.count)
    }

    /// A join index partly on disk is read by every worker of `--threads N` with buffers of its
    /// own: the same rows, rejects and counts as one thread.
    @Test(.timeLimit(.minutes(2))) func aJoinIndexPartlyOnDiskIsReadByEveryWorker() throws {
        let dir = TestSupport.temporaryDirectory("join-spill-workers")
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        let rows = 40_000
        TestSupport.write(Self.joinedFile(rows: rows, ragged: [7], badDates: [39_000]).text, to: dir + "/in/prs.csv")
        // Keys all over the file (the index's first rows stay in memory, the later ones go to
        // disk), and a few past its end (missing).
        let driving = (0..<4_000).map { ($0 * 7_919) % (rows + 40) + 1 }
        TestSupport.write("k1\n" + driving.map(String.init).joined(separator: "\n") + "\n", to: dir + "/in/pha.csv")
        TestSupport.write(Self.mapping, to: dir + "/m.yaml")
        func run(_ threads: Int) throws -> (joins: [[String: Any]], parallel: [[String: Any]]?, rows: [[Value]], rejects: [[Value]]) {
            let output = dir + "/t\(threads).sqlite"
            let r = try TestSupport.runCLI([
                "run", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--output", output, "--no-quality", "--json",
                "--max-reject-rate", "1", "--threads", String(threads), "--chunk-records", "97", "--memory-budget", "17M",
                "--spill-dir", dir, "--run-id", "same",
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let manifest = try #require(json["manifest"] as? [String: Any])
            let db = try SQLiteConnection(path: output, readOnly: true)
            return (
                try #require(manifest["joins"] as? [[String: Any]]), manifest["parallel"] as? [[String: Any]],
                try db.query("SELECT * FROM drug_exposure ORDER BY drug_exposure_id"),
                try db.query("SELECT mapping, file, line, reason, rule, message FROM harmonize_reject ORDER BY rowid")
            )
        }
        let one = try run(1)
        #expect(one.joins.first?["spilled"] as? Bool == true, "the index moved to disk in part")
        #expect(one.rows.count > 3_000)
        for threads in [2, 4] {
            let many = try run(threads)
            #expect(many.parallel?.first?["workers"] as? Int == threads, "mapped by \(threads) workers")
            #expect(many.rows == one.rows)
            #expect(many.rejects == one.rejects)
            for key in ["read", "indexed", "rejected", "matched", "missing", "ambiguousKeys"] {
                #expect(many.joins.first?[key] as? Int == one.joins.first?[key] as? Int, "\(key)")
            }
        }
    }

    @Test(.timeLimit(.minutes(2))) func aFailureWhileLoadingStopsTheRunAndTheReadingThread() throws {
        let dir = TestSupport.temporaryDirectory("join-load-fail")
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        // Far more chunks than wait in the queue: the reading thread is blocked when the index,
        // past its share of a small budget, cannot open its on-disk part.
        TestSupport.write(Self.joinedFile(rows: 200_000, ragged: [], badDates: []).text, to: dir + "/in/prs.csv")
        TestSupport.write("k1\n1\n", to: dir + "/in/pha.csv")
        TestSupport.write(Self.mapping, to: dir + "/m.yaml")
        let r = try TestSupport.runCLI([
            "run", "--mappings", dir + "/m.yaml", "--input", dir + "/in", "--output", dir + "/out.sqlite", "--no-quality",
            "--memory-budget", "1M", "--spill-dir", dir + "/missing/folder",
        ])
        #expect(r.status != 0)
        #expect(r.stderr.contains("join prs"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.sqlite"), "nothing published")
    }
}

/// `ChunkedRead` on its own: records in order across chunks, the byte limit of a chunk, an error
/// after the chunks read before it, and `finish` stopping a reading thread that is still ahead.
@Suite struct ChunkedReadTests {
    struct Failure: Error {}

    /// `count` records of one field (`r0`, `r1`, …), failing at record `failAt`; `taken` is how
    /// many records it handed out (read it once `ChunkedRead.finish` has returned).
    final class CountingReader: RecordReader {
        let count: Int
        let failAt: Int?
        private(set) var taken = 0
        private let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 32)
        private var length = 0

        init(count: Int, failAt: Int? = nil) {
            self.count = count
            self.failAt = failAt
        }

        deinit { buffer.deallocate() }

        func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] { fields.map { _ in 0 } }

        func next() throws -> ReadEvent {
            if let failAt, taken == failAt { throw Failure() }
            guard taken < count else { return .end }
            length = 0
            for b in "r\(taken)".utf8 {
                buffer[length] = b
                length += 1
            }
            taken += 1
            return .record
        }

        func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R { try body(field(position)) }

        func field(_ position: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: buffer[0..<length]) }

        var location: Harmonize.SourceLocation { Harmonize.SourceLocation(file: "t", line: taken + 1) }

        var bytesRead: Int64 { Int64(taken) }
    }

    /// The fields of every record of the chunks `read` gives, until nil or an error.
    static func drain(_ read: ChunkedRead, sizes: inout [Int]) throws -> [String] {
        var out: [String] = []
        while let chunk = try read.next() {
            sizes.append(chunk.count)
            for r in 0..<chunk.count { out.append(String(decoding: chunk.field(record: r, 0), as: UTF8.self)) }
        }
        return out
    }

    @Test(.timeLimit(.minutes(1))) func recordsComeInOrderInChunksOfBoundedSize() throws {
        let reader = CountingReader(count: 1_050)
        let read = ChunkedRead(reader: reader, columns: [0], chunkRecords: 100, depth: 2)
        var sizes: [Int] = []
        #expect(try Self.drain(read, sizes: &sizes) == (0..<1_050).map { "r\($0)" })
        #expect(sizes == Array(repeating: 100, count: 10) + [50])
        read.finish()
        // A chunk closes once it holds 64 bytes of fields (2 to 4 bytes each here: 3,890 bytes in
        // all), whatever its record count.
        let narrow = ChunkedRead(reader: CountingReader(count: 1_000), columns: [0], chunkRecords: 100, chunkBytes: 64)
        var small: [Int] = []
        #expect(try Self.drain(narrow, sizes: &small).count == 1_000)
        #expect(small.dropLast().allSatisfy { $0 <= 32 })
        #expect(small.count >= 3_890 / 68)
    }

    @Test(.timeLimit(.minutes(1))) func anErrorComesOnceAfterTheRecordsBeforeIt() throws {
        let read = ChunkedRead(reader: CountingReader(count: 1_000, failAt: 250), columns: [0], chunkRecords: 100)
        var records: [String] = []
        var failed = 0
        while true {
            do {
                guard let chunk = try read.next() else { break }
                for r in 0..<chunk.count { records.append(String(decoding: chunk.field(record: r, 0), as: UTF8.self)) }
            } catch is Failure {
                failed += 1
            }
        }
        #expect(records == (0..<250).map { "r\($0)" })
        #expect(failed == 1)
    }

    /// Encoding threads (`JoinLoadPipeline`) hand their chunks over in the file's order, each
    /// whole, and a read error comes once every chunk read before it has been taken; the calling
    /// thread stopping early leaves no encoding thread behind.
    @Test(.timeLimit(.minutes(1))) func encodingThreadsHandChunksOverInOrderThenTheReadError() throws {
        let yaml = """
            harmonize: 1
            id: t.encode
            source: {files: a.csv}
            joins:
              - {name: r, files: r.csv, schema: {fields: [{name: f, type: string}]}, on: {f: f}}
            target: person
            fields: {person_id: 1, gender_concept_id: 0, year_of_birth: 2000, race_concept_id: 0, ethnicity_concept_id: 0}
            """
        let join = try #require(try MappingDiagnosticsTests.plan(yaml).joins.first)
        for failAt in [nil, 7_777] as [Int?] {
            let read = ChunkedRead(reader: CountingReader(count: 10_000, failAt: failAt), columns: [0], chunkRecords: 100)
            let encoders = (0..<3).map { _ in JoinRowEncoder(join, callSites: nil) }
            var keys: [[UInt8]] = []
            var sequences: [Int] = []
            var failed = false
            do throws(RunError) {
                try JoinLoadPipeline.run(read: read, encoders: encoders) { chunk in
                    sequences.append(chunk.sequence)
                    #expect(chunk.read == chunk.ends.count && chunk.rejects.isEmpty)
                    var start = 0
                    for end in chunk.ends {
                        keys.append(Array(chunk.keys[start..<end.key]))
                        start = end.key
                    }
                }
            } catch {
                failed = true
            }
            read.finish()
            let expected = (0..<(failAt ?? 10_000)).map { i -> [UInt8] in
                var key: [UInt8] = []
                _ = ValueCodec.appendJoinKey([.string("r\(i)")], to: &key)
                return key
            }
            #expect(keys == expected, "fail at \(String(describing: failAt))")
            #expect(sequences == Array(0..<sequences.count))
            #expect(failed == (failAt != nil))
        }
        // The calling thread stops at the third chunk: the call returns with every thread ended.
        let read = ChunkedRead(reader: CountingReader(count: 1_000_000), columns: [0], chunkRecords: 100)
        var taken = 0
        #expect(throws: RunError.self) {
            try JoinLoadPipeline.run(read: read, encoders: [JoinRowEncoder(join, callSites: nil), JoinRowEncoder(join, callSites: nil)]) {
                _ throws(RunError) in
                taken += 1
                if taken == 3 { throw RunError(.io, "stop") }
            }
        }
        read.finish()
        #expect(taken == 3)
    }

    @Test(.timeLimit(.minutes(1))) func finishStopsAReadingThreadThatIsAhead() throws {
        let reader = CountingReader(count: 10_000_000)
        let read = ChunkedRead(reader: reader, columns: [0], chunkRecords: 100, depth: 2)
        let first = try #require(try read.next())
        #expect(first.count == 100)
        read.finish()
        // At most the chunks waiting, the one taken and the one being filled were read.
        #expect(reader.taken <= 5 * 100)
        read.finish()  // twice is harmless
    }
}

/// A chunk gives back each record's location as its reader gave it (`RecordChunk.location`):
/// line and record numbers over a few kinds of file, column and path, past the kinds a chunk
/// keeps by index (64: the rest kept whole), with nil lines and records and rejects in place.
@Suite struct RecordChunkLocationTests {
    final class PathReader: RecordReader {
        let locations: [Harmonize.SourceLocation]
        private var at = -1
        init(_ locations: [Harmonize.SourceLocation]) { self.locations = locations }
        func bind(fields: [String]) throws(RecordReaderBindError) -> [Int] { fields.map { _ in 0 } }
        func next() throws -> ReadEvent {
            at += 1
            guard at < locations.count else { return .end }
            if at % 97 == 5 { return .rejected(Reject(reason: .structureError, location: locations[at], message: "bad")) }
            return .record
        }
        func withField<R>(_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R { try body(field(position)) }
        func field(_ position: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: nil, count: 0) }
        var location: Harmonize.SourceLocation { locations[at] }
        var bytesRead: Int64 { Int64(max(at, 0)) }
    }

    @Test func locationsComeBackAsTheReaderGaveThem() throws {
        var locations: [Harmonize.SourceLocation] = []
        for i in 0..<1_000 {
            // Paths cycle through 10 kinds for the first half, then 150 (more than a chunk keeps by index).
            let kinds = i < 500 ? 10 : 150
            locations.append(
                Harmonize.SourceLocation(
                    file: i % 3 == 0 ? "a.hl7" : "b.hl7", line: i % 7 == 0 ? nil : i + 1, column: i % 11 == 0 ? 4 : nil,
                    record: i % 13 == 0 ? nil : i, path: i % 5 == 0 ? nil : "OBX[\(i % kinds)]"))
        }
        let reader = PathReader(locations)
        let chunk = RecordChunk(sequence: 0, fieldCount: 1, recordsBefore: 0, capacity: 16)
        var records = 0
        #expect(try chunk.fill(from: reader, columns: [0], limit: 10_000, records: &records))
        #expect(chunk.count == locations.count)
        let chunkReader = ChunkReader(names: ["f"])
        chunkReader.reset(chunk)
        var i = 0
        reading: while true {
            switch try chunkReader.next() {
            case .end: break reading
            case .rejected(let r): #expect(r.location == locations[i])
            case .record: break
            }
            #expect(chunkReader.location == locations[i], "record \(i)")
            i += 1
        }
        #expect(i == locations.count)
    }

    /// The XML readers, whose records differ in location only by line and number, give each
    /// record's through `recordPosition` (a chunk keeps one location for them all and two
    /// numbers per record): a chunk filled from them, straight or from a tap's spill, gives back
    /// every record's location, fields and rejects as the reader gave them.
    @Test func xmlRecordsKeepTheirLocationsInAChunk() throws {
        let text = """
            <export>
              <sejour id="S1"><unite code="U1"><diagnostic code="A"/>
                <diagnostic code="B"/></unite></sejour>
              <sejour id="S2"><unite code="U2"><diagnostic code="C"><a><b>too deep</b></a></diagnostic>
              <diagnostic code="D"/></unite></sejour>
            </export>
            """
        let options = XMLReaderOptions(record: "/export/sejour/unite/diagnostic", maxDepth: 1)
        let fields = ["@code", "../../@id"]
        /// Each event: the location, then the fields of a record or the reject's reason.
        func events(_ reader: some RecordReader) throws -> [String] {
            let columns = try reader.bind(fields: fields)
            var out: [String] = []
            while true {
                switch try reader.next() {
                case .end: return out
                case .rejected(let r): out.append("\(r.location) reject \(r.reason.rawValue)")
                case .record:
                    if let p = reader.recordPosition {
                        #expect(p.line == reader.location.line && p.record == reader.location.record)
                    }
                    out.append("\(reader.location) " + columns.map { String(decoding: reader.field($0), as: UTF8.self) }.joined(separator: ","))
                }
            }
        }
        func chunked(_ reader: some RecordReader) throws -> [String] {
            let chunk = RecordChunk(sequence: 0, fieldCount: fields.count, recordsBefore: 0, capacity: 4)
            var records = 0
            #expect(try chunk.fill(from: reader, columns: try reader.bind(fields: fields), limit: 100, records: &records))
            let chunkReader = ChunkReader(names: fields)
            chunkReader.reset(chunk)
            return try events(chunkReader)
        }
        func xml(_ taps: [XMLRecordTap] = []) throws -> XMLRecordReader {
            try XMLRecordReader(source: MemoryByteSource(Array(text.utf8), chunkSize: 16), displayName: "h.xml", options: options, taps: taps)
        }
        let straight = try events(xml())
        #expect(straight.count == 4 && straight.contains { $0.contains("reject limit-exceeded") })
        #expect(straight.first == "h.xml:2 record 1 at /export/sejour/unite/diagnostic A,S1")
        #expect(try chunked(xml()) == straight)
        let tap = try #require(XMLRecordTap(options: options, names: fields, spillDirectory: TestSupport.temporaryDirectory("chunk-tap")))
        _ = try events(xml([tap]))
        #expect(try chunked(SpilledXMLRecordReader(tap: tap, displayName: "h.xml")) == straight)
    }
}
