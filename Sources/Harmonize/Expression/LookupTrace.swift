/// One lookup made while computing an output row: a vocabulary function call or a `lookup` of a
/// mapping's table, with the key looked up and what was found. Recorded with `run --lineage` in
/// `harmonize_lineage_entry` / `harmonize_lineage_entry_set` (see docs/lineage.md).
package struct LookupUse: Sendable, Hashable {
    /// A call site: the function and its source, shared by every use the compiled call makes (so
    /// that noting a use copies no text).
    public final class Site: Sendable {
        /// The function: `standard_concept_id`, `source_concept_id`, `standard_domain`,
        /// `concept_domain` or `lookup`.
        public let function: String
        /// The vocabulary id (vocabulary functions) or the lookup table's name (`lookup`); empty
        /// for `concept_domain`.
        public let source: String

        /// Creates a site.
        public init(function: String, source: String) {
            self.function = function
            self.source = source
        }
    }

    /// The call site.
    public let site: Site
    /// The code or key looked up, as given to the function (several keys: their texts joined
    /// with `, `).
    public var keyValue: Value
    /// What was found; null for a miss.
    public var result: Value

    /// The function (see `Site.function`).
    public var function: String { site.function }
    /// The vocabulary id or the lookup table's name (see `Site.source`).
    public var source: String { site.source }
    /// The code or key looked up, as text.
    public var key: String {
        if case .string(let s) = keyValue { return s }
        return keyValue.description
    }

    /// Creates a use.
    public init(function: String, source: String, key: String, result: Value) {
        self.init(site: Site(function: function, source: source), key: .string(key), result: result)
    }

    /// Creates a use made at `site`.
    public init(site: Site, key: Value, result: Value) {
        self.site = site
        self.keyValue = key
        self.result = result
    }

    /// Same function, source, key and result (sites compared by identity first).
    public static func == (a: LookupUse, b: LookupUse) -> Bool {
        (a.site === b.site || (a.site.function == b.site.function && a.site.source == b.site.source)) && a.keyValue == b.keyValue
            && a.result == b.result
    }

    /// Hashes the key only (cheap; uses with one key rarely differ otherwise).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(keyValue)
    }

    /// The concept id the use gives: the result of a `*concept_id` function (0 when it found
    /// none), the concept looked up by `concept_domain`, an integer result of a `lookup`; nil
    /// otherwise.
    public var conceptID: Int? {
        if function.hasSuffix("concept_id") {
            if case .int(let i) = result { return i }
            return 0
        }
        if function == "concept_domain" { return Int(key) }
        if case .int(let i) = result { return i }
        return nil
    }

    /// The result as text (nil for a miss).
    public var resultText: String? {
        switch result {
        case .null: return nil
        case .string(let s): return s
        default: return result.description
        }
    }
}

/// The scratch list of the lookups made while evaluating one record, owned by the executor and
/// attached to its frame only when the run records lineage. Not thread-safe (one frame, one
/// thread).
final class LookupTrace {
    var uses: [LookupUse] = []

    @inline(__always)
    func note(_ site: LookupUse.Site, _ key: Value, _ result: Value) {
        uses.append(LookupUse(site: site, key: key, result: result))
    }

    func note(_ site: LookupUse.Site, keys: [Value], _ result: Value) {
        let text = keys.map { k -> String in
            if case .string(let s) = k { return s }
            return k.description
        }.joined(separator: ", ")
        uses.append(LookupUse(site: site, key: .string(text), result: result))
    }
}

@available(*, unavailable)
extension LookupTrace: Sendable {}
