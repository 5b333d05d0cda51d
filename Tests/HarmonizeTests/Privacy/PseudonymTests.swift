import Crypto
import Foundation
import Testing

@testable import Harmonize
@testable import Mappings

@Suite struct PseudonymTests {
    static let keyBytes = Array("0123456789abcdef0123456789abcdef-test".utf8)

    @Test func keyedDeterministicAndSeparatedByPurposeAndProject() throws {
        let key = try PseudonymKey(bytes: Self.keyBytes)
        let person = Pseudonymizer(key: key, purpose: "person")
        let visit = Pseudonymizer(key: key, purpose: "visit")
        let a = person.pseudonym("1234567890ABCDEFG")
        #expect(a.count == 64)
        #expect(a == Pseudonymizer(key: key, purpose: "person").pseudonym("1234567890ABCDEFG"))
        #expect(a != visit.pseudonym("1234567890ABCDEFG"))
        #expect(a == person.pseudonym("  1234567890abcdefg "), "normalised before hashing")
        let otherProject = Pseudonymizer(key: try PseudonymKey(bytes: Self.keyBytes, project: "p2"), purpose: "person")
        #expect(a != otherProject.pseudonym("1234567890ABCDEFG"))
        let otherKey = Pseudonymizer(key: try PseudonymKey(bytes: Array(Self.keyBytes.reversed())), purpose: "person")
        #expect(a != otherKey.pseudonym("1234567890ABCDEFG"))
        #expect(person.integer("x") >= 0)
        #expect(person.integer("x") == person.integer("X"))
    }

    /// The prepared HMAC gives swift-crypto's HMAC-SHA-256 for every message length around the
    /// block boundaries and for keys shorter than, equal to and longer than a block, with the
    /// portable compression and (on a processor that has them) the SHA extensions.
    @Test(arguments: [false, true]) func preparedHMACMatchesSwiftCrypto(accelerated: Bool) {
        for keyLength in [1, 32, 37, 64, 65, 131] {
            let key = (0..<keyLength).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let prepared = PreparedHMAC(key: key, accelerated: accelerated)
            #expect(prepared.accelerated == (accelerated && PreparedHMAC.processorAccelerated))
            for n in 0...300 {
                let message = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ n) }
                let expected = Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
                message.withUnsafeBufferPointer { prepared.authenticate($0) }
                #expect(prepared.digestBytes() == expected, "key \(keyLength) message \(n)")
                #expect(prepared.hexDigest() == Hex.string(expected))
                var prefix: UInt64 = 0
                for b in expected.prefix(8) { prefix = prefix << 8 | UInt64(b) }
                #expect(prepared.prefix64 == prefix)
            }
        }
    }

    /// The cache gives what a computation gives, on a miss, on a hit, after an eviction (a cache of
    /// one slot), at the longest cached length and past it: swift-crypto's HMAC of the normalised
    /// identifier under the purpose's sub-key, in hex and as the integer of its first 8 bytes.
    @Test func cachedPseudonymsAreTheComputedOnes() throws {
        let key = try PseudonymKey(bytes: Self.keyBytes)
        let tiny = Pseudonymizer(key: key, purpose: "person", cacheLimit: 1)
        let roomy = Pseudonymizer(key: key, purpose: "person", cacheLimit: 1 << 10)
        let longest = Pseudonymizer.maxCachedBytes
        let ids = [
            "", "a", "AB12", " ab12 ", "é", String(repeating: "7", count: longest - 1), String(repeating: "8", count: longest),
            String(repeating: "9", count: longest + 1), String(repeating: "x", count: 300),
        ]
        for round in 0..<3 {
            for id in ids {
                let mac = HMAC<SHA256>.authenticationCode(for: Array(Pseudonymizer.normalize(id).utf8), using: key.subKey(purpose: "person"))
                let expected = Hex.string(Array(mac))
                var prefix: UInt64 = 0
                for b in Array(mac).prefix(8) { prefix = prefix << 8 | UInt64(b) }
                #expect(roomy.pseudonym(id) == expected, "round \(round), \(id.utf8.count) bytes")
                #expect(tiny.pseudonym(id) == expected, "round \(round), \(id.utf8.count) bytes")
                #expect(roomy.integer(id) == Int(prefix & 0x7FFF_FFFF_FFFF_FFFF))
                #expect(tiny.integer(id) == Int(prefix & 0x7FFF_FFFF_FFFF_FFFF))
            }
        }
        // Many identifiers over a table of 16 blocks of 4 KiB (slots taken over, blocks written
        // for the first time, slots brought in early): the computed pseudonyms every round.
        let blocks = Pseudonymizer(key: key, purpose: "person", cacheLimit: 1 << 10)
        let many = (0..<3_000).map { "ID\($0 * 7_919)" }
        for round in 0..<2 {
            for id in many where (id.utf8.count + round) % 2 == 0 || round == 1 {
                blocks.prefetch(id)
                let mac = HMAC<SHA256>.authenticationCode(for: Array(id.utf8), using: key.subKey(purpose: "person"))
                #expect(blocks.pseudonym(id) == Hex.string(Array(mac)), "round \(round), \(id)")
            }
        }
    }

    /// The pseudonyms' hex text (four bytes at a time, then byte by byte): every byte value, at
    /// every offset of a word, for lengths 0 to 40.
    @Test func hexTextOfEveryByteAtEveryLength() {
        let bytes = (0..<296).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) } + Array(0...255)
        func reference(_ b: ArraySlice<UInt8>) -> String {
            b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        }
        bytes.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            for count in 0...40 {
                for start in stride(from: 0, to: p.count - count, by: 3) {
                    let got = Hex.string(base + start, count: count)
                    #expect(got == reference(bytes[start..<(start + count)]), "\(count) bytes at \(start)")
                }
            }
            #expect(Hex.string(base + 296, count: 256) == reference(bytes[296...]))
        }
    }

    /// With many more identifiers than slots (slots replaced all the time), the cache keeps
    /// giving the computed values, on misses and on hits.
    @Test func aFullCacheKeepsGivingTheComputedValues() throws {
        let key = try PseudonymKey(bytes: Self.keyBytes)
        let small = Pseudonymizer(key: key, purpose: "visit", cacheLimit: 1 << 12)
        let reference = Pseudonymizer(key: key, purpose: "visit", cacheLimit: 1)
        #expect(small.tableSlots == 1 << 12)
        #expect(Pseudonymizer(key: key, purpose: "visit", cacheLimit: 100).tableSlots == 64)
        let ids = (0..<20_000).map { "ID-\($0)" }
        var wrong = 0
        for id in ids where small.integer(id) != reference.integer(id) { wrong += 1 }
        for id in ids.reversed() where small.pseudonym(id) != reference.pseudonym(id) { wrong += 1 }
        for id in ids.suffix(100) where small.integer(id) != reference.integer(id) { wrong += 1 }
        #expect(wrong == 0)
    }

    /// A cache whose identifiers do not repeat (one per diagnosis) is given up at its early
    /// judgement (no hit among lookups 8,192 to 16,383), and the pseudonyms stay the computed
    /// ones on both sides of the moment it is (the last digest read from the table, the first
    /// computed without it), for identifiers of the sample too (looked up twice: miss then hit);
    /// a cache whose identifiers repeat is kept; one whose identifiers repeat too rarely (a
    /// tenth of the lookups) is kept early and given up after 2 × `judgedAfter` lookups.
    @Test func aCacheOfIdentifiersThatDoNotRepeatIsGivenUp() throws {
        let key = try PseudonymKey(bytes: Self.keyBytes)
        let expected = Self.expectedPseudonyms(key: key, purpose: "condition")
        let unique = Pseudonymizer(key: key, purpose: "condition")
        let early = 2 * Pseudonymizer.earlyFill
        for i in 0..<(early - 2) { _ = unique.integer("S\(i)/UF1/DAS/I10") }
        #expect(!unique.bypassesCache)
        for i in (early - 2)..<(early + 2) {
            let id = "S\(i)/UF1/DAS/I10"
            #expect(unique.integer(id) == expected(id).integer, "lookup \(i)")
        }
        #expect(unique.bypassesCache)
        // Still all new through a window of the sample (4,096 sampled lookups): still given up.
        for i in early..<(early + 5 * Pseudonymizer.judgedAfter / 4) { _ = unique.integer("S\(i)/UF1/DAS/I10") }
        #expect(unique.bypassesCache)
        var wrong = 0
        for i in 0..<20_000 {
            let id = "T\(i)/UF1/DAS/I10"
            // Twice each: an identifier of the sample is a miss, then a hit in the sample's slots.
            for _ in 0..<2 where unique.integer(id) != expected(id).integer { wrong += 1 }
        }
        #expect(wrong == 0)
        for id in ["S1/UF1/DAS/I10", "S\(early - 1)/UF1/DAS/I10", "s7/uf1/das/i10"] {
            let canonical = Pseudonymizer.normalize(id)
            #expect(unique.pseudonym(id) == expected(canonical).hex)
            #expect(unique.integer(id) == expected(canonical).integer)
        }
        let n = 2 * Pseudonymizer.judgedAfter
        let repeating = Pseudonymizer(key: key, purpose: "condition")
        for i in 0..<(n + 100) { _ = repeating.integer("P\(i % 1000)") }
        #expect(!repeating.bypassesCache)
        #expect(repeating.integer("P7") == expected("P7").integer)
        let rare = Pseudonymizer(key: key, purpose: "condition")
        let rareID = { (i: Int) in i % 10 == 0 ? "R\(i % 50)" : "U\(i)" }
        for i in 0..<(n - 2) { _ = rare.integer(rareID(i)) }
        #expect(!rare.bypassesCache, "hits in the early window")
        for i in (n - 2)..<(n + 2) { #expect(rare.integer(rareID(i)) == expected(rareID(i)).integer) }
        #expect(rare.bypassesCache, "a tenth of hits in the second window")
    }

    /// A cache given up early because its identifiers were all new (each person once while the
    /// first records are read) is used whole again once they repeat: the sample of identifiers
    /// kept while it is given up finds a quarter of hits or more.
    @Test func aCacheGivenUpIsUsedAgainWhenIdentifiersRepeat() throws {
        let key = try PseudonymKey(bytes: Self.keyBytes)
        let expected = Self.expectedPseudonyms(key: key, purpose: "person")
        let late = Pseudonymizer(key: key, purpose: "person")
        let fill = Pseudonymizer.judgedAfter
        for i in 0..<fill { _ = late.integer("N\(i)") }
        #expect(late.bypassesCache, "all new: given up early")
        var back = -1
        var wrong = 0
        for i in 0..<(4 * fill) {
            let id = "N\(i % 5000)"
            if late.integer(id) != expected(id).integer { wrong += 1 }
            if back < 0 && !late.bypassesCache { back = i }
        }
        #expect(wrong == 0)
        #expect(back > 0 && back < 3 * fill, "used again after \(back) repeating lookups")
        #expect(!late.bypassesCache)
    }

    /// The pseudonym (hex) and integer an identifier must have, computed with swift-crypto.
    static func expectedPseudonyms(key: PseudonymKey, purpose: String) -> (String) -> (hex: String, integer: Int) {
        let subKey = key.subKey(purpose: purpose)
        return { id in
            let mac = Array(HMAC<SHA256>.authenticationCode(for: Array(id.utf8), using: subKey))
            var prefix: UInt64 = 0
            for b in mac.prefix(8) { prefix = prefix << 8 | UInt64(b) }
            return (Hex.string(mac), Int(prefix & 0x7FFF_FFFF_FFFF_FFFF))
        }
    }

    /// Identifiers take the byte-level path (ASCII, nothing to trim) or `normalize`: same results.
    @Test func normalisationPathsAgree() throws {
        let key = try PseudonymKey(bytes: Self.keyBytes)
        let p = Pseudonymizer(key: key, purpose: "person", cacheLimit: 1)
        for (a, b) in [
            ("ab12", "AB12"), (" ab12", "AB12"), ("ab12\t", "AB12"), ("é1", "É1"), ("Straße", "STRASSE"),
            (String(repeating: "a", count: 300), String(repeating: "A", count: 300)), ("a b", "A B"),
        ] {
            #expect(p.integer(a) == p.integer(b), "\(b)")
            #expect(p.pseudonym(a) == p.pseudonym(b), "\(b)")
        }
        #expect(Pseudonymizer.normalize("\r\nab") == "\r\nAB", "a CRLF grapheme is not trimmed")
        #expect(p.integer("\r\nab") != p.integer("AB"))
    }

    @Test func aTinyCacheGivesTheSameValuesAsAFreshComputation() throws {
        // Four slots for 300 identifiers read in an interleaved order: evictions and collisions
        // must never return another identifier's pseudonym.
        let key = try PseudonymKey(bytes: Self.keyBytes)
        let cached = Pseudonymizer(key: key, purpose: "person", cacheLimit: 4)
        let ids = (0..<300).map { "NIR\($0 * 7919 % 1000)" }
        for round in 0..<3 {
            for (n, id) in ids.enumerated() where (n + round) % 2 == 0 || round == 2 {
                let fresh = Pseudonymizer(key: key, purpose: "person", cacheLimit: 1)
                #expect(cached.pseudonym(id) == fresh.pseudonym(id))
                #expect(cached.integer(id) == fresh.integer(id))
                #expect(cached.pseudonym(id) == fresh.pseudonym(id), "hex still right after the integer was cached")
            }
        }
    }

    @Test func shortKeysAreRefusedWithoutEchoingThem() {
        do {
            _ = try PseudonymKey(bytes: Array("short-secret".utf8))
            Issue.record("a short key must be refused")
        } catch {
            #expect(error.description.contains("at least 32"))
            #expect(!error.description.contains("short-secret"))
        }
    }

    @Test func fingerprintIdentifiesWithoutRevealing() throws {
        let key = try PseudonymKey(bytes: Self.keyBytes)
        #expect(key.fingerprint.count == 16)
        #expect(key.fingerprint == (try PseudonymKey(bytes: Self.keyBytes)).fingerprint)
        #expect(!key.fingerprint.contains("0123456789abcdef"))
    }

    @Test func expressionFunctionsNeedALiteralPurposeAndAKey() throws {
        let scope = TestScope(["id": .string])
        let compiler = ExpressionCompiler(functions: FunctionCatalog.registry(), scope: scope, lookups: nil)
        let e = try compiler.compile("pseudonym(id, 'person')", file: nil, line: 1, column: 1, expected: .string).get()
        let key = try PseudonymKey(bytes: Self.keyBytes)
        let keyed = RunEnvironment()
        keyed.pseudonymKey = key
        let frame = EvaluationFrame(slotCount: 1, callSites: try e.callSites.bind(keyed))
        frame.slots = [.string("ABC")]
        #expect(try e.evaluate(frame) == .string(Pseudonymizer(key: key, purpose: "person").pseudonym("ABC")))
        let nonLiteral = compiler.compile("pseudonym(id, id)", file: nil, line: 1, column: 1, expected: nil)
        #expect(throws: DiagnosticsError.self) { try nonLiteral.get() }
        // Without a key the call cannot be bound to a run (refused before any record is read),
        // and an unbound frame fails too.
        let u = try compiler.compile("pseudonym_int(id, 'person')", file: nil, line: 1, column: 1, expected: .integer).get()
        #expect(throws: EvaluationError.self) { try u.callSites.bind(RunEnvironment()) }
        let unbound = EvaluationFrame(slotCount: 1)
        unbound.slots = [.string("ABC")]
        #expect(throws: EvaluationError.self) { try u.evaluate(unbound) }
    }

    /// A keyed pseudonym of a field as it is asks for the field's value early (its cache slot
    /// is brought in when the field is decoded); of anything else, not. Results are unchanged.
    @Test func pseudonymsOfAFieldAskForItEarly() throws {
        let scope = TestScope(["id": .string, "other": .string])
        let key = try PseudonymKey(bytes: Self.keyBytes)
        let keyed = RunEnvironment()
        keyed.pseudonymKey = key
        let slot = try #require(scope.binding(for: "other")?.slot)
        for (text, early) in [
            ("pseudonym(other, 'person')", true), ("pseudonym_int(other, 'visit')", true), ("pseudonym(upper(other), 'person')", false),
            ("pseudonym(concat(other, 'x'), 'person')", false), ("upper(other)", false),
        ] {
            // A compiler per expression: a compiler's call sites are its plan's, all expressions together.
            let compiler = ExpressionCompiler(functions: FunctionCatalog.registry(), scope: scope, lookups: nil)
            let e = try compiler.compile(text, file: nil, line: 1, column: 1, expected: nil).get()
            let bound = try e.callSites.bind(keyed)
            #expect(bound.prefetches.map(\.slot) == (early ? [slot] : []), "\(text)")
            let frame = EvaluationFrame(slotCount: 2, callSites: bound)
            frame.slots = [.string("A"), .string("1500175123456")]
            let before = try e.evaluate(frame)
            for p in bound.prefetches { p.prefetch(frame.slots[slot]) }
            #expect(try e.evaluate(frame) == before)
        }
        let p = Pseudonymizer(key: key, purpose: "person")
        let expected = p.pseudonym("1500175123456")
        p.prefetch("1500175123456")
        p.prefetch(String(repeating: "9", count: 300))
        #expect(p.pseudonym("1500175123456") == expected)
    }

    /// A keyed pseudonym of a `concat` of fields is computed from the parts' bytes
    /// (`BoundImplementation.unaryText`): the same pseudonym as of the text the `concat` makes,
    /// for text to trim, lower case, non-ASCII, null parts, identifiers too long to cache, and
    /// parts that are not text; the cache's hits and its giving up do not change it.
    @Test func pseudonymsOfAConcatAreThoseOfItsText() throws {
        let scope = TestScope(["a": .string, "b": .any, "c": .string])
        let key = try PseudonymKey(bytes: Self.keyBytes)
        let keyed = RunEnvironment()
        keyed.pseudonymKey = key
        let compiler = ExpressionCompiler(functions: FunctionCatalog.registry(), scope: scope, lookups: nil)
        let joined = try compiler.compile("pseudonym_int(concat(a, '/', b, '/', c), 'condition')", file: nil, line: 1, column: 1, expected: nil).get()
        let hex = try compiler.compile("pseudonym(concat(c, a), 'person')", file: nil, line: 1, column: 1, expected: nil).get()
        let joinedWS = try compiler.compile("pseudonym_int(concat_ws('|', a, b, c), 'condition')", file: nil, line: 1, column: 1, expected: nil)
            .get()
        let frame = EvaluationFrame(slotCount: 3, callSites: try joined.callSites.bind(keyed))
        let hexFrame = EvaluationFrame(slotCount: 3, callSites: try hex.callSites.bind(keyed))
        let wsFrame = EvaluationFrame(slotCount: 3, callSites: try joinedWS.callSites.bind(keyed))
        let condition = Pseudonymizer(key: key, purpose: "condition")
        let person = Pseudonymizer(key: key, purpose: "person")
        let values: [Value] = [
            .string("S1"), .string(" s2"), .string("ab "), .string("éé"), .string(""), .null, .int(42),
            .string(String(repeating: "z", count: 40)), .string(String(repeating: "y", count: 600)),
        ]
        // Enough calls for the cache to be judged (given up: none repeats), then repeats.
        for i in 0..<(3 * Pseudonymizer.earlyFill) {
            let a = i % 3 == 0 ? values[i % values.count] : .string("S\(i % 5_000)")
            let b = values[(i / 7) % values.count]
            let c: Value = i % 11 == 0 ? .null : .string("c\(i % 13)")
            frame.slots = [a, b, c]
            hexFrame.slots = [a, b, c]
            let text = a.description + "/" + b.description + "/" + c.description
            #expect(try joined.evaluate(frame) == .int(condition.integer(text)), "\(i)")
            if i % 16 == 0 { #expect(try hex.evaluate(hexFrame) == .string(person.pseudonym(c.description + a.description)), "\(i)") }
            if i % 4 == 0 {
                wsFrame.slots = [a, b, c]
                let present = [a, b, c].filter { !$0.isNull }.map(\.description)
                let expected: Value = present.isEmpty ? .null : .int(condition.integer(present.joined(separator: "|")))
                #expect(try joinedWS.evaluate(wsFrame) == expected, "\(i)")
            }
        }
    }

    /// The cache's hash spreads identifiers that differ in a few characters (the keys of
    /// diagnoses, numbers in sequence) over its slots, and picks about one in 16 for the sample
    /// a cache given up keeps (by its top bits), at every length.
    @Test func theCacheHashSpreadsSimilarIdentifiers() {
        let kinds: [(name: String, text: (Int) -> String)] = [
            ("diagnosis keys", { i in "S\(100_000_000 + i)/UF\(i % 1000)/DAS/N18\(i % 7)" }),
            ("short numbers", { i in "\(i)" }),
            ("16-digit numbers", { i in "1\(1_000_000_000_000_000 + i)" }),
        ]
        let count = 65_536
        for kind in kinds {
            var sampled = 0
            var slots = Set<UInt64>()
            for i in 0..<count {
                var t = kind.text(i)
                let h = t.withUTF8 { Pseudonymizer.hash($0) }
                if h >> 60 == 0 { sampled += 1 }
                slots.insert(h & 4095)
            }
            #expect(abs(sampled - count / 16) < count / 160, "\(kind.name): \(sampled) sampled")
            #expect(slots.count > 4_000, "\(kind.name): \(slots.count) of 4,096 slots")
        }
    }

    @Test func onePlanRunsUnderTwoKeysWithoutSharingState() throws {
        // The plan holds no key: two runs of one compiled expression under different keys,
        // interleaved, give each key's own pseudonyms.
        let scope = TestScope(["id": .string])
        let e = try ExpressionCompiler(functions: FunctionCatalog.registry(), scope: scope, lookups: nil)
            .compile("pseudonym_int(id, 'person')", file: nil, line: 1, column: 1, expected: .integer).get()
        let k1 = try PseudonymKey(bytes: Self.keyBytes)
        let k2 = try PseudonymKey(bytes: Array(Self.keyBytes.reversed()))
        let (r1, r2) = (RunEnvironment(), RunEnvironment())
        r1.pseudonymKey = k1
        r2.pseudonymKey = k2
        let (f1, f2) = (
            EvaluationFrame(slotCount: 1, callSites: try e.callSites.bind(r1)), EvaluationFrame(slotCount: 1, callSites: try e.callSites.bind(r2))
        )
        for id in ["A", "B", "A", "C", "B"] {
            f1.slots = [.string(id)]
            f2.slots = [.string(id)]
            #expect(try e.evaluate(f1) == .int(Pseudonymizer(key: k1, purpose: "person").integer(id)))
            #expect(try e.evaluate(f2) == .int(Pseudonymizer(key: k2, purpose: "person").integer(id)))
        }
    }
}
