import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

/// What a split run (`run --shard i/N`, N > 1) refuses before reading, and how subjects are
/// assigned to shards.
@Suite struct ShardPreflightTests {
    static func grouped(by keys: String, subject: String) -> String {
        """
        harmonize: 1
        id: g
        source:
          format: csv
          files: v.csv
          subject: "\(subject)"
          dialect: {delimiter: ";"}
          schema:
            fields:
              - {name: ben, type: string}
              - {name: day, type: date, format: "%d/%m/%Y"}
        group:
          by: {\(keys)}
          aggregate: {n: "count()"}
        target: visit_occurrence
        fields:
          visit_occurrence_id: n
          person_id: "1"
          visit_concept_id: 9202
          visit_start_date: day
          visit_end_date: day
          visit_type_concept_id: 32810
        """
    }

    static func options(shards: Int) -> RunOptions {
        var o = RunOptions(inputDirectory: "/nowhere")
        o.shard = ShardSpec(index: 0, count: shards)
        return o
    }

    @Test func aGroupingWithoutTheSubjectIsRefusedOnlyWhenSplit() throws {
        let dir = TestSupport.temporaryDirectory("shard-preflight")
        let bad = try PreflightTests.plan(Self.grouped(by: "day: day", subject: "ben"), in: dir, name: "bad.yaml")
        let codes = Preflight.check([bad], options: Self.options(shards: 4)).map(\.code)
        #expect(codes == ["HZ7201"])
        #expect(Preflight.check([bad], options: Self.options(shards: 1)).isEmpty)
        #expect(Preflight.check([bad], options: RunOptions(inputDirectory: "/nowhere")).isEmpty)
        let good = try PreflightTests.plan(Self.grouped(by: "b: ben, day: day", subject: "ben"), in: dir, name: "good.yaml")
        #expect(Preflight.check([good], options: Self.options(shards: 4)).isEmpty)
    }

    @Test func personRowsWithoutSubjectNextToMappingsWithOneAreRefused() throws {
        let dir = TestSupport.temporaryDirectory("shard-preflight-mix")
        let with = try PreflightTests.plan(PreflightTests.person(id: "a", personID: "1"), in: dir, name: "a.yaml")
        let without = try PreflightTests.plan(PreflightTests.person(id: "b", personID: "2", subject: false), in: dir, name: "b.yaml")
        #expect(Preflight.check([with, without], options: Self.options(shards: 2)).map(\.code) == ["HZ7202"])
        #expect(Preflight.check([without], options: Self.options(shards: 2)).isEmpty, "no subject at all: everything in shard 0")
        #expect(Preflight.check([with, without], options: Self.options(shards: 1)).isEmpty)
    }

    @Test func subjectsSpreadOverShardsStablyAndByKey() throws {
        let a = ShardAssignment(shard: ShardSpec(index: 0, count: 4)!, key: nil)
        let b = ShardAssignment(shard: ShardSpec(index: 3, count: 4)!, key: nil)
        let keyed = ShardAssignment(shard: ShardSpec(index: 0, count: 4)!, key: try PseudonymKey(bytes: Array(repeating: 7, count: 32)))
        var counts = [0, 0, 0, 0]
        var differ = 0
        for i in 0..<400 {
            let s = Value.string("P\(i)")
            let k = a.shardIndex(of: s)
            counts[k] += 1
            #expect(b.shardIndex(of: s) == k, "the assignment does not depend on the shard asking")
            #expect(a.owns(s) == (k == 0))
            if keyed.shardIndex(of: s) != k { differ += 1 }
        }
        #expect(counts.allSatisfy { $0 > 60 }, "\(counts)")
        #expect(differ > 200, "another key, another assignment")
        // Normalised as pseudonyms are: spaces and case do not move a person.
        #expect(a.shardIndex(of: .string(" p17 ")) == a.shardIndex(of: .string("P17")))
        #expect(a.ownsRecordsWithoutSubject && !b.ownsRecordsWithoutSubject)
    }
}
