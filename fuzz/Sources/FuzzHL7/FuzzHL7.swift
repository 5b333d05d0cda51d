import Harmonize

/// Reads the input as HL7 v2 messages, per message and per OBX, extracting a few paths.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHL7(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let paths = ["MSH-10", "PID-3[4.1=INS-NIR].1", "PID-5.1", "OBX-5", "OBX[2]-3.1", "OBR-4.1", "ZBE-1"]
    for options in [HL7ReaderOptions(record: .message, maxMessageBytes: 1 << 16), HL7ReaderOptions(record: .segment("OBX"), maxMessageBytes: 1 << 16, skipBadSegments: true)] {
        let r = HL7Reader(source: MemoryByteSource(bytes, chunkSize: 5), displayName: "fuzz.hl7", options: options)
        guard let positions = try? r.bind(fields: paths) else { continue }
        var guardCount = 0
        while guardCount < 100_000, let e = try? r.next() {
            guardCount += 1
            if case .end = e { break }
            if case .record = e {
                for p in positions { _ = r.withField(p) { $0.count } }
            }
        }
    }
    return 0
}
