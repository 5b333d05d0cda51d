import Testing

@testable import Harmonize

/// Unmapped-code accounting: one count per record and code, per mapping and vocabulary.
@Suite struct VocabularyUsageTests {
    @Test func aCodeLookedUpSeveralTimesInOneRecordCountsOnce() {
        let u = VocabularyUsage()
        u.note(vocabulary: "CIM10", code: "I10", mapped: true)  // outside a run: ignored
        u.begin(mapping: "a", index: 0)
        // Record 1: the same unmapped code three times (filters and a column), a mapped one once.
        for _ in 0..<3 { u.note(vocabulary: "CIM10", code: "E78.0", mapped: false) }
        u.note(vocabulary: "CIM10", code: "I10", mapped: true)
        u.endRecord()
        // Record 2: the unmapped code again, and one in another vocabulary.
        u.note(vocabulary: "CIM10", code: "E78.0", mapped: false)
        u.note(vocabulary: "CCAM", code: "DEQP003", mapped: false)
        u.endRecord()
        u.begin(mapping: "b", index: 1)
        u.note(vocabulary: "CIM10", code: "R69", mapped: false)
        u.end()
        u.note(vocabulary: "CIM10", code: "R69", mapped: false)  // after the run: ignored
        u.endRecord()

        let totals = u.totalsReport()
        #expect(
            totals.map { "\($0.mapping) \($0.vocabulary) \($0.lookups) \($0.mapped) \($0.distinctUnmapped)" } == [
                "a CCAM 1 0 1", "a CIM10 3 1 1", "b CIM10 1 0 1",
            ])
        #expect(totals[1].shareMapped == 1.0 / 3.0)
        #expect(
            u.unmappedCodes().map { "\($0.mappingIndex) \($0.vocabulary) \($0.code) \($0.records)" } == [
                "0 CCAM DEQP003 1", "0 CIM10 E78.0 2", "1 CIM10 R69 1",
            ])
        u.reset()
        #expect(u.totalsReport().isEmpty && u.unmappedCodes().isEmpty)
    }
}
