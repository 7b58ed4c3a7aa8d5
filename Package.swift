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
    // Five libraries and the example. HTTPCore, JSONCore, KommoModels and SegmentModels are internal targets: each
    // product re-exports the ones its public API uses (see the Exports.swift files).
    products: [
        .library(name: "KommoSegment", targets: ["KommoSegment"]),
        .library(name: "KommoAPI", targets: ["KommoAPI"]),
        .library(name: "SegmentAPI", targets: ["SegmentAPI"]),
        .library(name: "EventMapping", targets: ["EventMapping"]),
        .library(name: "KommoSegmentTesting", targets: ["KommoSegmentTesting"]),
        .executable(name: "kommo-segment", targets: ["kommo-segment"]),
    ],
    targets: [
        // The SDK's identity and time: version string, wall clock, monotonic clock adapter, async signals (pure).
        .target(name: "SDKCore", swiftSettings: strictSwift6),
        // Shared HTTP layer: transport protocol, URLSession transport, retry policy.
        .target(name: "HTTPCore", dependencies: ["SDKCore"], swiftSettings: strictSwift6),
        // The JSON value type, a fast deterministic JSON writer and ISO-8601 timestamps (pure, no I/O).
        .target(name: "JSONCore", swiftSettings: strictSwift6),
        // Segment messages, validation and the wire encoder (pure: EventMapping may import it).
        .target(name: "SegmentModels", dependencies: ["SDKCore", "JSONCore"], swiftSettings: strictSwift6),
        // The Segment / RudderStack client and the batching, retrying queue.
        .target(name: "SegmentAPI", dependencies: ["HTTPCore", "SegmentModels"], swiftSettings: strictSwift6),
        // Kommo value types: the webhook parser and event model (pure, no I/O), and the REST entity models.
        .target(name: "KommoModels", dependencies: ["JSONCore"], swiftSettings: strictSwift6),
        // The Kommo API v4 client: auth, rate limiting, retries, caching.
        .target(name: "KommoAPI", dependencies: ["HTTPCore", "JSONCore", "KommoModels"], swiftSettings: strictSwift6),
        // Pure Kommo → Segment mapping: models in, messages out; no I/O, no clock.
        .target(name: "EventMapping", dependencies: ["SDKCore", "JSONCore", "KommoModels", "SegmentModels"],
                swiftSettings: strictSwift6),
        // The pipeline: verify → parse → dedupe → fetch in batches → map → deliver → notes.
        .target(name: "KommoSegment", dependencies: ["HTTPCore", "JSONCore", "KommoAPI", "SegmentAPI", "EventMapping"],
                swiftSettings: strictSwift6),
        // The example executable: `kommo-segment demo` and `kommo-segment replay` (Foundation only). The testing
        // product gives it `KommoFixtureTransport` (`replay --fixtures`) and the samples the demo runs (`Fixtures`).
        .executableTarget(name: "kommo-segment", dependencies: ["KommoSegment", "KommoSegmentTesting"],
                          swiftSettings: strictSwift6),

        // Throughput and memory benchmark of the Segment queue (run by hand; see Documentation/Performance.md).
        .executableTarget(name: "segment-benchmark", dependencies: ["SegmentAPI"], path: "Benchmarks/SegmentBenchmark",
                          swiftSettings: strictSwift6),

        // Parsing speed and acknowledgement latency of the pipeline (run by hand; see Documentation/Performance.md).
        .executableTarget(name: "pipeline-benchmark",
                          dependencies: ["KommoSegment", "KommoSegmentTesting", "BenchmarkSupport"],
                          path: "Benchmarks/PipelineBenchmark", swiftSettings: strictSwift6),
        // The whole path's instruction count under `valgrind --tool=callgrind`, which cannot run the async
        // benchmarks: parse, map and encode on the main thread, with no task (run by hand).
        .executableTarget(name: "path-instructions", dependencies: ["BenchmarkSupport"],
                          path: "Benchmarks/PathInstructions", swiftSettings: strictSwift6),
        .target(name: "BenchmarkSupport", dependencies: ["KommoSegment", "KommoSegmentTesting"],
                path: "Benchmarks/BenchmarkSupport", swiftSettings: strictSwift6),

        // Test doubles for users' tests and ours: fake clocks, scripted transport, loopback HTTP server, in-memory
        // Segment client, Kommo API fake and fixture-directory transport, webhook builder, and the sample webhooks and
        // API responses (the one copy of each in the repository).
        .target(name: "KommoSegmentTesting", dependencies: ["HTTPCore", "JSONCore", "SegmentAPI", "KommoAPI"],
                resources: [.copy("Resources")], swiftSettings: strictSwift6),

        .testTarget(name: "JSONCoreTests", dependencies: ["JSONCore"], swiftSettings: strictSwift6),
        .testTarget(name: "HTTPCoreTests", dependencies: ["HTTPCore", "KommoSegmentTesting"],
                    swiftSettings: strictSwift6),
        .testTarget(name: "SegmentAPITests", dependencies: ["SegmentAPI", "KommoSegmentTesting"],
                    swiftSettings: strictSwift6),
        .testTarget(name: "KommoModelsTests", dependencies: ["KommoModels", "KommoSegmentTesting"],
                    swiftSettings: strictSwift6),
        .testTarget(name: "KommoAPITests", dependencies: ["KommoAPI", "KommoSegmentTesting"],
                    swiftSettings: strictSwift6),
        .testTarget(name: "EventMappingTests",
                    dependencies: ["EventMapping", "KommoModels", "SegmentModels", "KommoSegmentTesting"],
                    resources: [.copy("Golden")], swiftSettings: strictSwift6),
        .testTarget(name: "KommoSegmentTests", dependencies: ["KommoSegment", "KommoSegmentTesting"],
                    swiftSettings: strictSwift6),
        .testTarget(name: "KommoSegmentTestingTests", dependencies: ["KommoSegmentTesting"],
                    swiftSettings: strictSwift6),
        // Every ```swift block of README.md, Documentation/*.md and the DocC pages, compiled (one file per guide),
        // and a check that the guides still match these copies.
        .testTarget(name: "DocumentationTests",
                    dependencies: ["KommoSegment", "KommoSegmentTesting", "KommoAPI", "SegmentAPI", "EventMapping"],
                    swiftSettings: strictSwift6),
    ]
)
