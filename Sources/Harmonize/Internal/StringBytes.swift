extension String {
    /// Calls `body` with the string's UTF-8 bytes, read where they are (a native or small
    /// string): without the copy that `withUTF8` needs on a `var`, whose retain and release of
    /// the storage cost the claims' mapping thread 1.4 % of its instructions around the keyed
    /// pseudonyms alone. A string without contiguous UTF-8 (bridged) is copied and made
    /// contiguous first.
    @inline(__always)
    func withUTF8Bytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let r = try utf8.withContiguousStorageIfAvailable(body) { return r }
        var s = self
        return try s.withUTF8(body)
    }
}
