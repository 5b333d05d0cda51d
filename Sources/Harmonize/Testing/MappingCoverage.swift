/// What a mapping's test cases exercised.
///
/// - fields: each mapped target column counts as covered when a case checks it (names it in an
///   expected row) and the case's run produced rows for that table;
/// - branches: each `if` / `case` branch (implicit `else` included) taken at least once;
/// - lookups: each declared lookup that found at least one entry;
/// - filters: both outcomes (true and false) of the record filter and of each target filter.
package struct MappingCoverage: Sendable, Hashable {
    /// One item that can be covered.
    public struct Item: Sendable, Hashable {
        /// What it is (`measurement.person_id`, `line 33:27 then`, `measures`, `filter true`).
        public var name: String
        /// Whether a case exercised it.
        public var covered: Bool
    }

    /// Mapped target fields.
    public var fields: [Item] = []
    /// `if` / `case` branches.
    public var branches: [Item] = []
    /// Declared lookups.
    public var lookups: [Item] = []
    /// Filter outcomes.
    public var filters: [Item] = []

    /// Creates empty coverage.
    public init() {}

    /// The categories with their names, in display order.
    public var categories: [(name: String, items: [Item])] {
        [("fields", fields), ("branches", branches), ("lookups", lookups), ("filters", filters)]
    }

    /// Covered items over all items of every category, in percent (100 when there is nothing to cover).
    public var percent: Double { Self.percent(categories.flatMap(\.items)) }

    /// The percentage of covered items (100 for an empty list).
    public static func percent(_ items: [Item]) -> Double {
        items.isEmpty ? 100 : Double(items.filter(\.covered).count) * 100 / Double(items.count)
    }

    /// `fields 13/13 (100%), branches 4/4 (100%), …`.
    public var summary: String {
        categories.map { c in
            let n = c.items.filter(\.covered).count
            return "\(c.name) \(n)/\(c.items.count) (\(Self.format(Self.percent(c.items)))%)"
        }.joined(separator: ", ")
    }

    /// The categories whose percentage is below `minimum`.
    public func categoriesBelow(_ minimum: Double) -> [String] {
        categories.filter { Self.percent($0.items) + 1e-9 < minimum }.map(\.name)
    }

    /// Items not covered, each prefixed with its category.
    public var uncovered: [String] {
        categories.flatMap { c in c.items.filter { !$0.covered }.map { "\(c.name): \($0.name)" } }
    }

    /// A percentage for display: `100`, `87.5`.
    public static func format(_ p: Double) -> String {
        let r = (p * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}
