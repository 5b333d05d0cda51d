@_spi(Fuzzing) import Harmonize
import Mappings

nonisolated(unsafe) let registry = FunctionCatalog.registry()

/// libFuzzer's callback: the body is `FuzzEntryPoints.expression` in the library.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExpression(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    FuzzEntryPoints.expression(String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self), registry: registry)
    return 0
}
