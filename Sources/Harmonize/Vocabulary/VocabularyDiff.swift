import Foundation

/// What a new vocabulary release changes for the source codes mappings look up, compared code by
/// code (`vocabulary_id`, `concept_code`) with the resolution runs use (`VocabularyStore.resolve`:
/// the code's source concept, then its standard concept through `Maps to` or
/// `SOURCE_TO_CONCEPT_MAP`).
///
/// A code's changes (`Kind`): added or removed; its concept invalidated, reinstated,
/// de-standardised or made standard, or replaced by another concept with the same code; its
/// standard concept changed, lost or gained; its domain changed (the concept's own `domain_id`,
/// or that of its unchanged standard concept, the domain the mappings route rows by). One code
/// may have several (a concept invalidated with its `Maps to` also lost its standard concept).
///
/// `compare(old:new:)` walks every code of both stores side by side (streamed; only changed
/// codes are kept); `compare(old:new:codes:)` only the codes given (those an output used,
/// `VocabularyCodeUse`).
package struct VocabularyDiff: Sendable, Hashable, Codable {
    /// A kind of change of a code.
    package enum Kind: String, Sendable, Hashable, Codable, CodingKeyRepresentable, CaseIterable, Comparable {
        /// The code is new.
        case added
        /// The code is gone (Athena invalidates rather than removes: rare).
        case removed
        /// Its concept was valid and is not (`invalid_reason` `D` or `U`).
        case invalidated
        /// Its concept was invalid and is valid again.
        case reinstated
        /// Its concept was a valid standard concept and is a valid non-standard one.
        case destandardised
        /// Its concept became a valid standard concept.
        case standardised
        /// Another concept id answers the code (the old one replaced).
        case sourceConceptChanged = "source_concept_changed"
        /// It maps to another standard concept.
        case targetChanged = "target_changed"
        /// It mapped to a standard concept and maps to none.
        case targetLost = "target_lost"
        /// It mapped to no standard concept and maps to one.
        case targetGained = "target_gained"
        /// Its concept's domain, or that of its unchanged standard concept, changed.
        case domainChanged = "domain_changed"

        /// Declaration order.
        package static func < (a: Kind, b: Kind) -> Bool {
            (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
        }

        /// How the change reads after a count ("3 lost their standard concept").
        package func phrase(_ n: Int) -> String {
            let one = n == 1
            switch self {
            case .added: return "added"
            case .removed: return "removed"
            case .invalidated: return "invalidated"
            case .reinstated: return "reinstated"
            case .destandardised: return "no longer standard"
            case .standardised: return "became standard"
            case .sourceConceptChanged: return one ? "changed source concept" : "changed source concepts"
            case .targetChanged: return "changed target"
            case .targetLost: return one ? "lost its standard concept" : "lost their standard concept"
            case .targetGained: return one ? "gained a standard concept" : "gained standard concepts"
            case .domainChanged: return "changed domain"
            }
        }
    }

    /// A code as one release answers it.
    package struct Side: Sendable, Hashable, Codable {
        /// The code's concept (nil: only in `SOURCE_TO_CONCEPT_MAP`).
        package var conceptID: Int?
        /// Its `concept_name`.
        package var name: String?
        /// Its `domain_id`.
        package var domain: String?
        /// `S`, `C` or nil.
        package var standardConcept: String?
        /// nil when valid, `D`, `U`.
        package var invalidReason: String?
        /// The standard concept it maps to (nil: unmapped).
        package var targetID: Int?
        /// That concept's name.
        package var targetName: String?
        /// That concept's domain.
        package var targetDomain: String?

        /// The domain rows of this code go to: its standard concept's, else its own.
        package var routingDomain: String? { targetDomain ?? domain }
    }

    /// One changed code.
    package struct Change: Sendable, Hashable, Codable {
        /// `vocabulary_id`.
        package var vocabulary: String
        /// `concept_code` (a source code as mappings look it up).
        package var code: String
        /// What changed, in `Kind` order.
        package var kinds: [Kind]
        /// The old release's answer (nil: not in it).
        package var old: Side?
        /// The new release's answer (nil: not in it).
        package var new: Side?
    }

    /// A vocabulary's version in each release.
    package struct Version: Sendable, Hashable, Codable {
        /// `vocabulary_id` (`None`: the release of the whole download).
        package var vocabulary: String
        /// The old release's `vocabulary_version` (nil: not in it).
        package var old: String?
        /// The new release's.
        package var new: String?
    }

    /// Per vocabulary: codes in each release and changed codes per kind.
    package struct Count: Sendable, Hashable, Codable {
        /// `vocabulary_id`.
        package var vocabulary: String
        /// Codes compared in the old release (with `codes:`, those given found in it).
        package var oldCodes: Int
        /// Codes compared in the new release.
        package var newCodes: Int
        /// Changed codes per kind (kinds without one left out).
        package var changes: [Kind: Int]
    }

    /// The old store (as given).
    package var oldPath: String
    /// The new store.
    package var newPath: String
    /// The old release (`None`'s version).
    package var oldRelease: String?
    /// The new release.
    package var newRelease: String?
    /// Every vocabulary of either store whose version changed (`None` first).
    package var versions: [Version]
    /// Per vocabulary with a compared code, by id.
    package var counts: [Count]
    /// The changed codes, by vocabulary then code.
    package var changes: [Change]

    /// Every code of both stores.
    /// - Throws: `VocabularyError` when a store cannot be read.
    package static func compare(old: VocabularyStore, new: VocabularyStore) throws(VocabularyError) -> VocabularyDiff {
        var diff = try header(old: old, new: new)
        var tally = Tally()
        let a = try old.codes()
        let b = try new.codes()
        var x = try a.next()
        var y = try b.next()
        while x != nil || y != nil {
            let key: (vocabulary: String, code: String)
            switch (x, y) {
            case (let p?, let q?): key = precedes(p, q) || (p.vocabulary == q.vocabulary && p.code == q.code) ? p : q
            case (let p?, nil): key = p
            case (nil, let q?): key = q
            case (nil, nil): key = ("", "")
            }
            let inOld = x.map { $0.vocabulary == key.vocabulary && $0.code == key.code } ?? false
            let inNew = y.map { $0.vocabulary == key.vocabulary && $0.code == key.code } ?? false
            var o: Side?
            var n: Side?
            if inOld { o = try side(old, key.vocabulary, key.code) }
            if inNew { n = try side(new, key.vocabulary, key.code) }
            tally.add(key.vocabulary, old: o != nil, new: n != nil)
            if let c = change(key.vocabulary, key.code, old: o, new: n) {
                tally.add(c)
                diff.changes.append(c)
            }
            if inOld { x = try a.next() }
            if inNew { y = try b.next() }
        }
        diff.counts = tally.counts
        return diff
    }

    /// Only `codes` (`vocabulary`, `code` pairs; repeats are compared once).
    /// - Throws: `VocabularyError` when a store cannot be read.
    package static func compare(
        old: VocabularyStore, new: VocabularyStore, codes: [(vocabulary: String, code: String)]
    ) throws(VocabularyError) -> VocabularyDiff {
        var diff = try header(old: old, new: new)
        var tally = Tally()
        var seen: Set<[String]> = []
        let sorted = codes.sorted { precedes($0, $1) }
        for k in sorted where seen.insert([k.vocabulary, k.code]).inserted {
            let o = try side(old, k.vocabulary, k.code)
            let n = try side(new, k.vocabulary, k.code)
            tally.add(k.vocabulary, old: o != nil, new: n != nil)
            if let c = change(k.vocabulary, k.code, old: o, new: n) {
                tally.add(c)
                diff.changes.append(c)
            }
        }
        diff.counts = tally.counts
        return diff
    }

    /// Byte order of the vocabulary id, then of the code (the stores' `BINARY` order).
    static func precedes(_ a: (vocabulary: String, code: String), _ b: (vocabulary: String, code: String)) -> Bool {
        if a.vocabulary != b.vocabulary { return a.vocabulary.utf8.lexicographicallyPrecedes(b.vocabulary.utf8) }
        return a.code.utf8.lexicographicallyPrecedes(b.code.utf8)
    }

    /// The releases and the vocabularies whose version changed.
    private static func header(old: VocabularyStore, new: VocabularyStore) throws(VocabularyError) -> VocabularyDiff {
        let ov = try old.versions(of: Set(old.vocabularyIDs()))
        let nv = try new.versions(of: Set(new.vocabularyIDs()))
        let ids = Set(ov.map(\.id)).union(nv.map(\.id)).sorted { a, b in a == "None" ? b != "None" : b == "None" ? false : a < b }
        var versions: [Version] = []
        for id in ids {
            let o = ov.first { $0.id == id }?.version
            let n = nv.first { $0.id == id }?.version
            if o != n { versions.append(Version(vocabulary: id, old: o, new: n)) }
        }
        return VocabularyDiff(
            oldPath: old.path, newPath: new.path, oldRelease: try old.release(), newRelease: try new.release(), versions: versions, counts: [],
            changes: [])
    }

    /// A code as `store` answers it, nil when the store has neither a concept nor a
    /// `SOURCE_TO_CONCEPT_MAP` entry for it.
    private static func side(_ store: VocabularyStore, _ vocabulary: String, _ code: String) throws(VocabularyError) -> Side? {
        let r = try store.resolve(vocabulary: vocabulary, code: code)
        guard r.sourceConceptID != nil || r.standardConceptID != nil else { return nil }
        let concept = try r.sourceConceptID.flatMap { id throws(VocabularyError) in try store.concept(id: id) }
        return Side(
            conceptID: r.sourceConceptID, name: concept?.name, domain: concept?.domain, standardConcept: concept?.standardConcept,
            invalidReason: concept?.invalidReason, targetID: r.standardConceptID, targetName: r.standard?.name, targetDomain: r.standard?.domain)
    }

    /// The change of a code between two answers, nil when nothing the mappings see changed.
    static func change(_ vocabulary: String, _ code: String, old o: Side?, new n: Side?) -> Change? {
        var kinds: [Kind] = []
        switch (o, n) {
        case (nil, nil): return nil
        case (nil, _): kinds = [.added]
        case (_, nil): kinds = [.removed]
        case (let o?, let n?):
            let oldValid = o.invalidReason == nil
            let newValid = n.invalidReason == nil
            if oldValid && !newValid { kinds.append(.invalidated) }
            if !oldValid && newValid { kinds.append(.reinstated) }
            let oldStandard = o.standardConcept == "S" && oldValid
            let newStandard = n.standardConcept == "S" && newValid
            if oldStandard && !newStandard && newValid { kinds.append(.destandardised) }
            if !oldStandard && newStandard { kinds.append(.standardised) }
            if o.conceptID != n.conceptID { kinds.append(.sourceConceptChanged) }
            switch (o.targetID, n.targetID) {
            case (let a?, let b?) where a != b: kinds.append(.targetChanged)
            case (_?, nil): kinds.append(.targetLost)
            case (nil, _?): kinds.append(.targetGained)
            default: break
            }
            let ownDomain = o.conceptID == n.conceptID && o.domain != n.domain
            let targetDomain = o.targetID != nil && o.targetID == n.targetID && o.targetDomain != n.targetDomain
            if ownDomain || targetDomain { kinds.append(.domainChanged) }
        }
        guard !kinds.isEmpty else { return nil }
        return Change(vocabulary: vocabulary, code: code, kinds: kinds, old: o, new: n)
    }

    /// Per vocabulary counts, while walking.
    private struct Tally {
        var byVocabulary: [String: Count] = [:]

        mutating func add(_ vocabulary: String, old: Bool, new: Bool) {
            var c = byVocabulary[vocabulary] ?? Count(vocabulary: vocabulary, oldCodes: 0, newCodes: 0, changes: [:])
            if old { c.oldCodes += 1 }
            if new { c.newCodes += 1 }
            byVocabulary[vocabulary] = c
        }

        mutating func add(_ change: Change) {
            for k in change.kinds { byVocabulary[change.vocabulary]?.changes[k, default: 0] += 1 }
        }

        var counts: [Count] { byVocabulary.values.sorted { $0.vocabulary.utf8.lexicographicallyPrecedes($1.vocabulary.utf8) } }
    }

    /// The changes of one kind.
    package func changes(_ kind: Kind) -> [Change] { changes.filter { $0.kinds.contains(kind) } }
}
