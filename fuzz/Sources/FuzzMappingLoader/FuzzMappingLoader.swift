import Harmonize
import Mappings

nonisolated(unsafe) let context: PlanningContext? = {
    guard let model = try? Mappings.omopModel() else { return nil }
    return PlanningContext(defaultModel: model, functions: FunctionCatalog.registry())
}()

/// Loads the input as a mapping file and plans it against the OMOP model (no data is read).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMappingLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let spec = try? MappingLoader.load(yaml: text, file: "/nonexistent/fuzz/m.yaml"), let context else { return 0 }
    _ = try? MappingPlanner.plan(spec, context: context)
    return 0
}
