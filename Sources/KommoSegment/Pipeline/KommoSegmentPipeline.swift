import Foundation
import KommoAPI
import SegmentAPI

/// The whole job, from a Kommo webhook to Segment: verify, parse, de-duplicate, fetch in batches, map, deliver, and
/// optionally write a note back.
///
/// ```swift
/// let pipeline = try KommoSegmentPipeline(accounts: [account])
/// try await withThrowingTaskGroup(of: Void.self) { group in
///     group.addTask { try await pipeline.run() }          // owns all background work
///     let ack = await pipeline.receive(body: body, contentType: type, requestTarget: target)
///     // answer ack.httpStatus at once; the webhook is processed by run()
///     _ = await pipeline.shutdown(timeout: .seconds(10))  // run() returns after it
///     try await group.waitForAll()
/// }
/// ```
///
/// - **Lifecycle.** ``run()`` owns every piece of background work in one task group: each accepted webhook's
///   processing and each account's Segment queue. It returns after ``shutdown(timeout:)`` and honours
///   cancellation. Run it in a task group or a service group (swift-service-lifecycle's `Service` has the same
///   shape). Nothing is delivered while it is not running.
/// - **The gate.** ``receive(body:contentType:requestTarget:)`` checks size, URL secret, body and account on the
///   caller's task (no Kommo request, no shared lock held while parsing), queues the webhook for ``run()`` and
///   returns what to answer (Kommo waits only 2 seconds). ``process(body:contentType:requestTarget:)`` processes on
///   the caller's task and returns the report, for replays, jobs and tests.
/// - **Authenticity.** Kommo does not sign webhooks: each account's webhook URL carries a secret
///   (``Configuration/secretLocation``), compared in constant time, and `account[id]` must be that account.
/// - **Batching.** All leads of a webhook are read in one `filter[id][]` request, then their contacts in one and their
///   companies in one; ids asked for by webhooks in flight at the same time are read together. Pipelines, users and
///   the account come from the client's cache. The client's rate limiter queues the rest.
/// - **Idempotency.** Message ids are deterministic (Segment drops repeats), and a ``DeduplicationStore`` claims each
///   item before any request, so a redelivered webhook is not even fetched again. A claim is completed when its
///   messages are delivered (or the item is skipped) and released when anything fails, so a redelivery is processed.
///   Both come from one derivation of what changed (``KommoChange``).
/// - **Ordering.** The store keeps each lead's newest change time; an older change is still tracked but sends no
///   `identify` or `group` that would overwrite newer traits.
/// - **Visibility.** Every item that fails after the acknowledgement is logged once at `error` (account, item, lead,
///   event, message ids, cause) and published in ``reports(bufferingNewest:)``.
public final class KommoSegmentPipeline: Sendable {
    /// Settings shared by every account.
    public struct Configuration: Sendable {
        /// Where the secret sits in the webhook URL. Default: the query parameter `secret`.
        public var secretLocation: WebhookSecretLocation
        /// Whether an account without a secret is refused. Default: `true`.
        public var requiresSecret: Bool
        /// The webhook parser's limits (body size, depth, items).
        public var parserLimits: KommoWebhookParser.Limits
        /// How long a claim holds unless renewed; the pipeline renews its claims every third of it while an item is
        /// processed, so a crashed worker's items are taken over about this long after it died. Default: 60 seconds.
        public var claimDuration: Duration
        /// How long a processed item and a lead's newest change time are remembered. Default: 24 hours (Segment
        /// de-duplicates message ids for about as long).
        public var retention: Duration
        /// The text of a note written back, from the event name and the message id.
        public var noteText: @Sendable (_ event: String, _ messageID: String) -> String
        /// At most this many webhooks are in flight (accepted and not yet finished); past it, new webhooks are
        /// answered 503 at once and Kommo retries them later. Default: 1,000.
        public var maxWebhooksInFlight: Int
        /// At most this many body bytes are in flight; past it, new webhooks are answered 503 at once. A single
        /// webhook larger than this is still taken when nothing else is in flight. Default: 16 MiB.
        public var maxBytesInFlight: Int
        /// How long an inbox record's lease lasts; it is renewed every third of it while the record is processed,
        /// so a dead worker's records are taken over about this long after it died. Default: 60 seconds.
        public var inboxLeaseDuration: Duration
        /// How often ``KommoSegmentPipeline/run()`` looks for inbox records to process again (left by an earlier
        /// run, a crash, or a passing failure whose backoff has passed), the first time as it starts. `nil`: never,
        /// the caller calls ``KommoSegmentPipeline/processInbox()`` itself (as the command line does). Default:
        /// 30 seconds.
        public var inboxScanInterval: Duration?
        /// The wait before the second attempt at a record after a passing failure; it doubles with each attempt.
        /// Default: 30 seconds.
        public var inboxRetryBackoff: Duration
        /// The longest wait between attempts. Default: 30 minutes.
        public var inboxMaximumRetryBackoff: Duration
        /// How long dead letters are kept before ``KommoSegmentPipeline/run()`` purges them. Default: 7 days.
        public var deadLetterRetention: Duration
        /// How many inbox records ``KommoSegmentPipeline/processInbox()`` processes at once. Default: 16.
        public var inboxConcurrency: Int
        /// How long the first Kommo read of a burst waits, at most, for the burst's other webhooks to ask for their
        /// ids too, so that one request carries them all. It waits only while another webhook of the account is
        /// still on its way to that read, and never when it is the only one. Later reads gather for as long as
        /// the rate limiter holds them anyway. Zero turns gathering off. Default: 25 milliseconds.
        public var fetchGatherWindow: Duration
        /// How far apart, at most, the times of one lead change reported twice may be and still count as one
        /// change: a webhook's `updated_at` and the events log's `created_at` are not documented to be equal. Before
        /// claiming a lead change, the pipeline asks the store (``DeduplicationStore/knownKeys(among:)``) for the same
        /// account, lead and transition at the neighbouring seconds; a known one is reused, ids and all. Whole
        /// seconds, at most 60; zero matches equal times only. Two real, identical transitions of one lead this
        /// close together count once. Default: 5 seconds.
        public var changeTimeTolerance: Duration
        /// Catch-up from Kommo's events log: how far back, how late, how often (see ``CatchUpConfiguration``).
        public var catchUp: CatchUpConfiguration

        /// Creates a configuration.
        public init(secretLocation: WebhookSecretLocation = .queryParameter("secret"), requiresSecret: Bool = true,
                    parserLimits: KommoWebhookParser.Limits = .init(), claimDuration: Duration = DeduplicationDefaults.claimDuration,
                    retention: Duration = .seconds(86_400),
                    noteText: @escaping @Sendable (String, String) -> String = { event, id in
                        "Segment: \(event) sent (message \(id))"
                    }) {
            self.secretLocation = secretLocation
            self.requiresSecret = requiresSecret
            self.parserLimits = parserLimits
            self.claimDuration = claimDuration
            self.retention = retention
            self.noteText = noteText
            maxWebhooksInFlight = 1_000
            maxBytesInFlight = 16 << 20
            inboxLeaseDuration = .seconds(60)
            inboxScanInterval = .seconds(30)
            inboxRetryBackoff = .seconds(30)
            inboxMaximumRetryBackoff = .seconds(1_800)
            deadLetterRetention = .seconds(7 * 86_400)
            inboxConcurrency = 16
            fetchGatherWindow = .milliseconds(25)
            changeTimeTolerance = .seconds(5)
            catchUp = CatchUpConfiguration()
        }
    }

    /// One accepted webhook waiting for ``run()``.
    struct Job: Sendable {
        let webhook: KommoWebhook
        let runtime: AccountRuntime
        let acknowledgement: WebhookAcknowledgement
        /// The body's size, held in the in-flight budget until the job ends.
        let bytes: Int
        /// The inbox record that keeps the webhook, when the pipeline has an inbox.
        var recordID: String?
        /// Where its items came from: a webhook, or Kommo's events log.
        var origin: WebhookProcessor.Origin = .webhook
    }

    enum Admission {
        case accepted(Job)
        case rejected(WebhookAcknowledgement)
    }

    /// Stops the task group of ``run()`` at shutdown's deadline.
    private struct DeadlinePassed: Error {}

    /// The settings in force.
    public let configuration: Configuration
    let gate: WebhookGate
    let runtimes: [Int64: AccountRuntime]
    let processor: WebhookProcessor
    let state = PipelineState()
    let counters = PipelineCounterBox()
    let logger: SDKLogger
    let clock: MonotonicClock
    /// Stamps messages without a time of their own, and tells catch-up what "now" is.
    let wallClock: WallClock
    /// Where catch-up keeps each account's checkpoint.
    let checkpoints: any CatchUpCheckpointStore
    private let intake: AsyncStream<Job>
    private let intakeContinuation: AsyncStream<Job>.Continuation
    let keeper: InboxKeeper?
    /// Resolved when shutdown begins: the inbox scan stops.
    let draining = AsyncLatch<Bool>()
    /// Resolved by shutdown: `true` when work was still in flight at the deadline and is to be cancelled.
    private let stop = AsyncLatch<Bool>()

    /// How long shutdown waits, after its timeout, for cancelled work to release its claims.
    static let settleGrace = Duration.milliseconds(500)

    /// Creates a pipeline for one or more accounts.
    /// - Parameters:
    ///   - accounts: the Kommo accounts served, each with its Kommo client, Segment destination and mapping.
    ///   - configuration: secret location, parser limits, claim and retention times.
    ///   - deduplication: the store of processed items; an in-memory one by default (use a shared one, such as
    ///     Redis, when several instances serve the same webhooks: see `Documentation/Idempotency.md`).
    ///   - inbox: where accepted webhooks are kept until they are done (``FileWebhookInbox`` for one instance);
    ///     `nil` by default, and then a webhook that fails after its acknowledgement is reported but not kept: see
    ///     `Documentation/Reliability.md`.
    ///   - clock: the monotonic clock of the Segment queues and the shutdown deadline; `ContinuousClock` by default.
    ///   - wallClock: stamps messages that carry no time of their own, and is catch-up's "now".
    ///   - checkpoints: where catch-up keeps each account's checkpoint (``FileCatchUpCheckpointStore``, or
    ///     PostgreSQL's for several instances); in memory by default, so a restart reads
    ///     ``CatchUpConfiguration/lookBack`` again.
    ///   - log: where log records go (static messages, no secrets, no body values); silent by default.
    /// - Throws: ``PipelineConfigurationError`` for no accounts, two accounts with one id, a missing or empty
    ///   webhook secret while ``Configuration/requiresSecret`` is on, or an empty write key or token.
    public init(accounts: [KommoSegmentAccount], configuration: Configuration = .init(),
                deduplication: any DeduplicationStore = InMemoryDeduplicationStore(),
                inbox: (any WebhookInbox)? = nil,
                clock: any Clock<Duration> = ContinuousClock(), wallClock: WallClock = .system,
                checkpoints: any CatchUpCheckpointStore = InMemoryCatchUpCheckpointStore(),
                log: (any LogSink)? = nil) throws(PipelineConfigurationError) {
        try Self.validate(accounts, configuration: configuration)
        self.configuration = configuration
        let monotonic = MonotonicClock(clock)
        self.clock = monotonic
        self.wallClock = wallClock
        self.checkpoints = checkpoints
        logger = SDKLogger(log, source: "pipeline")
        gate = WebhookGate(accounts: accounts, configuration: configuration)
        var runtimes: [Int64: AccountRuntime] = [:]
        for account in accounts {
            runtimes[account.accountID] = AccountRuntime(account: account, clock: clock, wallClock: wallClock, log: log,
                                                         gatherWindow: configuration.fetchGatherWindow)
        }
        self.runtimes = runtimes
        processor = WebhookProcessor(configuration: configuration, store: deduplication, logger: logger,
                                     clock: monotonic,
                                     counters: counters)
        (intake, intakeContinuation) = AsyncStream.makeStream(of: Job.self)
        if let inbox {
            keeper = InboxKeeper(inbox: inbox, configuration: configuration, logger: logger, counters: counters,
                                 clock: monotonic, wallClock: wallClock)
        } else {
            keeper = nil
        }
    }

    private static func validate(_ accounts: [KommoSegmentAccount],
                                 configuration: Configuration) throws(PipelineConfigurationError) {
        guard !accounts.isEmpty else { throw PipelineConfigurationError(code: .noAccounts) }
        var seen = Set<Int64>()
        for account in accounts {
            let id = account.accountID
            guard seen.insert(id).inserted else {
                throw PipelineConfigurationError(code: .duplicateAccount, accountID: id)
            }
            if configuration.requiresSecret && (account.secret?.isEmpty ?? true) {
                throw PipelineConfigurationError(code: .missingSecret, accountID: id)
            }
            if account.secret?.isEmpty == true { throw PipelineConfigurationError(code: .missingSecret, accountID: id) }
            if account.hasEmptyWriteKey { throw PipelineConfigurationError(code: .emptyWriteKey, accountID: id) }
            if account.hasEmptyToken { throw PipelineConfigurationError(code: .emptyToken, accountID: id) }
        }
    }

    // MARK: - Entry points

    /// Checks a webhook on the caller's task and hands it to ``run()``; returns what to answer at once.
    ///
    /// - Parameters:
    ///   - body: the raw request body.
    ///   - contentType: the request's `Content-Type` header.
    ///   - requestTarget: the request's path and query (or full URL), where the secret is.
    /// - Returns: what to answer; only cheap checks run before it (no Kommo request).
    public func receive(body: Data, contentType: String?, requestTarget: String) async -> WebhookAcknowledgement {
        switch admit(body: body, contentType: contentType, requestTarget: requestTarget) {
        case .rejected(let acknowledgement):
            return acknowledgement
        case .accepted(var job):
            if let keeper {
                do {
                    job.recordID = try await keeper.append(body: body, contentType: contentType,
                                                           accountID: job.runtime.account.accountID)
                } catch {
                    state.end(bytes: job.bytes)
                    return .rejected(.inboxUnavailable, "the inbox could not keep the webhook (\(error.code)); "
                                         + "Kommo retries it later", accountID: job.runtime.account.accountID)
                }
            }
            if case .terminated = intakeContinuation.yield(job) {
                // Kept in the inbox (when there is one) for the next run.
                state.end(bytes: job.bytes)
                return reject(.shuttingDown, "the pipeline is shutting down")
            }
            return job.acknowledgement
        }
    }

    /// Checks and processes a webhook to completion on the caller's task: every item delivered, skipped or failed.
    ///
    /// Queued messages are sent at once rather than after the queue's interval, so a replay of many files does not
    /// wait. ``run()`` must be running (it delivers the messages). Use it for replays, jobs and tests.
    public func process(body: Data, contentType: String?, requestTarget: String) async -> WebhookReport {
        switch admit(body: body, contentType: contentType, requestTarget: requestTarget) {
        case .rejected(let acknowledgement):
            return WebhookReport(acknowledgement: acknowledgement, events: [], notesWritten: 0, noteError: nil)
        case .accepted(let job):
            let report = await processor.process(job.webhook, runtime: job.runtime,
                                                 acknowledgement: job.acknowledgement, flushPromptly: { true })
            state.end(bytes: job.bytes)
            return report
        }
    }

    /// The reports of webhooks accepted by ``receive(body:contentType:requestTarget:)``, as they finish.
    ///
    /// Each call returns a new sequence that sees the reports finished after it was made; it keeps the newest
    /// `limit` reports when its reader falls behind, and ends after ``shutdown(timeout:)``, once ``run()`` (if it
    /// runs) has returned, so that it holds the report of every webhook that was in flight. Failures are logged
    /// whether or not anyone reads it.
    public func reports(bufferingNewest limit: Int = 1_000) -> AsyncStream<WebhookReport> {
        state.subscribe(bufferingNewest: limit)
    }

    /// A snapshot of the counters, with the Kommo clients' and Segment queues' own statistics.
    public var statistics: PipelineCounters {
        get async {
            var snapshot = counters.snapshot
            for runtime in runtimes.values {
                let kommo = await runtime.account.kommo.statistics
                snapshot.kommoRequests += kommo.requests
                snapshot.kommoCacheHits += kommo.cacheHits
                snapshot.segmentRetries += await runtime.queue.statistics.retries
            }
            return snapshot
        }
    }

    func admit(body: Data, contentType: String?, requestTarget: String) -> Admission {
        counters.update { $0.webhooks += 1 }
        switch state.begin(bytes: body.count, maxWebhooks: configuration.maxWebhooksInFlight,
                           maxBytes: configuration.maxBytesInFlight) {
        case .admitted: break
        case .closed: return .rejected(reject(.shuttingDown, "the pipeline is shutting down"))
        case .busy:
            counters.update { $0.webhooksRefusedBusy += 1 }
            return .rejected(reject(.busy, "the pipeline holds as many webhooks as it may; Kommo retries later"))
        }
        switch gate.check(body: body, contentType: contentType, requestTarget: requestTarget) {
        case .rejected(let acknowledgement):
            state.end(bytes: body.count)
            counters.update { $0.webhooksRejected += 1 }
            logger.log(.warning, "webhook rejected", [
                "outcome": acknowledgement.outcome.rawValue, "account": acknowledgement.accountID.map(String.init) ?? "-",
                "detail": acknowledgement.detail,
            ])
            return .rejected(acknowledgement)
        case .accepted(let webhook, let accountID, let acknowledgement):
            guard let runtime = runtimes[accountID] else {
                state.end(bytes: body.count)
                return .rejected(reject(.otherAccount, "account \(accountID) is not served by this pipeline"))
            }
            logger.log(.debug, "webhook accepted", ["account": String(accountID), "items": String(webhook.events.count)])
            return .accepted(Job(webhook: webhook, runtime: runtime, acknowledgement: acknowledgement,
                                 bytes: body.count))
        }
    }

    func reject(_ outcome: WebhookAcknowledgement.Outcome, _ detail: String) -> WebhookAcknowledgement {
        counters.update { $0.webhooksRejected += 1 }
        logger.log(.warning, "webhook rejected", ["outcome": outcome.rawValue, "account": "-", "detail": detail])
        return .rejected(outcome, detail)
    }

    // MARK: - Lifecycle

    /// Runs the pipeline's background work until ``shutdown(timeout:)`` has finished: every accepted webhook's
    /// processing and every account's Segment queue, as children of one task group.
    ///
    /// Call it once per pipeline. When its task is cancelled, it stops at once: webhooks in flight fail (their
    /// claims are released, so a redelivery is processed) and queued messages are reported undelivered.
    /// - Throws: ``PipelineError/Code/alreadyRunning`` when `run()` is already running.
    public func run() async throws {
        guard state.startRunning() else {
            throw PipelineError(code: .alreadyRunning, detail: "run() was called while it is already running")
        }
        defer {
            state.stopRunning()
            // Every webhook's task has ended (the group waits for its children), so no report comes after this.
            if draining.value != nil { state.finishReports() }
        }
        let runtimes = Array(self.runtimes.values)
        let stop = self.stop
        let readsIntake = state.takeIntake(for: .run)
        do {
            try await withThrowingDiscardingTaskGroup { group in
                for runtime in runtimes {
                    group.addTask { try await runtime.queue.run() }
                }
                group.addTask {
                    if await stop.wait() == true { throw DeadlinePassed() }
                }
                if let keeper, let interval = configuration.inboxScanInterval {
                    group.addTask { await self.scanInbox(keeper, every: interval) }
                }
                if let interval = configuration.catchUp.interval {
                    group.addTask { await self.catchUpOnSchedule(every: interval) }
                }
                if readsIntake {
                    for await job in intake {
                        group.addTask { await self.handle(job) }
                    }
                }
            }
        } catch is DeadlinePassed {
            // Shutdown's deadline passed with work in flight: that work was cancelled and failed.
        }
    }

    private func handle(_ job: Job) async {
        let state = self.state
        guard let recordID = job.recordID, let keeper else {
            let report = await processor.process(job.webhook, runtime: job.runtime,
                                                 acknowledgement: job.acknowledgement,
                                                 flushPromptly: { state.isDraining })
            state.end(bytes: job.bytes)
            state.publish(report)
            return
        }
        defer { state.end(bytes: job.bytes) }
        // The inbox scan may have taken the record first: then it processes it.
        guard let (record, lease) = await keeper.lease(recordID) else { return }
        let report = await keeper.holding(lease) {
            await processor.process(job.webhook, runtime: job.runtime, acknowledgement: job.acknowledgement,
                                    flushPromptly: { state.isDraining })
        }
        _ = await keeper.settle(report, record: record, lease: lease)
        state.publish(report)
    }

    /// Stops accepting webhooks, lets the webhooks in flight finish, drains the Segment queues, and reports what
    /// could not be delivered. Returns within `timeout` plus half a second, whatever Kommo and Segment do.
    ///
    /// 1. New webhooks are answered 503 at once (Kommo retries them later). If ``run()`` has never started, shutdown
    ///    waits for it until the deadline; webhooks accepted while it never ran then fail, each logged at `error`.
    /// 2. Work in flight goes on until the deadline; its messages are sent as soon as they are queued.
    /// 3. Each account's queue shuts down with the time left (see `SegmentQueue.shutdown(timeout:)`): messages not
    ///    delivered by then fail, and their items release their claims so that a redelivery or a replay processes
    ///    them again.
    /// 4. Work still reading from Kommo at the deadline is cancelled: its items fail and release their claims.
    /// 5. ``run()`` returns, and the report sequences end.
    /// - Parameter timeout: how long shutdown may wait for work in flight and for the queues to drain.
    /// - Returns: the messages that could not be delivered, across accounts.
    public func shutdown(timeout: Duration = .seconds(75)) async -> [SegmentMessage] {
        let deadline = clock.now + max(timeout, .zero)
        _ = state.beginDraining()
        draining.resolve(true)
        intakeContinuation.finish()
        // A run() that has not started yet may still start before the deadline and process what was accepted.
        _ = await state.runStarted.wait(until: deadline, on: clock)
        if state.takeIntake(for: .shutdown) { await failUnprocessed() }
        let runtimes = Array(self.runtimes.values)
        await waitForWorkInFlight(until: deadline, runtimes: runtimes)
        var undelivered: [SegmentMessage] = []
        let clock = self.clock
        await withTaskGroup(of: [SegmentMessage].self) { group in
            for runtime in runtimes {
                group.addTask { await runtime.queue.shutdown(timeout: max(deadline - clock.now, .zero)).undelivered }
            }
            for await part in group { undelivered += part }
        }
        let idle = state.idle()
        stop.resolve(idle.value == nil)
        _ = await idle.wait(until: clock.now + Self.settleGrace, on: clock)
        if !undelivered.isEmpty {
            logger.log(.error, "messages not delivered at shutdown", ["messages": String(undelivered.count)])
        }
        // A running run() ends the reports itself when it returns: work cancelled at the deadline may outlast the
        // grace above, and its reports must not be cut off.
        if !state.isRunning { state.finishReports() }
        return undelivered
    }

    /// Reports every webhook that `receive` accepted while `run()` never ran: each item fails, loudly, rather than
    /// vanishing after its 200.
    private func failUnprocessed() async {
        for await job in intake {
            let failure = PipelineError(code: .shutdown, detail: job.recordID == nil
                                            ? "the pipeline's run() never ran, so the webhook was not processed"
                                            : "the pipeline's run() never ran; the webhook is kept in the inbox")
            let events = job.webhook.events.enumerated().map { index, event in
                EventReport(index: index, item: WebhookProcessor.describe(event), outcome: .failed(failure),
                            messages: [], partialSkips: [])
            }
            counters.update {
                $0.events += events.count
                $0.eventsFailed += events.count
            }
            logger.log(.error, "webhook not processed", [
                "account": String(job.runtime.account.accountID), "items": events.map(\.item).joined(separator: ","),
                "cause": failure.detail,
            ])
            state.end(bytes: job.bytes)
            state.publish(WebhookReport(acknowledgement: job.acknowledgement, events: events, notesWritten: 0,
                                        noteError: nil))
        }
    }

    /// Waits until no webhook is in flight or the deadline passes, flushing the queues meanwhile.
    private func waitForWorkInFlight(until deadline: Duration, runtimes: [AccountRuntime]) async {
        let idle = state.idle()
        let clock = self.clock
        await withTaskGroup(of: Bool.self) { group in
            for runtime in runtimes {
                group.addTask {
                    _ = await runtime.queue.flush(timeout: max(deadline - clock.now, .zero))
                    return false
                }
            }
            group.addTask {
                _ = await idle.wait()
                return true
            }
            group.addTask {
                try? await clock.sleep(until: deadline)
                return true
            }
            while let ended = await group.next() {
                if ended { break }
            }
            group.cancelAll()
        }
    }
}

extension SkipReason.Code {
    /// A newer change of the same lead was already applied, so this call would have overwritten newer traits.
    public static let olderThanNewestChange = SkipReason.Code(rawValue: "olderThanNewestChange")
}
