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

    /// Appends `n` values left for the caller to write, and returns where they start (valid
    /// until the next change).
    @inline(__always)
    mutating func appendUninitialized(_ n: Int) -> UnsafeMutablePointer<Element> {
        if count + n > capacity { grow(count + n) }
        let start = base + count
        count += n
        return start
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

extension GrowableBuffer where Element == UInt8 {
    /// Appends `bytes`, a run of up to 16 bytes (a field value, most often) copied inline rather
    /// than through a call to `memmove`.
    @inline(__always)
    mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>) {
        let n = bytes.count
        guard n > 0, let from = bytes.baseAddress else { return }
        if count + n > capacity { grow(count + n) }
        ByteRun.copy(from, to: base + count, n)
        count += n
    }
}

/// Short runs of bytes copied and searched a word at a time (the values of XML attributes and
/// fields are mostly under 16 bytes: a call to `memmove` or `memchr` costs more than the work).
enum ByteRun {
    /// Copies `n` bytes from `from` to `to` (the two do not overlap).
    @inline(__always)
    static func copy(_ from: UnsafePointer<UInt8>, to: UnsafeMutablePointer<UInt8>, _ n: Int) {
        let s = UnsafeRawPointer(from)
        let d = UnsafeMutableRawPointer(to)
        if n >= 8 && n <= 16 {
            // Two words that overlap in the middle when n < 16.
            let a = s.loadUnaligned(as: UInt64.self)
            let b = s.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
            d.storeBytes(of: a, as: UInt64.self)
            d.storeBytes(of: b, toByteOffset: n &- 8, as: UInt64.self)
        } else if n >= 4 && n < 8 {
            let a = s.loadUnaligned(as: UInt32.self)
            let b = s.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
            d.storeBytes(of: a, as: UInt32.self)
            d.storeBytes(of: b, toByteOffset: n &- 4, as: UInt32.self)
        } else if n < 4 {
            var i = 0
            while i < n {
                to[i] = from[i]
                i &+= 1
            }
        } else {
            d.copyMemory(from: s, byteCount: n)
        }
    }

    /// Whether the `n` bytes at `p` contain `byte`.
    @inline(__always)
    static func contains(_ byte: UInt8, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        if n < 8 {
            var i = 0
            while i < n {
                if p[i] == byte { return true }
                i &+= 1
            }
            return false
        }
        let raw = UnsafeRawPointer(p)
        let pattern = UInt64(byte) &* 0x0101_0101_0101_0101
        var i = 0
        while i &+ 8 <= n {
            if hasZeroByte(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ pattern) { return true }
            i &+= 8
        }
        // The last word overlaps the one before (n ≥ 8).
        return i < n && hasZeroByte(raw.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) ^ pattern)
    }

    /// Whether a byte of `v` is zero (exact: the borrow of a zero byte is only seen when one is).
    @inline(__always)
    static func hasZeroByte(_ v: UInt64) -> Bool {
        (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080 != 0
    }
}
