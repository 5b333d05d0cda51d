import Harmonize

/// Reads the input as an XML export with records at /export/sejour, binding attributes, text,
/// child and ancestor paths.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzXML(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let options = XMLReaderOptions(record: "/export/sejour", namespaces: ["h": "urn:example:his"], maxDepth: 32, maxRecordTextBytes: 1 << 16)
    guard let r = try? XMLRecordReader(source: MemoryByteSource(bytes, chunkSize: 11), displayName: "fuzz.xml", options: options),
        let positions = try? r.bind(fields: ["@id", ".", "patient/@ipp", "unite/diagnostic/@code", "../@version"])
    else { return 0 }
    var guardCount = 0
    while guardCount < 100_000, let e = try? r.next() {
        guardCount += 1
        if case .end = e { break }
        if case .record = e {
            for p in positions { _ = r.withField(p) { $0.count } }
        }
    }
    return 0
}
