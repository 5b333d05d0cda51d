@_spi(Fuzzing) import Harmonize

/// libFuzzer's callback: the body is `FuzzEntryPoints` in the library.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHL7(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzEntryPoints.hl7(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
