import Harmonize

/// Reads the input as a delimited file (detected dialect, then ';' without header), in small
/// chunks, touching every field of every record.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = ReaderLimits(maxFieldBytes: 4096, maxColumns: 256, maxRecordBytes: 1 << 16)
    for dialect in [Dialect(), Dialect(delimiter: 59, escape: 92, header: false, encoding: .latin1, raggedRows: .pad)] {
        guard let r = try? DelimitedReader(source: MemoryByteSource(bytes, chunkSize: 7), displayName: "fuzz.csv", dialect: dialect, limits: limits)
        else { continue }
        var guardCount = 0
        while guardCount < 100_000, let e = try? r.next() {
            guardCount += 1
            if case .end = e { break }
            if case .record = e {
                for i in 0..<r.fieldCount { _ = r.string(i) }
            }
        }
    }
    return 0
}
