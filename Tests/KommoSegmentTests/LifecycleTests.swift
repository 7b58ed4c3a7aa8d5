import Foundation
import KommoSegment
import KommoSegmentTesting
import Testing

/// Answers nothing until its task is cancelled; signals when the first call arrives.
final class NeverAnswering: HTTPTransport, SegmentClient {
    let called = Signal()

    func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        try await hang()
    }

    func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        try await hang()
    }

    private func hang<T>() async throws -> T {
        called.fire()
        try await Task.sleep(for: .seconds(86_400))   // ends only by cancellation
        throw CancellationError()
    }
}

/// A one-shot signal a test can await.
final class Signal: Sendable {
    private let state = LockedValue<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.fired = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { s -> Bool in
                if s.fired { return true }
                s.waiters.append(continuation)
                return false
            }
            if fired { continuation.resume() }
        }
    }
}

@Suite("Pipeline: lifecycle, configuration and logs", .timeLimit(.minutes(1)))
struct LifecycleTests {
    @Test("shutdown returns at its deadline while Kommo never answers; the item fails and releases its claim")
    func kommoNeverAnswers() async throws {
        let clock = ImmediateClock()
        let kommo = NeverAnswering()
        let store = InMemoryDeduplicationStore()
        let world = try World(kommoTransport: kommo, store: store, clock: clock)
        let reports = world.pipeline.reports()
        let body = try Fixtures.kommo("webhook-lead-status-won.txt")
        let acknowledgement = await world.pipeline.receive(body: body, contentType: form, requestTarget: target)
        #expect(acknowledgement.httpStatus == 200)
        await kommo.called.wait()
        let started = ContinuousClock.now
        let undelivered = await world.pipeline.shutdown(timeout: .seconds(2))
        #expect(undelivered.isEmpty)
        // The deadline was kept on the pipeline's clock, and the call came back although Kommo never answers.
        #expect(clock.now.offset >= .seconds(2))
        #expect(ContinuousClock.now - started < .seconds(10))
        try await world.stop()
        var collected: [WebhookReport] = []
        for await report in reports { collected.append(report) }
        #expect(collected.count == 1)
        let outcome = try #require(collected.first?.events.first?.outcome)
        guard case .failed(let error) = outcome else { Issue.record("not failed: \(outcome)"); return }
        #expect(error.code == .shutdown)
        // The claim was released, so a redelivery is processed again.
        let item = try #require(try KommoWebhookParser().parse(body: body, contentType: form).events.first)
        let key = try #require(DeduplicationKey(item: item, accountID: 31_234_567))
        #expect(await store.state(of: key) == .absent)
    }

    @Test("shutdown returns at its deadline while Segment never answers; the messages come back undelivered")
    func segmentNeverAnswers() async throws {
        let clock = ImmediateClock()
        let segment = NeverAnswering()
        let world = try World(clock: clock, segmentClient: segment)
        async let report = world.process("webhook-lead-status-won.txt")
        await segment.called.wait()
        let started = ContinuousClock.now
        let undelivered = await world.pipeline.shutdown(timeout: .seconds(2))
        // The deadline was kept on the pipeline's clock, and the call came back although Segment never answers.
        #expect(clock.now.offset >= .seconds(2))
        #expect(ContinuousClock.now - started < .seconds(10))
        let processed = try await report
        #expect(!undelivered.isEmpty)
        #expect(Set(undelivered.compactMap(\.messageID)) == Set(processed.events.flatMap(\.messages).compactMap(\.messageID)))
        guard case .failed(let error) = processed.events.first?.outcome else {
            Issue.record("not failed"); return
        }
        #expect(error.code == .shutdown)
        #expect(error.segmentError?.code == .undelivered)
        try await world.stop()
    }

    @Test("a second run() at the same time is refused; after shutdown, webhooks get 503 and run() returns at once")
    func runTwice() async throws {
        let account = KommoSegmentAccount(accountID: 31_234_567, kommo: try KommoAPIFake().client,
                                          segment: RecordingSegment(), secret: WebhookSecret(secret))
        let pipeline = try KommoSegmentPipeline(accounts: [account])
        try await withThrowingTaskGroup(of: Result<Void, PipelineError>.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    do {
                        try await pipeline.run()
                        return .success(())
                    } catch let error as PipelineError {
                        return .failure(error)
                    }
                }
            }
            // The first to end is the refused one: the other runs until shutdown.
            let first = try await group.next()
            guard case .failure(let error) = first else { Issue.record("no run() was refused"); return }
            #expect(error.code == .alreadyRunning)
            _ = await pipeline.shutdown(timeout: .seconds(5))
            let second = try await group.next()
            guard case .success = second else { Issue.record("the running run() failed"); return }
        }
        let acknowledgement = await pipeline.receive(body: try Fixtures.kommo("webhook-lead-status-won.txt"),
                                                     contentType: form, requestTarget: target)
        #expect(acknowledgement.outcome == .shuttingDown)
        #expect(acknowledgement.httpStatus == 503)
        try await pipeline.run()   // returns at once: there is nothing left to run
    }

    @Test("a configuration that cannot work is refused when the pipeline is built", arguments: [
        "none", "twice", "no secret", "empty secret", "empty write key", "empty token",
    ])
    func configurationChecked(case name: String) throws {
        let host = try KommoAccountHost(subdomain: "acme")
        func account(id: Int64 = 1, secret: String? = "s3cr3t", writeKey: String = "wk", token: String = "t")
            -> KommoSegmentAccount {
            .http(accountID: id, host: host, tokenProvider: LongLivedToken(token),
                  segment: SegmentClientConfiguration(writeKey: SegmentWriteKey(writeKey)),
                  secret: secret.map(WebhookSecret.init))
        }
        let (accounts, expected): ([KommoSegmentAccount], PipelineConfigurationError.Code) = switch name {
        case "none": ([], .noAccounts)
        case "twice": ([account(), account()], .duplicateAccount)
        case "no secret": ([account(secret: nil)], .missingSecret)
        case "empty secret": ([account(secret: "")], .missingSecret)
        case "empty write key": ([account(writeKey: "")], .emptyWriteKey)
        default: ([account(token: "  ")], .emptyToken)
        }
        do {
            _ = try KommoSegmentPipeline(accounts: accounts)
            Issue.record("built")
        } catch {
            #expect(error.code == expected)
        }
    }

    @Test("an item that fails after the acknowledgement is logged once at error, with what finds it again")
    func failureIsLogged() async throws {
        let world = try World()
        world.segment.failAll(status: 400)
        let report = try await world.process("webhook-lead-status-won.txt")
        let ids = report.events.flatMap(\.messages).compactMap(\.messageID)
        let records = world.log.records("event not delivered")
        #expect(records.count == 1)
        let record = try #require(records.first)
        #expect(record.level == .error)
        #expect(record.source == "pipeline")
        #expect(record.metadata["account"] == "31234567")
        #expect(record.metadata["item"] == "leads[status] 24000017")
        #expect(record.metadata["lead"] == "24000017")
        #expect(record.metadata["event"] == "Deal Won")
        #expect(record.metadata["messageIDs"] == ids.joined(separator: ","))
        #expect(record.metadata["code"] == "segment")
        #expect(record.metadata["segmentCode"] == "rejected")
        // Nothing at info or above on the happy path.
        let happy = try World()
        _ = try await happy.process("webhook-lead-status-won.txt")
        #expect(happy.log.all.allSatisfy { $0.level < .info })
        try await happy.stop()
        try await world.stop()
    }

    @Test("a redelivered item is logged once as a duplicate, at debug")
    func duplicateIsLogged() async throws {
        let world = try World()
        _ = try await world.process("webhook-lead-status-won.txt")
        let again = try await world.process("webhook-lead-status-won.txt")
        #expect(again.events.map(\.outcome) == [.duplicate])
        let records = world.log.records("event duplicate")
        #expect(records.map(\.level) == [.debug])
        #expect(records.first?.metadata == ["account": "31234567", "item": "leads[status] 24000017"])
        try await world.stop()
    }
}

@Suite("Pipeline: nothing accepted vanishes", .timeLimit(.minutes(1)))
struct UnprocessedTests {
    @Test("a webhook accepted while run() never ran fails loudly at shutdown instead of vanishing")
    func neverRan() async throws {
        let log = InMemoryLogSink()
        let account = KommoSegmentAccount(accountID: 31_234_567, kommo: try KommoAPIFake().client,
                                          segment: RecordingSegment(), secret: WebhookSecret(secret))
        let clock = ImmediateClock()
        let pipeline = try KommoSegmentPipeline(accounts: [account], clock: clock, log: log)
        let reports = pipeline.reports()
        let acknowledgement = await pipeline.receive(body: try Fixtures.kommo("webhook-lead-status-won.txt"),
                                                     contentType: form, requestTarget: target)
        #expect(acknowledgement.httpStatus == 200)
        _ = await pipeline.shutdown(timeout: .seconds(5))
        #expect(clock.now.offset >= .seconds(5))   // it waited for run() until the deadline
        var collected: [WebhookReport] = []
        for await report in reports { collected.append(report) }
        #expect(collected.count == 1)
        guard case .failed(let error) = collected.first?.events.first?.outcome else {
            Issue.record("not failed"); return
        }
        #expect(error.code == .shutdown)
        #expect(log.records("webhook not processed").count == 1)
        #expect(await pipeline.statistics.eventsFailed == 1)
        try await pipeline.run()   // after shutdown it returns at once and reads nothing
    }
}
