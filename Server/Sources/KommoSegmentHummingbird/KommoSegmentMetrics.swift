import Foundation
import KommoSegment
import Metrics
import Synchronization

/// swift-metrics counters, gauges and a timer fed from the pipeline's outcomes, for any metrics backend.
///
/// | Metric | Kind | Dimensions | Fed by |
/// | --- | --- | --- | --- |
/// | `kommo_segment_webhooks_total` | counter | `outcome` (the acknowledgement's) | the route |
/// | `kommo_segment_acknowledgement_seconds` | timer | — | the route: request start to answer |
/// | `kommo_segment_events_total` | counter | `outcome`: delivered, skipped, duplicate, failed | ``refresh(from:)`` |
/// | `kommo_segment_messages_total` | counter | `outcome`: delivered, failed | ``refresh(from:)`` |
/// | `kommo_segment_kommo_requests_total` | counter | `status`: 2xx, 429, other | ``MeteredTransport`` |
/// | `kommo_segment_segment_requests_total` | counter | `status`: 2xx, 429, other | ``MeteredTransport`` |
/// | `kommo_segment_segment_retries_total` | counter | — | ``refresh(from:)`` |
/// | `kommo_segment_kommo_token_refreshes_total` | counter | `outcome`: refreshed, failed | ``TokenRefreshService`` |
/// | `kommo_segment_inbox_pending` | gauge | — | ``refresh(from:)`` |
/// | `kommo_segment_inbox_dead_letters` | gauge | — | ``refresh(from:)`` |
/// | `kommo_segment_inbox_oldest_pending_age_seconds` | gauge | — (0 when none is pending) | ``refresh(from:)`` |
/// | `kommo_segment_catch_up_runs_total` | counter | `outcome`: finished, failed, deferred (another instance ran it) | ``refresh(from:)`` |
/// | `kommo_segment_catch_up_events_total` | counter | `outcome`: recovered, already_processed, skipped, failed, held_elsewhere | ``refresh(from:)`` |
/// | `kommo_segment_catch_up_pages_total` | counter | — | ``refresh(from:)`` |
/// | `kommo_segment_change_times_matched_total` | counter | — | ``refresh(from:)`` |
/// | `kommo_segment_backfill_leads_sent_total` | counter | — | ``refresh(from:)`` |
///
/// The pipeline keeps its own counters (``KommoSegmentPipeline/statistics``); ``refresh(from:)`` adds what changed
/// since the last call, so call it periodically (``PipelineService`` does) and before a scrape.
public final class KommoSegmentMetrics: Sendable {
    /// The timer's label, for backends that configure buckets per label.
    public static let acknowledgementTimerLabel = "kommo_segment_acknowledgement_seconds"

    private let factory: any MetricsFactory
    private let acknowledgement: Metrics.Timer
    private let segmentRetries: Counter
    private let inboxPending: Gauge
    private let inboxDeadLetters: Gauge
    private let inboxOldestAge: Gauge
    private let state = Mutex<State>(State())

    private struct State {
        var last: PipelineCounters?
        var counters: [String: Counter] = [:]
    }

    /// Creates the metrics in `factory` (the bootstrapped `MetricsSystem.factory` by default).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        acknowledgement = Metrics.Timer(label: Self.acknowledgementTimerLabel, dimensions: [], factory: factory)
        segmentRetries = Counter(label: "kommo_segment_segment_retries_total", dimensions: [], factory: factory)
        inboxPending = Gauge(label: "kommo_segment_inbox_pending", dimensions: [], factory: factory)
        inboxDeadLetters = Gauge(label: "kommo_segment_inbox_dead_letters", dimensions: [], factory: factory)
        inboxOldestAge = Gauge(label: "kommo_segment_inbox_oldest_pending_age_seconds", dimensions: [],
                               factory: factory)
    }

    /// Counts one answered webhook by outcome (`accepted`, `badSecret`, `tooLarge`, …) and records how long the
    /// answer took.
    public func recordWebhook(outcome: String, latency: Duration) {
        increment("kommo_segment_webhooks_total", ("outcome", outcome))
        acknowledgement.recordNanoseconds(latency.nanoseconds)
    }

    /// Counts one request to Kommo (`service` `kommo`) or Segment (`segment`) by its status class.
    public func recordRequest(service: String, status: Int?) {
        let group: String
        switch status {
        case .some(200..<300): group = "2xx"
        case .some(429): group = "429"
        case .some: group = "other"
        case nil: group = "network"
        }
        increment("kommo_segment_\(service)_requests_total", ("status", group))
    }

    /// Counts one scheduled OAuth refresh by outcome (`refreshed`, `failed`).
    public func recordTokenRefresh(outcome: String) {
        increment("kommo_segment_kommo_token_refreshes_total", ("outcome", outcome))
    }

    /// Adds what the pipeline counted since the last call, and sets the inbox gauges.
    public func refresh(from pipeline: KommoSegmentPipeline) async {
        let now = await pipeline.statistics
        let inbox = await pipeline.inboxStatus
        let last = state.withLock { state in
            defer { state.last = now }
            return state.last
        }
        func delta(_ counter: KeyPath<PipelineCounters, Int>) -> Int {
            now[keyPath: counter] - (last?[keyPath: counter] ?? 0)
        }
        for (outcome, counter) in [("delivered", \PipelineCounters.eventsDelivered),
                                   ("skipped", \.eventsSkipped), ("duplicate", \.eventsDuplicate),
                                   ("failed", \.eventsFailed)] where delta(counter) > 0 {
            increment("kommo_segment_events_total", ("outcome", outcome), by: delta(counter))
        }
        for (outcome, counter) in [("delivered", \PipelineCounters.messagesDelivered),
                                   ("failed", \.messagesFailed)] where delta(counter) > 0 {
            increment("kommo_segment_messages_total", ("outcome", outcome), by: delta(counter))
        }
        if delta(\.segmentRetries) > 0 { segmentRetries.increment(by: delta(\.segmentRetries)) }
        let counted: [(label: String, dimension: (String, String)?, counter: KeyPath<PipelineCounters, Int>)] = [
            ("kommo_segment_catch_up_runs_total", ("outcome", "finished"), \.catchUpRuns),
            ("kommo_segment_catch_up_runs_total", ("outcome", "failed"), \.catchUpRunsFailed),
            ("kommo_segment_catch_up_runs_total", ("outcome", "deferred"), \.catchUpRunsDeferred),
            ("kommo_segment_catch_up_events_total", ("outcome", "recovered"), \.catchUpRecovered),
            ("kommo_segment_catch_up_events_total", ("outcome", "already_processed"), \.catchUpAlreadyProcessed),
            ("kommo_segment_catch_up_events_total", ("outcome", "skipped"), \.catchUpSkipped),
            ("kommo_segment_catch_up_events_total", ("outcome", "failed"), \.catchUpFailed),
            ("kommo_segment_catch_up_events_total", ("outcome", "held_elsewhere"), \.catchUpHeldElsewhere),
            ("kommo_segment_catch_up_pages_total", nil, \.catchUpPages),
            ("kommo_segment_change_times_matched_total", nil, \.changeTimesMatched),
            ("kommo_segment_backfill_leads_sent_total", nil, \.backfillLeadsSent),
        ]
        for (label, dimension, counter) in counted where delta(counter) > 0 {
            increment(label, dimension, by: delta(counter))
        }
        if let inbox {
            inboxPending.record(inbox.pending)
            inboxDeadLetters.record(inbox.deadLetters)
            inboxOldestAge.record(max(0, inbox.oldestPendingReceivedAt.map { Date().timeIntervalSince($0) } ?? 0))
        }
    }

    private func increment(_ label: String, _ dimension: (String, String)?, by amount: Int = 1) {
        let key = dimension.map { "\(label)|\($0.0)=\($0.1)" } ?? label
        let counter = state.withLock { state in
            if let counter = state.counters[key] { return counter }
            let counter = Counter(label: label, dimensions: dimension.map { [$0] } ?? [], factory: factory)
            state.counters[key] = counter
            return counter
        }
        counter.increment(by: amount)
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product + attoseconds / 1_000_000_000
    }
}

/// An `HTTPTransport` that counts each request's status in ``KommoSegmentMetrics`` and passes it on unchanged.
public struct MeteredTransport: HTTPTransport {
    private let base: any HTTPTransport
    private let service: String
    private let metrics: KommoSegmentMetrics

    /// Wraps `base`; `service` is `kommo` or `segment` (the metric's name).
    public init(_ base: any HTTPTransport, service: String, metrics: KommoSegmentMetrics) {
        self.base = base
        self.service = service
        self.metrics = metrics
    }

    /// Sends through the wrapped transport and counts the answer (or `network` when there is none).
    public func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        do {
            let answer = try await base.send(request, body: body)
            metrics.recordRequest(service: service, status: answer.0.status)
            return answer
        } catch {
            metrics.recordRequest(service: service, status: nil)
            throw error
        }
    }
}
