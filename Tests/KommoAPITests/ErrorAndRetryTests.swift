import Foundation
import HTTPCore
import JSONCore
import KommoAPI
import KommoSegmentTesting
import Testing

@Suite("Kommo client errors", .timeLimit(.minutes(1)))
struct ErrorTests {
    @Test("each HTTP error class maps to its own code with request id and body", arguments: [
        (400, KommoAPIError.Code.badRequest, 1),
        (401, .unauthorized, 1),
        (402, .paymentRequired, 1),
        (403, .forbidden, 1),
        (404, .notFound, 1),
        (405, .unexpectedStatus, 1),
        (422, .unprocessable, 1),
        (429, .rateLimited, 4),
        (500, .serverError, 4),
        (503, .serverError, 4),
    ])
    func statusCodes(status: Int, code: KommoAPIError.Code, requests: Int) async throws {
        let body = #"{"title":"T","status":\#(status),"detail":"detail \#(status)"}"#
        let transport = ScriptedTransport(fallback: { _, _ in
            K.json(body, status: status, headers: ["X-Request-Id": "req-\(status)",
                                                   "Content-Type": "application/problem+json"])
        })
        let error = await #expect(throws: KommoAPIError.self) {
            _ = try await K.client(transport).pipelines()
        }
        #expect(error?.code == code)
        #expect(error?.status == status)
        #expect(error?.requestID == "req-\(status)")
        #expect(error?.detail == "detail \(status)")
        #expect(error?.body == body)
        #expect(error?.request == "GET https://acme.kommo.com/api/v4/leads/pipelines")
        #expect(error?.validationErrors == [])
        #expect(error?.underlyingError == nil)
        #expect(error?.transportCode == nil)
        #expect(transport.requests.count == requests)
    }

    @Test("validation 400 exposes every path, code and detail")
    func validationErrors() async throws {
        let transport = ScriptedTransport([try K.fixture("api-error-validation-400.json", status: 400)])
        let error = await #expect(throws: KommoAPIError.self) {
            _ = try await K.client(transport).addNotes([NewNote(entityID: 1, noteType: "bogus", params: [:])])
        }
        #expect(error?.code == .validationFailed)
        #expect(error?.detail == "Request validation failed")
        #expect(error?.validationErrors == [
            .init(requestID: "0", code: "NotSupportedChoice", path: "note_type",
                  detail: "The note type is not one of the accepted values."),
            .init(requestID: "0", code: "InvalidType", path: "entity_id", detail: "An integer is expected here."),
        ])
        #expect(error?.status == 400)
        #expect(transport.requests.count == 1)
    }

    @Test("an HTML 403 from the edge and a long body are cut to at most 512 bytes")
    func truncatedBody() async throws {
        let html = "<html><body>" + String(repeating: "Доступ запрещён. ", count: 200) + "</body></html>"
        let transport = ScriptedTransport([.respond(status: 403, headers: ["Content-Type": "text/html"],
                                                    body: Data(html.utf8))])
        let error = await #expect(throws: KommoAPIError.self) { _ = try await K.client(transport).account() }
        let body = try #require(error?.body)
        #expect(body.utf8.count <= 512)
        #expect(body.hasPrefix("<html><body>Доступ"))
        #expect(error?.detail == "HTTP 403")
        #expect(error?.code == .forbidden)
    }

    @Test("a successful but malformed body is a decoding error")
    func decodingFailure() async throws {
        let transport = ScriptedTransport([K.json(#"{"_embedded": {"pipelines": [{"name": "no id"}]}}"#)])
        let error = await #expect(throws: KommoAPIError.self) { _ = try await K.client(transport).pipelines() }
        #expect(error?.code == .decodingFailed)
        #expect(error?.status == 200)
    }

    @Test("a non-JSON 200 that echoes the token is a decoding error whose body excerpt hides the token")
    func decodingFailureHidesToken() async throws {
        let transport = ScriptedTransport([.respond(status: 200, headers: ["Content-Type": "text/plain"],
                                                    body: Data("echo: Authorization: Bearer \(K.accessToken)".utf8))])
        let error = await #expect(throws: KommoAPIError.self) { _ = try await K.client(transport).pipelines() }
        #expect(error?.code == .decodingFailed)
        #expect(error?.body == "echo: Authorization: Bearer <redacted>")
        #expect(error.map { String(describing: $0) }?.contains(K.accessToken) == false)
    }

    @Test("the token never appears in an error, even when the server echoes it")
    func tokenNotInErrors() async throws {
        let echo = #"{"detail":"bad token \#(K.accessToken)","title":"Unauthorized"}"#
        let transport = ScriptedTransport([
            K.json(echo, status: 401),
            .fail(HTTPTransportError(code: .connectionFailed, request: "GET x",
                                     detail: "reset while sending Bearer \(K.accessToken)")),
        ])
        let client = try K.client(transport, configuration: .init(retryPolicy: .never))
        let first = await #expect(throws: KommoAPIError.self) { _ = try await client.account() }
        let second = await #expect(throws: KommoAPIError.self) { _ = try await client.pipelines() }
        for error in [first, second].compactMap({ $0 }) {
            for text in [error.description, String(reflecting: error), error.body ?? "", error.detail] {
                #expect(!text.contains(K.accessToken))
            }
        }
        #expect(first?.detail == "bad token <redacted>")
        #expect(second?.code == .transport)
        #expect(second?.transportCode == .connectionFailed)
        // The cause is the transport error, scrubbed the same way.
        let cause = try #require(second?.underlyingError as? HTTPTransportError)
        #expect(cause.detail == "reset while sending Bearer <redacted>")
        for text in [cause.description, String(reflecting: cause)] { #expect(!text.contains(K.accessToken)) }
    }

    @Test("a .transport error carries the HTTPTransportError it wraps")
    func transportCause() async throws {
        let failure = HTTPTransportError(code: .timedOut, request: "GET https://acme.kommo.com/api/v4/account",
                                         detail: "no complete response within 15.0 s")
        let transport = ScriptedTransport([.fail(failure)])
        let client = try K.client(transport, configuration: .init(retryPolicy: .never))
        let error = await #expect(throws: KommoAPIError.self) { _ = try await client.account() }
        #expect(error?.code == .transport)
        #expect(error?.status == nil)
        #expect(error?.request == "GET https://acme.kommo.com/api/v4/account")
        #expect(error?.underlyingError as? HTTPTransportError == failure)
        #expect(error?.transportCode == .timedOut)
        #expect(error?.isTransientTransportFailure == true)
        #expect(error?.detail == failure.description)
    }

    @Test("codes keep their stable names")
    func codeNames() {
        let codes: [KommoAPIError.Code] = [.unauthorized, .blockedAfterRateLimit, .transport, .grantRevoked]
        #expect(codes.map(\.description) == ["unauthorized", "blockedAfterRateLimit", "transport", "grantRevoked"])
        let transportCodes: [HTTPTransportError.Code] = [.timedOut, .connectionFailed, .redirectRefused, .cancelled]
        #expect(transportCodes.map(\.description) == ["timedOut", "connectionFailed", "redirectRefused", "cancelled"])
    }
}

@Suite("Kommo client retries", .timeLimit(.minutes(1)))
struct RetryTests {
    @Test("429 with Retry-After waits that long, then succeeds")
    func retryAfterHeader() async throws {
        let time = ImmediateClock()
        let transport = ScriptedTransport([
            K.json("{}", status: 429, headers: ["Retry-After": "3"]),
            try K.fixture("api-account.json"),
        ])
        let account = try await K.client(transport, clock: time).account()
        #expect(account.id == 31_234_567)
        #expect(transport.requests.count == 2)
        #expect(time.sleeps.contains(.seconds(3)))
        #expect(time.sleeps.reduce(Duration.zero, +) < .seconds(4))
    }

    @Test("429 with retry_after in the body waits that long")
    func retryAfterBody() async throws {
        let time = ImmediateClock()
        let transport = ScriptedTransport([try K.fixture("api-error-429.json", status: 429),
                                           try K.fixture("api-account.json")])
        _ = try await K.client(transport, clock: time).account()
        #expect(time.sleeps.contains(.seconds(5)))
    }

    @Test("429 without a hint backs off from one second")
    func retryBackoff() async throws {
        let time = ImmediateClock()
        let transport = ScriptedTransport([K.json("<html>slow down</html>", status: 429),
                                           K.json("<html>slow down</html>", status: 429),
                                           try K.fixture("api-account.json")])
        _ = try await K.client(transport, clock: time).account()
        #expect(time.sleeps.filter { $0 >= .milliseconds(500) } == [.seconds(1), .seconds(2)])
    }

    @Test("a 403 after a 429 is reported as a block and never retried")
    func blockAfterRateLimit() async throws {
        let transport = ScriptedTransport([
            K.json("{}", status: 429, headers: ["Retry-After": "1"]),
            .respond(status: 403, headers: ["Content-Type": "text/html"], body: Data("<html>blocked</html>".utf8)),
        ])
        let client = try K.client(transport)
        let error = await #expect(throws: KommoAPIError.self) { _ = try await client.pipelines() }
        #expect(error?.code == .blockedAfterRateLimit)
        #expect(error?.status == 403)
        #expect(error?.body == "<html>blocked</html>")
        #expect(transport.requests.count == 2)

        // The next call on the same limiter, soon after, still reads a 403 as a block.
        transport.enqueue(.respond(status: 403))
        let later = await #expect(throws: KommoAPIError.self) { _ = try await client.account() }
        #expect(later?.code == .blockedAfterRateLimit)
        #expect(transport.requests.count == 3)
    }

    @Test("GETs retry 5xx and transient transport failures")
    func getRetries() async throws {
        let transport = ScriptedTransport([
            K.json("oops", status: 503),
            .fail(HTTPTransportError(code: .timedOut, request: "GET", detail: "slow")),
            .fail(HTTPTransportError(code: .connectionFailed, request: "GET", detail: "reset")),
            try K.fixture("api-account.json"),
        ])
        #expect(try await K.client(transport).account().subdomain == "acme")
        #expect(transport.requests.count == 4)
    }

    @Test("a refused redirect is not retried")
    func redirectNotRetried() async throws {
        let transport = ScriptedTransport([
            .fail(HTTPTransportError(code: .redirectRefused, request: "GET", status: 301, detail: "no")),
        ])
        let error = await #expect(throws: KommoAPIError.self) { _ = try await K.client(transport).account() }
        #expect(error?.transportCode == .redirectRefused)
        #expect(error?.status == 301)
        #expect((error?.underlyingError as? HTTPTransportError)?.status == 301)
        #expect(transport.requests.count == 1)
    }

    @Test("a note POST is not retried when its outcome is unknown", arguments: [
        ScriptedTransport.Answer.fail(HTTPTransportError(code: .timedOut, request: "POST", detail: "slow")),
        .fail(HTTPTransportError(code: .connectionFailed, request: "POST", detail: "reset")),
        .respond(status: 500, headers: [:], body: Data()),
        .respond(status: 504, headers: [:], body: Data()),
    ])
    func postNotRetried(answer: ScriptedTransport.Answer) async throws {
        let transport = ScriptedTransport([answer, try K.fixture("api-note-create-response.json")])
        await #expect(throws: KommoAPIError.self) {
            _ = try await K.client(transport).addNotes([.common(leadID: 24_000_017, text: "x")])
        }
        #expect(transport.requests.count == 1)
    }

    @Test("a note POST refused with 429 was not processed, so it is retried")
    func postRetriedOn429() async throws {
        let transport = ScriptedTransport([K.json("{}", status: 429, headers: ["Retry-After": "2"]),
                                           try K.fixture("api-note-create-response.json")])
        let notes = try await K.client(transport).addNotes([.common(leadID: 24_000_017, text: "x")])
        #expect(notes.map(\.id) == [91_000_077])
        #expect(transport.requests.count == 2)
        #expect(transport.requests[0].body == transport.requests[1].body)
    }

    @Test("retries stop after the policy's attempts")
    func attemptsLimit() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in K.json("", status: 502) })
        let config = HTTPKommoClient.Configuration(retryPolicy: RetryPolicy(maxAttempts: 2, baseDelay: .seconds(1)))
        await #expect(throws: KommoAPIError.self) { _ = try await K.client(transport, configuration: config).account() }
        #expect(transport.requests.count == 2)
    }
}
