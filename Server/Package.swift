// swift-tools-version: 6.0
//
// kommo-segment-server: the webhook service a team deploys, on Hummingbird 2. Its own package, so that the SDK at
// the repository's root stays Foundation only; the root manifest never depends on this one.

import PackageDescription

let strictSwift6: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "KommoSegmentServer",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KommoSegmentHummingbird", targets: ["KommoSegmentHummingbird"]),
        .library(name: "KommoSegmentPostgres", targets: ["KommoSegmentPostgres"]),
        .executable(name: "kommo-segment-server", targets: ["kommo-segment-server"]),
    ],
    dependencies: [
        // Named: without a name SwiftPM takes the identity from the folder, and a clone in another folder fails.
        .package(name: "KommoSegment", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // The webhook route, the pipeline as a Service, the swift-log bridge, metrics, configuration from the
        // environment and the application a team can run as it is.
        .target(name: "KommoSegmentHummingbird", dependencies: [
            "KommoSegmentPostgres",
            .product(name: "KommoSegment", package: "KommoSegment"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: strictSwift6),
        // The SDK's shared seams on PostgreSQL, for several instances: deduplication store, inbox, Kommo rate limiter
        // and OAuth token store, with the schema's migrations.
        .target(name: "KommoSegmentPostgres", dependencies: [
            .product(name: "KommoSegment", package: "KommoSegment"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strictSwift6),
        // The executable: configuration from the environment, `check`, `--demo`.
        .executableTarget(name: "kommo-segment-server", dependencies: [
            "KommoSegmentHummingbird",
            .product(name: "KommoSegmentTesting", package: "KommoSegment"),
        ], swiftSettings: strictSwift6),
        .testTarget(name: "KommoSegmentServerTests", dependencies: [
            "KommoSegmentHummingbird",
            "KommoSegmentPostgres",
            .product(name: "KommoSegmentTesting", package: "KommoSegment"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], swiftSettings: strictSwift6),
    ]
)
