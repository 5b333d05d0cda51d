/// The cells of a `RowBatch`, row after row: a collection of values in one buffer that the
/// mapping fills in place (`RowCells`) and hands to the sink without a copy.
///
/// Why not `[Value]`: appending a row's cells one `Array.append` at a time checked the array's
/// uniqueness and capacity at each cell (about 36 instructions a cell, 5 % of the claims' mapping
/// thread, `bench/instructions.py --mapper`); a buffer filled beside the array and copied into
/// one at the batch's end cost as much again in the copy (`bench/README.md`, twenty-first part).
/// Mutations copy the buffer when it is shared, like `Array`.
package struct RowValues: RandomAccessCollection, RangeReplaceableCollection, ExpressibleByArrayLiteral, Equatable, Sendable {
    /// The buffer, shared between copies until one of them mutates.
    fileprivate var storage: RowValueStorage

    /// No values.
    package init() { storage = RowValueStorage(capacity: 0) }

    /// The values listed.
    package init(arrayLiteral elements: Value...) {
        self.init()
        append(contentsOf: elements)
    }

    /// Takes a filled buffer (`RowCells.take`).
    fileprivate init(storage: RowValueStorage) { self.storage = storage }

    /// 0.
    package var startIndex: Int { 0 }
    /// The number of values.
    package var endIndex: Int { storage.count }
    /// The number of values.
    package var count: Int { storage.count }
    /// Values the buffer holds without growing.
    package var capacity: Int { storage.capacity }

    /// Value `i` (`0 ..< count`).
    package subscript(i: Int) -> Value {
        precondition(i >= 0 && i < storage.count, "RowValues index out of range")
        return storage.base[i]
    }

    /// Whether both hold the same values in the same order.
    package static func == (a: RowValues, b: RowValues) -> Bool { a.elementsEqual(b) }

    /// Calls `body` with the values in one buffer.
    package func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Value>) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(storage) { () throws(E) -> R in
            try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
        }
    }

    /// Makes room for `n` values in all.
    package mutating func reserveCapacity(_ n: Int) { makeUnique(capacity: n) }

    /// Appends `v`.
    package mutating func append(_ v: Value) {
        makeUnique(capacity: count + 1)
        storage.append(v)
    }

    /// Appends `values`, in order.
    package mutating func append<S: Sequence>(contentsOf values: S) where S.Element == Value {
        makeUnique(capacity: count + values.underestimatedCount)
        for v in values {
            if storage.count == storage.capacity { makeUnique(capacity: count + 1) }
            storage.append(v)
        }
    }

    /// Removes the last `k` values.
    package mutating func removeLast(_ k: Int) {
        precondition(k >= 0 && k <= count, "RowValues cannot remove more values than it has")
        makeUnique(capacity: count)
        storage.truncate(to: count - k)
    }

    /// Replaces the values at `r` with `values`.
    package mutating func replaceSubrange<C: Collection>(_ r: Range<Int>, with values: C) where C.Element == Value {
        precondition(r.lowerBound >= 0 && r.upperBound <= count, "RowValues range out of bounds")
        let next = RowValueStorage(capacity: count - r.count + values.count)
        next.appendCopies(of: storage, 0..<r.lowerBound)
        for v in values { next.append(v) }
        next.appendCopies(of: storage, r.upperBound..<count)
        storage = next
    }

    /// Makes `storage` this value's own, with room for `capacity` values.
    private mutating func makeUnique(capacity: Int) {
        let unique = isKnownUniquelyReferenced(&storage)
        if unique && storage.capacity >= capacity { return }
        let next = RowValueStorage(capacity: Swift.max(capacity, unique ? storage.capacity * 2 : storage.count))
        if unique {
            storage.move(into: next)
        } else {
            next.appendCopies(of: storage, 0..<storage.count)
        }
        storage = next
    }
}

/// The buffer of `RowValues` (and, while the mapping fills it, of `RowCells`). One owner writes
/// it at a time: the `RowCells` filling it, then the `RowValues` it was handed to, which copies
/// it before any change while it is shared.
// Safe to share: as `Array`'s own buffer is, written only by its one owner (a batch is handed
// to the writer thread whole, and a shared buffer is copied before any change).
private final class RowValueStorage: @unchecked Sendable {
    var base: UnsafeMutablePointer<Value>
    var count = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: Swift.max(capacity, 1))
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    /// Moves `v` in after the last value; the caller has checked that there is room.
    @inline(__always)
    func append(_ v: consuming Value) {
        (base + count).initialize(to: v)
        count += 1
    }

    func truncate(to n: Int) {
        guard n < count else { return }
        (base + n).deinitialize(count: count - n)
        count = n
    }

    /// Appends copies of `other`'s values at `range`; the caller has checked that there is room.
    func appendCopies(of other: RowValueStorage, _ range: Range<Int>) {
        for i in range { append(other.base[i]) }
    }

    /// Moves every value into `other` (empty, big enough); leaves this buffer empty.
    func move(into other: RowValueStorage) {
        other.base.moveInitialize(from: base, count: count)
        other.count = count
        count = 0
    }
}

/// One target's rows while a file's records are mapped: each cell moved into a `RowValues`
/// buffer that this stage alone holds (a store and a count, no uniqueness check), the buffer
/// handed over whole when the batch is full (`take`). `GrowableBuffer` does the same for plain
/// values it never hands over; a `Value` holds references, and the buffer goes to the sink.
struct RowCells {
    private var storage: RowValueStorage
    /// The buffer's values, `count` of them initialized; `storage.count` is brought up to date
    /// when the buffer is handed over or grows. Its address and capacity are kept here too, so
    /// that a cell's store reads no field of the buffer's object.
    private var base: UnsafeMutablePointer<Value>
    private(set) var count: Int
    private var capacity: Int
    /// The capacity of a buffer made for new cells (a batch's): allocated at the first cell, so
    /// that a chunk or file that writes no row allocates nothing.
    private let batchCapacity: Int

    /// Cells for batches of `capacity` values, starting with `values` (the rows a batch already
    /// holds).
    init(capacity: Int, holding values: RowValues) {
        storage = RowValueStorage(capacity: values.count)
        storage.appendCopies(of: values.storage, 0..<values.count)
        base = storage.base
        count = storage.count
        self.capacity = storage.capacity
        batchCapacity = Swift.max(capacity, 16)
    }

    /// Moves `v` in after the last cell.
    @inline(__always)
    mutating func append(_ v: consuming Value) {
        if count == capacity { grow() }
        (base + count).initialize(to: v)
        count += 1
    }

    /// Destroys the cells from `mark` on (a rejected record's rows).
    mutating func truncate(to mark: Int) {
        guard mark < count else { return }
        (base + mark).deinitialize(count: count - mark)
        count = mark
    }

    /// The cells as `RowValues` (no copy); a new buffer takes their place at the next cell.
    mutating func take() -> RowValues {
        storage.count = count
        let full = RowValues(storage: storage)
        storage = RowValueStorage(capacity: 0)
        base = storage.base
        capacity = 0
        count = 0
        return full
    }

    /// Brings the buffer's count up to date: the buffer then frees its cells when released.
    mutating func settle() { storage.count = count }

    private mutating func grow() {
        storage.count = count
        let next = RowValueStorage(capacity: Swift.max(batchCapacity, capacity * 2))
        storage.move(into: next)
        storage = next
        base = storage.base
        capacity = storage.capacity
    }
}
