// swift-tools-version:6.0
// libFuzzer targets for Harmonize, kept out of the main package so its build does not grow.
// Build and run with Scripts/fuzz.sh TARGET SECONDS (release, -sanitize=fuzzer,address,
// scratch path fuzz/.build-fuzz).
import PackageDescription

let fuzzFlags: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

func target(_ name: String, _ deps: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: deps, path: "Sources/\(name)", swiftSettings: fuzzFlags)
}

let harmonize: Target.Dependency = .product(name: "Harmonize", package: "Harmonize")
let mappings: Target.Dependency = .product(name: "Mappings", package: "Harmonize")

let package = Package(
    name: "HarmonizeFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "Harmonize", path: "..")],
    targets: [
        target("FuzzCSV", [harmonize]),
        target("FuzzHL7", [harmonize]),
        target("FuzzXML", [harmonize]),
        target("FuzzExpression", [harmonize, mappings]),
        target("FuzzMappingLoader", [harmonize, mappings]),
    ],
    swiftLanguageModes: [.v6]
)
