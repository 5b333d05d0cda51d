// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Harmonize",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Harmonize", targets: ["Harmonize"]),
        .library(name: "Mappings", targets: ["Mappings"]),
        .executable(name: "harmonize-run", targets: ["harmonize-run"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibXML2", pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"]), .brew(["libxml2"])]),
        .systemLibrary(
            name: "CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        // SHA-256 compression on the processor's SHA extensions (keyed pseudonyms: PreparedHMAC).
        .target(name: "CHarmonizeSHA"),
        // The CSV reader's byte classes, 64 bytes to a word, with SSE2 (DelimitedReader).
        .target(name: "CHarmonizeScan"),
        .target(
            name: "Harmonize",
            dependencies: [
                "CSQLite", "CLibXML2", "CLibPQ", "CHarmonizeSHA", "CHarmonizeScan",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: [.enableUpcomingFeature("InternalImportsByDefault"), .treatAllWarnings(as: .error)]),
        .target(
            name: "Mappings",
            dependencies: ["Harmonize"],
            resources: [.copy("Resources")],
            swiftSettings: [.enableUpcomingFeature("InternalImportsByDefault"), .treatAllWarnings(as: .error)]),
        .executableTarget(
            name: "harmonize-run",
            dependencies: [
                "Harmonize", "Mappings",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.treatAllWarnings(as: .error)]),
        .testTarget(
            name: "HarmonizeTests",
            dependencies: ["Harmonize", "Mappings", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Fixtures"],  // read from the source tree by path (TestSupport.path), not bundled
            swiftSettings: [.treatAllWarnings(as: .error)]),
    ],
    swiftLanguageModes: [.v6]
)
