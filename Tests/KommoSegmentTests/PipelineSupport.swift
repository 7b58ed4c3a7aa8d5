import Foundation
import KommoSegment
import KommoSegmentTesting

/// A Segment client that records every message it is sent; it can refuse batches with a status.
final class RecordingSegment: SegmentClient {
    private let state = LockedValue<(messages: [SegmentMessage], requests: Int, failStatus: Int?)>(([], 0, nil))
    var messages: [SegmentMessage] { state.withLock { $0.messages } }
    var requests: Int { state.withLock { $0.requests } }
    func failAll(status: Int?) { state.withLock { $0.failStatus = status } }
    /// Statuses answered by `failAll`: 400 is refused for good, 503 fails in passing (as after retries).

    func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        try state.withLock { s in
            s.requests += 1
            if let status = s.failStatus {
                throw SegmentError(code: status >= 500 ? .transientFailure : .rejected, detail: "refused by the test",
                                   status: status)
            }
            s.messages += batch.messages.map(\.message)
        }
        return SegmentDeliveryReceipt(status: 200, requestBytes: batch.estimatedBodyBytes)
    }
}

/// The sample API responses as in-memory fixture files.
func sampleAPIFiles() throws -> [String: Data] {
    [
        "leads/24000017.json": try Fixtures.kommo("api-lead-with-contacts-companies.json"),
        "leads/24000031.json": try Fixtures.kommo("api-lead-lost-with-loss-reason.json"),
        "contacts/35000021.json": try Fixtures.kommo("api-contact.json"),
        "companies/36000005.json": try Fixtures.kommo("api-company.json"),
        "pipelines.json": try Fixtures.kommo("api-pipelines.json"),
        "users/9000001.json": try Fixtures.kommo("api-user.json"),
        "account.json": try Fixtures.kommo("api-account.json"),
    ]
}

let secret = "s3cr3t-0123456789abcdef0123456789abcdef"
let form = "application/x-www-form-urlencoded"
let target = "/kommo/webhook?secret=\(secret)"

/// A pipeline for account 31234567 over in-memory Kommo fixtures and a recording Segment client, with its `run()`
/// started at once (tests may own a task; libraries never do) and ended by ``stop()``.
struct World {
    let pipeline: KommoSegmentPipeline
    let kommo: KommoFixtureTransport
    let segment: RecordingSegment
    let client: HTTPKommoClient
    let log: InMemoryLogSink
    private let runner: Task<Void, any Error>

    init(files: [String: Data]? = nil, kommoTransport: (any HTTPTransport)? = nil, writesNotes: Bool = false,
         store: any DeduplicationStore = InMemoryDeduplicationStore(), clock: any Clock<Duration> = ContinuousClock(),
         segmentClient: (any SegmentClient)? = nil, inbox: (any WebhookInbox)? = nil,
         configuration: KommoSegmentPipeline.Configuration = .init(), wallClock: WallClock = .system,
         flushInterval: Duration = .seconds(3600),
         checkpoints: any CatchUpCheckpointStore = InMemoryCatchUpCheckpointStore()) throws {
        kommo = KommoFixtureTransport(files: try files ?? sampleAPIFiles())
        segment = RecordingSegment()
        log = InMemoryLogSink()
        client = HTTPKommoClient(host: try KommoAccountHost(subdomain: "acme"),
                                 tokenProvider: LongLivedToken("test-token"), transport: kommoTransport ?? kommo,
                                 clock: ImmediateClock())
        let account = KommoSegmentAccount(accountID: 31_234_567, kommo: client, segment: segmentClient ?? segment,
                                          secret: WebhookSecret(secret), writesNotes: writesNotes,
                                          queueConfiguration: .init(flushInterval: flushInterval))
        let pipeline = try KommoSegmentPipeline(accounts: [account], configuration: configuration,
                                                deduplication: store, inbox: inbox, clock: clock,
                                                wallClock: wallClock, checkpoints: checkpoints, log: log)
        self.pipeline = pipeline
        runner = Task { try await pipeline.run() }
    }

    /// Kommo requests sent so far, as the client counts them.
    var kommoRequests: Int {
        get async { await client.statistics.requests }
    }

    func process(_ fixture: String, target requestTarget: String = target) async throws -> WebhookReport {
        await pipeline.process(body: try Fixtures.kommo(fixture), contentType: form, requestTarget: requestTarget)
    }

    /// Shuts the pipeline down and waits for its `run()` to return; returns what was not delivered.
    @discardableResult
    func stop(timeout: Duration = .seconds(10)) async throws -> [SegmentMessage] {
        let undelivered = await pipeline.shutdown(timeout: timeout)
        try await runner.value
        return undelivered
    }
}
