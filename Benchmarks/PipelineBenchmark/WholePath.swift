import Foundation
import KommoSegment
import KommoSegmentTesting
import BenchmarkSupport

/// `--whole-path`: webhook body → parse → map (the context from the Kommo API fixtures, decoded once into memory)
/// → encode → batch, into a Segment client that accepts every batch at once; on the caller's task, so one core.
///
/// The bodies are the bundled sample webhooks that hold a lead item, in turn, in file-name order: the same cycle as
/// `Benchmarks/python_pipeline_peer.py` (10 files). Events are the lead items mapped (status, add, update,
/// responsible change), as the Python peer counts them.
enum WholePath {
    struct Result {
        var webhooks = 0
        var events = 0
        var messages = 0
        var seconds = 0.0
        var peakRSS = 0.0
    }

    static func run(webhooks count: Int) async throws -> Result {
        let parser = KommoWebhookParser()
        let form = "application/x-www-form-urlencoded"
        let bodies = try FixtureWorld.leadSampleBodies()
        let world = try FixtureWorld.load()
        let mapper = KommoEventMapper()
        let queue = SegmentQueue(client: AcceptingSegment())
        var result = Result()
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await queue.run() }
            for i in 0..<count {
                let body = bodies[i % bodies.count]
                guard let webhook = try? parser.parse(body: body, contentType: form) else { continue }
                result.webhooks += 1
                let accountID = webhook.account.id
                let mapped = mapper.map(webhook) { world.context(for: $0, accountID: accountID) }
                for (event, outcome) in zip(webhook.events, mapped) {
                    if FixtureWorld.isCounted(event) { result.events += 1 }
                    if !outcome.messages.isEmpty { _ = try await queue.enqueueWaiting(outcome.messages) }
                }
            }
            _ = await queue.flush()
            result.seconds = seconds(clock.now - start)
            _ = await queue.shutdown(timeout: .seconds(5))
            try await group.waitForAll()
        }
        result.messages = await queue.statistics.delivered
        result.peakRSS = peakResidentMegabytes()
        return result
    }
}
