// swift-tools-version: 6.0
//
// KommoSegment: Kommo CRM deal events to Segment (or RudderStack) calls.
// Foundation only: this manifest declares no package dependencies, and never will.

import PackageDescription

let strictSwift6: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "KommoSegment",
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        .library(name: "HTTPCore", targets: ["HTTPCore"]),
        .library(name: "JSONCore", targets: ["JSONCore"]),
        .library(name: "EventMapping", targets: ["EventMapping"]),
    ],
    targets: [
        // Shared HTTP layer: transport protocol, URLSession transport, retry policy, clock.
        .target(name: "HTTPCore", swiftSettings: strictSwift6),
        // The JSON value type, a fast deterministic JSON writer and ISO-8601 timestamps (pure, no I/O).
        .target(name: "JSONCore", swiftSettings: strictSwift6),
        // Kommo events to Segment messages, purely: deterministic message ids and the mapping configuration.
        .target(name: "EventMapping", dependencies: ["JSONCore"], swiftSettings: strictSwift6),

        // Test doubles shared by the test targets (fake clocks, scripted transport, loopback HTTP server).
        .target(name: "TestSupport", dependencies: ["HTTPCore"], path: "Tests/TestSupport",
                resources: [.copy("Resources")], swiftSettings: strictSwift6),

        .testTarget(name: "JSONCoreTests", dependencies: ["JSONCore"], swiftSettings: strictSwift6),
        .testTarget(name: "HTTPCoreTests", dependencies: ["HTTPCore", "TestSupport"], swiftSettings: strictSwift6),
        .testTarget(name: "EventMappingTests", dependencies: ["EventMapping", "TestSupport"],
                    swiftSettings: strictSwift6),
    ]
)
