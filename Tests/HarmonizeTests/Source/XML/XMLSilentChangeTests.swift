import Foundation
import Testing

@testable import Harmonize

/// XML never changes data silently (issue 15, item 8): an undeclared entity rejects the record
/// (or the document), DTD attribute defaults are never applied, and every record after a too-deep
/// element is still read and counted.
@Suite struct XMLSilentChangeTests {
    typealias R = XMLRecordReaderTests
    static let external = "<?xml version=\"1.0\"?>\n<!DOCTYPE export SYSTEM \"export.dtd\">\n"

    @Test func anUndeclaredEntityInARecordRejectsThatRecord() throws {
        let text = Self.external + "<export>\n<sejour id=\"1\">x &ent; y</sejour>\n<sejour id=\"2\">ok</sejour>\n</export>"
        let events = try R.events(text, fields: ["@id", "."])
        #expect(events == [.rejected(reason: .structureError, record: 1), .record(values: ["2", "ok"], record: 2, line: 5)])
        // In a child's attribute, the record is rejected too.
        let attr = Self.external + "<export><sejour id=\"1\"><u code=\"a&ent;\"/></sejour><sejour id=\"2\"/></export>"
        #expect(
            try R.events(attr, fields: ["@id", "u/@code"]) == [
                .rejected(reason: .structureError, record: 1), .record(values: ["2", ""], record: 2, line: 3),
            ])
    }

    @Test func anUndeclaredEntityInTheRecordElementsAttributesRejectsIt() throws {
        let text = Self.external + "<export><sejour id=\"1&ent;\"/><sejour id=\"2\"/></export>"
        #expect(try R.events(text, fields: ["@id"]) == [.rejected(reason: .structureError, record: 1), .record(values: ["2"], record: 2, line: 3)])
    }

    @Test func anUndeclaredEntityInAnAncestorRefusesTheRestOfTheDocument() throws {
        let text = Self.external + "<export><sejour id=\"1\"/><lot n=\"&ent;\"><sejour id=\"2\"/></lot></export>"
        let events = try R.events(text, record: "/export/lot/sejour", fields: ["@id", "../@n"])
        #expect(events == [.rejected(reason: .structureError, record: 1)])
        // In text outside any record, nothing is read from it: the records are kept.
        let between = Self.external + "<export>note &ent;<sejour id=\"1\"/></export>"
        #expect(try R.events(between, fields: ["@id"]) == [.record(values: ["1"], record: 1, line: 3)])
    }

    @Test func dtdAttributeDefaultsAreNeverApplied() throws {
        let text = """
            <?xml version="1.0"?>
            <!DOCTYPE export [<!ATTLIST sejour statut CDATA "valide" type CDATA #FIXED "X">]>
            <export><sejour id="1"/><sejour id="2" statut="annule"/></export>
            """
        let events = try R.events(text, fields: ["@id", "@statut", "@type"])
        #expect(events == [.record(values: ["1", "", ""], record: 1, line: 3), .record(values: ["2", "annule", ""], record: 2, line: 3)])
    }

    @Test func theRecordAfterATooDeepElementIsReadAndCounted() throws {
        let deep =
            "<export><sejour id=\"1\"/>" + String(repeating: "<a>", count: 30) + "<sejour id=\"x\"/>" + String(repeating: "</a>", count: 30)
            + "<sejour id=\"2\"/><sejour id=\"3\"/></export>"
        for chunk in [1, 7, 1 << 16] {
            let events = try R.events(deep, fields: ["@id"], chunk: chunk, maxDepth: 10)
            #expect(
                events == [
                    .record(values: ["1"], record: 1, line: 1), .rejected(reason: .limitExceeded, record: 2),
                    .record(values: ["2"], record: 3, line: 1), .record(values: ["3"], record: 4, line: 1),
                ], "chunk \(chunk)")
        }
    }
}
