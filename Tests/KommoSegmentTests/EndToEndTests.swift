import Dispatch
import Foundation
import HTTPCore
import JSONCore
import KommoSegment
import KommoSegmentTesting
import Testing

// End-to-end over real TCP: the pipeline with its HTTP clients and `URLSessionTransport`, against two loopback
// servers started here, one playing Kommo (answering from the bundled fixture directory) and one playing Segment.

/// What a test answers in place of a loopback fake, for the requests it wants to fail; `nil` lets the fake answer.
typealias LoopbackFault = @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response?

/// A Kommo API on 127.0.0.1 that answers from the bundled fixture directory through `KommoFixtureTransport`,
/// or with 401 while `refusesAll` is set, or with what `fault` answers.
final class KommoLoopback: Sendable {
    let server: LoopbackHTTPServer
    let fixtures: KommoFixtureTransport
    private let refusing: Flag

    /// A switch shared with the server's handler.
    final class Flag: Sendable {
        let value = LockedValue(false)
    }

    init(fault: LoopbackFault? = nil) throws {
        let fixtures = KommoFixtureTransport(files: try Fixtures.kommoAPIFiles())
        let refusing = Flag()
        self.refusing = refusing
        self.fixtures = fixtures
        server = try LoopbackHTTPServer { request in
            if refusing.value.withLock({ $0 }) {
                return .json(#"{"title":"Unauthorized","type":"https://httpstatus.es/401","status":401,"#
                    + #""detail":"Invalid access token"}"#, status: 401)
            }
            if let answer = fault?(request) { return answer }
            return Self.answer(request, from: fixtures)
        }
    }

    deinit { server.stop() }

    /// Sets whether every request is answered with 401.
    func refuseAll(_ refuses: Bool) { refusing.value.withLock { $0 = refuses } }

    /// Requests received per path (without the query).
    var requestsByPath: [String: Int] {
        var counts: [String: Int] = [:]
        for request in server.requests { counts[request.path, default: 0] += 1 }
        return counts
    }

    /// Requests received in all.
    var requestCount: Int { server.requests.count }

    /// Runs the asynchronous fixture transport from the server's own (non-cooperative) thread: a detached task does
    /// the work and a semaphore waits for it.
    private static func answer(_ request: LoopbackHTTPServer.Request,
                               from fixtures: KommoFixtureTransport) -> LoopbackHTTPServer.Response {
        guard let url = URL(string: "http://127.0.0.1" + request.target) else {
            return .json(#"{"title":"Bad Request","status":400}"#, status: 400)
        }
        let httpRequest = HTTPRequest(method: HTTPMethod(rawValue: request.method), url: url,
                                      headers: request.headers)
        let body = request.body.isEmpty ? nil : request.body
        let result = LockedValue<LoopbackHTTPServer.Response?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let response: LoopbackHTTPServer.Response
            do {
                let (head, data) = try await fixtures.send(httpRequest, body: body)
                response = LoopbackHTTPServer.Response(status: head.status,
                                                       headers: head.headers.map { ($0.name, $0.value) },
                                                       body: data)
            } catch {
                response = .json(#"{"title":"fixture failure","status":500}"#, status: 500)
            }
            result.withLock { $0 = response }
            done.signal()
        }
        done.wait()
        return result.withLock { $0 } ?? .json(#"{"status":500}"#, status: 500)
    }
}

extension LoopbackHTTPServer.Request {
    /// The target without its query.
    var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "") }
}

/// A Segment Tracking API on 127.0.0.1 that records `/v1/batch` requests and checks the Basic header; `fault`
/// answers the batches it wants to fail.
final class SegmentLoopback: Sendable {
    let server: LoopbackHTTPServer
    /// The batch requests answered with a 2xx: what Segment accepted.
    private let accepted: LockedValue<[LoopbackHTTPServer.Request]>

    init(writeKey: String, fault: LoopbackFault? = nil) throws {
        let expected = "Basic " + Data((writeKey + ":").utf8).base64EncodedString()
        let accepted = LockedValue<[LoopbackHTTPServer.Request]>([])
        self.accepted = accepted
        server = try LoopbackHTTPServer { request in
            guard request.method == "POST", request.target == "/v1/batch" else {
                return .json(#"{"success":false,"message":"not found"}"#, status: 404)
            }
            guard request.headers["Authorization"] == expected else {
                return .json(#"{"success":false,"message":"invalid write key"}"#, status: 401)
            }
            let response = fault?(request) ?? .json(#"{"success":true}"#)
            if !response.hangs && !response.resetsConnection && (200..<300).contains(response.status) {
                accepted.withLock { $0.append(request) }
            }
            return response
        }
    }

    deinit { server.stop() }

    /// Every `/v1/batch` request received.
    var batchRequests: [LoopbackHTTPServer.Request] { server.requests.filter { $0.target == "/v1/batch" } }

    /// Every message of every batch received, as JSON, in order of arrival.
    func messages() throws -> [JSONValue] {
        try Self.messages(of: batchRequests)
    }

    /// Every message of every batch answered with a 2xx, as JSON, in order of arrival.
    func acceptedMessages() throws -> [JSONValue] {
        try Self.messages(of: accepted.value)
    }

    private static func messages(of requests: [LoopbackHTTPServer.Request]) throws -> [JSONValue] {
        try requests.flatMap { request -> [JSONValue] in
            let envelope = try JSONDecoder().decode(JSONValue.self, from: request.body)
            return try #require(envelope["batch"]?.arrayValue)
        }
    }
}

/// Two loopback servers and a pipeline built with `KommoSegmentAccount.http` over `URLSessionTransport`.
struct TCPWorld {
    static let accountID: Int64 = 31_234_567
    static let token = "e2e-kommo-token-7f3a9c1d5b"
    static let writeKey = "e2e-write-key-41c8a2"
    static let webhookSecret = "e2e-webhook-secret-0123456789abcdef0123456789"
    static let target = "/hooks/kommo?secret=\(webhookSecret)"

    let kommo: KommoLoopback
    let segment: SegmentLoopback
    let pipeline: KommoSegmentPipeline
    /// The pipeline's run(), owned by the test (libraries never start tasks; tests may); it ends at shutdown.
    private let runner: Task<Void, any Error>

    init(segmentWriteKey: String = TCPWorld.writeKey) throws {
        kommo = try KommoLoopback()
        segment = try SegmentLoopback(writeKey: TCPWorld.writeKey)
        // A fast limiter: the default 6.5 requests per second would only make the tests wait. Generous timeouts: on a
        // loaded machine (the sanitizer run) a request that timed out would be retried and change the counts.
        let kommoConfiguration = HTTPKommoClient.Configuration(
            requestTimeout: .seconds(60), rateLimit: .init(requestsPerSecond: 1_000, burst: 100))
        let account = KommoSegmentAccount.http(
            accountID: Self.accountID, host: try KommoAccountHost(url: kommo.server.baseURL),
            tokenProvider: LongLivedToken(Self.token),
            segment: SegmentClientConfiguration(writeKey: SegmentWriteKey(segmentWriteKey),
                                                endpoint: try SegmentEndpoint(origin: segment.server.baseURL),
                                                requestTimeout: .seconds(60)),
            secret: WebhookSecret(Self.webhookSecret), kommoConfiguration: kommoConfiguration,
            transport: URLSessionTransport())
        let pipeline = try KommoSegmentPipeline(accounts: [account])
        self.pipeline = pipeline
        runner = Task { try await pipeline.run() }
    }

    func process(_ body: Data, target: String = TCPWorld.target) async -> WebhookReport {
        await pipeline.process(body: body, contentType: "application/x-www-form-urlencoded", requestTarget: target)
    }

    func process(_ fixture: String) async throws -> WebhookReport {
        await process(try Fixtures.kommo(fixture))
    }
}

/// The messages of the delivered events of `reports`.
private func deliveredMessages(_ reports: [WebhookReport]) -> [SegmentMessage] {
    reports.flatMap(\.events).filter { $0.outcome == .delivered }.flatMap(\.messages)
}

/// A sample webhook with one substitution applied to its raw (form-encoded) body.
private func sample(_ name: String, replacing old: String, with new: String) throws -> Data {
    let text = String(decoding: try Fixtures.kommo(name), as: UTF8.self)
    #expect(text.contains(old), "the sample \(name) no longer contains \(old)")
    return Data(text.replacingOccurrences(of: old, with: new).utf8)
}

@Suite("End to end over TCP: the pipeline against loopback Kommo and Segment servers", .timeLimit(.minutes(1)))
struct EndToEndTests {
    @Test("every sample webhook: the messages of every delivered event reach Segment, with Basic auth")
    func everySample() async throws {
        let world = try TCPWorld()
        let names = Fixtures.sampleWebhookNames
        #expect(names.count == 14)
        var reports: [WebhookReport] = []
        for name in names { reports.append(try await world.process(name)) }

        #expect(reports.allSatisfy { $0.acknowledgement.isAccepted && !$0.hasFailures })
        let expected = deliveredMessages(reports)
        let received = try world.segment.messages()
        // 12 messages: the same run as `kommo-segment demo` (5 events delivered, the others skipped on purpose or
        // duplicates of a change already processed).
        #expect(received.count == 12)
        #expect(received.count == expected.count)
        #expect(received.compactMap { $0["messageId"]?.stringValue } == expected.compactMap(\.messageID))
        // 11 distinct ids: the Digital Pipeline hook (no event time, so no deduplication key) and the middle-stage
        // hook describe the same stage change of lead 24000017, so both send the same "Stage Changed" id, and
        // Segment drops the repeat: the message ids are the second layer of idempotency.
        #expect(Set(received.compactMap { $0["messageId"]?.stringValue }).count == 11)
        #expect(received.compactMap { $0["type"]?.stringValue } == expected.map(\.type.rawValue))
        #expect(Set(received.compactMap { $0["type"]?.stringValue }) == ["identify", "track", "group"])
        #expect(received.map { $0["userId"]?.stringValue } == expected.map(\.userID))
        #expect(received.allSatisfy { $0["userId"]?.stringValue?.contains("@") == true })
        for message in received {
            let library = message["context"]?["library"]
            #expect(library?["name"]?.stringValue == SDKInfo.name)
            #expect(library?["version"]?.stringValue == SDKInfo.version)
        }
        // Every request carried the write key as Basic credentials (the server answers 401 otherwise).
        let basic = "Basic " + Data((TCPWorld.writeKey + ":").utf8).base64EncodedString()
        #expect(!world.segment.batchRequests.isEmpty)
        #expect(world.segment.batchRequests.allSatisfy { $0.headers["Authorization"] == basic })
        let statistics = await world.pipeline.statistics
        #expect(statistics.messagesDelivered == 12)
        #expect(statistics.eventsFailed == 0)
        #expect(statistics.kommoRequests == world.kommo.requestCount)
        _ = await world.pipeline.shutdown()
    }

    @Test("a 3-lead webhook on a fresh pipeline costs 1 request each for leads, contacts, companies, plus 3 cache misses")
    func threeLeadBudget() async throws {
        let world = try TCPWorld()
        let report = try await world.process("webhook-lead-status-batch.txt")
        #expect(report.events.count == 3)
        #expect(!report.hasFailures)
        // Observed: one `filter[id][]` request for the 3 leads, one for the contacts of those leads, one for their
        // companies (3 for the deals, not 2N = 6), then one cache miss each for pipelines, users and the account
        // (the mapping has no fixed currency, so the account's currency is read): 6 requests in all.
        #expect(world.kommo.requestsByPath == [
            "/api/v4/leads": 1, "/api/v4/contacts": 1, "/api/v4/companies": 1,
            "/api/v4/leads/pipelines": 1, "/api/v4/users": 1, "/api/v4/account": 1,
        ])
        #expect(await world.pipeline.statistics.kommoRequests == 6)
        _ = await world.pipeline.shutdown()
    }

    @Test("the same file on two fresh pipelines sends identical ids; on the same pipeline the repeat does nothing")
    func idempotency() async throws {
        var idsPerWorld: [[String]] = []
        for _ in 0..<2 {
            let world = try TCPWorld()
            let report = try await world.process("webhook-lead-status-batch.txt")
            #expect(!report.hasFailures)
            let ids = try world.segment.messages().compactMap { $0["messageId"]?.stringValue }
            #expect(!ids.isEmpty)
            idsPerWorld.append(ids)

            let kommoBefore = world.kommo.requestCount
            let segmentBefore = world.segment.server.requests.count
            let again = try await world.process("webhook-lead-status-batch.txt")
            #expect(again.events.map(\.outcome) == [.duplicate, .duplicate, .duplicate])
            #expect(world.kommo.requestCount == kommoBefore)
            #expect(world.segment.server.requests.count == segmentBefore)
            _ = await world.pipeline.shutdown()
        }
        #expect(idsPerWorld[0] == idsPerWorld[1])
    }
}

@Suite("End to end over TCP: bad input", .timeLimit(.minutes(1)))
struct EndToEndBadInputTests {
    struct BadWebhook: Sendable, CustomTestStringConvertible {
        var name: String
        var body: @Sendable () throws -> Data
        var target: String
        var outcome: WebhookAcknowledgement.Outcome
        var status: Int
        var testDescription: String { name }
    }

    static let badWebhooks: [BadWebhook] = [
        BadWebhook(name: "a malformed body", body: { Data("this is not a webhook at all".utf8) },
                   target: TCPWorld.target, outcome: .malformed, status: 400),
        BadWebhook(name: "another account",
                   body: { try sample("webhook-lead-status-won.txt", replacing: "account%5Bid%5D=31234567",
                                      with: "account%5Bid%5D=39999999") },
                   target: TCPWorld.target, outcome: .otherAccount, status: 403),
        BadWebhook(name: "a wrong secret", body: { try Fixtures.kommo("webhook-lead-status-won.txt") },
                   target: "/hooks/kommo?secret=not-the-secret", outcome: .badSecret, status: 401),
        BadWebhook(name: "no secret", body: { try Fixtures.kommo("webhook-lead-status-won.txt") },
                   target: "/hooks/kommo", outcome: .badSecret, status: 401),
    ]

    @Test("each bad webhook is acknowledged clearly and nothing is fetched or sent", arguments: badWebhooks)
    func rejected(_ bad: BadWebhook) async throws {
        let world = try TCPWorld()
        let report = await world.process(try bad.body(), target: bad.target)
        #expect(report.acknowledgement.outcome == bad.outcome)
        #expect(report.acknowledgement.httpStatus == bad.status)
        #expect(!report.acknowledgement.detail.isEmpty)
        #expect(!report.acknowledgement.detail.contains(TCPWorld.webhookSecret))
        #expect(report.events.isEmpty)
        #expect(report.hasFailures)
        #expect(world.kommo.requestCount == 0)
        #expect(world.segment.server.requests.isEmpty)
        _ = await world.pipeline.shutdown()
    }

    @Test("a Kommo 401 fails the event with a .kommo error that names 401 and never the token")
    func kommoUnauthorized() async throws {
        let world = try TCPWorld()
        world.kommo.refuseAll(true)
        let report = try await world.process("webhook-lead-status-won.txt")
        #expect(report.acknowledgement.isAccepted)
        guard case .failed(let error)? = report.events.first?.outcome else {
            Issue.record("expected a failure, got \(String(describing: report.events.first?.outcome))")
            return
        }
        #expect(error.code == .kommo)
        #expect(error.kommoError?.code == .unauthorized)
        #expect(error.kommoError?.status == 401)
        #expect(!error.description.contains(TCPWorld.token))
        #expect(!String(reflecting: error).contains(TCPWorld.token))
        // The token was sent (and refused): the request reached the server with it.
        let sent = try #require(world.kommo.server.requests.first)
        #expect(sent.headers["Authorization"] == "Bearer \(TCPWorld.token)")
        #expect(world.segment.server.requests.isEmpty)
        _ = await world.pipeline.shutdown()
    }

    @Test("a wrong write key is refused by Segment with 401: the event fails with .segment, the key never shown")
    func wrongWriteKey() async throws {
        let wrongKey = "e2e-wrong-write-key-5d2e"
        let world = try TCPWorld(segmentWriteKey: wrongKey)
        let report = try await world.process("webhook-lead-status-won.txt")
        guard case .failed(let error)? = report.events.first?.outcome else {
            Issue.record("expected a failure, got \(String(describing: report.events.first?.outcome))")
            return
        }
        #expect(error.code == .segment)
        #expect(error.segmentError?.code == .rejected, "\(error)")
        #expect(error.segmentError?.status == 401)
        #expect(error.segmentError?.attempts == 1)
        let basic = Data((wrongKey + ":").utf8).base64EncodedString()
        for text in [error.description, String(reflecting: error)] {
            #expect(!text.contains(wrongKey))
            #expect(!text.contains(basic))
        }
        let refused = try #require(world.segment.batchRequests.first)
        #expect(refused.headers["Authorization"] == "Basic " + Data((wrongKey + ":").utf8).base64EncodedString())
        _ = await world.pipeline.shutdown()
    }

    @Test("a lead that no longer exists (204) is a skip with reason leadNotFound, after one leads request")
    func leadGone() async throws {
        let world = try TCPWorld()
        let body = try sample("webhook-lead-status-won.txt", replacing: "%5Bid%5D=24000017",
                              with: "%5Bid%5D=24000098")
        let report = await world.process(body)
        #expect(report.events.count == 1)
        guard case .skipped(let reasons)? = report.events.first?.outcome else {
            Issue.record("expected a skip, got \(String(describing: report.events.first?.outcome))")
            return
        }
        #expect(reasons.map(\.code).contains(.leadNotFound))
        #expect(!report.hasFailures)
        #expect(world.kommo.requestsByPath["/api/v4/leads"] == 1)
        #expect(world.segment.server.requests.isEmpty)
        _ = await world.pipeline.shutdown()
    }

    @Test("in a run mixing good and bad webhooks, every message of the good ones still arrives")
    func mixedRun() async throws {
        let good = ["webhook-lead-status-won.txt", "webhook-lead-status-batch.txt", "webhook-lead-status-lost.txt"]
        // The reference: the good files alone, in the same order, on a fresh pipeline.
        let reference = try TCPWorld()
        for name in good {
            let report = try await reference.process(name)
            #expect(!report.hasFailures, "\(name): \(report.events.map(\.outcome))")
        }
        let expectedIDs = try reference.segment.messages().compactMap { $0["messageId"]?.stringValue }
        #expect(expectedIDs.count >= 7)
        _ = await reference.pipeline.shutdown()

        let world = try TCPWorld()
        var reports: [WebhookReport] = []
        reports.append(await world.process(Data("garbage=1&more".utf8)))
        reports.append(try await world.process(good[0]))
        reports.append(await world.process(try Fixtures.kommo(good[1]), target: "/hooks/kommo?secret=wrong"))
        reports.append(await world.process(try sample(good[1], replacing: "account%5Bid%5D=31234567",
                                                      with: "account%5Bid%5D=39999999")))
        world.kommo.refuseAll(true)
        reports.append(try await world.process("webhook-lead-status-middle-stage.txt"))
        world.kommo.refuseAll(false)
        reports.append(try await world.process(good[1]))
        reports.append(await world.process(try sample(good[2], replacing: "%5Bid%5D=24000031",
                                                      with: "%5Bid%5D=24000097")))
        reports.append(try await world.process(good[2]))

        #expect(reports.map(\.acknowledgement.outcome) == [
            .malformed, .accepted, .badSecret, .otherAccount, .accepted, .accepted, .accepted, .accepted,
        ])
        #expect(reports[4].events.allSatisfy { if case .failed = $0.outcome { true } else { false } })
        #expect(reports[6].events.allSatisfy { if case .skipped = $0.outcome { true } else { false } })
        let receivedIDs = try world.segment.messages().compactMap { $0["messageId"]?.stringValue }
        #expect(receivedIDs == expectedIDs)
        _ = await world.pipeline.shutdown()
    }
}
