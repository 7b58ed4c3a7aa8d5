import Foundation
import HTTPCore
import JSONCore
import KommoAPI
import KommoSegmentTesting
import Testing

/// A store whose saves fail, to prove rotated tokens are not used unsaved.
private actor FailingStore: KommoTokenStore {
    let pair: KommoTokenPair
    init(_ pair: KommoTokenPair) { self.pair = pair }
    func load() async throws -> KommoTokenPair? { pair }
    func save(_ pair: KommoTokenPair) async throws { throw CocoaError(.fileWriteNoPermission) }
}

private let fixtureAccessToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiIwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDBhYmMiLCJqdGkiOiJmaXh0dXJlLW9ubHkiLCJpYXQiOjE3NjgzOTAwMDAsIm5iZiI6MTc2ODM5MDAwMCwiZXhwIjoxNzY4NDc2NDAwLCJzdWIiOiI5MDAwMDAxIiwiYWNjb3VudF9pZCI6MzEyMzQ1NjcsImFwaV9kb21haW4iOiJhcGktYy5rb21tby5jb20ifQ.ZmFrZS1zaWduYXR1cmUtZm9yLXRlc3RzLW9ubHk"
private let fixtureRefreshToken = "def50200-fixture-refresh-token-not-real"

/// A transport that answers token requests with the OAuth fixture and API calls with `api`.
private func splitTransport(api: @escaping @Sendable (_ bearer: String?) -> ScriptedTransport.Answer)
    -> ScriptedTransport {
    ScriptedTransport(fallback: { request, _ in
        if request.url.path == "/oauth2/access_token" {
            return (try? K.fixture("api-oauth-token.json")) ?? .respond(status: 500)
        }
        return api(request.headers["Authorization"].map { String($0.dropFirst("Bearer ".count)) })
    })
}

/// Holds token requests until the test opens the gate, so that concurrent callers pile up behind one refresh.
private final class GatedTransport: HTTPTransport {
    let inner: ScriptedTransport
    let gate = ManualClock()
    init(_ inner: ScriptedTransport) { self.inner = inner }
    func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        if request.url.path == "/oauth2/access_token" { try await gate.sleep(for: .seconds(1)) }
        return try await inner.send(request, body: body)
    }
}

/// A token provider that counts the calls for a token before passing them on, so that a test can wait until every
/// caller has asked.
private struct CountingTokenProvider: KommoTokenProvider {
    let inner: any KommoTokenProvider
    let calls = Recorder<Int>()

    func accessToken() async throws -> String {
        calls.append(0)
        return try await inner.accessToken()
    }

    func tokenRejected(_ token: String) async throws -> String? {
        try await inner.tokenRejected(token)
    }
}

/// A store shared with another process that has already refreshed: its exclusive refresh hands back that pair.
private actor RefreshedElsewhereStore: KommoTokenStore {
    let stored: KommoTokenPair
    let elsewhere: KommoTokenPair
    init(stored: KommoTokenPair, elsewhere: KommoTokenPair) {
        self.stored = stored
        self.elsewhere = elsewhere
    }
    func load() async throws -> KommoTokenPair? { stored }
    func save(_ pair: KommoTokenPair) async throws {}
    func refreshExclusively(replacing stale: KommoTokenPair,
                            refresh: @Sendable (KommoTokenPair) async throws -> KommoTokenPair) async throws
        -> KommoTokenPair {
        stale.accessToken == elsewhere.accessToken ? try await refresh(stale) : elsewhere
    }
}

@Suite("Kommo authentication", .timeLimit(.minutes(1)))
struct AuthTests {
    @Test("20 concurrent calls with an expired token make exactly one refresh request")
    func singleFlight() async throws {
        let time = ImmediateClock()
        let store = InMemoryTokenStore(KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken,
                                                      expiresAt: time.date.addingTimeInterval(-10)))
        let transport = splitTransport { _ in K.noContent }
        let gated = GatedTransport(transport)
        let provider = OAuthTokenProvider(
            host: try K.host(),
            credentials: KommoOAuthCredentials(clientID: "client-1", clientSecret: K.clientSecret,
                                               redirectURI: "https://app.example.com/oauth"),
            store: store, transport: gated, wallClock: time.wallClock)
        let counting = CountingTokenProvider(inner: provider)
        let client = try K.client(transport, clock: time, tokens: counting)
        let start = time.date
        try await withThrowingTaskGroup(of: Lead?.self) { group in
            for id: Int64 in 0..<20 { group.addTask { try await client.lead(id: id) } }
            // The refresh is held at the gate until all 20 calls have asked for a token.
            await gated.gate.waitForSleepers(1)
            await counting.calls.wait(for: 20)
            gated.gate.advance(by: .seconds(1))
            for try await lead in group { #expect(lead == nil) }
        }
        #expect(counting.calls.values.count == 20)
        let tokenRequests = transport.requests.filter(\.isTokenRequest)
        #expect(tokenRequests.count == 1)
        #expect(await provider.refreshCount == 1)
        let apiRequests = transport.requests.filter { !$0.isTokenRequest }
        #expect(apiRequests.count == 20)
        #expect(apiRequests.allSatisfy { $0.bearer == fixtureAccessToken })

        let refresh = try #require(tokenRequests.first)
        #expect(refresh.request.method == .post)
        #expect(refresh.request.url.absoluteString == "https://acme.kommo.com/oauth2/access_token")
        #expect(refresh.request.headers["Content-Type"] == "application/json")
        #expect(refresh.request.headers["Authorization"] == nil)
        let body = try JSONDecoder().decode(JSONValue.self, from: try #require(refresh.body))
        #expect(body == ["client_id": "client-1", "client_secret": .string(K.clientSecret),
                         "grant_type": "refresh_token", "refresh_token": .string(K.refreshToken),
                         "redirect_uri": "https://app.example.com/oauth"])

        let saved = try #require(try await store.load())
        #expect(saved.accessToken == fixtureAccessToken)
        #expect(saved.refreshToken == fixtureRefreshToken)
        #expect(saved.expiresAt == start.addingTimeInterval(86_400))
        #expect(await store.saveCount == 1)
    }

    @Test("a token expiring within the margin is refreshed before use; one outside it is not")
    func proactiveRefresh() async throws {
        let time = ImmediateClock()
        let store = InMemoryTokenStore(KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken,
                                                      expiresAt: time.date.addingTimeInterval(600)))
        let transport = splitTransport { _ in K.noContent }
        let provider = try K.oauth(transport, store: store, wallClock: time.wallClock)
        #expect(try await provider.accessToken() == K.accessToken)
        #expect(transport.requests.isEmpty)

        time.advance(by: .seconds(299))  // 301 s left: still outside the 300 s margin
        #expect(try await provider.accessToken() == K.accessToken)
        #expect(transport.requests.isEmpty)

        time.advance(by: .seconds(2))  // 299 s left: inside the margin
        #expect(try await provider.accessToken() == fixtureAccessToken)
        #expect(transport.requests.filter(\.isTokenRequest).count == 1)
        #expect(try await provider.accessToken() == fixtureAccessToken)
        #expect(transport.requests.count == 1)
    }

    @Test("a new token issued with less life than the margin is used until it expires, not refreshed in a loop")
    func shortLivedTokenNoLoop() async throws {
        let time = ImmediateClock()
        let store = InMemoryTokenStore(KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken,
                                                      expiresAt: time.date))
        let transport = ScriptedTransport(fallback: { _, _ in
            K.json(#"{"access_token":"short-1","refresh_token":"r-2","expires_in":60,"token_type":"Bearer"}"#)
        })
        let provider = try K.oauth(transport, store: store, wallClock: time.wallClock)
        #expect(try await provider.accessToken() == "short-1")
        #expect(try await provider.accessToken() == "short-1")
        #expect(transport.requests.count == 1)
        time.advance(by: .seconds(61))
        _ = try await provider.accessToken()
        #expect(transport.requests.count == 2)
    }

    @Test("a 401 refreshes once and repeats the call with the new token")
    func reactiveRefresh() async throws {
        let time = ImmediateClock()
        let store = InMemoryTokenStore(KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken,
                                                      expiresAt: time.date.addingTimeInterval(3_600)))
        let transport = splitTransport { bearer in
            bearer == K.accessToken ? ((try? K.fixture("api-error-401.json", status: 401)) ?? K.noContent)
                : ((try? K.fixture("api-account.json")) ?? K.noContent)
        }
        let client = try K.client(transport, clock: time, tokens: try K.oauth(transport, store: store, wallClock: time.wallClock))
        #expect(try await client.account().id == 31_234_567)
        #expect(transport.requests.map(\.isTokenRequest) == [false, true, false])
        #expect(transport.requests.map(\.bearer) == [K.accessToken, nil, fixtureAccessToken])
    }

    @Test("a second 401 after the refresh fails with a typed error, without looping")
    func reactiveRefreshOnlyOnce() async throws {
        let time = ImmediateClock()
        let store = InMemoryTokenStore(KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken,
                                                      expiresAt: time.date.addingTimeInterval(3_600)))
        let transport = splitTransport { _ in (try? K.fixture("api-error-401.json", status: 401)) ?? K.noContent }
        let client = try K.client(transport, clock: time, tokens: try K.oauth(transport, store: store, wallClock: time.wallClock))
        let error = await #expect(throws: KommoAPIError.self) { _ = try await client.pipelines() }
        #expect(error?.code == .unauthorized)
        #expect(error?.status == 401)
        #expect(error?.detail
            == "The access token is missing, expired or revoked. (rejected again after a token refresh)")
        // The cause is the repeated call's own 401, as Kommo answered it.
        let cause = try #require(error?.underlyingError as? KommoAPIError)
        #expect(cause.code == .unauthorized)
        #expect(cause.status == 401)
        #expect(cause.detail == "The access token is missing, expired or revoked.")
        #expect(cause.underlyingError == nil)
        #expect(transport.requests.map(\.isTokenRequest) == [false, true, false])
    }

    @Test("a long-lived token is not refreshed: one 401 fails at once")
    func longLivedToken() async throws {
        let transport = ScriptedTransport([try K.fixture("api-error-401.json", status: 401)])
        let error = await #expect(throws: KommoAPIError.self) { _ = try await K.client(transport).account() }
        #expect(error?.code == .unauthorized)
        #expect(error?.detail == "The access token is missing, expired or revoked.")
        #expect(transport.requests.count == 1)
    }

    @Test("401 from the token endpoint means the grant is dead: surfaced, not retried, remembered")
    func grantRevoked() async throws {
        let time = ImmediateClock()
        let store = InMemoryTokenStore(KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken,
                                                      expiresAt: time.date))
        let transport = ScriptedTransport([
            K.json(#"{"title":"Unauthorized","detail":"Token has been revoked"}"#, status: 401),
        ])
        let client = try K.client(transport, clock: time, tokens: try K.oauth(transport, store: store, wallClock: time.wallClock))
        let error = await #expect(throws: KommoAPIError.self) { _ = try await client.account() }
        #expect(error?.code == .grantRevoked)
        #expect(error?.status == 401)
        #expect(error?.detail == "Token has been revoked")
        #expect(error?.request == "POST https://acme.kommo.com/oauth2/access_token")
        let again = await #expect(throws: KommoAPIError.self) { _ = try await client.account() }
        #expect(again?.code == .grantRevoked)
        #expect(transport.requests.count == 1)
        #expect(await store.saveCount == 0)
    }

    @Test("a rotated pair that cannot be saved is not used")
    func saveBeforeUse() async throws {
        let time = ImmediateClock()
        let store = FailingStore(KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken,
                                                expiresAt: time.date))
        let transport = splitTransport { _ in K.noContent }
        let client = try K.client(transport, clock: time, tokens: try K.oauth(transport, store: store, wallClock: time.wallClock))
        let error = await #expect(throws: KommoAPIError.self) { _ = try await client.lead(id: 1) }
        #expect(error?.code == .tokenStoreFailed)
        #expect(transport.requests.filter { !$0.isTokenRequest }.isEmpty)
    }

    @Test("an empty store asks for authorization; exchanging a code saves the pair")
    func authorizationCode() async throws {
        let time = ImmediateClock()
        let store = InMemoryTokenStore()
        let transport = ScriptedTransport([try K.fixture("api-oauth-token.json")])
        let provider = try K.oauth(transport, store: store, wallClock: time.wallClock)
        let error = await #expect(throws: KommoAPIError.self) { _ = try await provider.accessToken() }
        #expect(error?.code == .notAuthorized)
        let pair = try await provider.exchangeAuthorizationCode("code-123")
        #expect(pair.refreshToken == fixtureRefreshToken)
        #expect(try await provider.accessToken() == fixtureAccessToken)
        let body = try JSONDecoder().decode(JSONValue.self, from: try #require(transport.requests.first?.body))
        #expect(body["grant_type"] == "authorization_code")
        #expect(body["code"] == "code-123")
        #expect(await store.saveCount == 1)
    }

    @Test("secrets never appear in descriptions, reflections or errors")
    func secretsRedacted() async throws {
        let time = ImmediateClock()
        let pair = KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken, expiresAt: time.date)
        let credentials = KommoOAuthCredentials(clientID: "client-1", clientSecret: K.clientSecret,
                                                redirectURI: "https://app.example.com/oauth")
        let echo = #"{"detail":"refresh \#(K.refreshToken) secret \#(K.clientSecret) token \#(K.accessToken)"}"#
        let transport = ScriptedTransport([
            K.json(echo, status: 400),
            .fail(HTTPTransportError(code: .timedOut, request: "POST", detail: "slow")),
            K.json(#"{"access_token": "\#(K.accessToken)"}"#),
        ])
        let provider = try K.oauth(transport, store: InMemoryTokenStore(pair), wallClock: time.wallClock)
        let longLived = LongLivedToken(K.accessToken)
        let client = try K.client(transport, tokens: longLived)
        var texts = [pair.description, String(reflecting: pair), String(describing: longLived),
                     String(reflecting: longLived), credentials.description, String(reflecting: credentials),
                     provider.description, client.description]
        var dumped = ""
        dump(pair, to: &dumped)
        dump(longLived, to: &dumped)
        dump(credentials, to: &dumped)
        dump(provider, to: &dumped)
        dump(try K.client(transport, tokens: provider), to: &dumped)
        dump(client, to: &dumped)
        #expect(dumped.contains("acme.kommo.com"))
        texts.append(dumped)
        var errors: [KommoAPIError] = []
        for _ in 0..<3 {
            do {
                _ = try await provider.refresh()
                Issue.record("refresh should fail")
            } catch let error as KommoAPIError {
                #expect(error.code == .tokenRefreshFailed)
                errors.append(error)
                texts += [error.description, String(reflecting: error), error.body ?? "", error.detail,
                          error.underlyingError.map { String(reflecting: $0) } ?? ""]
            }
        }
        // The attempt without a response keeps the transport error as its cause.
        try #require(errors.count == 3)
        #expect(errors.map(\.transportCode) == [nil, .timedOut, nil])
        #expect((errors[1].underlyingError as? HTTPTransportError)?.detail == "slow")
        #expect(errors[0].status == 400 && errors[2].status == 200)
        #expect(texts.count > 10)
        for text in texts {
            for secret in K.allSecrets {
                #expect(!text.contains(secret), "secret leaked in: \(text.prefix(80))")
            }
        }
    }

    @Test("a shared store that another process refreshed hands back its pair: no token request is made")
    func refreshedElsewhere() async throws {
        let time = ImmediateClock()
        let elsewhere = KommoTokenPair(accessToken: "at-from-elsewhere", refreshToken: "rt-from-elsewhere",
                                       expiresAt: time.date.addingTimeInterval(86_400))
        let store = RefreshedElsewhereStore(
            stored: KommoTokenPair(accessToken: K.accessToken, refreshToken: K.refreshToken, expiresAt: time.date),
            elsewhere: elsewhere)
        let transport = splitTransport { _ in K.noContent }
        let provider = try K.oauth(transport, store: store, wallClock: time.wallClock)
        #expect(try await provider.accessToken() == "at-from-elsewhere")
        #expect(transport.requests.isEmpty)
        #expect(await provider.refreshCount == 0)
    }
}
