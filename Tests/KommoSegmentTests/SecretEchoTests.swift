import Foundation
import KommoSegment
import KommoSegmentTesting
import Testing

/// Secrets that an echoing upstream hands back, and the texts they must never reach.
enum EchoSecrets {
    static let token = "kommo-token-echo-0123456789abcdef"
    static let writeKey = "segment-key-echo-0123456789abcdef"
    /// What the `Authorization: Basic` header carries: the base64 of `key:`.
    static let basicKey = Data((writeKey + ":").utf8).base64EncodedString()
    static let all = [token, writeKey, basicKey, secret]

    /// The secrets found in `text`.
    static func leaked(in text: String) -> [String] { all.filter { text.contains($0) } }

    /// An answer that repeats the request's line, headers and body, as a misconfigured proxy or a debugging
    /// endpoint does, with `status` and a content type that is not JSON.
    static func echo(status: Int) -> @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        { request in
            var text = "\(request.method) \(request.target)\n"
            for field in request.headers { text += "\(field.name): \(field.value)\n" }
            text += "\n" + String(decoding: request.body, as: UTF8.self)
            return LoopbackHTTPServer.Response(status: status, headers: [("Content-Type", "text/plain")],
                                               body: Data(text.utf8))
        }
    }
}

/// Sends Kommo's requests to one transport and Segment's to another.
struct SplitTransport: HTTPTransport {
    let kommoHost: String
    let kommo: any HTTPTransport
    let segment: any HTTPTransport

    func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        try await (request.url.host == kommoHost ? kommo : segment).send(request, body: body)
    }
}

@Suite("Secrets never leave, whatever an upstream echoes", .timeLimit(.minutes(1)))
struct SecretEchoTests {
    enum Upstream: String, CaseIterable, Sendable { case kommo, segment }

    @Test("an echo of the request in a non-JSON 2xx, 4xx or 5xx reaches no report, error or log record",
          arguments: Upstream.allCases, [200, 400, 500])
    func pipelineThroughEcho(upstream: Upstream, status: Int) async throws {
        let echo = try LoopbackHTTPServer(handler: EchoSecrets.echo(status: status))
        defer { echo.stop() }
        let fixtures = KommoFixtureTransport(files: try sampleAPIFiles())
        let kommoHost = upstream == .kommo ? try KommoAccountHost(url: echo.baseURL)
                                           : try KommoAccountHost(subdomain: "acme")
        let transport = SplitTransport(kommoHost: kommoHost.host,
                                       kommo: upstream == .kommo ? URLSessionTransport() : fixtures,
                                       segment: URLSessionTransport())
        let log = InMemoryLogSink()
        let account = KommoSegmentAccount.http(
            accountID: 31_234_567, host: kommoHost, tokenProvider: LongLivedToken(EchoSecrets.token),
            segment: SegmentClientConfiguration(writeKey: SegmentWriteKey(EchoSecrets.writeKey),
                                                endpoint: try SegmentEndpoint(origin: echo.baseURL,
                                                                              allowsInsecureHTTP: true)),
            secret: WebhookSecret(secret),
            kommoConfiguration: .init(retryPolicy: .never),
            queueConfiguration: .init(flushInterval: .seconds(3600), retryPolicy: .never),
            transport: transport, log: log)
        let pipeline = try KommoSegmentPipeline(accounts: [account], log: log)
        let report = try await withThrowingTaskGroup(of: WebhookReport?.self) { group in
            group.addTask {
                try await pipeline.run()
                return nil
            }
            let report = await pipeline.process(body: try Fixtures.kommo("webhook-lead-status-won.txt"),
                                                contentType: form, requestTarget: target)
            _ = await pipeline.shutdown(timeout: .seconds(5))
            try await group.waitForAll()
            return report
        }

        // The echo did reach the upstream with the secrets in it, so the test is not vacuous.
        let echoed = echo.requests.map { EchoSecrets.echo(status: status)($0).body }
        #expect(!echoed.isEmpty)
        #expect(echoed.allSatisfy { !EchoSecrets.leaked(in: String(decoding: $0, as: UTF8.self)).isEmpty })
        // A 2xx from Segment is a delivery whatever its body (RudderStack answers "OK"); everything else fails.
        let delivers = upstream == .segment && status == 200
        #expect(report.hasFailures == !delivers)
        if upstream == .kommo {
            // A non-JSON 2xx from Kommo is a decode error, reported after one request: not retried.
            let expected: KommoAPIError.Code = status == 200 ? .decodingFailed
                                             : status == 400 ? .badRequest : .serverError
            let codes = report.events.compactMap { event -> KommoAPIError.Code? in
                if case .failed(let error) = event.outcome { error.kommoError?.code } else { nil }
            }
            #expect(codes == [expected])
            #expect(echo.requests.count == 1)
        }
        var texts = [String(describing: report), String(reflecting: report)]
        for event in report.events {
            texts.append(String(describing: event))
            if case .failed(let error) = event.outcome {
                texts += [error.description, String(reflecting: error), error.detail]
                texts += [error.kommoError?.body, error.segmentError?.responseBody].compactMap { $0 }
            }
        }
        texts += log.all.map { "\($0.message) \($0.metadata)" }
        #expect(texts.flatMap(EchoSecrets.leaked(in:)) == [])
        #expect(!log.all.isEmpty || delivers)
    }
}

@Suite("Secrets never leave the command line, whatever an upstream echoes", .timeLimit(.minutes(1)))
struct CommandLineSecretEchoTests {
    /// A Segment 5xx is retried by the command's queue for minutes (Segment's retry policy), so its echo is
    /// checked through the pipeline above; Kommo's 5xx is retried three times within seconds.
    @Test("replay against an echoing Kommo or Segment prints no secret, and exits 1 unless Segment took it", arguments: [
        (SecretEchoTests.Upstream.kommo, 200), (.kommo, 400), (.kommo, 500), (.segment, 200), (.segment, 400),
    ])
    func replayThroughEcho(upstream: SecretEchoTests.Upstream, status: Int) async throws {
        let echo = try LoopbackHTTPServer(handler: EchoSecrets.echo(status: status))
        defer { echo.stop() }
        var arguments = ["replay", "--kommo-account-id", "31234567", "--segment-endpoint", echo.baseURL.absoluteString]
        arguments += upstream == .kommo ? ["--kommo-base-url", echo.baseURL.absoluteString]
                                        : ["--fixtures", try Fixtures.kommoAPIDirectory().path]
        arguments.append(try Tool.sample("webhook-lead-status-won.txt"))
        // The secrets come from the environment, as a deployment passes them.
        let run = try await Tool.run(arguments, environment: [
            "KOMMO_ACCESS_TOKEN": EchoSecrets.token, "SEGMENT_WRITE_KEY": EchoSecrets.writeKey,
        ])
        #expect(!echo.requests.isEmpty)
        let delivers = upstream == .segment && status == 200
        #expect(run.status == (delivers ? 0 : 1))
        #expect(EchoSecrets.leaked(in: run.allOutput) == [])
        #expect(!run.stderrLines.isEmpty)
    }
}
