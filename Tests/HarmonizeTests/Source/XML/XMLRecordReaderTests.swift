import Foundation
import Testing

@testable import Harmonize

/// One observable outcome of `XMLRecordReader.next()`.
enum XMLEvent: Equatable, CustomStringConvertible {
    case record(values: [String], record: Int, line: Int)
    case rejected(reason: RejectReason, record: Int)

    var description: String {
        switch self {
        case .record(let v, let r, let l): return "record#\(r)@\(l) \(v)"
        case .rejected(let reason, let r): return "reject#\(r) \(reason.rawValue)"
        }
    }
}

/// The streaming XML reader (libxml2 reader API): record selection, paths, namespaces, security, limits.
@Suite struct XMLRecordReaderTests {
    static let his = """
        <?xml version="1.0" encoding="UTF-8"?>
        <export xmlns="urn:example:his" xmlns:x="urn:example:extra" version="1">
        <sejour id="S1" finess="750100001"><patient ipp="100" sexe="1"/>
        <entree date="2024-01-01T08:00:00"/><unite code="UF001"><diagnostic type="DP" code="E110"/><diagnostic type="DAS" code="I10"/></unite>
        <x:note>caf&#233; &amp; th&#xE9;</x:note></sejour>
        <sejour id="S2" finess="750100002"><patient ipp="200" sexe="2"/><unite code="UF002"/><x:note><![CDATA[a<b]]></x:note></sejour>
        <other><sejour id="NOT-A-RECORD"/></other>
        </export>

        """

    static func events(
        _ text: String, record: String = "/export/sejour", fields: [String], namespaces: [String: String] = [:],
        chunk: Int = 1 << 16, maxDepth: Int = 64, maxText: Int = 1 << 20
    ) throws -> [XMLEvent] {
        try events(Array(text.utf8), record: record, fields: fields, namespaces: namespaces, chunk: chunk, maxDepth: maxDepth, maxText: maxText)
    }

    static func events(
        _ bytes: [UInt8], record: String = "/export/sejour", fields: [String], namespaces: [String: String] = [:],
        chunk: Int = 1 << 16, maxDepth: Int = 64, maxText: Int = 1 << 20
    ) throws -> [XMLEvent] {
        let r = try XMLRecordReader(
            source: MemoryByteSource(bytes, chunkSize: chunk), displayName: "t.xml",
            options: XMLReaderOptions(record: record, namespaces: namespaces, maxDepth: maxDepth, maxRecordTextBytes: maxText))
        let positions = try r.bind(fields: fields)
        var out: [XMLEvent] = []
        for _ in 0..<100_000 {
            switch try r.next() {
            case .record:
                out.append(
                    .record(
                        values: positions.map { p in r.withField(p) { String(decoding: $0, as: UTF8.self) } }, record: r.location.record ?? -1,
                        line: r.location.line ?? -1))
            case .rejected(let j):
                out.append(.rejected(reason: j.reason, record: j.location.record ?? -1))
            case .end:
                return out
            }
        }
        return out
    }

    @Test func readsRecordsFieldsAttributesAndNamespaces() throws {
        let events = try Self.events(
            Self.his, fields: ["@id", "patient/@ipp", "unite/diagnostic/@code", "entree/@date", "x:note", "h:unite/@code", "missing/@x"],
            namespaces: ["x": "urn:example:extra", "h": "urn:example:his"])
        #expect(
            events == [
                .record(values: ["S1", "100", "E110", "2024-01-01T08:00:00", "café & thé", "UF001", ""], record: 1, line: 3),
                .record(values: ["S2", "200", "", "", "a<b", "UF002", ""], record: 2, line: 6),
            ])
    }

    @Test func aPrefixInTheWrongNamespaceMatchesNothing() throws {
        let events = try Self.events(Self.his, fields: ["x:patient/@ipp"], namespaces: ["x": "urn:example:extra"])
        #expect(events.count == 2)
        #expect(events.allSatisfy { if case .record(let v, _, _) = $0 { return v == [""] } else { return false } })
    }

    @Test func anUndeclaredPrefixFailsToBind() throws {
        let r = try XMLRecordReader(
            source: MemoryByteSource(Array(Self.his.utf8)), displayName: "t.xml", options: XMLReaderOptions(record: "/export/sejour"))
        #expect(throws: RecordReaderBindError.self) { try r.bind(fields: ["q:patient"]) }
    }

    @Test func dripFeedGivesIdenticalRecords() throws {
        let fields = ["@id", "patient/@ipp", "unite/diagnostic/@code", "x:note"]
        let ns = ["x": "urn:example:extra"]
        let reference = try Self.events(Self.his, fields: fields, namespaces: ns)
        #expect(reference.count == 2)
        for chunk in [1, 2, 3, 5, 7, 11, 64, 1000] {
            #expect(try Self.events(Self.his, fields: fields, namespaces: ns, chunk: chunk) == reference, "chunk \(chunk)")
        }
    }

    @Test func aDocumentThatIsNotWellFormedIsRejectedAfterTheGoodRecords() throws {
        // libxml2 parses ahead in chunks: the error sits far enough after the first records.
        let good = (1...300).map { "<sejour id=\"\($0)\"><patient ipp=\"\($0)\"/></sejour>\n" }.joined()
        let text = "<export>\n" + good + "<sejour id=\"x\"><patient></sejour></export>"
        let events = try Self.events(text, fields: ["@id"])
        #expect(events.first == .record(values: ["1"], record: 1, line: 2))
        // Every well-formed record before the error, whatever the chunking (libxml2's reader API,
        // which parses ahead, used to lose the records of the chunk holding the error).
        #expect(events.count == 301)
        #expect(events.last == .rejected(reason: .structureError, record: 301))
        for chunk in [1, 7, 512, 4096, 1 << 20] {
            let e = try Self.events(text, fields: ["@id"], chunk: chunk)
            #expect(e.count == 301, "chunk \(chunk)")
            #expect(e.dropLast().allSatisfy { if case .record = $0 { return true } else { return false } }, "chunk \(chunk)")
        }
    }

    @Test func theRecordJustBeforeTheMalformationIsDelivered() throws {
        // The error sits in the same small chunk as the last good records.
        let text = "<export><sejour id=\"1\"/><sejour id=\"2\"><patient ipp=\"7\"/></sejour><sejour id=\"3\"><x></sejour></export>"
        for chunk in [3, 16, 1 << 16] {
            let events = try Self.events(text, fields: ["@id", "patient/@ipp"], chunk: chunk)
            #expect(
                events == [
                    .record(values: ["1", ""], record: 1, line: 1), .record(values: ["2", "7"], record: 2, line: 1),
                    .rejected(reason: .structureError, record: 3),
                ], "chunk \(chunk)")
        }
    }

    @Test func ancestorPathsReadAttributesOfTheRecordsAncestors() throws {
        let text = """
            <export xmlns="urn:example:his" site="A">
            <sejour id="S1"><patient ipp="100"/><unite code="U1"><acte code="A1"/><acte code="A2"/></unite><unite code="U2"><acte code="A3"/></unite></sejour>
            <sejour id="S2"><unite code="U3"><acte code="A4"/></unite><patient ipp="200"/></sejour>
            </export>
            """
        let events = try Self.events(
            text, record: "/h:export/h:sejour/h:unite/h:acte", fields: ["@code", "../@code", "../../@id", "../../h:patient/@ipp", "../../../@site"],
            namespaces: ["h": "urn:example:his"])
        #expect(
            events == [
                .record(values: ["A1", "U1", "S1", "100", "A"], record: 1, line: 2),
                .record(values: ["A2", "U1", "S1", "100", "A"], record: 2, line: 2),
                .record(values: ["A3", "U2", "S1", "100", "A"], record: 3, line: 2),
                // The patient comes after the unit in this stay: not read yet when the act is.
                .record(values: ["A4", "U3", "S2", "", "A"], record: 4, line: 3),
            ])
    }

    /// Elements at an ancestor's depth that are not on the record path (another name, another
    /// namespace, or under an element off the path) carry the attributes and children the
    /// ancestor paths read: none of their values reaches a record, which reads its own ancestors
    /// only (absent when they lack the value), whatever the chunking.
    @Test func ancestorPathsIgnoreElementsOffTheRecordPath() throws {
        let text = """
            <export xmlns="urn:example:his" xmlns:x="urn:example:extra">
            <sejour id="S1"><patient ipp="100"/><unite code="U1"><diagnostic code="D1"/></unite><autre code="X1" id="X"><diagnostic code="NOT1"/></autre><unite><diagnostic code="D2"/></unite></sejour>
            <meta id="M1"><patient ipp="M-IPP"/><unite code="M-U"><diagnostic code="NOT2"/></unite></meta>
            <sejour><unite code="U2"><diagnostic code="D3"/></unite><x:unite code="X-U"><diagnostic code="NOT3"/></x:unite></sejour>
            <x:sejour id="X-S"><patient ipp="X-IPP"/><unite code="X-U2"><diagnostic code="NOT4"/></unite></x:sejour>
            <sejour id="S3"><x:patient ipp="X-IPP2"/><unite code="U3"><diagnostic code="D4"/></unite></sejour>
            <other><sejour id="O"><unite code="O-U"><diagnostic code="NOT5"/></unite></sejour></other>
            </export>
            """
        for chunk in [1, 5, 1 << 16] {
            let events = try Self.events(
                text, record: "/h:export/h:sejour/h:unite/h:diagnostic", fields: ["@code", "../@code", "../../@id", "../../h:patient/@ipp"],
                namespaces: ["h": "urn:example:his"], chunk: chunk)
            #expect(
                events == [
                    .record(values: ["D1", "U1", "S1", "100"], record: 1, line: 2),
                    // Its unit has no code: not the `autre` before it.
                    .record(values: ["D2", "", "S1", "100"], record: 2, line: 2),
                    // Its stay has no id and no patient: not the `meta` before it.
                    .record(values: ["D3", "U2", "", ""], record: 3, line: 4),
                    // The patient in another namespace is not the stay's patient.
                    .record(values: ["D4", "U3", "S3", ""], record: 4, line: 6),
                ], "chunk \(chunk)")
        }
    }

    /// An ancestor path steps on elements as deep as the record itself (`../../a/b/@x`: the
    /// stay, then two levels down), and elements deeper than any ancestor path reaches (the
    /// records' children, a `b` inside another `b`) leave it as it is.
    @Test func ancestorPathsReachAsDeepAsTheirStepsAndNoDeeper() throws {
        let text = """
            <r>
            <s id="S1"><a>t1<b x="B1"><b x="inner"/></b>t2</a><u><d c="1"><b x="child"/></d><d c="2"/></u></s>
            <s id="S2"><u><d c="3"><a><b x="deep"/></a></d></u><a><b x="B2"/></a></s>
            </r>
            """
        for chunk in [1, 7, 1 << 16] {
            let events = try Self.events(text, record: "/r/s/u/d", fields: ["@c", "../../a/b/@x", "../../@id"], chunk: chunk)
            #expect(
                events == [
                    .record(values: ["1", "B1", "S1"], record: 1, line: 2),
                    .record(values: ["2", "B1", "S1"], record: 2, line: 2),
                    // The stay's `a` comes after its unit: not read yet; the record's own `a/b` is not the stay's.
                    .record(values: ["3", "", "S2"], record: 3, line: 3),
                ], "chunk \(chunk)")
            // The record's own paths, as deep as their steps (the text of `a` taken across its children).
            let stays = try Self.events(text, record: "/r/s", fields: ["u/d/@c", "a/b/@x", "a", "u/d/b/@x"], chunk: chunk)
            #expect(
                stays == [
                    .record(values: ["1", "B1", "t1t2", "child"], record: 1, line: 2),
                    .record(values: ["3", "B2", "", ""], record: 2, line: 3),
                ], "chunk \(chunk)")
        }
    }

    @Test func ancestorTextAndTooManyUpsFailToBind() throws {
        for path in ["..", "../patient", "../text()", "../../../../@x"] {
            let r = try XMLRecordReader(
                source: MemoryByteSource(Array(Self.his.utf8)), displayName: "t.xml", options: XMLReaderOptions(record: "/export/sejour/unite"))
            #expect(throws: RecordReaderBindError.self, "\(path)") { try r.bind(fields: [path]) }
        }
    }

    @Test func tooDeepRecordsAreLimitRejects() throws {
        let deep =
            "<export><sejour>" + String(repeating: "<a>", count: 20) + String(repeating: "</a>", count: 20) + "</sejour><sejour id=\"2\"/></export>"
        let events = try Self.events(deep, fields: ["@id"], maxDepth: 10)
        #expect(events == [.rejected(reason: .limitExceeded, record: 1), .record(values: ["2"], record: 2, line: 1)])
    }

    @Test func tooMuchTextIsALimitReject() throws {
        let big = "<export><sejour>" + String(repeating: "x", count: 5000) + "</sejour><sejour id=\"2\"/></export>"
        let events = try Self.events(big, fields: ["@id"], maxText: 1000)
        #expect(events == [.rejected(reason: .limitExceeded, record: 1), .record(values: ["2"], record: 2, line: 1)])
    }

    // MARK: Security

    @Test func xxeOnALocalFileReadsNothing() throws {
        let dir = TestSupport.temporaryDirectory("xxe")
        let secret = dir + "/secret.txt"
        TestSupport.write("TOP-SECRET-CONTENT", to: secret)
        let text =
            "<?xml version=\"1.0\"?>\n<!DOCTYPE export [<!ENTITY xxe SYSTEM \"file://\(secret)\">]>\n<export><sejour id=\"1\">&xxe;</sejour></export>"
        let events = try Self.events(text, fields: ["@id", "."])
        #expect(events == [.rejected(reason: .structureError, record: 1)])
        #expect(!events.description.contains("TOP-SECRET"))
    }

    @Test func xxeOnALoopbackURLConnectsNowhere() throws {
        // A listening socket would be needed to prove no connection; the entity is refused before any
        // load (the DOCTYPE declares entities) and the loader denies everything, so nothing is fetched.
        let text =
            "<?xml version=\"1.0\"?>\n<!DOCTYPE export [<!ENTITY xxe SYSTEM \"http://127.0.0.1:9/secret\">]>\n<export><sejour id=\"1\">&xxe;</sejour></export>"
        let start = ContinuousClock.now
        let events = try Self.events(text, fields: ["."])
        #expect(events == [.rejected(reason: .structureError, record: 1)])
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func billionLaughsIsRejectedQuickly() throws {
        var dtd = "<!ENTITY lol \"lol\">"
        var prev = "lol"
        for i in 1...9 {
            dtd += "<!ENTITY lol\(i) \"" + String(repeating: "&\(prev);", count: 10) + "\">"
            prev = "lol\(i)"
        }
        let text = "<?xml version=\"1.0\"?>\n<!DOCTYPE export [\(dtd)]>\n<export><sejour>&lol9;</sejour></export>"
        let start = ContinuousClock.now
        let events = try Self.events(text, fields: ["."])
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(events.count == 1)
        #expect(events.first.map { if case .rejected(.structureError, _) = $0 { return true } else { return false } } == true)
    }

    @Test func anExternalDTDOnAnUnreachableHostIsNotFetched() throws {
        let text = "<?xml version=\"1.0\"?>\n<!DOCTYPE export SYSTEM \"http://unreachable.invalid/export.dtd\">\n<export><sejour id=\"1\"/></export>"
        let start = ContinuousClock.now
        let events = try Self.events(text, fields: ["@id"])
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(events == [.record(values: ["1"], record: 1, line: 3)])
    }
}
