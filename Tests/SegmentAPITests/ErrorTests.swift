import Foundation
import SegmentAPI
import Testing
import KommoSegmentTesting

@Suite("Segment errors: one status mapping, causes kept, no secrets", .timeLimit(.minutes(1)))
struct SegmentErrorTests {
    private static func batch() throws -> SegmentBatch {
        let message = SegmentMessage.track("E", userID: "u", messageID: "m-1", timestamp: fixedDate)
        return SegmentBatch([try EncodedSegmentMessage(message, encoder: SegmentWireEncoder(library: .kommoSegment))])
    }

    /// What `client` throws for one attempt; `nil` when it returns a receipt.
    private static func attempt(_ client: any SegmentClient) async throws -> SegmentError? {
        do {
            _ = try await client.send(try batch(), retryCount: 0)
            return nil
        } catch let error as SegmentError {
            return error
        }
    }

    @Test("HTTPSegmentClient and InMemorySegmentClient map each status to the same error", arguments: [
        (400, SegmentError.Code.rejected),
        (401, .rejected),
        (408, .transientFailure),
        (429, .rateLimited),
        (500, .transientFailure),
        (501, .rejected),
        (503, .transientFailure),
    ])
    func statusTable(status: Int, code: SegmentError.Code) async throws {
        let transport = ScriptedTransport([.respond(status: status, headers: ["Retry-After": "7"])])
        let http = HTTPSegmentClient(configuration: SegmentClientConfiguration(writeKey: testKey),
                                     transport: transport, wallClock: .fixed(fixedDate))
        let memory = InMemorySegmentClient(failures: [.init(status: status, retryAfter: .seconds(7))])

        let fromHTTP = try #require(try await Self.attempt(http))
        let fromMemory = try #require(try await Self.attempt(memory))
        for error in [fromHTTP, fromMemory] {
            #expect(error.code == code)
            #expect(error.status == status)
            #expect(error.isTransient == (code != .rejected))
            #expect(error.retryAfter == .seconds(7))
            #expect(error.attempts == nil)
            #expect(error.underlyingError == nil)
        }
        // Everything but the (empty) body is the same error.
        #expect(fromHTTP.responseBody == nil)
        #expect(fromHTTP == fromMemory)
        #expect(SegmentError(status: status, retryAfter: .seconds(7)) == fromMemory)
        #expect(transport.requests.count == 1)
    }

    @Test("a 2xx is no error, for both clients", arguments: [200, 202, 299])
    func success(status: Int) async throws {
        #expect(SegmentError(status: status) == nil)
        let transport = ScriptedTransport([.respond(status: status)])
        let http = HTTPSegmentClient(configuration: SegmentClientConfiguration(writeKey: testKey),
                                     transport: transport, wallClock: .fixed(fixedDate))
        #expect(try await Self.attempt(http) == nil)
        #expect(try await Self.attempt(InMemorySegmentClient(failures: [.init(status: status)])) == nil)
    }

    @Test("a failed attempt without a response keeps the transport error as its cause")
    func transportCause() async throws {
        let cause = HTTPTransportError(code: .timedOut, request: "POST https://api.segment.io/v1/batch",
                                       detail: "slow")
        let http = HTTPSegmentClient(configuration: SegmentClientConfiguration(writeKey: testKey),
                                     transport: ScriptedTransport([.fail(cause)]), wallClock: .fixed(fixedDate))
        let error = try #require(try await Self.attempt(http))
        #expect(error.code == .transientFailure)
        #expect(error.isTransient)
        #expect(error.status == nil)
        #expect(error.underlyingError as? HTTPTransportError == cause)
    }

    @Test(".retriesExhausted carries the last attempt's error, and that one its transport error")
    func retriesExhaustedCause() async throws {
        let transport = ScriptedTransport([
            .respond(status: 503),
            .fail(HTTPTransportError(code: .connectionFailed, request: "POST", detail: "reset")),
            .fail(HTTPTransportError(code: .timedOut, request: "POST", detail: "slow")),
        ])
        let log = DeliveryLog()
        let queue = makeQueue(transport: transport,
                              configuration: .init(flushAt: 1, retryPolicy: .init(maxAttempts: 3)), log: log)
        let ticket = try await withRunning(queue) {
            let ticket = try await queue.enqueue(.track("E", userID: "u"))
            #expect(await queue.flush())
            return ticket
        }
        let failure = try #require(log.failed.first?.1)
        #expect(failure.code == .retriesExhausted)
        #expect(failure.attempts == 3)
        #expect(failure.status == nil)
        #expect(failure.isTransient)
        let last = try #require(failure.underlyingError as? SegmentError)
        #expect(last.code == .transientFailure)
        #expect(last.attempts == nil)
        let transportError = try #require(last.underlyingError as? HTTPTransportError)
        #expect(transportError.code == .timedOut)
        #expect(transportError.detail == "slow")
        #expect(try await ticket.outcome().error == failure)
    }

    @Test("a refusal is reported as it came, with the number of attempts and no other cause")
    func rejectedKeepsItself() async throws {
        let log = DeliveryLog()
        let queue = makeQueue(transport: ScriptedTransport([.respond(status: 400)]),
                              configuration: .init(flushAt: 1), log: log)
        try await withRunning(queue) {
            try await queue.enqueue(.track("E", userID: "u"))
            #expect(await queue.flush())
        }
        let failure = try #require(log.failed.first?.1)
        #expect(failure.code == .rejected)
        #expect(failure.status == 400)
        #expect(failure.attempts == 1)
        #expect(failure.isTransient == false)
        #expect(failure.underlyingError == nil)
    }

    @Test("the write key and its Basic value never appear in an error, its cause or its body excerpt")
    func noSecrets() async throws {
        let basic = Data((testKey.value + ":").utf8).base64EncodedString()
        let echo = "key \(testKey.value), header Basic \(basic)"
        let transport = ScriptedTransport([
            .fail(HTTPTransportError(code: .connectionFailed, request: "POST \(testKey.value)", detail: echo)),
            .fail(HTTPTransportError(code: .redirectRefused, request: "POST", status: 307, detail: echo)),
            .respond(status: 400, body: Data(#"{"message":"\#(echo)"}"#.utf8)),
            .respond(status: 503, body: Data(echo.utf8)),
        ])
        let http = HTTPSegmentClient(configuration: SegmentClientConfiguration(writeKey: testKey),
                                     transport: transport, wallClock: .fixed(fixedDate))
        var errors: [SegmentError] = []
        for _ in 0..<4 { errors.append(try #require(try await Self.attempt(http))) }
        #expect(errors.map(\.code) == [.transientFailure, .rejected, .rejected, .transientFailure])
        for error in errors {
            let cause = error.underlyingError.map { String(reflecting: $0) } ?? ""
            for text in [error.description, String(reflecting: error), error.detail, error.responseBody ?? "", cause] {
                #expect(!text.contains(testKey.value))
                #expect(!text.contains(basic))
            }
        }
        let cause = try #require(errors[0].underlyingError as? HTTPTransportError)
        #expect(cause.detail == "key <redacted>, header Basic <redacted>")
        #expect(cause.request == "POST <redacted>")
        #expect(errors[2].responseBody == #"{"message":"key <redacted>, header Basic <redacted>"}"#)
    }

    @Test("the body excerpt is at most 512 bytes, cut on a character boundary")
    func bodyExcerpt() async throws {
        let body = "x" + String(repeating: "Доступ запрещён. ", count: 100)
        let http = HTTPSegmentClient(configuration: SegmentClientConfiguration(writeKey: testKey),
                                     transport: ScriptedTransport([.respond(status: 400, body: Data(body.utf8))]),
                                     wallClock: .fixed(fixedDate))
        let error = try #require(try await Self.attempt(http))
        let excerpt = try #require(error.responseBody)
        #expect(excerpt.utf8.count <= 512)
        #expect(excerpt.hasSuffix("…"))
        #expect(body.hasPrefix(String(excerpt.dropLast())))
    }

    @Test("cancelling run() during a retry wait fails the batch saying so, with the last attempt's error")
    func runCancelledDuringRetry() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in .respond(status: 503) })
        let clock = ManualClock(start: fixedDate)
        let log = DeliveryLog()
        let queue = makeQueue(transport: transport, clock: clock, configuration: .init(flushAt: 1), log: log)
        let runner = Task { try await queue.run() }
        let ticket = try await queue.enqueue(.track("A", userID: "u"))
        await clock.waitForSleeper(lasting: .milliseconds(500))  // the first retry's backoff
        runner.cancel()
        try await runner.value
        let error = try #require(try await ticket.outcome().error)
        #expect(error.code == .undelivered)
        #expect(error.detail == "the queue's run() was cancelled while the batch was being delivered")
        #expect(error.attempts == 1)
        #expect(error.status == 503)
        #expect(error.isTransient)
        let last = try #require(error.underlyingError as? SegmentError)
        #expect(last.code == .transientFailure)
        #expect(last.status == 503)
        #expect(log.failed.map(\.1) == [error])
        #expect(transport.requests.count == 1)
    }

    @Test("codes keep their stable names, the codes of the client and the queue included")
    func codeNames() {
        let codes: [SegmentError.Code] = [.missingIdentity, .queueFull, .undelivered, .alreadyRunning,
                                          .transientFailure, .rateLimited, .rejected, .retriesExhausted]
        #expect(codes.map(\.description) == ["missingIdentity", "queueFull", "undelivered", "alreadyRunning",
                                             "transientFailure", "rateLimited", "rejected", "retriesExhausted"])
        #expect(Set(codes).count == codes.count)
    }
}
