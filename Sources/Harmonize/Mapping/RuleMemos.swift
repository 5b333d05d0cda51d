#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the row loop may take from the records before: a field whose bytes are those it was
/// last decoded from keeps its value (not decoded again), and a named value or column whose
/// expression is repeatable (`CompiledExpression.isRepeatable`) keeps its last value while none
/// of the slots it reads has changed since it was computed.
///
/// Records of hierarchical sources repeat their ancestors' values: the three diagnoses of a stay
/// read the same patient, dates and unit, and so compute the same pseudonym, dates and visit ids;
/// an ORU message's results repeat its patient. Nothing is compared but field bytes: each slot
/// carries the number of the record where its value last changed (a field decoded from other
/// bytes, a named value evaluated), and a rule's value holds while no slot it reads changed
/// after the record it was computed at. A field or rule whose values keep changing is judged
/// after `judgedAfter` records: with fewer than one in eight kept, it is decoded or evaluated
/// every time from then on (the comparisons would cost more than they save).
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
        var enabled = true
        var known = false
        var trials: Int32 = 0
        var hits: Int32 = 0
        var bytes = GrowableBuffer<UInt8>(capacity: 16)
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
        for k in 0..<fieldCount { (fields + k).initialize(to: Field()) }
    }

    deinit {
        entries.deinitialize(count: count)
        entries.deallocate()
        inputs.deallocate()
        changedAt.deallocate()
        fields.deinitialize(count: fieldCount)
        fields.deallocate()
    }

    /// A record starts.
    @inline(__always)
    func nextRecord() { serial += 1 }

    /// Whether field `k`, in `slot`, holds the value of `bytes` already (decoded from the same
    /// bytes before): then it is not decoded again. Else the caller decodes it and calls `decoded`.
    @inline(__always)
    func keeps(field k: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let f = fields + k
        guard f.pointee.enabled else { return false }
        if f.pointee.trials < Self.judgedAfter {
            f.pointee.trials += 1
        } else if f.pointee.hits < Self.judgedAfter / 8 {
            f.pointee.enabled = false
            f.pointee.bytes = GrowableBuffer(capacity: 1)
            return false
        }
        guard f.pointee.known, f.pointee.bytes.count == bytes.count else { return false }
        if let p = bytes.baseAddress, memcmp(p, f.pointee.bytes.base, bytes.count) != 0 { return false }
        if f.pointee.trials < Self.judgedAfter { f.pointee.hits += 1 }
        return true
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
        if e.pointee.trials < Self.judgedAfter {
            e.pointee.trials += 1
        } else if e.pointee.hits < Self.judgedAfter / 8 {
            e.pointee.enabled = false
            e.pointee.result = .null
            return nil
        }
        let at = e.pointee.computedAt
        guard at > 0 else { return nil }
        let start = e.pointee.inputStart
        for k in 0..<e.pointee.inputCount where changedAt[inputs[start + k]] > at { return nil }
        if e.pointee.trials < Self.judgedAfter { e.pointee.hits += 1 }
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

    /// How many of rule `m`'s first `judgedAfter` evaluations were kept from before (tests).
    func hits(_ m: Int) -> Int { Int(entries[m].hits) }

    /// How many of field `k`'s first `judgedAfter` decodings were kept from before (tests).
    func fieldHits(_ k: Int) -> Int { Int(fields[k].hits) }
}

@available(*, unavailable)
extension RuleMemos: Sendable {}
