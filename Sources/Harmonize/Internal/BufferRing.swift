import Foundation

/// Bytes handed by one thread to a thread of its own, in order, through `depth` buffers of
/// `slotBytes`: `submit` copies the bytes into the buffer being filled (waiting while every buffer
/// is taken) and hands it on when full; the thread gives each buffer, in order, to `consume`,
/// which updates the ring's `State`; `finish` hands the last buffer, waits until every buffer is
/// consumed and returns the final state. Memory: `depth` × `slotBytes`, whatever goes through. The
/// thread starts with the first `submit`. Used by one submitting thread.
///
/// What takes work off a reading thread goes through it: the input's hash (`BackgroundHasher`)
/// and the XML spill's writes (`BackgroundFileWriter`). `State` need not be `Sendable`: one thread
/// at a time has it (the submitting thread before the first `submit` and after `finish`, the
/// consuming thread in between).
final class BufferRing<State> {
    // Slot `k` and its length are written by the submitting thread only between `free.wait()`
    // and `filled.signal()`, and read by the consuming thread only between `filled.wait()` and
    // `free.signal()`; `state` is used by the consuming thread alone from its start until
    // `done.signal()`, and read by the submitting thread after `done.wait()` only. Safe to share:
    // the three semaphores order every access to the members, as above.
    private final class Shared: @unchecked Sendable {
        let slots: [UnsafeMutableRawPointer]
        var lengths: [Int]
        let slotBytes: Int
        var state: State
        let free: DispatchSemaphore
        let filled = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)

        init(depth: Int, slotBytes: Int, state: State) {
            self.slotBytes = slotBytes
            self.state = state
            slots = (0..<depth).map { _ in UnsafeMutableRawPointer.allocate(byteCount: slotBytes, alignment: 64) }
            lengths = Array(repeating: 0, count: depth)
            free = DispatchSemaphore(value: depth)
        }

        deinit { for s in slots { s.deallocate() } }
    }

    private let slotBytes: Int
    private let depth: Int
    private let name: String
    private let consume: @Sendable (inout State, UnsafeRawBufferPointer) -> Void
    private var initial: State
    private var shared: Shared?
    private var next = 0
    /// Bytes in the buffer being filled (handed on when full, or by `finish`).
    private var filling = 0
    private var finished: State?

    /// A ring whose thread (named `name`) starts from `state` and gives every buffer to `consume`.
    init(
        state: State, slotBytes: Int = 1 << 18, depth: Int = 4, name: String,
        consume: @escaping @Sendable (inout State, UnsafeRawBufferPointer) -> Void
    ) {
        initial = state
        self.slotBytes = max(1, slotBytes)
        self.depth = max(1, depth)
        self.name = name
        self.consume = consume
    }

    deinit { _ = finish() }

    /// Hands `bytes` (copied) to the thread; they follow the bytes submitted before. Ignored
    /// after `finish`.
    func submit(_ bytes: UnsafeRawBufferPointer) {
        guard finished == nil, let base = bytes.baseAddress, bytes.count > 0 else { return }
        let shared = self.shared ?? start()
        var done = 0
        while done < bytes.count {
            if filling == 0 { shared.free.wait() }
            let k = next % shared.slots.count
            let n = min(shared.slotBytes - filling, bytes.count - done)
            (shared.slots[k] + filling).copyMemory(from: base + done, byteCount: n)
            filling += n
            done += n
            if filling == shared.slotBytes { hand(shared) }
        }
    }

    /// Waits until every byte submitted is consumed, stops the thread, and returns the final
    /// state (the first state when nothing was submitted); the same state when called again.
    func finish() -> State {
        if let finished { return finished }
        guard let shared else {
            finished = initial
            return initial
        }
        if filling > 0 { hand(shared) }
        shared.free.wait()
        shared.lengths[next % shared.slots.count] = -1
        shared.filled.signal()
        shared.done.wait()
        finished = shared.state
        self.shared = nil
        return shared.state
    }

    private func start() -> Shared {
        let shared = Shared(depth: depth, slotBytes: slotBytes, state: initial)
        self.shared = shared
        let consume = self.consume
        NamedThread.start(name) { Self.run(shared, consume) }
        return shared
    }

    /// Hands the buffer being filled to the thread.
    private func hand(_ shared: Shared) {
        shared.lengths[next % shared.slots.count] = filling
        shared.filled.signal()
        next += 1
        filling = 0
    }

    /// The consuming thread: buffers in order until the end mark.
    private static func run(_ shared: Shared, _ consume: (inout State, UnsafeRawBufferPointer) -> Void) {
        var k = 0
        while true {
            shared.filled.wait()
            let slot = k % shared.slots.count
            let n = shared.lengths[slot]
            if n >= 0 { consume(&shared.state, UnsafeRawBufferPointer(start: shared.slots[slot], count: n)) }
            // The end mark's slot is given back too: the semaphore ends at its initial value.
            shared.free.signal()
            if n < 0 { break }
            k += 1
        }
        shared.done.signal()
    }
}

@available(*, unavailable)
extension BufferRing: Sendable {}
