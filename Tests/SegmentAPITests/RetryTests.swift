import Foundation
import SegmentAPI
import Testing
import KommoSegmentTesting

@Suite("Segment queue: retries and accounting", .timeLimit(.minutes(1)))
struct SegmentRetryTests {
    /// Sends one batch of two messages, enqueued together so that no interval timer sleeps on the clock.
    private func run(_ answers: [ScriptedTransport.Answer])
        async throws -> (ScriptedTransport, ImmediateClock, DeliveryLog, SegmentQueue, SegmentDeliveryTicket) {
        let transport = ScriptedTransport(answers)
        let clock = ImmediateClock(start: fixedDate)
        let log = DeliveryLog()
        let queue = makeQueue(transport: transport, clock: clock, configuration: .init(flushAt: 2), log: log)
        let ticket = try await withRunning(queue) {
            let ticket = try await queue.enqueue([.track("E", userID: "u0"), .track("E", userID: "u1")])
            #expect(await queue.flush())
            return ticket
        }
        return (transport, clock, log, queue, ticket)
    }

    @Test("429 with Retry-After waits as asked, is not counted, and sends X-Retry-Count")
    func rateLimited() async throws {
        let (transport, clock, log, _, ticket) = try await run([
            .respond(status: 429, headers: ["Retry-After": "7"]),
            .respond(status: 429, headers: ["Retry-After": "900"]),
            ok(),
        ])
        #expect(transport.requests.count == 3)
        #expect(clock.sleeps == [.seconds(7), .seconds(300)])
        #expect(transport.requests.map { $0.request.headers["X-Retry-Count"] } == [nil, "1", "2"])
        #expect(log.delivered.count == 2)
        #expect(ticket.currentOutcome == .delivered)
        // The same messages with the same ids on every attempt; sentAt is stamped per attempt.
        let batches = try transport.requests.map { try batchOf($0) }
        #expect(batches[0] == batches[1] && batches[1] == batches[2])
        let sentAts = try transport.requests.map { try json($0.body)["sentAt"]?.stringValue }
        #expect(sentAts == ["2026-11-30T10:15:00.000Z", "2026-11-30T10:15:07.000Z", "2026-11-30T10:20:07.000Z"])
    }

    @Test("500 and 503 back off 0.5 s then 1 s, then deliver")
    func serverErrors() async throws {
        let (transport, clock, log, queue, _) = try await run([
            .respond(status: 500), .respond(status: 503), ok(),
        ])
        #expect(transport.requests.count == 3)
        #expect(clock.sleeps == [.milliseconds(500), .seconds(1)])
        #expect(log.delivered.count == 2 && log.failed.isEmpty)
        let stats = await queue.statistics
        #expect(stats.requests == 3 && stats.retries == 2)
    }

    @Test("timeouts and connection failures are retried")
    func networkErrors() async throws {
        let (transport, _, log, _, _) = try await run([
            .fail(HTTPTransportError(code: .timedOut, request: "POST", detail: "slow")),
            .fail(HTTPTransportError(code: .connectionFailed, request: "POST", detail: "reset")),
            ok(),
        ])
        #expect(transport.requests.count == 3)
        #expect(log.delivered.count == 2)
    }

    @Test("non-retryable statuses are tried once, dropped and reported", arguments: [400, 401, 403, 404, 413, 422, 501])
    func dropped(status: Int) async throws {
        let (transport, clock, log, queue, ticket) = try await run([
            .respond(status: status, body: Data(#"{"code":"invalid","message":"nope"}"#.utf8)),
        ])
        #expect(transport.requests.count == 1)
        #expect(clock.sleeps.isEmpty)
        #expect(log.failed.count == 2)
        let error = try #require(log.failed.first?.1)
        #expect(error.code == .rejected)
        #expect(error.status == status)
        #expect(error.attempts == 1)
        #expect(error.responseBody == #"{"code":"invalid","message":"nope"}"#)
        #expect(!error.description.contains(testKey.value))
        #expect(await queue.statistics.failed == 2)
        #expect(ticket.currentOutcome?.error == error)
    }

    @Test("a redirect is a failure, not followed and not retried")
    func redirect() async throws {
        let (transport, _, log, _, _) = try await run([
            .fail(HTTPTransportError(code: .redirectRefused, request: "POST", status: 307, detail: "no")),
        ])
        #expect(transport.requests.count == 1)
        #expect(log.failed.first?.1.code == .rejected)
    }

    @Test("gives up after 11 attempts and reports every message with the last status")
    func exhausted() async throws {
        let (transport, clock, log, _, ticket) = try await run(Array(repeating: .respond(status: 503), count: 11))
        #expect(transport.requests.count == 11)
        #expect(clock.sleeps.count == 10)
        #expect(clock.sleeps.prefix(4) == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4)])
        #expect(clock.sleeps.last == .seconds(60))
        #expect(transport.requests.last?.request.headers["X-Retry-Count"] == "10")
        let failure = try #require(log.failed.first?.1)
        #expect(failure.code == .retriesExhausted)
        #expect(failure.status == 503)
        #expect(failure.attempts == 11)
        // The cause is the last attempt's own error.
        let last = try #require(failure.underlyingError as? SegmentError)
        #expect(last.code == .transientFailure)
        #expect(last.status == 503)
        #expect(last.attempts == nil)
        #expect(log.failed.count == 2 && log.delivered.isEmpty)
        #expect(ticket.currentOutcome?.error?.code == .retriesExhausted)
    }

    @Test("shutdown stops intake, cuts a retry wait at its deadline and returns the undelivered messages")
    func shutdownReportsUndelivered() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in .respond(status: 503) })
        let clock = ManualClock(start: fixedDate)
        let log = DeliveryLog()
        let queue = makeQueue(transport: transport, clock: clock, log: log)
        let (result, ticket) = try await withRunning(queue) {
            let ticket = try await queue.enqueue(.track("A", userID: "u"))
            try await queue.enqueue(.track("B", userID: "u"))
            async let report = queue.shutdown(timeout: .seconds(30))
            // The batch went out, failed, and now both the retry backoff and the shutdown deadline sleep on the clock.
            await clock.waitForSleeper(lasting: .seconds(30))
            await clock.waitForSleeper(lasting: .milliseconds(500))
            await #expect(throws: SegmentError.self) { try await queue.enqueue(.track("C", userID: "u")) }
            clock.advance(by: .seconds(30))
            return (await report, ticket)
        }
        #expect(result.drained == false)
        #expect(result.undelivered.map(\.event) == ["A", "B"])
        #expect(log.failed.map(\.1.code) == [.undelivered, .undelivered])
        #expect(log.failed.map(\.1.detail) == ["the shutdown deadline passed", "the shutdown deadline passed"])
        #expect(log.rejected.map(\.1.code) == [.shutDown])
        #expect(result.statistics.failed == 2)
        #expect(result.statistics.delivered == 0)
        #expect(try await ticket.outcome().error?.code == .undelivered)
    }

    @Test("shutdown with a healthy endpoint drains everything")
    func shutdownDrains() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        // A clock that never moves: the shutdown deadline cannot pass while the queue drains.
        let queue = makeQueue(transport: transport, clock: ManualClock(start: fixedDate))
        let report = try await withRunning(queue) {
            for i in 0..<250 { try await queue.enqueue(.track("E", userID: "\(i)")) }
            return await queue.shutdown()
        }
        #expect(report.drained)
        #expect(report.undelivered.isEmpty)
        #expect(report.statistics.delivered == 250)
    }
}

@Suite("Segment client over loopback TCP", .timeLimit(.minutes(1)))
struct SegmentTCPTests {
    @Test("URLSessionTransport delivers a batch with the right headers and body, retrying a 503")
    func overTCP() async throws {
        let calls = CallCounter()
        let server = try LoopbackHTTPServer { _ in
            calls.next() == 1 ? .init(status: 503) : .json("{}")
        }
        defer { server.stop() }
        let endpoint = try SegmentEndpoint(origin: server.baseURL)
        let log = DeliveryLog()
        let clock = ImmediateClock(start: fixedDate)
        let queue = SegmentQueue(client: SegmentClientConfiguration(writeKey: testKey, endpoint: endpoint),
                                 transport: URLSessionTransport(), clock: clock, wallClock: clock.wallClock,
                                 onDelivery: log.handler)
        let ticket = try await withRunning(queue) {
            let ticket = try await queue.enqueue([
                .identify(userID: "olivia@example.com", traits: ["name": "Ольга 😀"]),
                .track("Deal Won", userID: "olivia@example.com", properties: ["amount": 4800]),
            ])
            #expect(await queue.flush())
            return ticket
        }
        #expect(ticket.currentOutcome == .delivered)
        #expect(log.delivered.count == 2)
        let requests = server.requests
        #expect(requests.count == 2)
        let last = try #require(requests.last)
        #expect(last.method == "POST")
        #expect(last.target == "/v1/batch")
        #expect(last.headers["Authorization"] == "Basic " + Data("wk_TEST_secret_123:".utf8).base64EncodedString())
        #expect(last.headers["Content-Type"] == "application/json")
        #expect(last.headers["User-Agent"] == SDKInfo.userAgent)
        #expect(last.headers["X-Retry-Count"] == "1")
        #expect(requests.first?.headers["X-Retry-Count"] == nil)
        let body = try json(last.body)
        #expect(body["batch"]?[0]?["traits"]?["name"] == "Ольга 😀")
        #expect(body["batch"]?[1]?["properties"]?["amount"] == 4800)
        #expect(body["batch"]?[1]?["context"]?["library"]?["name"] == "kommo-segment-swift")
        #expect(body["writeKey"] == "wk_TEST_secret_123")
        // The retry carried the very same messages.
        #expect(try json(requests.first?.body)["batch"] == body["batch"])
    }
}

final class CallCounter: Sendable {
    private let count = LockedValue(0)
    func next() -> Int { count.withLock { $0 += 1; return $0 } }
}
