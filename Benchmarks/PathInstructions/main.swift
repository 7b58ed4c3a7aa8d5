// path-instructions: the whole path without the queue, for `valgrind --tool=callgrind` (which cannot run the async
// benchmarks): N sample webhooks parsed, mapped and each message encoded to its wire JSON, on the main thread.
// Count the instructions of two runs (N and 2N) and take the difference over N: the cost of one webhook.
//
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null .build/release/path-instructions 2000
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null .build/release/path-instructions 2000 --parse-only
//
// --parse-only: every bundled sample webhook (not only those with a lead item) is parsed N times, nothing else.
//
// Prints the webhooks, events, messages and encoded bytes, so that two builds can be checked to do the same work.

import BenchmarkSupport
import Foundation
import KommoSegment
import KommoSegmentTesting

let count = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 2_000
if CommandLine.arguments.contains("--parse-only") {
    do {
        let parser = KommoWebhookParser()
        let bodies = try Fixtures.sampleWebhookNames.map { try Fixtures.webhook($0) }
        var events = 0, bytes = 0
        for _ in 0..<count {
            for body in bodies {
                events += try parser.parse(body: body, contentType: "application/x-www-form-urlencoded").events.count
                bytes += body.count
            }
        }
        print("path-instructions: parse-only rounds=\(count) files=\(bodies.count) events=\(events) bytes=\(bytes)")
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("path-instructions: \(error)\n".utf8))
        exit(1)
    }
}
do {
    let bodies = try FixtureWorld.leadSampleBodies()
    let world = try FixtureWorld.load()
    let parser = KommoWebhookParser()
    let mapper = KommoEventMapper()
    let encoder = SegmentWireEncoder(library: .kommoSegment)
    var events = 0, messages = 0, bytes = 0
    for i in 0..<count {
        let webhook = try parser.parse(body: bodies[i % bodies.count], contentType: "application/x-www-form-urlencoded")
        let accountID = webhook.account.id
        for (event, result) in zip(webhook.events, mapper.map(webhook) { world.context(for: $0, accountID: accountID) }) {
            if FixtureWorld.isCounted(event) { events += 1 }
            for message in result.messages {
                messages += 1
                bytes += encoder.encode(message).count
            }
        }
    }
    print("path-instructions: webhooks=\(count) events=\(events) messages=\(messages) bytes=\(bytes)")
} catch {
    FileHandle.standardError.write(Data("path-instructions: \(error)\n".utf8))
    exit(1)
}
