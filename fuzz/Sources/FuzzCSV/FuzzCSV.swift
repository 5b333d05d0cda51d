@_spi(Fuzzing) import Harmonize

/// libFuzzer's callback: the body is `FuzzEntryPoints` in the library.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzEntryPoints.csv(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
