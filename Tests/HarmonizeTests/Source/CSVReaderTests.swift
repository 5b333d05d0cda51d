import Testing

@testable import Harmonize

@Suite struct CSVReaderTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let id: String
        let input: String
        let rows: [[String]]
        var testDescription: String { id }
    }

    static let rfc4180: [Case] = [
        Case(id: "simple", input: "a,b,c\n1,2,3\n", rows: [["a", "b", "c"], ["1", "2", "3"]]),
        Case(id: "no-final-line-end", input: "a,b\n1,2", rows: [["a", "b"], ["1", "2"]]),
        Case(id: "crlf", input: "a,b\r\n1,2\r\n", rows: [["a", "b"], ["1", "2"]]),
        Case(id: "cr-only", input: "a,b\r1,2\r", rows: [["a", "b"], ["1", "2"]]),
        Case(id: "mixed-line-ends", input: "a,b\r\n1,2\n3,4\r5,6", rows: [["a", "b"], ["1", "2"], ["3", "4"], ["5", "6"]]),
        Case(id: "empty-fields", input: "a,,c\n,,\n", rows: [["a", "", "c"], ["", "", ""]]),
        Case(id: "quoted-delimiter", input: "\"a,b\",c\n", rows: [["a,b", "c"]]),
        Case(id: "doubled-quotes", input: "\"he said \"\"hi\"\"\",x\n", rows: [["he said \"hi\"", "x"]]),
        Case(id: "only-doubled-quote", input: "\"\"\"\",x\n", rows: [["\"", "x"]]),
        Case(id: "embedded-lf", input: "\"line1\nline2\",x\n", rows: [["line1\nline2", "x"]]),
        Case(id: "embedded-crlf", input: "\"line1\r\nline2\",x\r\n", rows: [["line1\r\nline2", "x"]]),
        Case(id: "quoted-empty", input: "\"\",x\n", rows: [["", "x"]]),
        Case(id: "quoted-last-field-at-eof", input: "x,\"y\"", rows: [["x", "y"]]),
        Case(id: "trailing-empty-line-no-record", input: "a,b\n\n", rows: [["a", "b"]]),
        Case(id: "blank-lines-skipped", input: "a,b\n\n\r\n1,2\n", rows: [["a", "b"], ["1", "2"]]),
        Case(id: "quote-inside-unquoted-is-literal", input: "ab\"c,d\n", rows: [["ab\"c", "d"]]),
        Case(id: "spaces-kept", input: " a , b \n", rows: [[" a ", " b "]]),
        Case(id: "unicode", input: "é,€,日本\n", rows: [["é", "€", "日本"]]),
    ]

    @Test(arguments: rfc4180)
    func rfc4180Cases(_ c: Case) throws {
        let rows = try CSVTest.rows(c.input, dialect: Dialect(delimiter: UInt8(ascii: ","), header: false))
        #expect(rows == c.rows)
    }

    /// A quote inside a quoted field that is not doubled (`2;"ef"gh`) rejects the record
    /// (issue 15, item 10); `stray_quotes: keep` reads it as before (`efgh`).
    @Test func textAfterAClosingQuoteIsARejectUnlessKept() throws {
        let strict = try CSVTest.reader(CSVTest.bytes("id;note\n1;ok\n2;\"ef\"gh\n3;\"a\"\"b\"\n"), dialect: Dialect(delimiter: 59))
        let events = try CSVTest.events(strict)
        #expect(events.count == 3)
        #expect(events[0].fields == ["1", "ok"])
        #expect(events[1] == .rejected(reason: .structureError, line: 3, record: 2, field: "note"))
        #expect(events[2].fields == ["3", "a\"b"])
        var keep = Dialect(delimiter: UInt8(ascii: ","), header: false)
        keep.keepTextAfterQuote = true
        #expect(try CSVTest.rows("\"ab\"cd,e\n", dialect: keep) == [["abcd", "e"]])
    }

    @Test func quotedEmptyIsToldApartFromEmpty() throws {
        let r = try CSVTest.reader(CSVTest.bytes("a,b\n\"\",\n"), dialect: Dialect(delimiter: 44))
        guard case .record = try r.next() else {
            Issue.record("no record")
            return
        }
        #expect(r.isQuoted(0))
        #expect(!r.isQuoted(1))
        #expect(r.string(0) == "" && r.string(1) == "")
        #expect(r.withField(5) { $0.count } == 0)
        #expect(r.string(9) == "")
    }

    @Test(arguments: [(",", 44), (";", 59), ("\t", 9), ("|", 124)] as [(String, UInt8)])
    func detectsDelimiter(_ d: String, _ byte: UInt8) throws {
        // The other candidates appear inside quotes or inconsistently.
        let text = "id\(d)name\(d)amount\n1\(d)\"x,y;z|w\"\(d)\"3,5\"\n2\(d)b\(d)4\n3\(d)c\(d)5;1\n"
        let r = try CSVTest.reader(CSVTest.bytes(text))
        #expect(r.resolvedDialect.delimiter == byte)
        #expect(r.columnNames == ["id", "name", "amount"])
        let ev = try CSVTest.events(r)
        #expect(ev.count == 3)
        #expect(ev[0].fields == ["1", "x,y;z|w", "3,5"])
    }

    @Test func declaredDelimiterWins() throws {
        let rows = try CSVTest.rows("a;b,c\n1;2,3\n", dialect: Dialect(delimiter: 44, header: false))
        #expect(rows == [["a;b", "c"], ["1;2", "3"]])
    }

    @Test func noQuoteCharacterMakesQuotesLiteral() throws {
        let rows = try CSVTest.rows("\"a,b\"\n", dialect: Dialect(delimiter: 44, quote: nil, header: false))
        #expect(rows == [["\"a", "b\""]])
    }

    @Test func alternativeQuoteCharacter() throws {
        let rows = try CSVTest.rows("'a,b',\"c\"\n", dialect: Dialect(delimiter: 44, quote: UInt8(ascii: "'"), header: false))
        #expect(rows == [["a,b", "\"c\""]])
    }

    @Test func escapeCharacter() throws {
        let d = Dialect(delimiter: 44, escape: UInt8(ascii: "\\"), header: false)
        let rows = try CSVTest.rows("a\\,b,\"q\\\"x\",\"dd\"\"y\",e\\\\\n", dialect: d)
        #expect(rows == [["a,b", "q\"x", "dd\"y", "e\\"]])
        // Without an escape character the backslash is ordinary.
        let plain = try CSVTest.rows("a\\,b\n", dialect: Dialect(delimiter: 44, header: false))
        #expect(plain == [["a\\", "b"]])
    }

    @Test func escapedLineEndIsPartOfTheFieldAndCounted() throws {
        let d = Dialect(delimiter: 44, escape: UInt8(ascii: "\\"), header: false)
        let ev = try CSVTest.events(CSVTest.bytes("a\\\nb,c\nd,e\n"), dialect: d)
        #expect(
            ev == [
                .record(fields: ["a\nb", "c"], quoted: [false, false], line: 1, record: 1),
                .record(fields: ["d", "e"], quoted: [false, false], line: 3, record: 2),
            ])
    }

    @Test func headerAndLocations() throws {
        let r = try CSVTest.reader(CSVTest.bytes("x;y\n1;\"a\nb\"\n\n2;c\n"))
        #expect(r.columnNames == ["x", "y"])
        let ev = try CSVTest.events(r)
        #expect(
            ev == [
                .record(fields: ["1", "a\nb"], quoted: [false, true], line: 2, record: 1),
                .record(fields: ["2", "c"], quoted: [false, false], line: 5, record: 2),
            ])
        #expect(r.bytesRead == 17)
        #expect(r.totalBytes == 17)
    }

    @Test func skipLinesPreamble() throws {
        let text = "Export of 2024\r\nsource: x, y; z\r\n\r\nA|B\r\n1|2\r\n3|4\r\n"
        let r = try CSVTest.reader(CSVTest.bytes(text), dialect: Dialect(skipLines: 3))
        #expect(r.resolvedDialect.delimiter == UInt8(ascii: "|"))
        #expect(r.columnNames == ["A", "B"])
        let ev = try CSVTest.events(r)
        #expect(
            ev == [
                .record(fields: ["1", "2"], quoted: [false, false], line: 5, record: 1),
                .record(fields: ["3", "4"], quoted: [false, false], line: 6, record: 2),
            ])
    }

    @Test func declaredColumnsWithoutHeader() throws {
        let r = try CSVTest.reader(
            CSVTest.bytes("1,2\n3,4\n"), dialect: Dialect(delimiter: 44, header: false, columns: ["a", "b"]))
        #expect(r.columnNames == ["a", "b"])
        #expect(try CSVTest.events(r).compactMap(\.fields) == [["1", "2"], ["3", "4"]])
    }

    @Test func declaredColumnsOverrideHeader() throws {
        let r = try CSVTest.reader(CSVTest.bytes("x,y\n1,2\n"), dialect: Dialect(columns: ["a", "b"]))
        #expect(r.columnNames == ["a", "b"])
        #expect(try CSVTest.events(r) == [.record(fields: ["1", "2"], quoted: [false, false], line: 2, record: 1)])
        #expect(throws: DelimitedReaderError.self) {
            try CSVTest.reader(CSVTest.bytes("x,y,z\n1,2,3\n"), dialect: Dialect(columns: ["a", "b"]))
        }
    }

    @Test func numberedColumnsWithoutHeaderOrDeclaration() throws {
        let r = try CSVTest.reader(CSVTest.bytes("1;2;3\n4;5;6\n"), dialect: Dialect(header: false))
        #expect(r.columnNames == ["1", "2", "3"])
        let ev = try CSVTest.events(r)
        #expect(ev.compactMap(\.fields) == [["1", "2", "3"], ["4", "5", "6"]])
        #expect(ev.first == .record(fields: ["1", "2", "3"], quoted: [false, false, false], line: 1, record: 1))
    }

    @Test func headerProblemsThrow() throws {
        #expect(throws: DelimitedReaderError.self) { try CSVTest.reader([]) }
        #expect(throws: DelimitedReaderError.self) { try CSVTest.reader(CSVTest.bytes("\n\n")) }
        do {
            _ = try CSVTest.reader(CSVTest.bytes("a,b,a\n1,2,3\n"))
            Issue.record("duplicate column accepted")
        } catch let error as DelimitedReaderError {
            guard case .duplicateColumn("a") = error.kind else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(error.description.contains("test.csv"))
        } catch {
            Issue.record("unexpected error")
        }
        #expect(throws: DelimitedReaderError.self) {
            try CSVTest.reader(CSVTest.bytes("a\n"), dialect: Dialect(delimiter: 0xE9))
        }
        // Empty input without a header is simply no records.
        let r = try CSVTest.reader([], dialect: Dialect(header: false))
        #expect(r.columnNames.isEmpty)
        #expect(try CSVTest.events(r).isEmpty)
    }

    @Test func emptyHeaderNamesBecomePositions() throws {
        let r = try CSVTest.reader(CSVTest.bytes("a;;c;\n1;2;3;\n"))
        #expect(r.columnNames == ["a", "2", "c", "4"])
    }

    @Test func trimUnquotedSpaces() throws {
        let d = Dialect(delimiter: 44, header: false, trimUnquotedSpaces: true)
        let rows = try CSVTest.rows(" a ,  \"b , c\"  , d\n", dialect: d)
        #expect(rows == [["a", "b , c", "d"]])
        let untrimmed = try CSVTest.rows(" a , d\n", dialect: Dialect(delimiter: 44, header: false))
        #expect(untrimmed == [[" a ", " d"]])
    }

    @Test func fileSourceAndSniff() throws {
        let path = "/tmp/harmonize-csv-test-\(UInt32.random(in: 0...UInt32.max)).csv"
        let text = Array("\u{FEFF}k;v\n1;\"x;y\"\n2;z\n".utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(path) }
        let r = try DelimitedReader(path: path, displayName: "data/x.csv")
        #expect(r.columnNames == ["k", "v"])
        #expect(r.resolvedDialect.encoding == .utf8)
        #expect(try CSVTest.events(r).compactMap(\.fields) == [["1", "x;y"], ["2", "z"]])
        #expect(r.totalBytes == Int64(text.count))
        let s = try DelimitedReader.sniff(path: path)
        #expect(s.delimiter == UInt8(ascii: ";"))
        #expect(s.encoding == .utf8)
        #expect(s.byteOrderMark)
        #expect(throws: DelimitedReaderError.self) { try DelimitedReader(path: path + ".missing") }
    }

    @Test func sniffBytes() {
        let s = DelimitedReader.sniff(bytes: Array("a\tb\tc\n1\t2\t3\n".utf8), atEnd: true)
        #expect(s.delimiter == 9)
        #expect(s.encoding == .utf8)
        #expect(!s.byteOrderMark)
        #expect(s.linesExamined == 2)
        let latin = DelimitedReader.sniff(bytes: [0x61, 0x7C, 0x62, 0x0A, 0xE9, 0x7C, 0x31, 0x0A], atEnd: true)
        #expect(latin.encoding == .windows1252)
        #expect(latin.delimiter == UInt8(ascii: "|"))
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
