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

    @Test("KommoSegmentMetrics: answers by outcome, requests by status class, the pipeline's counters (catch-up too)")
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
            // The bundled events log, all of January 2026: the Deal Won is already processed.
            _ = try await pipeline.catchUp(CatchUpRequest(accountID: sampleAccountID,
                                                          since: Date(timeIntervalSince1970: 1_767_225_600),
                                                          until: Date(timeIntervalSince1970: 1_769_904_000)))
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
        #expect(metric(text, #"kommo_segment_catch_up_runs_total{outcome="finished"}"#) == 1)
        #expect(metric(text, #"kommo_segment_catch_up_events_total{outcome="recovered"}"#) == 9)
        #expect(metric(text, #"kommo_segment_catch_up_events_total{outcome="already_processed"}"#) == 1)
        #expect(metric(text, #"kommo_segment_catch_up_events_total{outcome="skipped"}"#) == 5)
        #expect(metric(text, "kommo_segment_catch_up_pages_total") == 1)
        #expect(metric(text, #"kommo_segment_catch_up_runs_total{outcome="failed"}"#) == 0)
    }

    @Test("TokenRefreshService: no request at start; one refresh per account per interval, saved; failures counted")
    func scheduledRefresh() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("refresh-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("tokens.json").path
        let stored = KommoTokenPair(accessToken: "at-old", refreshToken: "rt-old", expiresAt: .distantFuture)
        try await FileTokenStore(path: path).save(stored)
        let grant = try Fixtures.kommo("api-oauth-token.json")
        let transport = ScriptedTransport([.respond(status: 200, body: grant), .respond(status: 500)])
        let credentials = KommoOAuthCredentials(clientID: "c", clientSecret: "s", redirectURI: "https://a.example/o")
        let provider = OAuthTokenProvider(host: try KommoAccountHost(subdomain: "acme"), credentials: credentials,
                                          store: FileTokenStore(path: path), transport: transport)
        let registry = PrometheusCollectorRegistry()
        let metrics = KommoSegmentMetrics(factory: PrometheusMetricsFactory(registry: registry))
        let clock = ManualClock()
        let service = TokenRefreshService(accounts: [.init(accountID: 7, provider: provider)], interval: .seconds(60),
                                          clock: clock, metrics: metrics, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            await clock.waitForSleeper(lasting: .seconds(60))
            #expect(transport.requests.isEmpty)
            clock.advance(by: .seconds(60))
            await clock.waitForSleeper(lasting: .seconds(60))  // asleep again: the refresh is done
            #expect(transport.requests.count == 1)
            #expect(try FileTokenStore.read(path: path)?.refreshToken != "rt-old")
            clock.advance(by: .seconds(60))
            await clock.waitForSleeper(lasting: .seconds(60))  // the 500: logged, counted, tried next time
            #expect(transport.requests.count == 2)
            group.cancelAll()
            try await group.waitForAll()
        }
        let text = registry.emitToString()
        #expect(metric(text, #"kommo_segment_kommo_token_refreshes_total{outcome="refreshed"}"#) == 1)
        #expect(metric(text, #"kommo_segment_kommo_token_refreshes_total{outcome="failed"}"#) == 1)
    }

    @Test("an OAuth account without a token file does not start: a typed error, step tokens, naming the file")
    func missingTokenFile() throws {
        let tokenFile = "/nonexistent/\(UUID().uuidString).json"
        let inbox = FileManager.default.temporaryDirectory.appendingPathComponent("inbox-" + UUID().uuidString).path
        defer { try? FileManager.default.removeItem(atPath: inbox) }
        var environment = ConfigurationTests.oauthEnvironment
        environment["KOMMO_TOKEN_FILE"] = tokenFile
        environment["KOMMO_SEGMENT_INBOX"] = inbox
        let configuration = try ServerConfiguration(environment: environment,
                                                    readFile: files(["/secrets/client": "client-secret-789"]))
        let error = try #require(throws: ServerStartError.self) {
            _ = try KommoSegmentServer(configuration: configuration, logger: Logger(label: "test"))
        }
        #expect(error.step == .tokens)
        #expect((error.underlyingError as? KommoAPIError)?.code == .notAuthorized)
        #expect(error.message.contains(tokenFile))
    }
}
