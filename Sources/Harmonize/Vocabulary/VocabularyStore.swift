import Foundation

/// A concept of the OMOP vocabulary.
package struct Concept: Sendable, Hashable, Codable {
    /// `concept_id`.
    public var id: Int
    /// `concept_name`.
    public var name: String
    /// `domain_id` (`Condition`, `Observation`, `Measurement`, …).
    public var domain: String
    /// `vocabulary_id`.
    public var vocabulary: String
    /// `concept_class_id`.
    public var conceptClass: String?
    /// `standard_concept`: `S` standard, `C` classification, nil non-standard.
    public var standardConcept: String?
    /// `concept_code`.
    public var code: String
    /// `invalid_reason`: nil when valid, `D` deprecated, `U` upgraded.
    public var invalidReason: String?

    /// Whether the concept is valid (no `invalid_reason`).
    public var isValid: Bool { invalidReason == nil }
    /// Whether the concept is a valid standard concept.
    public var isStandard: Bool { standardConcept == "S" && isValid }
}

/// What a source code resolves to in a vocabulary.
package struct CodeResolution: Sendable, Hashable {
    /// The concept of the code in its vocabulary (or the `source_concept_id` of a
    /// `SOURCE_TO_CONCEPT_MAP` entry), nil when the vocabulary has no such code.
    public var sourceConceptID: Int?
    /// The standard concept the code maps to, nil when unmapped.
    public var standard: Concept?
    /// The standard concept id (also set when a `SOURCE_TO_CONCEPT_MAP` target is not in `CONCEPT`).
    public var standardConceptID: Int?
}

/// A read-only vocabulary store written by `VocabularyLoader`, with bounded in-memory caches of
/// the lookups mappings make.
///
/// Resolution of a source code `(vocabulary_id, code)`:
/// 1. its **source concept** is the concept with that `vocabulary_id` and `concept_code`; when
///    several exist, the valid one (no `invalid_reason`) with the lowest `concept_id`, else the
///    lowest `concept_id`;
/// 2. its **standard concept** is the source concept itself when that is a valid standard concept
///    (`standard_concept = 'S'`); otherwise the target of a valid `Maps to` relationship that is a
///    valid standard concept — with several targets, the **lowest `concept_id`** (deterministic);
/// 3. when the code has no source concept or no standard concept, a valid
///    `SOURCE_TO_CONCEPT_MAP` entry with that `source_vocabulary_id` and `source_code` (the lowest
///    `target_concept_id` other than 0) gives the standard concept, and its `source_concept_id`
///    (when not 0) the source concept.
///
/// Read-only and shared by the runs that use it: its SQLite statements and caches are guarded by
/// one lock (every mutable member is read and written under `lock` only), hence `@unchecked
/// Sendable`. Per-run counts (unmapped codes) live in each run's `VocabularyUsage`, not here.
/// Safe to share: every mutable member is read and written under `lock`.
public final class VocabularyStore: @unchecked Sendable {
    /// The store file.
    public let path: String
    /// The temporary store a folder was loaded into (already unlinked), nil for a store file.
    package let temporaryStorePath: String?
    private let db: SQLiteConnection
    private let lock = NSLock()
    private let bySourceCode: SQLiteStatement
    private let mapsTo: SQLiteStatement
    private let byID: SQLiteStatement
    private let sourceToConcept: SQLiteStatement?
    private var resolutions: [String: CodeResolution] = [:]
    private var concepts: [Int: Concept?] = [:]
    private var knownVocabularies: [String: Bool] = [:]
    private var referenced: Set<String> = []
    private var resolveCalls = 0
    /// Cached lookups kept at most (each cache is cleared when full).
    public static let cacheLimit = 1 << 16

    /// Opens a store read-only. A **folder** is taken as an Athena download and loaded first into a
    /// temporary store (its file is unlinked as soon as it is open): convenient for tests and small
    /// vocabularies; load a full download once with `VocabularyLoader`.
    /// - Throws: `VocabularyError` (`.configuration` when the file is not a vocabulary store).
    public init(path: String) throws(VocabularyError) {
        var file = path
        var temporary: String?
        if FileOps.isDirectory(path) {
            let t = NSTemporaryDirectory() + "harmonize-vocabulary-\(UUID().uuidString.prefix(12)).sqlite"
            try VocabularyLoader.load(directory: path, output: t)
            file = t
            temporary = t
        }
        guard FileOps.exists(file) else { throw VocabularyError(.configuration, "no such vocabulary store: \(path)") }
        do {
            db = try SQLiteConnection(path: file, readOnly: true)
            let tables = Set(try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").compactMap { $0.first?.text })
            guard tables.contains("harmonize_vocabulary_store"), tables.contains("concept"),
                case .int(let format) = try db.scalar("SELECT max(format) FROM harmonize_vocabulary_store"), format <= VocabularyLoader.storeFormat
            else {
                if let temporary { FileOps.remove(temporary) }
                throw VocabularyError(
                    .configuration, "\(path) is not a Harmonize vocabulary store (build one with 'harmonize-run vocabulary load DIR --output FILE')")
            }
            bySourceCode = try db.prepare(
                """
                SELECT concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept, concept_code, invalid_reason
                FROM concept WHERE vocabulary_id = ?1 AND concept_code = ?2 ORDER BY coalesce(invalid_reason, '') <> '', concept_id LIMIT 1
                """)
            mapsTo = try db.prepare(
                """
                SELECT c.concept_id, c.concept_name, c.domain_id, c.vocabulary_id, c.concept_class_id, c.standard_concept, c.concept_code, c.invalid_reason
                FROM concept_relationship r JOIN concept c ON c.concept_id = r.concept_id_2
                WHERE r.concept_id_1 = ?1 AND r.relationship_id = 'Maps to' AND coalesce(r.invalid_reason, '') = ''
                  AND c.standard_concept = 'S' AND coalesce(c.invalid_reason, '') = ''
                ORDER BY c.concept_id LIMIT 1
                """)
            byID = try db.prepare(
                """
                SELECT concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept, concept_code, invalid_reason
                FROM concept WHERE concept_id = ?1
                """)
            sourceToConcept =
                tables.contains("source_to_concept_map")
                ? try db.prepare(
                    """
                    SELECT source_concept_id, target_concept_id FROM source_to_concept_map
                    WHERE source_vocabulary_id = ?1 AND source_code = ?2 AND coalesce(invalid_reason, '') = '' AND target_concept_id <> 0
                    ORDER BY target_concept_id LIMIT 1
                    """) : nil
        } catch let e as VocabularyError {
            throw e
        } catch {
            if let temporary { FileOps.remove(temporary) }
            throw VocabularyError(.configuration, "cannot open the vocabulary store \(path): \(error)")
        }
        self.path = path
        self.temporaryStorePath = temporary
        // The open connection keeps reading the temporary store: its name goes at once, so a
        // process that ends without deinitializing this object (exit) leaves nothing behind.
        if let temporary { FileOps.remove(temporary) }
    }

    private static func concept(_ st: SQLiteStatement) -> Concept? {
        guard case .int(let id) = st.column(0) else { return nil }
        func text(_ i: Int) -> String? {
            guard case .string(let s) = st.column(i), !s.isEmpty else { return nil }
            return s
        }
        return Concept(
            id: id, name: text(1) ?? "", domain: text(2) ?? "", vocabulary: text(3) ?? "", conceptClass: text(4), standardConcept: text(5),
            code: text(6) ?? "", invalidReason: text(7))
    }

    /// The first row of a statement. A failing step (a busy, locked or corrupt store) throws: it
    /// is never taken for "no such concept", which would silently write concept 0.
    private func first(_ st: SQLiteStatement, _ args: [Value]) throws(VocabularyError) -> Concept? {
        defer { st.reset() }
        for (i, a) in args.enumerated() { st.bind(a, at: Int32(i + 1)) }
        let row: Bool
        do {
            row = try st.step()
        } catch {
            throw VocabularyError(.io, "the vocabulary store \(path) cannot be read: \(error)")
        }
        guard row else { return nil }
        return Self.concept(st)
    }

    /// The concept with this id, or nil.
    /// - Throws: `VocabularyError` when the store cannot be read.
    package func concept(id: Int) throws(VocabularyError) -> Concept? {
        lock.lock()
        defer { lock.unlock() }
        return try uncachedLockedConcept(id: id)
    }

    /// `concept(id:)` for expressions: a store that cannot be read stops the run.
    func conceptChecked(id: Int) throws(EvaluationError) -> Concept? {
        do {
            return try concept(id: id)
        } catch {
            throw .runFailure(error.message, function: "concept_domain")
        }
    }

    private func uncachedLockedConcept(id: Int) throws(VocabularyError) -> Concept? {
        if let hit = concepts[id] { return hit }
        let c = try first(byID, [.int(id)])
        if concepts.count >= Self.cacheLimit { concepts.removeAll(keepingCapacity: true) }
        concepts[id] = c
        return c
    }

    /// `resolve(vocabulary:code:)` for expressions: a store that cannot be read stops the run.
    func resolving(vocabulary: String, code: String) throws(EvaluationError) -> CodeResolution {
        do {
            return try resolve(vocabulary: vocabulary, code: code)
        } catch {
            throw .runFailure(error.message, function: "vocabulary")
        }
    }

    /// What a source code resolves to (see the type's documentation for the rules).
    /// - Throws: `VocabularyError` when the store cannot be read.
    package func resolve(vocabulary: String, code: String) throws(VocabularyError) -> CodeResolution {
        lock.lock()
        defer { lock.unlock() }
        resolveCalls += 1
        let key = vocabulary + "\u{0}" + code
        if let hit = resolutions[key] { return hit }
        var r = CodeResolution()
        if let source = try first(bySourceCode, [.string(vocabulary), .string(code)]) {
            r.sourceConceptID = source.id
            if source.isStandard {
                r.standard = source
            } else {
                r.standard = try first(mapsTo, [.int(source.id)])
            }
            r.standardConceptID = r.standard?.id
        }
        if r.standard == nil, let stcm = sourceToConcept {
            stcm.bind(.string(vocabulary), at: 1)
            stcm.bind(.string(code), at: 2)
            let row: Bool
            do {
                row = try stcm.step()
            } catch {
                stcm.reset()
                throw VocabularyError(.io, "the vocabulary store \(path) cannot be read: \(error)")
            }
            if row, case .int(let target) = stcm.column(1) {
                if r.sourceConceptID == nil, case .int(let s) = stcm.column(0), s != 0 { r.sourceConceptID = s }
                r.standardConceptID = target
                stcm.reset()
                r.standard = try uncachedLockedConcept(id: target)
            }
            stcm.reset()
        }
        if resolutions.count >= Self.cacheLimit { resolutions.removeAll(keepingCapacity: true) }
        resolutions[key] = r
        return r
    }

    /// How many code resolutions were asked of the store (its lock taken for each): the
    /// environments' caches (`VocabularyCodeCache`) ask only for the codes they miss.
    package var resolutionsAsked: Int {
        lock.lock()
        defer { lock.unlock() }
        return resolveCalls
    }

    /// Whether the store knows a vocabulary id (in `VOCABULARY`, `CONCEPT` or as a
    /// `SOURCE_TO_CONCEPT_MAP` source vocabulary). Noted as used by the run.
    public func knows(vocabulary: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        referenced.insert(vocabulary)
        if let hit = knownVocabularies[vocabulary] { return hit }
        var sql = """
            SELECT EXISTS (SELECT 1 FROM vocabulary WHERE vocabulary_id = ?1) OR EXISTS (SELECT 1 FROM concept WHERE vocabulary_id = ?1)
            """
        if sourceToConcept != nil { sql += " OR EXISTS (SELECT 1 FROM source_to_concept_map WHERE source_vocabulary_id = ?1)" }
        let known = (try? db.scalar(sql, [.string(vocabulary)])) == .int(1)
        knownVocabularies[vocabulary] = known
        return known
    }

    /// Every vocabulary id known to the store, sorted (for suggestions).
    public func vocabularyIDs() -> [String] {
        lock.lock()
        defer { lock.unlock() }
        let rows = (try? db.query("SELECT vocabulary_id FROM vocabulary UNION SELECT DISTINCT vocabulary_id FROM concept ORDER BY 1")) ?? []
        return rows.compactMap { $0.first?.text }
    }

    /// The vocabularies the compiled mappings named (literal `vocabulary_id` arguments).
    public var referencedVocabularies: Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return referenced
    }

    /// `VOCABULARY.csv` rows of the given vocabularies, plus the `None` row (the release of the
    /// whole download), sorted by id.
    /// - Throws: `VocabularyError` when the store cannot be read.
    package func versions(of ids: Set<String>) throws(VocabularyError) -> [VocabularyVersion] {
        lock.lock()
        defer { lock.unlock() }
        let rows: [[Value]]
        do {
            rows = try db.query("SELECT vocabulary_id, vocabulary_name, vocabulary_version FROM vocabulary ORDER BY vocabulary_id")
        } catch {
            throw VocabularyError(.io, "the vocabulary store \(path) cannot be read: \(error)")
        }
        return rows.compactMap { r -> VocabularyVersion? in
            guard let id = r[0].text, ids.contains(id) || id == "None" else { return nil }
            return VocabularyVersion(id: id, name: r[1].text, version: r[2].text)
        }
    }

    /// When the store was loaded, and the SHA-256 of its `CONCEPT.csv`.
    /// - Throws: `VocabularyError` when the store cannot be read.
    public func provenance() throws(VocabularyError) -> (loadedAt: String, conceptSHA256: String) {
        lock.lock()
        defer { lock.unlock() }
        do {
            let at = try db.scalar("SELECT loaded_at FROM harmonize_vocabulary_store LIMIT 1").text ?? ""
            let sha = try db.scalar("SELECT sha256 FROM harmonize_vocabulary_file WHERE table_name = 'concept' LIMIT 1").text ?? ""
            return (at, sha)
        } catch {
            throw VocabularyError(.io, "the vocabulary store \(path) cannot be read: \(error)")
        }
    }

    /// The store's source codes `(vocabulary_id, concept_code)`, each once, in byte order of
    /// the vocabulary id then the code (SQLite's `BINARY` order): the codes of `CONCEPT` and the
    /// source codes of `SOURCE_TO_CONCEPT_MAP`. Streams: nothing is held but the current row.
    /// For `VocabularyDiff`, which walks two stores side by side.
    /// - Throws: `VocabularyError` when the store cannot be read.
    package func codes() throws(VocabularyError) -> CodeCursor {
        lock.lock()
        defer { lock.unlock() }
        let sql =
            sourceToConcept == nil
            ? "SELECT DISTINCT vocabulary_id, concept_code FROM concept ORDER BY vocabulary_id, concept_code"
            : """
            SELECT vocabulary_id, concept_code FROM concept UNION SELECT source_vocabulary_id, source_code FROM source_to_concept_map
            ORDER BY 1, 2
            """
        do {
            return CodeCursor(store: self, statement: try db.prepare(sql))
        } catch {
            throw VocabularyError(.io, "the vocabulary store \(path) cannot be read: \(error)")
        }
    }

    /// The source codes of a store, one at a time (`codes()`). Used from one thread; the
    /// statement is stepped under the store's lock.
    package final class CodeCursor {
        private let store: VocabularyStore
        private let statement: SQLiteStatement

        fileprivate init(store: VocabularyStore, statement: SQLiteStatement) {
            self.store = store
            self.statement = statement
        }

        /// The next code, nil after the last.
        /// - Throws: `VocabularyError` when the store cannot be read.
        package func next() throws(VocabularyError) -> (vocabulary: String, code: String)? {
            store.lock.lock()
            defer { store.lock.unlock() }
            do {
                guard try statement.step() else { return nil }
            } catch {
                throw VocabularyError(.io, "the vocabulary store \(store.path) cannot be read: \(error)")
            }
            return (statement.column(0).text ?? "", statement.column(1).text ?? "")
        }
    }

    /// The release of the store: the version of its `None` vocabulary (nil when it has none).
    /// - Throws: `VocabularyError` when the store cannot be read.
    package func release() throws(VocabularyError) -> String? {
        try versions(of: []).first { $0.id == "None" }?.version
    }

    /// Rows per store table (for `vocabulary info` and tests).
    public func counts() -> [(table: String, rows: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return VocabularyLoader.tables.map { t in
            (t.table, (try? db.scalar("SELECT count(*) FROM \(t.table)"))?.intValue ?? 0)
        }
    }
}
