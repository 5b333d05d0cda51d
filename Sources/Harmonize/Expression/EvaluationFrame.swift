/// The values of one record, by slot; compiled expressions read `frame[binding.slot]`.
///
/// The storage is a fixed-size buffer owned by the frame, so that the per-row reads and writes of
/// the executor and of compiled expressions cost a pointer access (no array copy-on-write or
/// exclusivity bookkeeping). A frame is used by one thread at a time.
package final class EvaluationFrame {
    @usableFromInline let storage: UnsafeMutablePointer<Value>
    /// Where lookup functions (`lookup`, vocabulary functions) note the entries they use, when the
    /// executor records vocabulary lineage (`run --lineage`); nil otherwise, and then a lookup
    /// costs one nil check more.
    var lookupTrace: LookupTrace?
    /// The run's implementations of the plan's stateful call sites (`CallSites.bind(_:)`).
    var bound: ContiguousArray<BoundImplementation> = []
    /// Number of slots.
    public let count: Int
    /// The id of the mapping the frame evaluates (set by the executor); read by `row_id`.
    var mappingID = ""
    /// Where the current record is (set by the executor once per file; called only by `row_id()`).
    var recordLocation: (() -> SourceLocation)?

    /// Creates a frame with `slotCount` null slots.
    public init(slotCount: Int) {
        count = max(0, slotCount)
        storage = UnsafeMutablePointer<Value>.allocate(capacity: max(1, count))
        storage.initialize(repeating: .null, count: max(1, count))
    }

    /// Creates a frame bound to a run's call sites.
    public convenience init(slotCount: Int, callSites: BoundCallSites) {
        self.init(slotCount: slotCount)
        bound = callSites.implementations
    }

    /// Binds the frame to a run's call sites (the plan's keyed, vocabulary and lookup calls).
    public func bind(_ callSites: BoundCallSites) { bound = callSites.implementations }

    deinit {
        storage.deinitialize(count: max(1, count))
        storage.deallocate()
    }

    /// The value in `slot` (the slot must exist).
    @inlinable
    public subscript(slot: Int) -> Value {
        get { storage[slot] }
        set { storage[slot] = newValue }
    }

    /// All slots as an array (copies; for tests and debugging). Setting copies the first
    /// `count` values in.
    public var slots: [Value] {
        get { Array(UnsafeBufferPointer(start: storage, count: count)) }
        set {
            for i in 0..<min(count, newValue.count) { storage[i] = newValue[i] }
        }
    }
}

@available(*, unavailable)
extension EvaluationFrame: Sendable {}

extension EvaluationFrame {
    /// The context `row_id` hashes: the mapping id, and with `withLocation` the record's source
    /// file (as the run names it, relative to the input folder) and record number, separated by
    /// control characters that no mapping id or path contains.
    func recordContext(withLocation: Bool) throws(EvaluationError) -> Value {
        guard withLocation else { return .string(mappingID) }
        guard let locate = recordLocation else {
            throw EvaluationError(reason: .expressionError, message: "row_id(): no record location here", function: "row_id")
        }
        let location = locate()
        guard let record = location.record else {
            throw EvaluationError(reason: .expressionError, message: "row_id(): the record has no number", function: "row_id")
        }
        return .string(mappingID + "\u{1E}" + location.file + "\u{1F}" + String(record))
    }

    /// An evaluator giving `recordContext(withLocation:)`.
    static func contextEvaluator(withLocation: Bool) -> Evaluator {
        { f throws(EvaluationError) in try f.recordContext(withLocation: withLocation) }
    }
}
