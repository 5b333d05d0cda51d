import Testing

@testable import Harmonize

/// Evaluators called through uncounted references (`UnretainedEvaluator`, `EvaluatorList`,
/// `MappingExecutor.TargetProgram`): what they capture lives as long as their holder, not
/// less (a call after the source is gone would read freed memory) and not more (a leak).
@Suite struct EvaluatorListTests {
    /// Notes when what a closure captured is freed.
    final class Captured {
        let value: Int
        let freed: Flag
        init(_ value: Int, freed: Flag) {
            self.value = value
            self.freed = freed
        }
        deinit { freed.isSet = true }
    }

    final class Flag { var isSet = false }

    /// A list of closures each capturing an object of its own, with no other reference to them.
    static func list(_ flags: [Flag]) -> EvaluatorList {
        EvaluatorList(flags.indices) { i in
            let c = Captured(i * 10, freed: flags[i])
            return EvaluatorBox { _ throws(EvaluationError) in
                if c.value == 20 { throw EvaluationError(message: "the third fails") }
                return .int(c.value)
            }
        }
    }

    @Test func aListKeepsItsEvaluatorsAliveAndFreesThemWithIt() throws {
        let flags = (0..<3).map { _ in Flag() }
        do {
            let list = Self.list(flags)
            let frame = EvaluationFrame(slotCount: 0)
            #expect(flags.allSatisfy { !$0.isSet })
            let first = try list.evaluate(0, frame)
            let second = try list.evaluate(1, frame)
            #expect(first == .int(0))
            #expect(second == .int(10))
            #expect(list.count == 3)
            // An evaluator's error comes out as it was thrown.
            var message: String?
            do {
                _ = try list.evaluate(2, frame)
            } catch {
                message = error.message
            }
            #expect(message == "the third fails")
        }
        #expect(flags.allSatisfy { $0.isSet })
    }

    @Test func aListsClosureIsTheEvaluatorItself() throws {
        let flags = [Flag()]
        let list = Self.list(flags)
        let closure = list.closure(0)
        let v = try closure(EvaluationFrame(slotCount: 0))
        #expect(v == .int(0))
    }

    /// A target program's columns outlive the plan they were taken from: the program holds
    /// their boxes.
    @Test func aTargetProgramKeepsItsColumnsAlive() throws {
        let table = TargetTable(
            name: "t", columns: [TargetColumn(name: "a", type: .integer, isRequired: true), TargetColumn(name: "b", type: .varchar(nil))])
        let flag = Flag()
        var program: MappingExecutor.TargetProgram
        do {
            let c = Captured(7, freed: flag)
            let compiled = CompiledExpression(
                type: .integer, source: "a", referencedIdentifiers: [], lookupsUsed: [], functionsUsed: [], branchCount: 0,
                constantValue: nil, evaluator: { _ throws(EvaluationError) in .int(c.value) })
            program = MappingExecutor.program(for: PlannedTarget(table: table, filter: nil, columns: [compiled, nil], ruleLines: [nil, nil]))
        }
        #expect(!flag.isSet)
        guard case .evaluate(let e) = program.columns[0] else {
            Issue.record("the column is not evaluated")
            return
        }
        let v = try e.evaluate(EvaluationFrame(slotCount: 0))
        #expect(v == .int(7))
        guard case .null = program.columns[1] else {
            Issue.record("a column without a rule is not null")
            return
        }
        program = MappingExecutor.program(for: PlannedTarget(table: table, filter: nil, columns: [nil, nil], ruleLines: [nil, nil]))
        #expect(flag.isSet)
    }
}
