/// The values of one record, by slot; compiled expressions read `frame[binding.slot]`.
///
/// The storage is a fixed-size buffer owned by the frame, so that the per-row reads and writes of
/// the executor and of compiled expressions cost a pointer access (no array copy-on-write or
/// exclusivity bookkeeping). A frame is used by one thread at a time.
package final class EvaluationFrame {
    @usableFromInline let storage: UnsafeMutablePointer<Value>
    /// Per slot, the UTF-8 bytes of a text field read as they are in the record (`TextSpan`):
    /// set by the row loop for a field that the plan reads only as the text argument of calls
    /// taking bytes (`MappingPlan.textArgumentFields`), which then has no `String` made and no
    /// value in `storage`. Valid while the record is current; a slot without bytes has its
    /// value in `storage`.
    let spans: UnsafeMutablePointer<TextSpan>
    /// Where lookup functions (`lookup`, vocabulary functions) note the entries they use, when the
    /// executor records vocabulary lineage (`run --lineage`); nil otherwise, and then a lookup
    /// costs one nil check more.
    var lookupTrace: LookupTrace?
    /// The run's implementations of the plan's stateful call sites (`CallSites.bind(_:)`), each
    /// in a box (kept alive here), and uncounted references to the boxes in a buffer the frame
    /// owns: a call site reads its implementation without counting a reference to an array or
    /// to the implementation's closure (copying the enum out of an array counted one per call:
    /// 5 % of the diagnoses' samples, `perf`).
    private var boundBoxes: [BoundBox] = []
    private var boundReferences = UnsafeMutablePointer<Unmanaged<BoundBox>>.allocate(capacity: 1)
    private(set) var boundCount = 0
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
        spans = UnsafeMutablePointer<TextSpan>.allocate(capacity: max(1, count))
        spans.initialize(repeating: TextSpan(), count: max(1, count))
    }

    /// Creates a frame bound to a run's call sites.
    public convenience init(slotCount: Int, callSites: BoundCallSites) {
        self.init(slotCount: slotCount)
        bind(callSites)
    }

    /// Binds the frame to a run's call sites (the plan's keyed, vocabulary and lookup calls).
    public func bind(_ callSites: BoundCallSites) {
        boundBoxes = callSites.implementations.map(BoundBox.init)
        boundReferences.deallocate()
        boundReferences = .allocate(capacity: max(1, boundBoxes.count))
        for (i, b) in boundBoxes.enumerated() { (boundReferences + i).initialize(to: .passUnretained(b)) }
        boundCount = boundBoxes.count
    }

    deinit {
        storage.deinitialize(count: max(1, count))
        storage.deallocate()
        spans.deallocate()
        boundReferences.deallocate()
    }

    /// The bytes given for `slot` (`spans`), or nil: the slot's value is in `storage`.
    @inline(__always)
    func textBytes(_ slot: Int) -> UnsafeBufferPointer<UInt8>? {
        guard slot >= 0, slot < count else { return nil }
        return spans[slot].bytes
    }

    /// Forgets every slot's bytes (`spans`): their values are in `storage` again. Called when a
    /// file's row loop starts and ends, so that no bytes of another reader's record are read.
    func clearSpans() {
        spans.update(repeating: TextSpan(), count: max(1, count))
    }

    /// The run's implementation of call site `site`, not counted (valid while the frame is bound
    /// to the same call sites); nil when the frame has none for it.
    @inline(__always)
    func boundImplementation(_ site: Int) -> Unmanaged<BoundBox>? {
        guard site >= 0, site < boundCount else { return nil }
        return boundReferences[site]
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

/// The UTF-8 bytes of a text value read where they lie, or none (`EvaluationFrame.spans`).
struct TextSpan {
    /// The first byte; nil: no bytes (the slot's value is in the frame's storage).
    var base: UnsafePointer<UInt8>?
    var count: Int

    /// No bytes.
    init() {
        base = nil
        count = 0
    }

    /// The bytes of `text`, which must stay valid while the span is read.
    init(_ text: UnsafeBufferPointer<UInt8>) {
        base = text.baseAddress
        count = text.count
    }

    /// The bytes, when there are.
    var bytes: UnsafeBufferPointer<UInt8>? { base.map { UnsafeBufferPointer(start: $0, count: count) } }
}

/// One call site's run implementation, held by its frame (`EvaluationFrame.boundImplementation`).
/// Its closure is also kept in the `let` of its arity: called through an uncounted reference to
/// the box, a closure read from a `let` is called as it is, where one bound out of the enum's
/// payload counted a reference to its context per call.
final class BoundBox {
    /// The implementation's shape.
    enum Kind {
        case unary, binary, ternary, variadic, lookup
    }

    let kind: Kind
    /// The table of a `.lookup`.
    let lookup: (any LookupTable)?
    // The closure of `kind`; the others are never called.
    let unary: (Value) throws(EvaluationError) -> Value
    let binary: (Value, Value) throws(EvaluationError) -> Value
    let ternary: (Value, Value, Value) throws(EvaluationError) -> Value
    let variadic: (UnsafeBufferPointer<Value>) throws(EvaluationError) -> Value
    /// A `.unary` that also takes its text argument as UTF-8 bytes (`BoundImplementation.unaryText`).
    let takesText: Bool
    let text: (UnsafeBufferPointer<UInt8>) throws(EvaluationError) -> Value

    init(_ implementation: BoundImplementation) {
        var table: (any LookupTable)?
        var unary: (Value) throws(EvaluationError) -> Value = { _ throws(EvaluationError) in .null }
        var binary: (Value, Value) throws(EvaluationError) -> Value = { _, _ throws(EvaluationError) in .null }
        var ternary: (Value, Value, Value) throws(EvaluationError) -> Value = { _, _, _ throws(EvaluationError) in .null }
        var variadic: (UnsafeBufferPointer<Value>) throws(EvaluationError) -> Value = { _ throws(EvaluationError) in .null }
        var text: (UnsafeBufferPointer<UInt8>) throws(EvaluationError) -> Value = { _ throws(EvaluationError) in .null }
        var takesText = false
        switch implementation {
        case .unary(let f), .unaryPrefetching(let f, _):
            kind = .unary
            unary = f
        case .unaryText(let f, let t, _, _):
            kind = .unary
            unary = f
            text = t
            takesText = true
        case .binary(let f):
            kind = .binary
            binary = f
        case .ternary(let f):
            kind = .ternary
            ternary = f
        case .variadic(let f):
            kind = .variadic
            variadic = f
        case .lookup(let t):
            kind = .lookup
            table = t
        }
        lookup = table
        self.unary = unary
        self.binary = binary
        self.ternary = ternary
        self.variadic = variadic
        self.text = text
        self.takesText = takesText
    }
}

@available(*, unavailable)
extension BoundBox: Sendable {}

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
