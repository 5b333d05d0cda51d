import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// A named value or column whose expression is repeatable is not evaluated again when the values
/// it reads are those of the previous record (`RuleMemos`): the rows are the ones evaluation
/// gives (texts compared byte for byte, a failed evaluation leaving the previous value as it
/// was), expressions with something to see per call (vocabulary functions, `row_id`, lookups,
/// branch coverage) are never skipped, and a rule whose values keep changing stops comparing.
@Suite struct RuleMemoTests {
    static let yaml = """
        harmonize: 1
        id: test.memo
        source:
          files: in.csv
          dialect: {delimiter: ";"}
          schema:
            fields:
              - {name: id, type: integer}
              - {name: patient, type: string}
              - {name: day, type: string}
        let:
          d: "parse_date(day, 'dd/MM/yyyy')"
        targets:
          - table: observation
            fields:
              observation_id: id
              person_id: "pseudonym_int(patient, 'person')"
              observation_concept_id: 0
              observation_date: d
              observation_type_concept_id: 32817
              value_as_string: "concat(upper(patient), '|', day)"
        """

    static func plan() throws -> MappingPlan {
        let context = PlanningContext(defaultModel: try Mappings.omopModel(), functions: FunctionCatalog.registry())
        return try MappingPlanner.plan(MappingLoader.load(yaml: yaml, file: "memo.yaml"), context: context)
    }

    static func executor(_ plan: MappingPlan, rows: @escaping (RowBatch) -> Void) throws -> MappingExecutor {
        var options = RunOptions(inputDirectory: ".")
        options.key = PseudonymKey.mappingTests
        let callSites = try RunContext(options: options).bindCallSites(plan)
        return MappingExecutor(
            plan: plan, mappingIndex: 0, tableIndices: [0], batchRows: 2, recordsLineage: false, emit: { rows($0) }, emitRejects: { _ in },
            callSites: callSites)
    }

    /// The person of records 1, 2 and 4 is "é" (one scalar), of record 5 "e" and a combining
    /// acute accent: the same text under `==`, other bytes (another pseudonym, another upper
    /// case). Record 3's date does not exist: rejected, and record 4 (the values of record 2
    /// again) gets record 2's date.
    @Test func rowsAreThoseEvaluationGives() throws {
        let plan = try Self.plan()
        var rows: [[Value]] = []
        let executor = try Self.executor(plan) { b in
            for r in 0..<b.rowCount { rows.append(Array(b.values[r * b.columnCount..<(r + 1) * b.columnCount])) }
        }
        let composed = "\u{E9}"
        let decomposed = "e\u{301}"
        #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8))
        let lines = [
            "1;\(composed);01/02/2020", "2;\(composed);01/02/2020", "3;\(composed);31/02/2020", "4;\(composed);01/02/2020",
            "5;\(decomposed);01/02/2020",
        ]
        let text = "id;patient;day\n" + lines.joined(separator: "\n") + "\n"
        let reader = try DelimitedReader(source: MemoryByteSource(Array(text.utf8)), displayName: "in.csv", dialect: plan.dialect)
        let ledger = try executor.run(reader: reader, fileIndex: 0, filePath: "in.csv") { _ in }
        try executor.flushAll()
        #expect(ledger.written == 4 && ledger.rejected == 1)
        let columns = plan.targets[0].table.columns.map(\.name)
        let person = try #require(columns.firstIndex(of: "person_id"))
        let date = try #require(columns.firstIndex(of: "observation_date"))
        let text5 = try #require(columns.firstIndex(of: "value_as_string"))
        try #require(rows.count == 4)
        #expect(rows.map { $0[0] } == [.int(1), .int(2), .int(4), .int(5)])
        // What each value is when evaluated on its own.
        let key = Pseudonymizer(key: PseudonymKey.mappingTests, purpose: "person")
        #expect(rows[0][person] == .int(key.integer(composed)))
        #expect(rows[1][person] == rows[0][person] && rows[2][person] == rows[0][person])
        #expect(rows[3][person] == .int(key.integer(decomposed)) && rows[3][person] != rows[0][person])
        let day = Value.date(CivilDate(year: 2020, month: 2, day: 1).daysSinceEpoch)
        #expect(rows.allSatisfy { $0[date] == day })
        guard case .string(let upper5) = rows[3][text5], case .string(let upper1) = rows[0][text5] else {
            Issue.record("value_as_string is text")
            return
        }
        #expect(Array(upper5.utf8) == Array("E\u{301}|01/02/2020".utf8))
        #expect(Array(upper1.utf8) == Array("\u{C9}|01/02/2020".utf8))
        // The memos were used: the person of records 2 and 4 was kept from before (record 3
        // was rejected before it); the day of records 2 and 5, and with it the named value d
        // (record 4 decoded its day again after record 3's).
        let memos = executor.memos
        let personMemo = memos.columnBase[0] + person
        #expect(memos.isOn(personMemo) && memos.hits(personMemo) == 2)
        #expect(memos.hits(0) == 2, "the named value d")
        let fields = plan.fields.map(\.name)
        #expect(memos.fieldHits(try #require(fields.firstIndex(of: "patient"))) == 3, "records 2, 3 and 4")
        #expect(memos.fieldHits(try #require(fields.firstIndex(of: "day"))) == 2, "records 2 and 5")
    }

    /// Which expressions may be taken from the previous record, and the slots they read.
    @Test func onlyRepeatableExpressionsAreMemoized() throws {
        let scope = StaticExpressionScope([("code", .string), ("n", .integer)])
        final class Lookups: LookupResolver {
            let table = DictionaryLookupTable(valueType: .integer, [(.string("M"), .int(8507))])
            func lookupTable(named name: String) -> (any LookupTableShape)? { name == "gender" ? table : nil }
            var lookupNames: [String] { ["gender"] }
        }
        func compiled(_ text: String, coverage: CoverageRecorder? = nil) throws -> CompiledExpression {
            try ExpressionCompiler(functions: FunctionCatalog.registry(), scope: scope, lookups: Lookups(), coverage: coverage)
                .compile(text, file: nil, line: 1, column: 1, expected: nil).get()
        }
        for text in [
            "upper(code)", "pseudonym_int(code, 'person')", "date_shift(parse_date(code, 'yyyy-MM-dd'), code)", "regex_extract(code, '([0-9]+)')",
        ] {
            #expect(try compiled(text).isRepeatable, "\(text)")
        }
        #expect(try compiled("concat(code, '/', n)").slotsRead == [0, 1])
        #expect(try compiled("n + n * 2").slotsRead == [1])
        for text in ["standard_concept_id('ICD10', code)", "row_id()", "row_id(code)", "lookup('gender', code)"] {
            #expect(try !compiled(text).isRepeatable, "\(text)")
        }
        #expect(try !compiled("upper(code)", coverage: CoverageRecorder()).isRepeatable, "branch coverage counts each evaluation")
    }

    /// A field and a rule whose values change at every record are judged after `judgedAfter`
    /// records and decoded or evaluated every time from then on; those whose values repeat stay
    /// kept.
    @Test func whatKeepsChangingStopsBeingCompared() throws {
        let plan = try Self.plan()
        let memos = RuleMemos(plan: plan, slotCount: plan.slotCount)
        let fields = plan.fields.map(\.name)
        let patient = try #require(fields.firstIndex(of: "patient"))
        let day = try #require(fields.firstIndex(of: "day"))
        let person = memos.columnBase[0] + (try #require(plan.targets[0].table.columns.firstIndex { $0.name == "person_id" }))
        let dayBytes = Array("01/02/2020".utf8)
        for i in 0..<Int(RuleMemos.judgedAfter) + 10 {
            _ = memos.nextRecord()
            let patientBytes = Array("patient-\(i)".utf8)
            patientBytes.withUnsafeBufferPointer { b in
                #expect(!memos.keeps(field: patient, b))
                memos.decoded(field: patient, slot: plan.fields[patient].slot, b)
            }
            dayBytes.withUnsafeBufferPointer { b in
                if !memos.keeps(field: day, b) { memos.decoded(field: day, slot: plan.fields[day].slot, b) }
            }
            if memos.recall(person) == nil { memos.remember(person, .int(i)) }
            if memos.recall(0) == nil {
                memos.remember(0, .int(7))
                memos.assigned(slot: plan.lets[0].slot)
            }
        }
        #expect(memos.active)
        #expect(!memos.isOn(person), "a new patient at every record")
        #expect(memos.isOn(0) && memos.hits(0) > 1_000, "the same day at every record")
        #expect(memos.fieldHits(day) > 1_000 && memos.fieldHits(patient) == 0)
        // No rule kept: off as a whole, even with a field whose bytes repeat (a field kept alone
        // saves less than the bookkeeping of every field costs).
        let none = RuleMemos(plan: plan, slotCount: plan.slotCount)
        for i in 0..<Int(RuleMemos.judgedAfter) + 1 {
            #expect(none.nextRecord() == (i < Int(RuleMemos.judgedAfter)))
            Array("patient-\(i)".utf8).withUnsafeBufferPointer { b in
                if !none.keeps(field: patient, b) { none.decoded(field: patient, slot: plan.fields[patient].slot, b) }
            }
            dayBytes.withUnsafeBufferPointer { b in
                if !none.keeps(field: day, b) { none.decoded(field: day, slot: plan.fields[day].slot, b) }
            }
        }
        #expect(none.fieldHits(day) > 1_000)
        #expect(!none.active)
        // A number is decoded again whatever its bytes (cheaper than comparing them).
        let id = try #require(fields.firstIndex(of: "id"))
        Array("42".utf8).withUnsafeBufferPointer { b in
            memos.decoded(field: id, slot: plan.fields[id].slot, b)
            #expect(!memos.keeps(field: id, b))
        }
        _ = memos.nextRecord()
        #expect(memos.recall(0) == .int(7))
        // Turned off: never kept from before, even for the same bytes.
        #expect(memos.recall(person) == nil)
        Array("patient-0".utf8).withUnsafeBufferPointer { b in
            memos.decoded(field: patient, slot: plan.fields[patient].slot, b)
            #expect(!memos.keeps(field: patient, b))
        }
    }
}
