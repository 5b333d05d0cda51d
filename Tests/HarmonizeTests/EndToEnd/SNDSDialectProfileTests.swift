import Foundation
import Testing

@testable import Harmonize

/// The SNDS pack on another dialect of the same tables, without editing a mapping file (issue
/// 16): `fixtures/snds-iso/input/` is the bundled fixture extract written as the Health Data Hub's
/// public synthetic SNDS writes its tables (comma, UTF-8, ISO dates, decimal points;
/// `fixtures/snds/to_iso.py`); read with `mappings/snds/profiles/comma-iso-utf8.yaml` it gives the
/// same OMOP rows and rejects as the bundled run on `fixtures/snds/input/`.
@Suite(.serialized) struct SNDSDialectProfileTests {
    static let key = String(repeating: "k", count: 40)
    static let profile = TestSupport.path("mappings/snds/profiles/comma-iso-utf8.yaml")

    static func run(input: String, output: String, extra: [String] = []) throws -> TestSupport.CommandResult {
        try TestSupport.runCLI(
            [
                "run", "--mappings", TestSupport.path("mappings/snds"), "--input", input, "--output", output, "--vocabulary",
                TestSupport.path("fixtures/vocabulary"), "--key-env", "SNDS_DIALECT_KEY", "--no-progress", "--no-quality", "--max-reject-rate",
                "0.05",
            ] + extra, environment: ["SNDS_DIALECT_KEY": key])
    }

    /// Every OMOP table (rows sorted) and the rejects (mapping, reason, field, line).
    static func dump(_ path: String) throws -> [String: String] {
        let db = try SQLiteConnection(path: path, readOnly: true)
        var out: [String: String] = [:]
        for table in SNDSExampleTests.tables {
            out[table] = try SNDSExampleTests.dump(db, table)
        }
        out["_rejects"] = try db.query("SELECT mapping, reason, coalesce(field, ''), line FROM harmonize_reject").map {
            $0.map(\.description).joined(separator: ",")
        }.sorted().joined(separator: "\n")
        return out
    }

    @Test func theISODialectWithTheProfileGivesTheSameRowsAsTheBundledRun() throws {
        let dir = TestSupport.temporaryDirectory("snds-dialect")
        let bundled = try Self.run(input: TestSupport.path("fixtures/snds/input"), output: dir + "/bundled.sqlite")
        #expect(bundled.status == 0, "\(bundled.stderr)")
        let iso = try Self.run(input: TestSupport.path("fixtures/snds-iso/input"), output: dir + "/iso.sqlite", extra: ["--profile", Self.profile])
        #expect(iso.status == 0, "\(iso.stderr)")
        let a = try Self.dump(dir + "/bundled.sqlite")
        let b = try Self.dump(dir + "/iso.sqlite")
        for table in SNDSExampleTests.tables + ["_rejects"] {
            #expect(a[table] == b[table], "\(table) differs")
            #expect((a[table]?.split(separator: "\n").count ?? 0) > 1 || table == "_rejects", "\(table) is empty")
        }
        #expect(a["_rejects"]?.isEmpty == false)
        // The fixture really is in the other dialect: without the profile the pack cannot read it.
        let plain = try Self.run(input: TestSupport.path("fixtures/snds-iso/input"), output: dir + "/plain.sqlite")
        #expect(plain.status != 0)
    }

    @Test func theConvertedFixtureIsInTheSyntheticSNDSDialect() throws {
        let text = try String(contentsOfFile: TestSupport.path("fixtures/snds-iso/input/ER_PRS_F.csv"), encoding: .utf8)
        #expect(text.hasPrefix("FLX_DIS_DTD,FLX_TRT_DTD,"))
        #expect(!text.contains("\r\n"))
        #expect(text.contains(",2023-01-10,"), "ISO dates")
        #expect(text.contains(",26.50,"), "decimal points")
        let stays = try String(contentsOfFile: TestSupport.path("fixtures/snds-iso/input/T_MCO23C.csv"), encoding: .utf8)
        #expect(stays.contains(",05APR2023:00:00:00,"), "SAS date-times as in the synthetic SNDS")
        let ald = try String(contentsOfFile: TestSupport.path("fixtures/snds-iso/input/IR_IMB_R.csv"), encoding: .utf8)
        #expect(ald.contains("\"poumon droit, lésion étendue\""), "UTF-8, quoted where a comma is in the text")
    }

    /// A bad `--date-format` is one error against the flag, not one per date field of every
    /// mapping file; a profile error points at the profile's line.
    @Test func flagAndProfileErrorsPointAtTheFlagOrTheProfile() throws {
        let dir = TestSupport.temporaryDirectory("snds-dialect-bad")
        let r = try TestSupport.runCLI(["check", "--mappings", TestSupport.path("mappings/snds"), "--date-format", "%Q/%m/%Y"])
        #expect(r.status == 2)
        let errors = r.stderr.split(separator: "\n").filter { $0.contains("error:") && $0.contains("[HZ") }
        #expect(errors == ["--date-format: error: invalid date format '%Q/%m/%Y': unsupported directive '%Q' [HZ2003]"], "\(r.stderr)")
        #expect(!r.stderr.contains(".yaml:"), "no mapping file is blamed")

        TestSupport.write(
            "harmonize-profile: 1\ntables:\n  IR_BEN_R:\n    fields:\n      BEN_NAI_AN: {constraints: {pattern: null}}\n", to: dir + "/p.yaml")
        let p = try TestSupport.runCLI(["check", "--mappings", TestSupport.path("mappings/snds"), "--profile", dir + "/p.yaml"])
        #expect(p.status == 2)
        #expect(p.stderr.contains(dir + "/p.yaml:5:7: error: table 'IR_BEN_R' has no field 'BEN_NAI_AN'"), "\(p.stderr)")
        #expect(p.stderr.contains("did you mean 'BEN_NAI_ANN'?"))
    }
}
