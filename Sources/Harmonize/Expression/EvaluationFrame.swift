/// The values of one record, by slot; compiled expressions read `slots[binding.slot]`.
///
/// A frame is reused from row to row by the caller. It is deliberately not `Sendable`: use one
/// frame per thread.
public final class EvaluationFrame {
    /// The slot values.
    public var slots: [Value]

    /// Creates a frame with `slotCount` null slots.
    public init(slotCount: Int) { slots = [Value](repeating: .null, count: max(0, slotCount)) }
}
