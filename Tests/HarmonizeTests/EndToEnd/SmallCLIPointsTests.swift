import Foundation
import Testing

/// Smaller points of issue 16: `docs` says why cases fail, `vocabulary info` takes its store as
/// `load` takes its folder.
@Suite struct SmallCLIPointsTests {
    @Test func docsWithoutAVocabularyExitsOneAndSaysWhy() throws {
        let out = TestSupport.temporaryDirectory("docs-novocab")
        let r = try TestSupport.runCLI(["docs", "--mappings", TestSupport.path("mappings/snds/ir-imb-r.yaml"), "--output", out])
        #expect(r.status == 1)
        #expect(r.stderr.contains("no --vocabulary was given"))
        #expect(r.stderr.contains("case(s) failed"))
        #expect(FileManager.default.fileExists(atPath: out + "/README.md"), "the pages are still written")
    }

    @Test func vocabularyInfoTakesTheStoreAsAnArgumentOrAnOption() throws {
        let positional = try TestSupport.runCLI(["vocabulary", "info", TestSupport.path("fixtures/vocabulary")])
        #expect(positional.status == 0, "\(positional.stderr)")
        #expect(positional.stdout.contains("concept"))
        let option = try TestSupport.runCLI(["vocabulary", "info", "--store", TestSupport.path("fixtures/vocabulary")])
        #expect(option.status == 0)
        #expect(try TestSupport.runCLI(["vocabulary", "info"]).status == 2)
    }

    @Test func theSNDSPackChecksWithoutWarnings() throws {
        let r = try TestSupport.runCLI(["check", "--mappings", TestSupport.path("mappings/snds")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("HZ1205"), "a filtered second target of a table is deliberate")
    }

    @Test func aProfileDialectKeyThatWouldBeIgnoredIsRefusedAtItsLine() throws {
        let dir = TestSupport.temporaryDirectory("profile")
        TestSupport.write("harmonize-profile: 1\ndialect: {delimiter: \",\", skip_lines: 2}\n", to: dir + "/p.yaml")
        let r = try TestSupport.runCLI([
            "run", "--mappings", TestSupport.path("mappings/research"), "--input", TestSupport.path("fixtures/research/input"), "--sink", "none",
            "--profile", dir + "/p.yaml",
        ])
        #expect(r.status == 2)
        #expect(r.stderr.contains("p.yaml:2:"))
        #expect(r.stderr.contains("HZ1309"))
    }

    @Test func checkWarnsWhenFreeTextIsCopiedIntoValueAsString() throws {
        let dir = TestSupport.temporaryDirectory("freetext")
        TestSupport.write(
            "harmonize-model: 1\nname: t\ntables:\n  - name: obs\n    columns: [{name: id, type: integer}, {name: value_as_string, type: \"varchar(60)\"}]\n",
            to: dir + "/model.yaml")
        TestSupport.write(
            "harmonize: 1\nid: ft\nmodel: model.yaml\nsource: {files: x.csv}\ntarget: obs\nfields: {id: \"to_int(n)\", value_as_string: \"trim(commentaire_libre)\"}\n",
            to: dir + "/ft.yaml")
        let r = try TestSupport.runCLI(["check", "--mappings", dir + "/ft.yaml"])
        #expect(r.status == 0, "a warning never blocks")
        #expect(r.stderr.contains("HZ1298"), "\(r.stderr)")
        #expect(r.stderr.contains("'commentaire_libre'"))
    }

    @Test func coverageTellsTwoTargetsOfOneTableApart() throws {
        // Without a vocabulary the cases fail and coverage lists what is not covered.
        let r = try TestSupport.runCLI(["test", "--mappings", TestSupport.path("mappings/snds/pmsi-mco-stay.yaml")])
        #expect(r.stdout.contains("condition_occurrence@line 93"), "\(r.stdout)")
    }
}
