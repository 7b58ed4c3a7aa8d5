import Foundation
import KommoSegment
import KommoSegmentTesting
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The account of the bundled samples.
let sampleAccountID: Int64 = 31_234_567
let webhookSecret = "integration-secret-0123456789abcdef"
let segmentWriteKey = "integration-write-key-9876"
let kommoToken = "integration-kommo-token-5555"

/// The bundled sample webhooks of the sample account, by name. Without `webhook-mixed-update-and-status.txt`, which
/// repeats a change of `webhook-lead-status-batch.txt`: posted together, one of the two finds the change claimed by
/// the other and its inbox record waits 30 seconds for another attempt (the SDK's rule), longer than these tests.
func sampleWebhooks() throws -> [(name: String, body: Data)] {
    try Fixtures.sampleWebhookNames.filter { $0 != "webhook-mixed-update-and-status.txt" }
        .map { ($0, try Fixtures.webhook($0)) }.filter { sample in
        let text = String(decoding: sample.1, as: UTF8.self)
        return text.contains("account%5Bid%5D=\(sampleAccountID)") || text.contains("account[id]=\(sampleAccountID)")
    }
}

/// The message ids the SDK makes of `webhooks`, processed in order by one in-process pipeline on the same fixtures.
func expectedMessageIDs(_ webhooks: [Data]) async throws -> Set<String> {
    let segment = InMemorySegmentClient()
    let kommo = HTTPKommoClient(host: try KommoAccountHost(subdomain: "acme"), tokenProvider: LongLivedToken("t"),
                                configuration: .init(rateLimit: .init(requestsPerSecond: 1_000, burst: 100)),
                                transport: try KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory()))
    let account = KommoSegmentAccount(accountID: sampleAccountID, kommo: kommo, segment: segment)
    let pipeline = try KommoSegmentPipeline(accounts: [account], configuration: .init(requiresSecret: false))
    var ids = Set<String>()
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await pipeline.run() }
        for body in webhooks {
            let report = await pipeline.process(body: body, contentType: "application/x-www-form-urlencoded",
                                                requestTarget: "/")
            for event in report.events where event.outcome == .delivered {
                ids.formUnion(event.messages.compactMap(\.messageID))
            }
        }
        _ = await pipeline.shutdown(timeout: .seconds(10))
        try await group.waitForAll()
    }
    return ids
}

/// What a test runs the server against: a Kommo fake serving the bundled fixtures over TCP, a Segment fake, and a
/// fresh working directory (removed by ``remove()``) with the inbox in it.
final class Stage: Sendable {
    let api: KommoFixtureTransport
    let kommo: LoopbackHTTPServer
    let segment: SegmentFake
    let work: URL
    var inbox: URL { work.appendingPathComponent("inbox") }

    /// - Parameters:
    ///   - acceptedToken: the only bearer token the Kommo fake accepts.
    ///   - tokenGrant: when set, the Kommo fake answers `POST /oauth2/access_token` with it.
    ///   - files: the Kommo fake's fixture files; the bundled ones by default.
    init(acceptedToken: String = kommoToken, tokenGrant: Data? = nil, files: [String: Data]? = nil) throws {
        let api = try files.map { KommoFixtureTransport(files: $0, acceptedToken: acceptedToken) }
            ?? KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory(), acceptedToken: acceptedToken)
        self.api = api
        kommo = try LoopbackHTTPServer { request in
            if let tokenGrant, request.target.hasPrefix("/oauth2/access_token") {
                return LoopbackHTTPServer.Response(headers: [("Content-Type", "application/json")], body: tokenGrant)
            }
            return api.respond(to: request)
        }
        segment = try SegmentFake()
        work = FileManager.default.temporaryDirectory
            .appendingPathComponent("kommo-segment-server-\(UUID().uuidString)")
    }

    /// The environment of a server that talks to the fakes (or to `segment` instead of the Segment fake).
    func environment(segment other: URL? = nil) -> [String: String] {
        [
            "KOMMO_ACCOUNT_ID": String(sampleAccountID), "KOMMO_BASE_URL": kommo.baseURL.absoluteString,
            "KOMMO_ACCESS_TOKEN": kommoToken, "KOMMO_WEBHOOK_SECRET": webhookSecret,
            "SEGMENT_WRITE_KEY": segmentWriteKey, "SEGMENT_ENDPOINT": (other ?? segment.server.baseURL).absoluteString,
            "KOMMO_SEGMENT_INBOX": inbox.path, "LOG_LEVEL": "debug", "KOMMO_SEGMENT_SHUTDOWN_GRACE": "20",
        ]
    }

    /// Starts the server with `environment` in the working directory, once it listens.
    func start(_ environment: [String: String]) async throws -> ServerProcess {
        try await ServerProcess(environment: environment, directory: work)
    }

    func remove() { try? FileManager.default.removeItem(at: work) }

    /// Starts a server with `environment`, posts the won-deal sample, checks that the Segment fake receives its
    /// messages, then stops the server with SIGTERM (exit 0).
    func servesTheWonDeal(_ environment: [String: String]) async throws {
        let server = try await start(environment)
        let sample = try Fixtures.webhook("webhook-lead-status-won.txt")
        let expected = try await expectedMessageIDs([sample])
        #expect(try await server.postWebhook(sample, secret: webhookSecret) == 200)
        let received = try await segment.waitForMessages { Set($0) == expected }
        #expect(Set(received) == expected)
        #expect(try await server.signal(SIGTERM) == 0)
    }
}

/// The value of a Prometheus sample line `name{labels} value`, or 0 when absent.
func metric(_ text: String, _ name: String) -> Double {
    for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
        return Double(line.dropFirst(name.count + 1)) ?? -1
    }
    return 0
}

/// The inbox's pending records.
func pendingRecords(_ inbox: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: inbox.appendingPathComponent("pending").path)) ?? [])
        .filter { !$0.hasPrefix(".") }
}

@Suite("kommo-segment-server, the built executable", .serialized)
struct ServerIntegrationTests {
    @Test("samples → Segment; bad secrets → 401, no Kommo request; oversize → 413; /metrics counts; SIGTERM → 0",
          .timeLimit(.minutes(4)))
    func servesWebhooks() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let (api, segment) = (stage.api, stage.segment)
        let server = try await stage.start(stage.environment())
        #expect(try await server.request("GET", "/health").0 == 200)
        #expect(try await server.request("GET", "/ready") == (200, "ready\n"))

        let samples = try sampleWebhooks()
        let first = try #require(samples.first)
        // Refused before any Kommo request: no secret, a wrong one.
        #expect(try await server.postWebhook(first.body, secret: nil) == 401)
        #expect(try await server.postWebhook(first.body, secret: "wrong-secret-0123456789") == 401)
        // Over the parser's limit (1 MiB): by Content-Length, and streamed without one.
        let large = [UInt8](repeating: 0x61, count: 1_048_576 + 65_536)
        let byLength = try rawHTTPStatus(port: server.port, head: "POST /kommo/webhook?secret=\(webhookSecret) "
            + "HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
            + "\(large.count)\r\n\r\n", body: Array(large.prefix(1_024)))
        #expect(byLength == 413)
        var chunked: [UInt8] = []
        for start in stride(from: 0, to: large.count, by: 16_384) {
            let piece = large[start..<min(start + 16_384, large.count)]
            chunked += Array((String(piece.count, radix: 16) + "\r\n").utf8) + piece + Array("\r\n".utf8)
        }
        chunked += Array("0\r\n\r\n".utf8)
        let streamed = try rawHTTPStatus(port: server.port, head: "POST /kommo/webhook?secret=\(webhookSecret) "
            + "HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: "
            + "chunked\r\n\r\n", body: chunked)
        #expect(streamed == 413)
        #expect(api.requestCount == 0, "a start and refused webhooks make no Kommo request")

        for sample in samples {
            #expect(try await server.postWebhook(sample.body, secret: webhookSecret) == 200, "\(sample.name)")
        }
        let expected = try await expectedMessageIDs(samples.map(\.body))
        #expect(!expected.isEmpty)
        let received = try await segment.waitForMessages { Set($0) == expected }
        #expect(Set(received) == expected)
        #expect(api.requestCount > 0)
        let authorization = segment.server.requests.first?.headers["Authorization"]
        #expect(authorization == "Basic " + Data((segmentWriteKey + ":").utf8).base64EncodedString())

        let (status, metrics) = try await server.metrics { metric($0, "kommo_segment_inbox_pending") == 0 }
        #expect(status == 200)
        #expect(metric(metrics, #"kommo_segment_webhooks_total{outcome="accepted"}"#) == Double(samples.count))
        #expect(metric(metrics, #"kommo_segment_webhooks_total{outcome="badSecret"}"#) == 2)
        #expect(metric(metrics, #"kommo_segment_webhooks_total{outcome="tooLarge"}"#) == 2)
        #expect(metric(metrics, #"kommo_segment_messages_total{outcome="delivered"}"#) == Double(received.count))
        #expect(metric(metrics, #"kommo_segment_events_total{outcome="delivered"}"#) > 0)
        #expect(metric(metrics, #"kommo_segment_kommo_requests_total{status="2xx"}"#) == Double(api.requestCount))
        #expect(metric(metrics, #"kommo_segment_segment_requests_total{status="2xx"}"#)
                    == Double(segment.server.requests.count))
        #expect(metric(metrics, "kommo_segment_inbox_pending") == 0)
        #expect(metric(metrics, "kommo_segment_acknowledgement_seconds_count") == Double(samples.count + 4))

        #expect(try await server.signal(SIGTERM) == 0)
        let logs = server.stderr
        #expect(logs.contains("drained"))
        for secret in [webhookSecret, segmentWriteKey, kommoToken] {
            #expect(!logs.contains(secret), "a secret is in the logs")
        }
        #expect(pendingRecords(stage.inbox).isEmpty)
    }

    @Test("SIGTERM while webhooks are in flight (accepted with either rotated secret): delivered, exit 0, inbox empty",
          .timeLimit(.minutes(3)))
    func sigtermDrains() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        var environment = stage.environment()
        let previous = "previous-secret-0123456789abcdef"
        environment["KOMMO_WEBHOOK_SECRET"] = "\(webhookSecret),\(previous)"
        let server = try await stage.start(environment)
        let samples = try sampleWebhooks()
        // During a rotation both secrets are accepted.
        for (index, sample) in samples.enumerated() {
            #expect(try await server.postWebhook(sample.body, secret: index % 2 == 0 ? webhookSecret : previous) == 200)
        }
        // At once: the queue's 5-second interval has not passed, so the drain is what delivers.
        #expect(try await server.signal(SIGTERM) == 0)
        #expect(Set(stage.segment.messageIDs) == (try await expectedMessageIDs(samples.map(\.body))))
        #expect(pendingRecords(stage.inbox).isEmpty)
    }

    @Test("kill -9 with undelivered webhooks, then a restart: the inbox's webhooks are delivered",
          .timeLimit(.minutes(3)))
    func killAndRestart() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let inbox = stage.inbox
        let unreachable = try LoopbackHTTPServer.RefusingPort()
        let samples = try sampleWebhooks()
        do {
            let server = try await stage.start(stage.environment(segment: unreachable.url))
            for sample in samples {
                #expect(try await server.postWebhook(sample.body, secret: webhookSecret) == 200)
            }
            // Webhooks whose items are all skipped are done at once; the others wait for Segment.
            let held = pendingRecords(inbox)
            #expect(!held.isEmpty)
            #expect(try await server.signal(SIGKILL) == SIGKILL)
            #expect(pendingRecords(inbox) == held)
        }

        #expect(stage.segment.messageIDs.isEmpty)
        let restarted = try await stage.start(stage.environment())
        let expected = try await expectedMessageIDs(samples.map(\.body))
        let received = try await stage.segment.waitForMessages { Set($0) == expected }
        #expect(Set(received) == expected)
        #expect(try await restarted.signal(SIGTERM) == 0)
        #expect(pendingRecords(inbox).isEmpty)
    }

    @Test("SIGTERM while Segment hangs: 503 and not ready during the drain, exit 0 at the grace period, inbox kept",
          .timeLimit(.minutes(3)))
    func drainEndsAtGracePeriod() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let hanging = try LoopbackHTTPServer { _ in .init(hangs: true) }
        defer { hanging.stop() }
        var environment = stage.environment(segment: hanging.baseURL)
        environment["KOMMO_SEGMENT_SHUTDOWN_GRACE"] = "4"
        let server = try await stage.start(environment)
        let sample = try Fixtures.webhook("webhook-lead-status-won.txt")
        #expect(try await server.postWebhook(sample, secret: webhookSecret) == 200)
        kill(server.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await server.postWebhook(sample, secret: webhookSecret) == 503)
        #expect(try await server.request("GET", "/ready") == (503, "draining\n"))
        let start = ContinuousClock.now
        #expect(try await server.waitForExit(timeout: .seconds(60)) == 0)
        #expect(ContinuousClock.now - start < .seconds(15))
        #expect(pendingRecords(stage.inbox).count == 1, "the undelivered webhook stays in the inbox for the next start")
        #expect(server.stderr.contains("inbox_pending=1"))
    }

    @Test("check: 0 when the token and Segment work, 1 naming what fails, 2 for a configuration mistake",
          .timeLimit(.minutes(2)))
    func check() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let (api, work) = (stage.api, stage.work)
        var environment = stage.environment()
        let good = try await ServerProcess.runToEnd(["check"], environment: environment, directory: work)
        #expect(good.status == 0, "\(good.stdout)")
        #expect(good.stdout.contains("account 31234567: kommo"))
        #expect(good.stdout.contains("ok (the token reads account 31234567)"))
        #expect(good.stdout.contains("reachable"))
        #expect(api.requestCount(path: "/api/v4/account") == 1)
        #expect(stage.segment.messageIDs.isEmpty, "check sends no message")

        environment["KOMMO_ACCESS_TOKEN"] = "a-wrong-token-value"
        let refused = try await ServerProcess.runToEnd(["check"], environment: environment, directory: work)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("kommo http://127.0.0.1:\(stage.kommo.port): FAILED"))
        #expect(!refused.stdout.contains("a-wrong-token-value"))

        environment["KOMMO_ACCOUNT_ID"] = nil
        let mistake = try await ServerProcess.runToEnd(["check"], environment: environment, directory: work)
        #expect(mistake.status == 2)
        #expect(mistake.stderr == "kommo-segment-server: configuration: KOMMO_ACCOUNT_ID is required (see "
                    + "Documentation/Server.md)\n")
        let serve = try await ServerProcess.runToEnd([], environment: environment, directory: work)
        #expect(serve.status == 2, "a server with a configuration mistake never listens")
        #expect(serve.stderr.split(separator: "\n").count == 1)
    }

    @Test("--demo: a sample webhook posted with the demo secret prints its Segment messages on stdout",
          .timeLimit(.minutes(2)))
    func demo() async throws {
        let stage = try Stage()
        defer { stage.remove() }
        let server = try await ServerProcess(environment: [:], arguments: ["--demo"], directory: stage.work)
        let sample = try Fixtures.webhook("webhook-lead-status-won.txt")
        #expect(try await server.postWebhook(sample, secret: "demo-secret-0123456789") == 200)
        #expect(try await server.signal(SIGTERM) == 0)
        let lines = server.stdout.split(separator: "\n")
        let expected = try await expectedMessageIDs([sample])
        let printed = lines.compactMap { line -> String? in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["messageId"] as? String
        }
        #expect(Set(printed) == expected)
        #expect(printed.count == lines.count, "stdout holds only JSON lines")
    }

    @Test("OAuth: no start before authorize; authorize saves the pair (0600); check never refreshes; it serves",
          .timeLimit(.minutes(3)))
    func oauth() async throws {
        let grant = try Fixtures.kommo("api-oauth-token.json")
        let grantObject = try #require(try JSONSerialization.jsonObject(with: grant) as? [String: Any])
        let issued = try #require(grantObject["access_token"] as? String)
        let stage = try Stage(acceptedToken: issued, tokenGrant: grant)
        defer { stage.remove() }
        let clientSecret = "integration-client-secret-4242"
        let tokenFile = stage.work.appendingPathComponent("tokens.json").path
        var environment = stage.environment()
        environment["KOMMO_ACCESS_TOKEN"] = nil
        environment["KOMMO_CLIENT_ID"] = "integration-client"
        environment["KOMMO_CLIENT_SECRET"] = clientSecret
        environment["KOMMO_REDIRECT_URI"] = "https://app.example.com/kommo/oauth"
        environment["KOMMO_TOKEN_FILE"] = tokenFile

        let early = try await ServerProcess.runToEnd([], environment: environment, directory: stage.work)
        #expect(early.status == 2, "no token file: the server never listens")
        #expect(early.stderr.split(separator: "\n").count == 1)
        #expect(stage.kommo.requests.isEmpty)

        let authorized = try await ServerProcess.runToEnd(["authorize", "code-from-the-redirect"],
                                                          environment: environment, directory: stage.work)
        #expect(authorized.status == 0, "\(authorized.stderr)")
        let exchange = try #require(stage.kommo.requests.first)
        #expect(stage.kommo.requests.count == 1)
        #expect(exchange.target == "/oauth2/access_token")
        let sent = try #require(try JSONSerialization.jsonObject(with: exchange.body) as? [String: String])
        #expect(sent["grant_type"] == "authorization_code")
        #expect(sent["code"] == "code-from-the-redirect")
        #expect(sent["client_secret"] == clientSecret)
        let attributes = try FileManager.default.attributesOfItem(atPath: tokenFile)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let saved = try #require(try FileTokenStore.read(path: tokenFile))
        #expect(saved.accessToken == issued)
        for secret in [clientSecret, issued, saved.refreshToken, "code-from-the-redirect"] {
            #expect(!authorized.stdout.contains(secret) && !authorized.stderr.contains(secret))
        }

        let checked = try await ServerProcess.runToEnd(["check"], environment: environment, directory: stage.work)
        #expect(checked.status == 0, "\(checked.stdout)")
        #expect(stage.api.requestCount(path: "/api/v4/account") == 1)
        #expect(stage.kommo.requests.filter { $0.target.hasPrefix("/oauth2/") }.count == 1, "check never refreshes")

        try await stage.servesTheWonDeal(environment)
        #expect(stage.kommo.requests.filter { $0.target.hasPrefix("/oauth2/") }.count == 1,
                "a valid stored token is used as it is")
    }
}
