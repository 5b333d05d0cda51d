import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// A mapping's pass over a file is a sequence of stages, each ending a record with a typed
/// outcome or handing it on; the file's ledger is the sum of the outcomes.
@Suite struct RecordStagesTests {
    static let yaml = """
        harmonize: 1
        id: test.stages
        source:
          files: in.csv
          dialect: {delimiter: ";"}
          schema:
            fields:
              - {name: id, type: integer}
              - {name: born, type: date, format: "%d/%m/%Y"}
              - {name: sex, type: string}
              - {name: keep, type: string}
        filter: keep != 'no'
        targets:
          - table: person
            fields:
              person_id: id
              gender_concept_id: "case sex when 'M' then 8507 when 'F' then 8532 else null end"
              year_of_birth: year(born)
              race_concept_id: 0
              ethnicity_concept_id: 0
        """

    /// Each record of the file and the outcome it must have, in order.
    static let records: [(line: String, outcome: String)] = [
        ("1;01/02/1950;M;yes", "written"),
        ("2;31/02/1950;F;yes", "rejected:type-error"),  // decode: no such date
        ("3;01/02/1960;F;no", "filtered"),  // rows: the record filter
        ("4;01/02/1970;X;yes", "rejected:target-required-null"),  // conform: gender is required
        ("x;01/02/1980;M;yes", "rejected:type-error"),  // decode: not an integer
        ("6;01/02/1990;F;yes", "written"),
    ]

    static func describe(_ o: RecordOutcome) -> String {
        switch o {
        case .written: "written"
        case .rejected(let r): "rejected:\(r.reason.rawValue)"
        case .filtered: "filtered"
        case .excluded: "excluded"
        case .grouped: "grouped"
        case .otherShard: "other-shard"
        case .duplicate: "duplicate"
        }
    }

    static func plan() throws -> MappingPlan {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        return try MappingPlanner.plan(MappingLoader.load(yaml: yaml, file: "stages.yaml"), context: context)
    }

    static func executor(_ plan: MappingPlan, rows: @escaping (RowBatch) -> Void = { _ in }) throws -> MappingExecutor {
        let callSites = try RunContext(options: RunOptions(inputDirectory: ".")).bindCallSites(plan)
        return MappingExecutor(
            plan: plan, mappingIndex: 0, tableIndices: [0], batchRows: 2, recordsLineage: false, emit: { rows($0) }, emitRejects: { _ in },
            callSites: callSites)
    }

    static func reader() throws -> DelimitedReader {
        let text = "id;born;sex;keep\n" + records.map(\.line).joined(separator: "\n") + "\n"
        return try DelimitedReader(source: MemoryByteSource(Array(text.utf8)), displayName: "in.csv", dialect: try plan().dialect)
    }

    /// A call that wants a field's value early (`BoundCallSites.prefetches`) gets it as soon as
    /// the field is decoded, for every record whose decoding reaches the field (and decodes it:
    /// not when its bytes are the previous ones).
    @Test func earlyCallsGetTheirFieldAsSoonAsItIsDecoded() throws {
        let plan = try Self.plan()
        let slot = try #require(plan.fields.first { $0.name == "sex" }?.slot)
        final class Seen { var values: [Value] = [] }
        let seen = Seen()
        let callSites = BoundCallSites(implementations: [], prefetches: [.init(slot: slot, prefetch: { seen.values.append($0) })])
        let executor = MappingExecutor(
            plan: plan, mappingIndex: 0, tableIndices: [0], batchRows: 2, recordsLineage: false, emit: { _ in }, emitRejects: { _ in },
            callSites: callSites)
        var stages = try RecordStages(executor: executor, reader: try Self.reader(), fileIndex: 0, filePath: "in.csv")
        defer { stages.close() }
        while try stages.next() != nil {}
        // Record 2 (its date) and record 5 (its id) reach `sex` if their bad field is decoded after it.
        let order = plan.fields.map(\.name)
        let sex = try #require(order.firstIndex(of: "sex"))
        let reaches = [true, sex < (order.firstIndex(of: "born") ?? 0), true, true, sex < (order.firstIndex(of: "id") ?? 0), true]
        // A field whose bytes are those it was last decoded from keeps its value (`RuleMemos`):
        // it is not decoded again, and its early calls had that value already.
        var expected: [Value] = []
        for (sex, reached) in zip(["M", "F", "F", "X", "M", "F"], reaches) where reached && expected.last != .string(sex) {
            expected.append(.string(sex))
        }
        #expect(seen.values == expected)
        #expect(seen.values.count >= 4)
    }

    /// With two fields wanted early, each call gets its own field's values only, also when the
    /// field before it keeps its value (`RuleMemos`: not decoded again, its calls skipped).
    @Test func earlyCallsOfTwoFieldsGetTheirOwnFieldsValues() throws {
        let plan = try Self.plan()
        let sexSlot = try #require(plan.fields.first { $0.name == "sex" }?.slot)
        let keepSlot = try #require(plan.fields.first { $0.name == "keep" }?.slot)
        final class Seen { var values: [Value] = [] }
        let sex = Seen()
        let keep = Seen()
        let callSites = BoundCallSites(
            implementations: [],
            prefetches: [.init(slot: sexSlot, prefetch: { sex.values.append($0) }), .init(slot: keepSlot, prefetch: { keep.values.append($0) })])
        let executor = MappingExecutor(
            plan: plan, mappingIndex: 0, tableIndices: [0], batchRows: 2, recordsLineage: false, emit: { _ in }, emitRejects: { _ in },
            callSites: callSites)
        // Each record repeats one of the two fields of the record before and changes the other.
        let text = "id;born;sex;keep\n1;01/02/1950;M;yes\n2;01/02/1950;F;yes\n3;01/02/1950;F;no\n4;01/02/1950;M;no\n5;01/02/1950;M;yes\n"
        let reader = try DelimitedReader(source: MemoryByteSource(Array(text.utf8)), displayName: "in.csv", dialect: plan.dialect)
        var stages = try RecordStages(executor: executor, reader: reader, fileIndex: 0, filePath: "in.csv")
        defer { stages.close() }
        while try stages.next() != nil {}
        #expect(sex.values.allSatisfy { [.string("M"), .string("F")].contains($0) }, "\(sex.values)")
        #expect(keep.values.allSatisfy { [.string("yes"), .string("no")].contains($0) }, "\(keep.values)")
        #expect(sex.values.count >= 3)
        #expect(keep.values.count >= 3)
    }

    @Test func eachStageEndsItsRecordsWithTheirOutcome() throws {
        let plan = try Self.plan()
        let executor = try Self.executor(plan)
        var stages = try RecordStages(executor: executor, reader: try Self.reader(), fileIndex: 0, filePath: "in.csv")
        defer { stages.close() }
        var outcomes: [String] = []
        while let o = try stages.next() { outcomes.append(Self.describe(o)) }
        #expect(outcomes == Self.records.map(\.outcome))
        #expect(stages.written == [2], "rows of the two written records")
        stages.settleBatches()
        #expect(stages.batches[0].rowCount == 2, "the rejected records' rows were taken back")
    }

    @Test func theLedgerIsTheSumOfTheOutcomesAndRowsReachTheSink() throws {
        let plan = try Self.plan()
        var ids: [Value] = []
        let executor = try Self.executor(plan) { b in
            for r in 0..<b.rowCount { ids.append(b.values[r * b.columnCount]) }
        }
        let ledger = try executor.run(reader: try Self.reader(), fileIndex: 0, filePath: "in.csv") { _ in }
        try executor.flushAll()
        var expected = RunManifest.LedgerEntry(mapping: plan.id, file: "in.csv", read: 0, written: 0, rejected: 0, filtered: 0, excluded: 0)
        for r in Self.records {
            switch r.outcome {
            case "written": expected.count(.written)
            case "filtered": expected.count(.filtered)
            default:
                expected.count(
                    .rejected(Reject(reason: .typeError, location: .init(file: "in.csv"), field: nil, mapping: nil, rule: "", message: "")))
            }
        }
        #expect(ledger == expected)
        #expect(ledger.balances && ledger.read == 6 && ledger.written == 2 && ledger.rejected == 3 && ledger.filtered == 1)
        #expect(ids == [.int(1), .int(6)])
    }

    /// A text that fits its column reaches the row as it is (its length counted in characters
    /// when its bytes are more than the column's maximum), and a text longer than the column
    /// rejects the record, the message naming the value's type and the column
    /// (`Conformance.conform`, which takes the value it fits).
    @Test func aValueFitsItsColumnAsItIsOrRejectsTheRecord() throws {
        let yaml = """
            harmonize: 1
            id: test.conform
            source:
              files: in.csv
              dialect: {delimiter: ";"}
              schema: {fields: [{name: id, type: integer}, {name: src, type: string}]}
            targets:
              - table: person
                fields:
                  person_id: id
                  gender_concept_id: 0
                  year_of_birth: 1950
                  race_concept_id: 0
                  ethnicity_concept_id: 0
                  person_source_value: src
            """
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        let plan = try MappingPlanner.plan(MappingLoader.load(yaml: yaml, file: "conform.yaml"), context: context)
        let accents = String(repeating: "é", count: 50)  // 50 characters, 100 bytes
        let long = String(repeating: "x", count: 51)
        let text = "id;src\n1;short\n2;\(long)\n3;\(accents)\n"
        let reader = try DelimitedReader(source: MemoryByteSource(Array(text.utf8)), displayName: "in.csv", dialect: plan.dialect)
        // The stages hold their executor unowned: it lives as long as they do.
        let executor = try Self.executor(plan)
        var stages = try RecordStages(executor: executor, reader: reader, fileIndex: 0, filePath: "in.csv")
        defer {
            stages.close()
            withExtendedLifetime(executor) {}
        }
        var outcomes: [String] = []
        var messages: [String] = []
        while let o = try stages.next() {
            outcomes.append(Self.describe(o))
            if case .rejected(let r) = o { messages.append(r.message) }
        }
        #expect(outcomes == ["written", "rejected:target-type-error", "written"])
        #expect(messages == ["a string value does not fit column person.person_source_value (varchar(50))"], "\(messages)")
        stages.settleBatches()
        let b = stages.batches[0]
        let columns = try #require(plan.targets.first?.table.columns.map(\.name))
        let source = try #require(columns.firstIndex(of: "person_source_value"))
        #expect(b.rowCount == 2)
        #expect((0..<b.rowCount).map { b.values[$0 * b.columnCount + source] } == [.string("short"), .string(accents)])
        // Values of other types (a mapping's `any` values) become their text in a text column.
        #expect(Conformance.conform(.int(12), to: .varchar(5)) == .string("12"))
        #expect(Conformance.conform(.int(123_456), to: .varchar(5)) == nil)
        #expect(Conformance.conform(.string(accents), to: .varchar(nil)) == .string(accents))
        #expect(Conformance.conform(.null, to: .varchar(2)) == .null)
    }
}
