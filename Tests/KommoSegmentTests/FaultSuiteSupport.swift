import Foundation
import HTTPCore
import JSONCore
import KommoSegment
import KommoSegmentTesting
import Testing

// The world of the fault suite: the real pipeline with a file inbox, a real `HTTPKommoClient` and a real Segment
// client and queue, both over `URLSessionTransport` to loopback servers that play Kommo and Segment and fail as a
// test scripts them. The invariants every scenario checks are `FaultWorld.expectInvariants()`.

/// Answers taken in order by the requests a fault matches; once they run out, `then` answers (`nil`: the fake does).
final class ScriptedAnswers: Sendable {
    private let remaining: LockedValue<[LoopbackHTTPServer.Response]>
    private let then: LoopbackHTTPServer.Response?

    init(_ answers: [LoopbackHTTPServer.Response], then: LoopbackHTTPServer.Response? = nil) {
        remaining = LockedValue(answers)
        self.then = then
    }

    /// The next scripted answer, or `then`.
    func next() -> LoopbackHTTPServer.Response? {
        remaining.withLock { $0.isEmpty ? nil : $0.removeFirst() } ?? then
    }

    /// A fault that answers requests to `path` (query aside) from the script.
    func fault(path: String) -> LoopbackFault {
        { request in request.path == path ? self.next() : nil }
    }

    /// A fault that answers Segment's `/v1/batch` from the script.
    var segment: LoopbackFault { fault(path: "/v1/batch") }

    /// A fault that answers Kommo's lead reads (`GET /api/v4/leads?filter[id][]=…`) from the script.
    var kommoLeads: LoopbackFault { fault(path: "/api/v4/leads") }
}

/// What the pipeline acknowledged and reported, collected by the world as the test drives it.
final class FaultLedger: Sendable {
    private let state = LockedValue<(accepted: Int, reports: [WebhookReport])>((0, []))

    /// Webhooks acknowledged with 200 (kept in the inbox).
    var accepted: Int { state.value.accepted }
    /// Every report: one per processing of a webhook (a record processed twice has two).
    var reports: [WebhookReport] { state.value.reports }

    func add(_ acknowledgements: [WebhookAcknowledgement]) {
        state.withLock { $0.accepted += acknowledgements.filter(\.isAccepted).count }
    }

    func add(_ reports: [WebhookReport]) {
        state.withLock { $0.reports += reports }
    }
}

/// A deduplication store whose first `release` (an item failed) waits at `gate` until the test releases it.
struct SlowReleaseStore: DeduplicationStore {
    let gate: HoldFirstRequest
    private let store = InMemoryDeduplicationStore()

    init(gate: HoldFirstRequest) { self.gate = gate }

    func claim(_ key: DeduplicationKey, for duration: Duration) async -> DeduplicationClaim {
        await store.claim(key, for: duration)
    }

    func complete(_ key: DeduplicationKey, token: String, retention: Duration) async -> DeduplicationCompletion {
        await store.complete(key, token: token, retention: retention)
    }

    func release(_ key: DeduplicationKey, token: String) async -> Bool {
        await gate.hold()
        return await store.release(key, token: token)
    }

    func renew(_ key: DeduplicationKey, token: String, for duration: Duration) async -> Bool {
        await store.renew(key, token: token, for: duration)
    }

    func recordChangeTime(_ time: Int64, for entity: DeduplicationEntityKey, retention: Duration) async -> Bool {
        await store.recordChangeTime(time, for: entity, retention: retention)
    }

    func newestChangeTime(for entity: DeduplicationEntityKey) async -> Int64? {
        await store.newestChangeTime(for: entity)
    }
}

/// A webhook body: the won deal of the samples (lead 24000017, three messages), changed at `second` so that each
/// one is a distinct change with its own message ids; or another sample.
func faultWebhook(_ name: String = "webhook-lead-status-won.txt", changedAt second: Int? = nil) throws -> Data {
    let text = String(decoding: try Fixtures.kommo(name), as: UTF8.self)
    guard let second else { return Data(text.utf8) }
    return Data(text.replacingOccurrences(of: "1768912200", with: String(1_768_912_200 + second)).utf8)
}

/// The pipeline for account 31234567 over TCP, with its `run()` started at once and ended by `stop()`.
/// The account, token, write key and webhook secret are `TCPWorld`'s.
struct FaultWorld {
    /// Segment's retries with instant waits: backoff of 1 to 4 ms, a `Retry-After` honoured up to 20 ms. The wait
    /// and whether the server asked for it are logged (`batch retry wait`), so a test still sees which it was.
    static let segmentRetries = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(4),
                                            jitter: 0, maxRetryAfter: .milliseconds(20))

    /// The request timeout of a scenario whose hung request is retried: two seconds, so that on a loaded machine
    /// (the whole test run on two cores, or the thread sanitizer) the retry and the requests after it still answer
    /// within it. 200 ms was measured too short there, and one second too short under the thread sanitizer.
    static let retriedTimeout = Duration.seconds(2)

    let kommo: KommoLoopback
    let segment: SegmentLoopback
    /// The Kommo client's clock: its retry waits, rate-limit pauses and caches cost no time, and are recorded.
    let kommoClock = ImmediateClock()
    /// The wall clock of the pipeline and the inbox (backoff of kept records), moved by `retryPass()`.
    let wall = MovableWallClock()
    let log = InMemoryLogSink()
    let directory = InboxDirectory()
    let inbox: FileWebhookInbox
    let client: HTTPKommoClient
    let pipeline: KommoSegmentPipeline
    let ledger = FaultLedger()
    private let runner: Task<Void, any Error>

    /// - Parameters:
    ///   - kommoFault: answers the Kommo requests it wants to fail; the fixtures answer the rest.
    ///   - segmentFault: answers the Segment batches it wants to fail; the others are accepted.
    ///   - tokenProvider: the Kommo token provider for the server's host; a long-lived token by default.
    ///   - kommoTimeout: the deadline of one Kommo request.
    ///   - segmentTimeout: the deadline of one Segment request.
    ///   - store: the deduplication store.
    init(kommoFault: LoopbackFault? = nil, segmentFault: LoopbackFault? = nil,
         tokenProvider: ((KommoAccountHost) -> any KommoTokenProvider)? = nil,
         kommoTimeout: Duration = .seconds(30), segmentTimeout: Duration = .seconds(30),
         store: any DeduplicationStore = InMemoryDeduplicationStore()) throws {
        kommo = try KommoLoopback(fault: kommoFault)
        segment = try SegmentLoopback(writeKey: TCPWorld.writeKey, fault: segmentFault)
        let host = try KommoAccountHost(url: kommo.server.baseURL)
        let transport = URLSessionTransport()
        client = HTTPKommoClient(host: host, tokenProvider: tokenProvider?(host) ?? LongLivedToken(TCPWorld.token),
                                 configuration: .init(requestTimeout: kommoTimeout), transport: transport,
                                 clock: kommoClock, wallClock: kommoClock.wallClock, log: log)
        let segmentClient = HTTPSegmentClient(
            configuration: SegmentClientConfiguration(writeKey: SegmentWriteKey(TCPWorld.writeKey),
                                                      endpoint: try SegmentEndpoint(origin: segment.server.baseURL),
                                                      requestTimeout: segmentTimeout),
            transport: transport)
        // One webhook's three calls per batch, so that a batch's fate is one webhook's.
        let queue = SegmentQueue.Configuration(flushAt: 3, flushInterval: .milliseconds(5), maxBatchMessages: 3,
                                               retryPolicy: Self.segmentRetries)
        let account = KommoSegmentAccount(accountID: TCPWorld.accountID, kommo: client, segment: segmentClient,
                                          secret: WebhookSecret(TCPWorld.webhookSecret), queueConfiguration: queue)
        inbox = try FileWebhookInbox(directory: directory.url, wallClock: wall.clock)
        var configuration = KommoSegmentPipeline.Configuration()
        configuration.inboxScanInterval = nil
        let pipeline = try KommoSegmentPipeline(accounts: [account], configuration: configuration,
                                                deduplication: store, inbox: inbox, wallClock: wall.clock, log: log)
        self.pipeline = pipeline
        runner = Task { try await pipeline.run() }
    }

    /// Receives the bodies as Kommo posts them, one after the other, without waiting for their processing.
    func accept(_ bodies: [Data]) async -> [WebhookAcknowledgement] {
        var acknowledgements: [WebhookAcknowledgement] = []
        for body in bodies {
            acknowledgements.append(await pipeline.receive(body: body, contentType: form, requestTarget: TCPWorld.target))
        }
        ledger.add(acknowledgements)
        return acknowledgements
    }

    /// Receives the bodies and waits for the report of every one accepted.
    @discardableResult
    func receive(_ bodies: [Data]) async -> [WebhookAcknowledgement] {
        let reports = pipeline.reports(bufferingNewest: 10_000)
        let acknowledgements = await accept(bodies)
        await collect(reports, count: acknowledgements.filter(\.isAccepted).count)
        return acknowledgements
    }

    /// Reads `count` reports (all of them until the sequence ends when `nil`) into the ledger.
    func collect(_ reports: AsyncStream<WebhookReport>, count: Int? = nil) async {
        var read: [WebhookReport] = []
        if count != 0 {
            for await report in reports {
                read.append(report)
                if read.count == count { break }
            }
        }
        ledger.add(read)
    }

    /// Moves the wall clock past every backoff and processes what the inbox holds.
    func retryPass() async throws -> InboxPass {
        wall.advance(7_200)
        let pass = try await pipeline.processInbox()
        ledger.add(pass.reports)
        return pass
    }

    /// Shuts the pipeline down and waits for its `run()` to return; returns what was not delivered.
    @discardableResult
    func stop(timeout: Duration = .seconds(10)) async throws -> [SegmentMessage] {
        let undelivered = await pipeline.shutdown(timeout: timeout)
        try await runReturned()
        return undelivered
    }

    /// Waits for the pipeline's `run()` to return (after a shutdown).
    func runReturned() async throws {
        try await runner.value
    }

    /// Removes the inbox directory and stops the servers (hanging connections included).
    func remove() {
        directory.remove()
        kommo.server.stop()
        segment.server.stop()
    }

    /// The Kommo requests received on `path` (query aside).
    func kommoRequests(_ path: String) -> [LoopbackHTTPServer.Request] {
        kommo.server.requests.filter { $0.path == path }
    }

    /// The outcome of every item of every report, in order.
    var outcomes: [EventOutcome] { ledger.reports.flatMap(\.events).map(\.outcome) }

    /// Checks the invariants, then stops the pipeline.
    func finish(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await expectInvariants(sourceLocation: sourceLocation)
        try await stop()
    }

    /// The failures of the reports, as (item, error).
    var failures: [(item: String, error: PipelineError)] {
        ledger.reports.flatMap(\.events).compactMap { event in
            if case .failed(let error) = event.outcome { (event.item, error) } else { nil }
        }
    }

    /// The log records with `message`, at `level`.
    func records(_ message: String, level: LogLevel) -> [LogRecord] {
        log.records(message).filter { $0.level == level }
    }

    /// The invariants of every scenario:
    /// - accepted = delivered + skipped + dead-lettered + pending: every webhook acknowledged with 200 has had every
    ///   message it maps to accepted by Segment (a 2xx), was settled with nothing to send, or is in the inbox;
    /// - every message id that reached Segment came with one body, however many times it was sent;
    /// - every outcome that is not a delivery has its log record: each failed item one `event not delivered` (with its
    ///   item and code), each skipped item one `event skipped`, each record kept for later one `inbox record kept for
    ///   another attempt`, each dead letter one `inbox record moved to the dead letters` with its reason.
    func expectInvariants(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let status = try await inbox.status()
        var bodies: [String: JSONValue] = [:]
        for message in try segment.messages() {
            let id = try #require(message["messageId"]?.stringValue, sourceLocation: sourceLocation)
            if let first = bodies[id] {
                #expect(first == message, "message \(id) reached Segment with two bodies", sourceLocation: sourceLocation)
            } else {
                bodies[id] = message
            }
        }
        let acceptedIDs = Set(try segment.acceptedMessages().compactMap { $0["messageId"]?.stringValue })
        let reports = ledger.reports
        // A webhook is known by the message ids it maps to (every processing maps it to the same ones).
        let mapped = Set(reports.map { $0.events.flatMap(\.messages).compactMap(\.messageID).sorted() })
            .filter { !$0.isEmpty }
        let delivered = mapped.filter { $0.allSatisfy(acceptedIDs.contains) }.count
        let skipped = reports.filter { !$0.hasFailures && $0.events.allSatisfy(\.messages.isEmpty) }.count
        let terms = "delivered \(delivered) + skipped \(skipped) + dead \(status.deadLetters) + pending \(status.pending)"
        #expect(ledger.accepted == delivered + skipped + status.deadLetters + status.pending,
                "accepted \(ledger.accepted) = \(terms)", sourceLocation: sourceLocation)

        let failed = failures
        let failureRecords = log.records("event not delivered")
        #expect(failureRecords.count == failed.count, sourceLocation: sourceLocation)
        for (item, error) in failed {
            let level: LogLevel = error.code == .claimedElsewhere ? .warning : .error
            #expect(failureRecords.contains { $0.level == level && $0.metadata["item"] == item
                        && $0.metadata["code"] == error.code.description },
                    "no record of \(item) failing with \(error.code)", sourceLocation: sourceLocation)
        }
        let skippedItems = reports.flatMap(\.events).filter { if case .skipped = $0.outcome { true } else { false } }
        let skipRecords = log.records("event skipped")
        #expect(skipRecords.count == skippedItems.count, sourceLocation: sourceLocation)
        for event in skippedItems {
            #expect(skipRecords.contains { $0.level == .debug && $0.metadata["item"] == event.item },
                    "no record of \(event.item) skipped", sourceLocation: sourceLocation)
        }
        let statistics = await pipeline.statistics
        #expect(records("inbox record kept for another attempt", level: .warning).count
                    == statistics.inboxRecordsRetried, sourceLocation: sourceLocation)
        let deadRecords = records("inbox record moved to the dead letters", level: .error)
        #expect(deadRecords.count == statistics.inboxRecordsDeadLettered, sourceLocation: sourceLocation)
        #expect(deadRecords.count == status.deadLetters, sourceLocation: sourceLocation)
        let reasons = try await inbox.deadLetters().map(\.reason).sorted()
        #expect(deadRecords.compactMap { $0.metadata["reason"] }.sorted() == reasons, sourceLocation: sourceLocation)
        // No secret in any record.
        for record in log.all {
            let text = "\(record.message) \(record.metadata)"
            for secret in [TCPWorld.token, TCPWorld.writeKey, TCPWorld.webhookSecret] {
                #expect(!text.contains(secret), "a log record holds a secret", sourceLocation: sourceLocation)
            }
        }
    }
}

/// How long the cooperative pool kept a waiting task from running while some work ran: a task that wakes every
/// 10 ms adds up how late each wake-up came. On a quiet machine the sum is a few milliseconds; while the other suites
/// keep both cores busy it is what a timing bound must allow for.
enum PoolLag {
    static func measure<T: Sendable>(_ body: @Sendable () async -> T) async -> (T, Duration) {
        let clock = ContinuousClock()
        let tick = Duration.milliseconds(10)
        return await withTaskGroup(of: Duration?.self) { group in
            group.addTask {
                var lag = Duration.zero
                while !Task.isCancelled {
                    let asked = clock.now
                    do { try await clock.sleep(for: tick) } catch { break }
                    lag += max(.zero, clock.now - asked - tick)
                }
                return lag
            }
            let result = await body()
            group.cancelAll()
            var lag = Duration.zero
            for await part in group { lag += part ?? .zero }
            return (result, lag)
        }
    }
}
