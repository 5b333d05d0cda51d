#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the row loop may take from the records before: a text field whose bytes are those it
/// was last decoded from keeps its value (not decoded again), and a named value or column whose
/// expression is repeatable (`CompiledExpression.isRepeatable`) keeps its last value while none
/// of the slots it reads has changed since it was computed.
///
/// Records of hierarchical sources repeat their ancestors' values: the three diagnoses of a stay
/// read the same patient, dates and unit, and so compute the same pseudonym, dates and visit ids;
/// an ORU message's results repeat its patient. Nothing is compared but field bytes: each slot
/// carries the number of the record where its value last changed (a field decoded from other
/// bytes, a named value evaluated), and a rule's value holds while no slot it reads changed
/// after the record it was computed at. A field or rule whose values keep changing is judged
/// after `judgedAfter` records: with fewer than one in four kept, it is decoded or evaluated
/// every time from then on (the comparisons would cost more than they save), and with nothing
/// left to keep the row loop runs as without memos.
///
/// Invariants: a field's slot holds the value decoded from `fieldBytes` (a reject at one field
/// leaves the later fields' slots and bytes as they were); a named value's slot holds its rule's
/// last value (kept and assigned together; a failure assigns and keeps nothing). They hold when
/// only decoding and named values write the slots: the row loop turns the memos off for plans
/// whose joins, groups or objections also write them (`RecordStages`). An evaluation that fails
/// leaves the last value as it was. One per `MappingExecutor` (one per worker), used by one thread.
final class RuleMemos {
    /// Records after which a field or rule that is rarely kept is turned off.
    static let judgedAfter: Int32 = 1_024

    private struct Entry {
        var inputStart: Int
        var inputCount: Int
        var enabled: Bool
        /// The record whose slots the result was computed from (0: none).
        var computedAt = 0
        var trials: Int32 = 0
        var hits: Int32 = 0
        var result = Value.null
    }

    private struct Field: ~Copyable {
        var enabled: Bool
        var known = false
        var trials: Int32 = 0
        var hits: Int32 = 0
        var bytes = GrowableBuffer<UInt8>(capacity: 16)

        init(enabled: Bool) { self.enabled = enabled }
    }

    /// Index of the first column of each target (named values come first).
    let columnBase: [Int]
    // Used by one thread, for every record: the dynamic exclusivity checks are off.
    @exclusivity(unchecked) private var entries: UnsafeMutablePointer<Entry>
    private let count: Int
    @exclusivity(unchecked) private var inputs: UnsafeMutablePointer<Int>
    /// Per slot: the record where its value last changed.
    @exclusivity(unchecked) private var changedAt: UnsafeMutablePointer<Int>
    private let slotCount: Int
    @exclusivity(unchecked) private var fields: UnsafeMutablePointer<Field>
    private let fieldCount: Int
    /// Per field, what decoding it involves: 2 its bytes are compared (`keeps`) and kept, 1 its
    /// slot's change is noted (a rule kept reads it), 0 nothing (after the judgement).
    @exclusivity(unchecked) private var modes: UnsafeMutablePointer<UInt8>
    private let fieldSlots: [Int]
    /// The current record's number (from 1).
    @exclusivity(unchecked) private(set) var serial = 0

    /// Memos for `plan`'s fields, named values, then each target's columns, over frames of
    /// `slotCount` slots; a rule that is constant, a bare slot, not repeatable or reads no slot
    /// has none.
    init(plan: MappingPlan, slotCount: Int) {
        var rules: [CompiledExpression?] = plan.lets.map(\.expression)
        var bases: [Int] = []
        for t in plan.targets {
            bases.append(rules.count)
            rules.append(contentsOf: t.columns)
        }
        columnBase = bases
        func memoized(_ e: CompiledExpression?) -> CompiledExpression? {
            guard let e, e.constantValue == nil, e.slotRead == nil, e.isRepeatable, !e.slotsRead.isEmpty,
                e.slotsRead.allSatisfy({ $0 >= 0 && $0 < slotCount })
            else { return nil }
            return e
        }
        let total = rules.reduce(0) { $0 + (memoized($1)?.slotsRead.count ?? 0) }
        count = rules.count
        entries = .allocate(capacity: max(1, rules.count))
        inputs = .allocate(capacity: max(1, total))
        var start = 0
        for (i, rule) in rules.enumerated() {
            let slots = memoized(rule)?.slotsRead ?? []
            for (k, slot) in slots.enumerated() { inputs[start + k] = slot }
            (entries + i).initialize(to: Entry(inputStart: start, inputCount: slots.count, enabled: !slots.isEmpty))
            start += slots.count
        }
        self.slotCount = max(1, slotCount)
        changedAt = .allocate(capacity: self.slotCount)
        changedAt.initialize(repeating: 0, count: self.slotCount)
        fieldCount = plan.fields.count
        fields = .allocate(capacity: max(1, fieldCount))
        modes = .allocate(capacity: max(1, fieldCount))
        for k in 0..<fieldCount {
            // Only texts: decoding one builds a `String`; a number or a date decodes in fewer
            // instructions than comparing and keeping its bytes take.
            let text = plan.fields[k].decoder.valueType == .string
            (fields + k).initialize(to: Field(enabled: text))
            modes[k] = text ? 2 : 1
        }
        fieldSlots = plan.fields.map(\.slot)
    }

    deinit {
        entries.deinitialize(count: count)
        entries.deallocate()
        inputs.deallocate()
        changedAt.deallocate()
        fields.deinitialize(count: fieldCount)
        fields.deallocate()
        modes.deallocate()
    }

    /// A record starts. After the first `judgedAfter` records every field and rule is judged
    /// at once: those kept for fewer than one record in four are turned off, and with no rule
    /// left on, the memos are off (`active`) and the row loop runs as without them.
    @inline(__always)
    func nextRecord() -> Bool {
        serial += 1
        if serial == Int(Self.judgedAfter) + 1 { judge() }
        return active
    }

    /// Whether any field or rule is still kept from before.
    @exclusivity(unchecked) private(set) var active = true

    private func judge() {
        func keep(_ trials: Int32, _ hits: Int32) -> Bool { trials > 0 && hits * 4 >= trials }
        for k in 0..<fieldCount where fields[k].enabled && !keep(fields[k].trials, fields[k].hits) {
            fields[k].enabled = false
            fields[k].bytes = GrowableBuffer(capacity: 1)
        }
        var any = false
        for m in 0..<count where entries[m].enabled {
            if keep(entries[m].trials, entries[m].hits) {
                any = true
            } else {
                entries[m].enabled = false
                entries[m].result = .null
            }
        }
        // Fields kept alone do not pay for the bookkeeping of every field of every record (a
        // short text decodes in fewer instructions): the memos stay on for the rules they save.
        active = any
        // What each field's decoding still involves.
        var read = Set<Int>()
        for m in 0..<count where entries[m].enabled {
            for k in 0..<entries[m].inputCount { read.insert(inputs[entries[m].inputStart + k]) }
        }
        for k in 0..<fieldCount { modes[k] = fields[k].enabled ? 2 : (read.contains(fieldSlots[k]) ? 1 : 0) }
    }

    /// What decoding field `k` involves: 2 `keeps` then `decoded`, 1 `decoded`, 0 nothing.
    @inline(__always)
    func mode(field k: Int) -> UInt8 { modes[k] }

    /// Whether field `k`, in `slot`, holds the value of `bytes` already (decoded from the same
    /// bytes before): then it is not decoded again. Else the caller decodes it and calls `decoded`.
    @inline(__always)
    func keeps(field k: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let f = fields + k
        guard f.pointee.enabled else { return false }
        if f.pointee.trials < Self.judgedAfter { f.pointee.trials += 1 }
        guard f.pointee.known, f.pointee.bytes.count == bytes.count else { return false }
        if let p = bytes.baseAddress, memcmp(p, f.pointee.bytes.base, bytes.count) != 0 { return false }
        if f.pointee.hits < Self.judgedAfter { f.pointee.hits += 1 }
        return true
    }

    /// Forgets the bytes every field was last decoded from: each is decoded at its next record.
    /// For a row loop that starts with the frame's text bytes forgotten
    /// (`EvaluationFrame.clearSpans`): a field left as bytes has no value in its slot to keep.
    func forgetFieldBytes() {
        for k in 0..<fieldCount { fields[k].known = false }
    }

    /// Field `k`'s slot now holds the value decoded from `bytes`.
    @inline(__always)
    func decoded(field k: Int, slot: Int, _ bytes: UnsafeBufferPointer<UInt8>) {
        changedAt[slot] = serial
        let f = fields + k
        guard f.pointee.enabled else { return }
        f.pointee.bytes.removeAll()
        f.pointee.bytes.append(bytes)
        f.pointee.known = true
    }

    /// Rule `m`'s value when none of the slots it reads changed since it was computed; nil:
    /// evaluate it (then `remember` the value).
    @inline(__always)
    func recall(_ m: Int) -> Value? {
        let e = entries + m
        guard e.pointee.enabled else { return nil }
        if e.pointee.trials < Self.judgedAfter { e.pointee.trials += 1 }
        let at = e.pointee.computedAt
        guard at > 0 else { return nil }
        let start = e.pointee.inputStart
        for k in 0..<e.pointee.inputCount where changedAt[inputs[start + k]] > at { return nil }
        if e.pointee.hits < Self.judgedAfter { e.pointee.hits += 1 }
        return e.pointee.result
    }

    /// Keeps `value` as rule `m`'s, computed from the slots of the current record.
    @inline(__always)
    func remember(_ m: Int, _ value: Value) {
        let e = entries + m
        guard e.pointee.enabled else { return }
        e.pointee.result = value
        e.pointee.computedAt = serial
    }

    /// Named value `slot` was assigned a value just evaluated.
    @inline(__always)
    func assigned(slot: Int) { changedAt[slot] = serial }

    /// Whether rule `m` is memoized now (tests).
    func isOn(_ m: Int) -> Bool { entries[m].enabled }

    /// How many of rule `m`'s evaluations were kept from before, up to `judgedAfter` (tests).
    func hits(_ m: Int) -> Int { Int(entries[m].hits) }

    /// How many of field `k`'s decodings were kept from before, up to `judgedAfter` (tests).
    func fieldHits(_ k: Int) -> Int { Int(fields[k].hits) }
}

@available(*, unavailable)
extension RuleMemos: Sendable {}

extension RuleMemos {
    /// An uncounted reference to memos whose owner (the executor) outlives it: the row loop's
    /// calls, per field and rule of every record, count no reference (a class reference read
    /// from a `mutating` method's `self` was counted for each call).
    struct Handle {
        private let memos: Unmanaged<RuleMemos>

        init(_ memos: RuleMemos) { self.memos = .passUnretained(memos) }

        /// A record starts; whether the memos are still on.
        @inline(__always) func nextRecord() -> Bool { memos._withUnsafeGuaranteedRef { $0.nextRecord() } }

        @inline(__always) func mode(field k: Int) -> UInt8 { memos._withUnsafeGuaranteedRef { $0.mode(field: k) } }

        @inline(__always)
        func keeps(field k: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            memos._withUnsafeGuaranteedRef { $0.keeps(field: k, bytes) }
        }

        @inline(__always)
        func decoded(field k: Int, slot: Int, _ bytes: UnsafeBufferPointer<UInt8>) {
            memos._withUnsafeGuaranteedRef { $0.decoded(field: k, slot: slot, bytes) }
        }

        func forgetFieldBytes() { memos._withUnsafeGuaranteedRef { $0.forgetFieldBytes() } }

        @inline(__always) func recall(_ m: Int) -> Value? { memos._withUnsafeGuaranteedRef { $0.recall(m) } }

        @inline(__always) func remember(_ m: Int, _ value: Value) { memos._withUnsafeGuaranteedRef { $0.remember(m, value) } }

        @inline(__always) func assigned(slot: Int) { memos._withUnsafeGuaranteedRef { $0.assigned(slot: slot) } }
    }
}
