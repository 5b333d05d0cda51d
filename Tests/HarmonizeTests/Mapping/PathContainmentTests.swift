import Foundation
import Testing

@testable import Harmonize

/// Mappings read only inside `--input` (and lookups shipped with them inside their own folder),
/// symbolic links included: `check` refuses what escapes on its face, `run` what escapes through
/// a link, before reading anything (issue 15, item 5).
@Suite(.serialized) struct PathContainmentTests {
    static func mapping(files: String, lookup: String = "") -> String {
        """
        harmonize: 1
        id: t.escape
        source: {files: "\(files)"}
        \(lookup.isEmpty ? "" : "lookups:\n  codes: {\(lookup), key: code, value: name}")
        target: location
        fields:
          location_id: "to_int(id)"
        """
    }

    static func diagnostics(_ yaml: String, file: String) -> [Diagnostic] {
        do {
            _ = try MappingLoader.load(yaml: yaml, file: file)
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test(arguments: ["../../../../etc/passwd", "/etc/passwd", "sub/../../x.csv", "~/x.csv"])
    func filesPatternsThatLeaveTheInputFolderAreCheckErrors(pattern: String) {
        let d = Self.diagnostics(Self.mapping(files: pattern), file: "m.yaml")
        let e = d.first { $0.code == "HZ1080" }
        #expect(e != nil, "\(d)")
        #expect(e?.line == 3)
        #expect(e?.column != nil)
    }

    @Test(arguments: ["file: /etc/passwd", "file: ../codes.csv", "input: ../../etc/passwd", "input: /etc/passwd"])
    func lookupFilesThatLeaveTheirFolderAreCheckErrors(lookup: String) {
        let d = Self.diagnostics(Self.mapping(files: "x.csv", lookup: lookup), file: "m.yaml")
        #expect(d.contains { $0.code == "HZ1080" && $0.line == 5 }, "\(d)")
    }

    @Test func plainRelativePathsAndWildcardsPass() {
        #expect(Self.diagnostics(Self.mapping(files: "**/*.csv", lookup: "file: codes.csv"), file: "m.yaml").isEmpty)
        #expect(Self.diagnostics(Self.mapping(files: "sub/x.csv", lookup: "input: ref/codes.csv"), file: "m.yaml").isEmpty)
    }

    @Test func aLookupFileLinkedOutsideTheMappingFolderIsACheckError() throws {
        let dir = TestSupport.temporaryDirectory("contain-lookup")
        try FileManager.default.createSymbolicLink(atPath: dir + "/codes.csv", withDestinationPath: "/etc/passwd")
        let d = Self.diagnostics(Self.mapping(files: "x.csv", lookup: "file: codes.csv"), file: dir + "/m.yaml")
        #expect(d.contains { $0.code == "HZ1081" && $0.line == 5 }, "\(d)")
        TestSupport.write(Self.mapping(files: "x.csv", lookup: "file: codes.csv"), to: dir + "/m.yaml")
        let check2 = try TestSupport.runCLI(["check", "--mappings", dir + "/m.yaml"])
        #expect(check2.status == 2)
        #expect(check2.stderr.contains("m.yaml:5:"), "\(check2.stderr)")
        #expect(check2.stderr.contains("[HZ1081]"))
    }

    @Test func theRunRefusesAnInputLinkedOutsideTheInputFolderBeforeReading() throws {
        let dir = TestSupport.temporaryDirectory("contain-run")
        let input = dir + "/in"
        TestSupport.write("id\n1\n", to: input + "/a.csv")
        try FileManager.default.createSymbolicLink(atPath: input + "/b.csv", withDestinationPath: "/etc/passwd")
        TestSupport.write(Self.mapping(files: "*.csv"), to: dir + "/m.yaml")
        let r = try TestSupport.runCLI(["run", "--mappings", dir + "/m.yaml", "--input", input, "--output", dir + "/o.sqlite"])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("m.yaml:3:"), "\(r.stderr)")
        #expect(r.stderr.contains("[HZ1081]"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/o.sqlite"))
        // A lexical escape is refused by `check` and by `run` alike.
        TestSupport.write(Self.mapping(files: "../../../../../../etc/passwd"), to: dir + "/m.yaml")
        let c = try TestSupport.runCLI(["check", "--mappings", dir + "/m.yaml"])
        #expect(c.status == 2)
        #expect(c.stderr.contains("m.yaml:3:"), "\(c.stderr)")
        #expect(c.stderr.contains("[HZ1080]"))
        let r2 = try TestSupport.runCLI(["run", "--mappings", dir + "/m.yaml", "--input", input, "--output", dir + "/o.sqlite"])
        #expect(r2.status == 2)
        #expect(!FileManager.default.fileExists(atPath: dir + "/o.sqlite"))
    }
}
