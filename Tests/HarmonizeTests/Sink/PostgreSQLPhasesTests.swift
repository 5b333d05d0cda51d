import Foundation
import Testing

@testable import Harmonize

/// `run --json` says how long each phase of a PostgreSQL run took (`postgresql_phases`, read by
/// `bench/run_bench.py --suite postgresql`), and only for a PostgreSQL output.
@Suite struct PostgreSQLPhasesTests {
    static func summary(_ stdout: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    @Test func aPostgreSQLRunReportsItsPhasesInItsJSONSummary() throws {
        guard let uri = PostgresTestServer.uri() else { return }
        let schema = PostgresTestServer.schema("phases")
        defer { PostgresTestServer.drop(uri, schema: schema) }
        let run = try TestSupport.runCLI(
            PostgreSQLSinkTests.runArguments(
                input: TestSupport.path("fixtures/research/input"), output: PostgresTestServer.output(uri, schema: schema), runID: "phases-1")
                + ["--json", "--no-quality"])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try Self.summary(run.stdout)
        let phases = try #require(json["postgresql_phases"] as? [String: Double])
        #expect(Set(phases.keys) == ["load", "keys", "constraints", "indices", "analyze", "publish"])
        #expect(phases.values.allSatisfy { $0 >= 0 })
        // Connecting and loading, and the publication transaction, always take some time.
        #expect(try #require(phases["load"]) > 0)
        #expect(try #require(phases["publish"]) > 0)
        let seconds = try #require(json["seconds"] as? Double)
        #expect(phases.values.reduce(0, +) <= seconds + 0.01)
    }

    @Test func aSQLiteRunHasNoPostgreSQLPhases() throws {
        let dir = TestSupport.temporaryDirectory("phases-sqlite")
        let run = try TestSupport.runCLI(
            PostgreSQLSinkTests.runArguments(input: TestSupport.path("fixtures/research/input"), output: dir + "/out.sqlite", runID: "phases-2")
                + ["--json", "--no-quality"])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try Self.summary(run.stdout)
        #expect(json["run_id"] as? String == "phases-2")
        #expect(json["postgresql_phases"] == nil)
    }
}
