/// Counts how often each `if` / `case` branch of instrumented expressions is taken (for mapping
/// tests). Pass one to `ExpressionCompiler` to instrument; without it, compiled code has no
/// counting overhead. Not thread-safe: use it from one thread.
package final class CoverageRecorder {
    /// One branch of one expression.
    public struct Branch: Sendable, Hashable {
        /// Stable id: `<file>:<line>:<column>@<offset>:<index>`, where offset is the UTF-8 offset of
        /// the `if`/`case` keyword in the expression text and index the branch's position.
        public var id: String
        /// Human label such as `then`, `else`, `when 'M'`, `else (implicit)`.
        public var label: String
        /// The file of the expression, if known.
        public var file: String?
        /// 1-based line of the branch's keyword.
        public var line: Int
        /// 1-based column of the branch's keyword.
        public var column: Int
    }

    /// Every registered branch, in registration order.
    public private(set) var branches: [Branch] = []
    /// Hit counts, parallel to `branches`.
    public private(set) var counts: [Int] = []

    /// Creates an empty recorder.
    public init() {}

    func register(_ branch: Branch) -> Int {
        branches.append(branch)
        counts.append(0)
        return counts.count - 1
    }

    @inline(__always) func hit(_ index: Int) { counts[index] &+= 1 }

    /// The count for a branch id (nil when unknown).
    public func count(for id: String) -> Int? {
        guard let i = branches.firstIndex(where: { $0.id == id }) else { return nil }
        return counts[i]
    }

    /// Branches never taken.
    public var uncovered: [Branch] { zip(branches, counts).filter { $0.1 == 0 }.map(\.0) }

    /// Resets every count to zero.
    public func reset() { counts = [Int](repeating: 0, count: counts.count) }
}
