import Foundation
import KommoSegment
import KommoSegmentHummingbird
import KommoSegmentTesting
import Logging
import Prometheus
import Testing

@Suite("KommoSegmentHummingbird's pieces, in process", .timeLimit(.minutes(1)))
struct LibraryTests {
    @Test("SwiftLogSink: the levels map one to one, both ways, and the sink takes the logger's level")
    func logLevels() {
        for level in LogLevel.allCases {
            #expect(SwiftLogSink.level(SwiftLogSink.level(level)) == level)
            #expect(SwiftLogSink.level(level).rawValue == level.description)
        }
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        #expect(SwiftLogSink(logger: logger).minimumLevel == .warning)
    }

    @Test("KommoSegmentMetrics: answers by outcome, requests by status class, the pipeline's counters as deltas")
    func metrics() async throws {
        let registry = PrometheusCollectorRegistry()
        let metrics = KommoSegmentMetrics(factory: PrometheusMetricsFactory(registry: registry))
        metrics.recordWebhook(outcome: "accepted", latency: .milliseconds(3))
        metrics.recordWebhook(outcome: "accepted", latency: .milliseconds(4))
        metrics.recordWebhook(outcome: "badSecret", latency: .milliseconds(1))
        metrics.recordRequest(service: "kommo", status: 200)
        metrics.recordRequest(service: "kommo", status: 429)
        metrics.recordRequest(service: "segment", status: nil)

        let segment = InMemorySegmentClient()
        let fake = try KommoAPIFake()
        let account = KommoSegmentAccount(accountID: sampleAccountID, kommo: fake.client, segment: segment)
        let pipeline = try KommoSegmentPipeline(accounts: [account], configuration: .init(requiresSecret: false))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run() }
            _ = await pipeline.process(body: try Fixtures.webhook("webhook-lead-status-won.txt"),
                                       contentType: "application/x-www-form-urlencoded", requestTarget: "/")
            await metrics.refresh(from: pipeline)
            await metrics.refresh(from: pipeline)  // nothing new: nothing added twice
            _ = await pipeline.shutdown(timeout: .seconds(5))
            try await group.waitForAll()
        }
        let counters = await pipeline.statistics
        let text = registry.emitToString()
        #expect(metric(text, #"kommo_segment_webhooks_total{outcome="accepted"}"#) == 2)
        #expect(metric(text, #"kommo_segment_webhooks_total{outcome="badSecret"}"#) == 1)
        #expect(metric(text, "kommo_segment_acknowledgement_seconds_count") == 3)
        #expect(metric(text, #"kommo_segment_kommo_requests_total{status="2xx"}"#) == 1)
        #expect(metric(text, #"kommo_segment_kommo_requests_total{status="429"}"#) == 1)
        #expect(metric(text, #"kommo_segment_segment_requests_total{status="network"}"#) == 1)
        #expect(counters.messagesDelivered > 0)
        #expect(metric(text, #"kommo_segment_messages_total{outcome="delivered"}"#)
                    == Double(counters.messagesDelivered))
        #expect(metric(text, #"kommo_segment_events_total{outcome="delivered"}"#) == Double(counters.eventsDelivered))
    }
}
