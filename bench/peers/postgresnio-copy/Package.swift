// swift-tools-version:6.1
// A standalone peer for bench/run_bench.py --suite postgresql-clients (issue 14): the same
// text-format COPY rows as bench/peers/pg_copy.c, sent by PostgresNIO instead of libpq.
// Not part of the main Package.swift; build it with a scratch path outside the repository:
//   swift build -c release --package-path bench/peers/postgresnio-copy --scratch-path /tmp/postgresnio-copy-build
import PackageDescription

let package = Package(
    name: "postgresnio-copy",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2")
    ],
    targets: [
        .executableTarget(
            name: "postgresnio-copy",
            dependencies: [.product(name: "PostgresNIO", package: "postgres-nio")]
        )
    ]
)
