import Testing

@testable import Harmonize

/// Deterministic mutation fuzzing (R20): random byte flips, insertions and cuts of valid HL7 and XML
/// inputs never crash or hang the readers, and every event is a record, a located reject or the end.
@Suite struct ReaderFuzzTests {
    /// A small deterministic generator (SplitMix64).
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    }

    static let interesting: [UInt8] = Array("|^~\\&\"\r\n\u{0B}\u{1C}MSHXF<>&;/=' ".utf8) + [0x00, 0xE9, 0xFF, 0xC3]

    static func mutate(_ input: [UInt8], _ rng: inout Rng) -> [UInt8] {
        var b = input
        for _ in 0..<(1 + rng.below(8)) {
            guard !b.isEmpty else { break }
            let i = rng.below(b.count)
            switch rng.below(4) {
            case 0: b[i] = interesting[rng.below(interesting.count)]
            case 1: b.insert(interesting[rng.below(interesting.count)], at: i)
            case 2: b.removeSubrange(i..<min(b.count, i + 1 + rng.below(20)))
            default: b[i] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return b
    }

    @Test func hl7MutationsNeverCrashOrHang() throws {
        var rng = Rng(state: 42)
        let seed = Array(HL7Test.oru.utf8)
        for _ in 0..<300 {
            let bytes = Self.mutate(seed, &rng)
            for unit in [HL7RecordUnit.message, .segment("OBX")] {
                let (r, positions) = try HL7Test.reader(
                    bytes, paths: ["MSH-10", "PID-3[4.1=HOSP].1", "OBR-4.1", "OBX-5", "ZZZ-1"], record: unit, sourceChunk: 1 + rng.below(64))
                var n = 0
                loop: while n < 1000 {
                    n += 1
                    switch try r.next() {
                    case .record: for p in positions { _ = r.withField(p) { $0.count } }
                    case .rejected(let j): #expect(j.location.record != nil)
                    case .end: break loop
                    }
                }
                #expect(n < 1000)
            }
        }
    }

    @Test func xmlMutationsNeverCrashOrHang() throws {
        var rng = Rng(state: 7)
        let seed = Array(XMLRecordReaderTests.his.utf8)
        for _ in 0..<300 {
            let bytes = Self.mutate(seed, &rng)
            let r = try XMLRecordReader(
                source: MemoryByteSource(bytes, chunkSize: 1 + rng.below(64)), displayName: "f.xml",
                options: XMLReaderOptions(record: "/export/sejour"))
            let positions = try r.bind(fields: ["@id", "patient/@ipp", "."])
            var n = 0
            loop: while n < 1000 {
                n += 1
                switch try r.next() {
                case .record: for p in positions { _ = r.withField(p) { $0.count } }
                case .rejected(let j): #expect(j.location.record != nil)
                case .end: break loop
                }
            }
            #expect(n < 1000)
        }
    }
}
