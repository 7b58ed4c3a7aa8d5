import KommoSegment
import Logging
import ServiceLifecycle
import Synchronization

/// ``KommoSegmentPipeline/run()`` as a swift-service-lifecycle `Service`: it runs the pipeline and, on graceful
/// shutdown (SIGTERM or SIGINT in a service group), calls ``KommoSegmentPipeline/shutdown(timeout:)`` so that new
/// webhooks are answered 503 while the work in flight drains.
///
/// Put it **after** the Hummingbird application in the service group: a group shuts its services down in reverse
/// order, so the pipeline drains while the server still answers (503 for new webhooks), and the server stops after.
///
/// ```swift
/// let group = ServiceGroup(configuration: .init(
///     services: [application, PipelineService(pipeline: pipeline)],
///     gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
/// try await group.run()
/// ```
public struct PipelineService: Service {
    /// Where the service is in its life, for readiness checks.
    public enum Phase: Sendable, Hashable {
        /// `run()` has not started.
        case starting
        /// The pipeline runs and takes webhooks.
        case running
        /// Graceful shutdown has begun: new webhooks are answered 503.
        case draining
        /// `run()` has returned.
        case stopped
    }

    /// The pipeline run.
    public let pipeline: KommoSegmentPipeline
    /// How long the drain may take (the pipeline's shutdown timeout).
    public let gracePeriod: Duration
    /// Metrics refreshed every `metricsInterval` while it runs, and once after the drain.
    public let metrics: KommoSegmentMetrics?
    /// How often the metrics are refreshed from the pipeline's counters.
    public let metricsInterval: Duration
    private let logger: Logger

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - pipeline: the pipeline.
    ///   - gracePeriod: the longest drain on graceful shutdown; 25 seconds by default.
    ///   - metrics: metrics to refresh from the pipeline's counters.
    ///   - metricsInterval: how often; 5 seconds by default.
    ///   - logger: where the drain's result is logged.
    public init(pipeline: KommoSegmentPipeline, gracePeriod: Duration = .seconds(25),
                metrics: KommoSegmentMetrics? = nil, metricsInterval: Duration = .seconds(5),
                logger: Logger = Logger(label: "kommo-segment")) {
        self.pipeline = pipeline
        self.gracePeriod = gracePeriod
        self.metrics = metrics
        self.metricsInterval = metricsInterval
        self.logger = logger
        phaseBox = PhaseBox()
    }

    /// Shares the phase between copies of the service (the route's readiness check holds one).
    private let phaseBox: PhaseBox

    /// Where the service is now.
    public var phase: Phase { phaseBox.value }

    private enum Finished: Sendable { case pipeline, drain, metrics }

    /// Runs the pipeline until graceful shutdown has drained it, or until the task is cancelled.
    /// - Throws: the pipeline's `run()` error (``PipelineError/Code/alreadyRunning`` when it already runs).
    public func run() async throws {
        phaseBox.set(.running)
        defer { phaseBox.set(.stopped) }
        let pipeline = self.pipeline
        try await withThrowingTaskGroup(of: Finished.self) { group in
            group.addTask {
                try await pipeline.run()
                return .pipeline
            }
            group.addTask { [phaseBox, gracePeriod, logger, metrics] in
                do {
                    try await gracefulShutdown()
                } catch {
                    return .drain  // cancelled before any graceful shutdown
                }
                phaseBox.set(.draining)
                logger.info("draining", metadata: ["grace_seconds": "\(gracePeriod.components.seconds)"])
                let undelivered = await pipeline.shutdown(timeout: gracePeriod)
                await metrics?.refresh(from: pipeline)
                let pending = await pipeline.inboxStatus?.pending
                logger.info("drained", metadata: [
                    "undelivered_messages": "\(undelivered.count)",
                    "inbox_pending": pending.map { "\($0)" } ?? "-",
                ])
                return .drain
            }
            if let metrics {
                group.addTask { [metricsInterval] in
                    while !Task.isCancelled {
                        await metrics.refresh(from: pipeline)
                        try? await Task.sleep(for: metricsInterval)
                    }
                    return .metrics
                }
            }
            // The pipeline's run() returns once shutdown has finished (or when cancelled); the drain task then ends
            // on its own, and the metrics loop is stopped.
            var pipelineDone = false, drainDone = false
            while let finished = try await group.next() {
                switch finished {
                case .pipeline: pipelineDone = true
                case .drain: drainDone = true
                case .metrics: break
                }
                if pipelineDone && (drainDone || phaseBox.value != .draining) {
                    group.cancelAll()
                }
            }
        }
    }
}

/// The phase of a ``PipelineService``, shared by its copies.
final class PhaseBox: Sendable {
    private let state = Mutex(PipelineService.Phase.starting)
    var value: PipelineService.Phase { state.withLock { $0 } }
    func set(_ phase: PipelineService.Phase) { state.withLock { $0 = phase } }
}
