import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// A text field that a mapping reads only as the bare argument of calls taking bytes (the keyed
/// pseudonyms) is left as the record's bytes (`EvaluationFrame.spans`): no `String` is made
/// for it, and the calls give what they give for the value the field would have had.
@Suite struct TextArgumentFieldTests {
    static let yaml = """
        harmonize: 1
        id: test.text-arguments
        source:
          files: in.csv
          dialect: {delimiter: ";"}
          schema:
            fields:
              - {name: id, type: integer}
              - {name: nir, type: string}
              - {name: code, type: string}
              - {name: n, type: integer}
              - {name: checked, type: string, constraints: {pattern: "[A-Z ]*"}}
              - {name: day, type: date, format: "%d/%m/%Y"}
        targets:
          - table: observation
            fields:
              observation_id: id
              person_id: "pseudonym_int(nir, 'person')"
              value_as_string: "substr(pseudonym(nir, 'visit'), 1, 40)"
              provider_id: "pseudonym_int(checked, 'person')"
              unit_source_value: code
              visit_occurrence_id: "pseudonym_int(code, 'person')"
              visit_detail_id: "pseudonym_int(n, 'person')"
              observation_concept_id: 0
              observation_date: day
              observation_type_concept_id: 32817
        """

    static func plan() throws -> MappingPlan {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        return try MappingPlanner.plan(MappingLoader.load(yaml: yaml, file: "text.yaml"), context: context)
    }

    static func executor(_ plan: MappingPlan, rows: @escaping (RowBatch) -> Void = { _ in }) throws -> MappingExecutor {
        var options = RunOptions(inputDirectory: ".")
        options.key = PseudonymKey.mappingTests
        let callSites = try RunContext(options: options).bindCallSites(plan)
        return MappingExecutor(
            plan: plan, mappingIndex: 0, tableIndices: [0], batchRows: 3, recordsLineage: false, emit: { rows($0) }, emitRejects: { _ in },
            callSites: callSites)
    }

    /// A reader of `lines`; with `chunkSize`, the bytes read that many at a time (records then
    /// move in the reader's buffer from one to the next).
    static func reader(_ lines: [String], plan: MappingPlan, chunkSize: Int = 1 << 20) throws -> DelimitedReader {
        let text = "id;nir;code;n;checked;day\n" + lines.joined(separator: "\n") + "\n"
        return try DelimitedReader(
            source: MemoryByteSource(Array(text.utf8)), displayName: "in.csv", dialect: plan.dialect, limits: ReaderLimits(),
            chunkSize: chunkSize)
    }

    /// Which reads of a slot are the bare text argument of a call taking bytes: a text name as
    /// it is, in a keyed call; not a name of another type, a name inside another call or a
    /// `concat`, or the name read as a value elsewhere in the expression.
    @Test func onlyBareTextArgumentsOfKeyedCallsAreTextReads() throws {
        let scope = TestScope(["a": .string, "b": .integer])
        let a = try #require(scope.binding(for: "a")?.slot)
        let b = try #require(scope.binding(for: "b")?.slot)
        let cases: [(String, text: [Int], value: [Int])] = [
            ("pseudonym(a, 'person')", [a], []),
            ("pseudonym_int(a, 'person') + pseudonym_int(a, 'visit')", [a], []),
            ("pseudonym(a, 'person') & a", [a], [a]),
            ("pseudonym(upper(a), 'person')", [], [a]),
            ("pseudonym(concat(a, 'x'), 'person')", [], [a]),
            ("pseudonym(b, 'person')", [], [b]),
            ("a", [], [a]),
            ("upper(a)", [], [a]),
            ("to_int(a)", [a], []),
            ("to_int(a) + to_int(b)", [a], [b]),
            ("to_int(upper(a))", [], [a]),
        ]
        for (text, textReads, valueReads) in cases {
            let compiler = ExpressionCompiler(functions: FunctionCatalog.registry(), scope: scope, lookups: nil)
            let e = try compiler.compile(text, file: nil, line: 1, column: 1, expected: nil).get()
            #expect(e.textArgumentSlots == textReads, "\(text)")
            #expect(e.valueReadSlots == valueReads, "\(text)")
        }
    }

    /// A call taking bytes whose argument's slot holds bytes gets them as they are when its run
    /// implementation takes text, the string they spell when it takes a value, and the value
    /// put in the slot when it has another shape (the general path reads the slot); without
    /// bytes, the slot's value.
    @Test func aSlotsBytesReachEveryShapeOfImplementation() throws {
        var registry = FunctionCatalog.registry()
        for name in ["as_text", "as_value", "as_list"] {
            var d = FunctionDefinition(
                name: name, doc: "Test.", signatures: [.init([.any], returns: .string)], isPure: false,
                implementation: .perRun { _ throws(EvaluationError) in
                    switch name {
                    case "as_text":
                        return .unaryText(
                            { v in .string("value:" + v.description) }, text: { u in .string("bytes:" + String(decoding: u, as: UTF8.self)) },
                            prefetch: { _ in })
                    case "as_value": return .unary { v in .string("value:" + v.description) }
                    default: return .variadic { vs in .string("list:" + vs.map(\.description).joined(separator: ",")) }
                    }
                })
            d.readsTextArgument = true
            registry.register(d)
        }
        let scope = TestScope(["a": .string])
        let slot = try #require(scope.binding(for: "a")?.slot)
        let bytes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 4)
        defer { bytes.deallocate() }
        _ = bytes.initialize(from: "AB C".utf8)
        for (name, expected, ofValue) in [
            ("as_text", "bytes:AB C", "value:xy"), ("as_value", "value:AB C", "value:xy"), ("as_list", "list:AB C", "list:xy"),
        ] {
            let compiler = ExpressionCompiler(functions: registry, scope: scope, lookups: nil)
            let e = try compiler.compile("\(name)(a)", file: nil, line: 1, column: 1, expected: nil).get()
            #expect(e.textArgumentSlots == [slot] && e.valueReadSlots.isEmpty, "\(name)")
            let frame = EvaluationFrame(slotCount: 1, callSites: try e.callSites.bind(RunEnvironment()))
            frame.spans[slot] = TextSpan(UnsafeBufferPointer(bytes))
            #expect(try e.evaluate(frame) == .string(expected), "\(name)")
            frame.clearSpans()
            frame.storage[slot] = .string("xy")
            #expect(try e.evaluate(frame) == .string(ofValue), "\(name) of the slot's value")
        }
    }

    /// The plan's fields left as bytes: those of type string read only as such arguments, in
    /// all of the plan's expressions (a field read as a value by another column is decoded).
    @Test func thePlanLeavesAsBytesTheFieldsReadOnlyAsText() throws {
        let plan = try Self.plan()
        let asText = Dictionary(uniqueKeysWithValues: zip(plan.fields.map(\.name), plan.textArgumentFields))
        #expect(asText == ["id": false, "nir": true, "code": false, "n": false, "checked": true, "day": false])
    }

    /// In the row loop, the field's slot gets the record's bytes and no value (those of the
    /// current record, also when the memos keep the field's value from the record before); a
    /// field with a constraint, or whose cell is missing, is decoded into its slot; no bytes
    /// are left in the frame once the file's loop is closed.
    @Test func theRowLoopGivesTheBytesOfTheRecord() throws {
        let plan = try Self.plan()
        let executor = try Self.executor(plan)
        let slot = Dictionary(uniqueKeysWithValues: plan.fields.map { ($0.name, $0.slot) })
        let nir = try #require(slot["nir"])
        let checked = try #require(slot["checked"])
        let code = try #require(slot["code"])
        let lines = ["1;ABCDEFGHIJKLMNOPQ;X1;7;AB;01/02/2020"] + (2...5).map { "\($0);ZZZZZZZZZZZZZZZZZ;X2;7;;01/02/2020" }
        let reader = try Self.reader(lines, plan: plan)
        // The stages hold their executor unowned: it lives as long as they do.
        var stages = try RecordStages(executor: executor, reader: reader, fileIndex: 0, filePath: "in.csv")
        let frame = executor.frame
        #expect(try stages.next() != nil)
        let bytes = try #require(frame.spans[nir].bytes)
        #expect(Array(bytes) == Array("ABCDEFGHIJKLMNOPQ".utf8))
        #expect(frame.storage[nir] == .null, "no value made for the field")
        #expect(frame.spans[code].base == nil && frame.storage[code] == .string("X1"))
        // `checked` has a constraint: decoded, checked, in its slot.
        #expect(frame.spans[checked].base == nil && frame.storage[checked] == .string("AB"))
        #expect(try stages.next() != nil)
        #expect(try #require(frame.spans[nir].bytes).elementsEqual("ZZZZZZZZZZZZZZZZZ".utf8))
        #expect(frame.spans[checked].base == nil && frame.storage[checked] == .null, "a missing value is null")
        // The same texts again: kept by the memos, given as the current record's bytes.
        for _ in 0..<3 {
            #expect(try stages.next() != nil)
            #expect(frame.spans[nir].base == reader.field(1).baseAddress)
            #expect(try #require(frame.spans[nir].bytes).elementsEqual("ZZZZZZZZZZZZZZZZZ".utf8))
        }
        #expect(try stages.next() == nil)
        stages.close()
        #expect((0..<frame.count).allSatisfy { frame.spans[$0].base == nil })
        // The next file (or chunk) starts with the same text: its bytes, not the last file's
        // value kept by the memos (the slot has none).
        let next = try Self.reader(["6;ZZZZZZZZZZZZZZZZZ;X2;7;;01/02/2020"], plan: plan)
        var again = try RecordStages(executor: executor, reader: next, fileIndex: 1, filePath: "in.csv")
        #expect(try again.next() != nil)
        #expect(frame.spans[nir].base == next.field(1).baseAddress)
        #expect(try #require(frame.spans[nir].bytes).elementsEqual("ZZZZZZZZZZZZZZZZZ".utf8))
        again.close()
        withExtendedLifetime(executor) {}
    }

    /// The rows are those of the values: pseudonyms of texts to normalise (spaces, lower case),
    /// non-ASCII texts (composed and decomposed accents), texts too long for the cache, values
    /// repeated from the record before (kept by the memos) and after a record rejected past the
    /// field, read by a buffer holding the whole file or by one that moves the records as it
    /// reads (a kept field's bytes are those of the current record); a constrained field's bad
    /// cell rejects its record, and a missing one is null.
    @Test func rowsAreThoseOfTheValues() throws {
        let plan = try Self.plan()
        var rows: [[Value]] = []
        let executor = try Self.executor(plan) { b in
            for r in 0..<b.rowCount { rows.append(Array(b.values[r * b.columnCount..<(r + 1) * b.columnCount])) }
        }
        let long = String(repeating: "L", count: 300)
        let ids: [(nir: String, checked: String, day: String, written: Bool)] = [
            ("ABCDEFGHIJKLMNOPQ", "AB", "01/02/2020", true),
            ("ABCDEFGHIJKLMNOPQ", "AB", "01/02/2020", true),
            ("  abcdefghijklmnopq ", "", "01/02/2020", true),
            ("\u{E9}t\u{E9}", "A B", "01/02/2020", true),
            ("e\u{301}te\u{301}", "AB", "31/02/2020", false),  // no such date: rejected after its nir
            ("e\u{301}te\u{301}", "AB", "01/02/2020", true),
            (long, "ab", "01/02/2020", false),  // the pattern refuses lower case
            (long, "C", "01/02/2020", true),
            ("", "C", "01/02/2020", false),  // no nir: person_id is required
            ("123", "C", "01/02/2020", true),
        ]
        for round in 0..<40 {
            // Enough records for the memos to judge the fields and the pseudonym caches to be judged.
            let lines = ids.enumerated().map { k, r in "\(round * 100 + k);\(r.nir);X\(k % 3);\(k);\(r.checked);\(r.day)" }
            let reader = try Self.reader(lines, plan: plan, chunkSize: round % 2 == 0 ? 1 << 20 : 16)
            let ledger = try executor.run(reader: reader, fileIndex: Int32(round), filePath: "in.csv") { _ in }
            #expect(ledger.written == ids.filter(\.written).count && ledger.rejected == ids.filter { !$0.written }.count)
        }
        try executor.flushAll()
        let columns = plan.targets[0].table.columns.map(\.name)
        func column(_ name: String) throws -> Int { try #require(columns.firstIndex(of: name)) }
        let person = Pseudonymizer(key: PseudonymKey.mappingTests, purpose: "person")
        let visit = Pseudonymizer(key: PseudonymKey.mappingTests, purpose: "visit")
        let written = ids.enumerated().filter(\.element.written)
        try #require(rows.count == 40 * written.count)
        for (i, row) in rows.enumerated() {
            let (k, r) = written[i % written.count]
            #expect(row[try column("observation_id")] == .int((i / written.count) * 100 + k))
            #expect(row[try column("person_id")] == .int(person.integer(r.nir)), "row \(i)")
            #expect(row[try column("value_as_string")] == .string(String(visit.pseudonym(r.nir).prefix(40))), "row \(i)")
            #expect(row[try column("provider_id")] == (r.checked.isEmpty ? .null : .int(person.integer(r.checked))), "row \(i)")
            #expect(row[try column("visit_occurrence_id")] == .int(person.integer("X\(k % 3)")), "row \(i)")
            #expect(row[try column("visit_detail_id")] == .int(person.integer(String(k))), "row \(i)")
        }
    }

    /// A text field read only as the key of a one-key lookup or by `to_int` (read from the
    /// record's bytes) gives the rows it gives when it is also read as a value (decoded into its
    /// slot): keys to trim, too long for the lookups' recent keys, not ASCII, missing or not
    /// found, numbers with signs, spaces and leading zeros, and one that is not a number.
    @Test func lookupsAndConversionsOfBytesGiveTheValuesRows() throws {
        let dir = TestSupport.temporaryDirectory("text-arguments")
        TestSupport.write("code;concept_id\nK5;5\nK7;7\nK19990;19990\nABCDEFGHIJKLMNOPQRSTU;21\n\u{E9}1;31\n", to: dir + "/big.csv")
        let codes = ["K5", " K7 ", "K19990", "ABCDEFGHIJKLMNOPQRSTU", "\u{E9}1", "", "NOPE", "K5"]
        let numbers = ["42", "0042", "+5", " 12", "-7", "", "123456789012345678901", "1e3"]
        var src = "id;code;num\n"
        for i in 0..<96 { src += "\(i + 1);\(codes[i % codes.count]);\(numbers[(i / 3) % numbers.count])\n" }
        TestSupport.write(src, to: dir + "/in/src.csv")
        func mapping(readsValues: Bool) -> String {
            """
            harmonize: 1
            id: t.text
            source:
              files: src.csv
              dialect: {delimiter: ";"}
              schema: {fields: [{name: id, type: integer}, {name: code, type: string}, {name: num, type: string}]}
            lookups:
              big:
                file: big.csv
                dialect: {delimiter: ";"}
                key: code
                value: concept_id
                type: integer
            target: observation
            fields:
              observation_id: id
              person_id: 1
              observation_concept_id: "lookup('big', code) ?? 0"
              observation_date: "date('2020-01-01')"
              observation_type_concept_id: 32810
              provider_id: "lookup('big', code)"
              value_as_number: "to_int(num)"
            """ + (readsValues ? "\n  observation_source_value: code\n  value_source_value: num\n" : "\n")
        }
        var outputs: [[[Value]]] = []
        for readsValues in [false, true] {
            let file = dir + "/m\(readsValues ? "-values" : "").yaml"
            TestSupport.write(mapping(readsValues: readsValues), to: file)
            let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
            let plan = try MappingPlanner.plan(MappingLoader.load(path: file), context: context)
            let asText = Dictionary(uniqueKeysWithValues: zip(plan.fields.map(\.name), plan.textArgumentFields))
            #expect(asText == ["id": false, "code": !readsValues, "num": !readsValues])
            let output = dir + "/out\(readsValues ? "-values" : "").sqlite"
            let r = try TestSupport.runCLI([
                "run", "--mappings", file, "--input", dir + "/in", "--output", output, "--no-quality", "--max-reject-rate", "1",
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let db = try SQLiteConnection(path: output, readOnly: true)
            outputs.append(
                try db.query(
                    "SELECT observation_id, observation_concept_id, provider_id, value_as_number FROM observation ORDER BY observation_id"))
        }
        #expect(outputs[0] == outputs[1])
        // 96 records, the 24 whose number is not an integer rejected.
        #expect(outputs[0].count == 72)
        #expect(outputs[0].first == [.int(1), .int(5), .int(5), .double(42)])
        #expect(outputs[0].contains { $0[1] == .int(7) } && outputs[0].contains { $0[1] == .int(21) } && outputs[0].contains { $0[1] == .int(31) })
    }
}
