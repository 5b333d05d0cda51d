/// A growable run of plain values with one owner, for the loops that run once per SAX event or
/// per record (the XML collectors): appending costs a bounds test and a store, without an
/// `Array`'s uniqueness and exclusivity checks, and a value read or written is never retained.
/// Not copyable: its storage is freed when its owner goes.
struct GrowableBuffer<Element: BitwiseCopyable>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<Element>
    /// Values held.
    private(set) var count = 0
    private var capacity: Int

    /// An empty buffer with room for `capacity` values.
    init(capacity: Int = 16) {
        self.capacity = max(1, capacity)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The values held, valid until the next change.
    var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    /// The last value, if any.
    var last: Element? { count > 0 ? base[count - 1] : nil }

    /// Value `i` (`0 ..< count`).
    @inline(__always)
    subscript(i: Int) -> Element {
        get {
            assert(i >= 0 && i < count)
            return base[i]
        }
        set {
            assert(i >= 0 && i < count)
            base[i] = newValue
        }
    }

    /// Appends `value`.
    @inline(__always)
    mutating func append(_ value: Element) {
        if count == capacity { grow(count + 1) }
        base[count] = value
        count += 1
    }

    /// Appends `values`.
    @inline(__always)
    mutating func append(_ values: UnsafeBufferPointer<Element>) {
        let n = values.count
        guard n > 0, let from = values.baseAddress else { return }
        if count + n > capacity { grow(count + n) }
        (base + count).update(from: from, count: n)
        count += n
    }

    /// Forgets every value, keeping the storage.
    @inline(__always)
    mutating func removeAll() { count = 0 }

    private mutating func grow(_ needed: Int) {
        var n = capacity * 2
        while n < needed { n *= 2 }
        let b = UnsafeMutablePointer<Element>.allocate(capacity: n)
        b.update(from: base, count: count)
        base.deallocate()
        base = b
        capacity = n
    }
}
