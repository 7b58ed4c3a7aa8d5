import Foundation
import KommoSegment
import KommoSegmentTesting

/// `--tolerance-cost`: what matching a change at neighbouring seconds costs the webhook path
/// (`KommoSegmentPipeline.Configuration.changeTimeTolerance`): before claiming a lead change, the pipeline asks the
/// deduplication store about the markers catch-up leaves at the 10 neighbouring seconds.
///
/// Two pipelines over the bundled fixtures, one with the tolerance off and one with the default 5 seconds, process the
/// same webhooks (the won sample, each a newer change of the lead, 100 seconds apart so that none matches another)
/// in alternating rounds, so that both see the same machine. Prints webhooks per second for each, and their ratio.
enum ToleranceCost {
    struct Result {
        var webhooks: Int
        var offSeconds: Double
        var onSeconds: Double
    }

    static func run(webhooks: Int) async throws -> Result {
        let sample = String(decoding: try Fixtures.webhook("webhook-lead-status-won.txt"), as: UTF8.self)
        let bodies = (0..<webhooks).map { index in
            Data(sample.replacingOccurrences(of: "1768912200", with: String(1_768_912_200 + index * 100)).utf8)
        }
        let off = try pipeline(tolerance: .zero)
        let on = try pipeline(tolerance: .seconds(5))
        let clock = ContinuousClock()
        var offTime = Duration.zero, onTime = Duration.zero
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await off.run() }
            group.addTask { try await on.run() }
            let round = 250
            for start in stride(from: 0, to: bodies.count, by: round) {
                let slice = bodies[start..<min(start + round, bodies.count)]
                for (pipeline, isOn) in start / round % 2 == 0 ? [(off, false), (on, true)] : [(on, true), (off, false)] {
                    let began = clock.now
                    for body in slice {
                        let report = await pipeline.process(body: body, contentType: "application/x-www-form-urlencoded",
                                                            requestTarget: "/")
                        guard report.events.allSatisfy({ $0.outcome == .delivered }) else {
                            throw BenchmarkFailure(detail: "a webhook was not delivered: \(report.events)")
                        }
                    }
                    if isOn { onTime += clock.now - began } else { offTime += clock.now - began }
                }
            }
            _ = await off.shutdown(timeout: .seconds(10))
            _ = await on.shutdown(timeout: .seconds(10))
            try await group.waitForAll()
        }
        return Result(webhooks: webhooks, offSeconds: seconds(offTime), onSeconds: seconds(onTime))
    }

    private static func pipeline(tolerance: Duration) throws -> KommoSegmentPipeline {
        var kommoConfiguration = HTTPKommoClient.Configuration()
        kommoConfiguration.rateLimit = KommoRateLimiter.Limit(requestsPerSecond: 100_000, burst: 1_000)
        let kommo = HTTPKommoClient(host: try KommoAccountHost(subdomain: "acme"),
                                    tokenProvider: LongLivedToken("benchmark"), configuration: kommoConfiguration,
                                    transport: try KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory()))
        var configuration = KommoSegmentPipeline.Configuration(requiresSecret: false)
        configuration.changeTimeTolerance = tolerance
        return try KommoSegmentPipeline(
            accounts: [KommoSegmentAccount(accountID: 31_234_567, kommo: kommo, segment: AcceptingSegment())],
            configuration: configuration)
    }

    struct BenchmarkFailure: Error, CustomStringConvertible {
        var detail: String
        var description: String { detail }
    }
}
