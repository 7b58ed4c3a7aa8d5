import Foundation
import HTTPCore
import JSONCore
import KommoAPI
import KommoSegmentTesting

/// Shared builders for the client tests.
enum K {
    static let accessToken = "at-SECRET-0123456789abcdef"
    static let refreshToken = "rt-SECRET-fedcba9876543210"
    static let clientSecret = "cs-SECRET-client-secret-xyz"
    static let allSecrets = [accessToken, refreshToken, clientSecret]

    static func host() throws -> KommoAccountHost { try KommoAccountHost(subdomain: "acme") }

    /// A client on `clock` (an ``ImmediateClock`` by default), reading dates from the clock's wall clock.
    static func client(_ transport: ScriptedTransport, clock: some TestClock = ImmediateClock(),
                       tokens: (any KommoTokenProvider)? = nil, configuration: HTTPKommoClient.Configuration = .init(),
                       limiter: KommoRateLimiter? = nil) throws -> HTTPKommoClient {
        HTTPKommoClient(host: try host(), tokenProvider: tokens ?? LongLivedToken(accessToken),
                        configuration: configuration, transport: transport, rateLimiter: limiter, clock: clock,
                        wallClock: clock.wallClock, random: { 0 })
    }

    static func json(_ text: String, status: Int = 200, headers: HTTPHeaders = [:]) -> ScriptedTransport.Answer {
        .respond(status: status, headers: headers, body: Data(text.utf8))
    }

    static func fixture(_ name: String, status: Int = 200, headers: HTTPHeaders = [:]) throws
        -> ScriptedTransport.Answer {
        .respond(status: status, headers: headers, body: try Fixtures.kommo(name))
    }

    static let noContent = ScriptedTransport.Answer.respond(status: 204)

    /// A HAL collection of `items` under `_embedded.<key>`, with an optional next link.
    static func page(_ key: String, _ items: [JSONValue], next: String? = nil) -> ScriptedTransport.Answer {
        var links: [String: JSONValue] = ["self": ["href": "https://acme.kommo.com/x"]]
        if let next { links["next"] = ["href": .string(next)] }
        let body: JSONValue = ["_page": 1, "_links": .object(links), "_embedded": [key: .array(items)]]
        return .respond(status: 200, headers: ["Content-Type": "application/hal+json"],
                        body: Data(body.description.utf8))
    }

    static func fixtureJSON(_ name: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Fixtures.kommo(name))
    }

    static func oauth(_ transport: ScriptedTransport, store: any KommoTokenStore, wallClock: WallClock,
                      margin: Duration = .seconds(300)) throws -> OAuthTokenProvider {
        OAuthTokenProvider(host: try host(),
                           credentials: KommoOAuthCredentials(clientID: "client-1", clientSecret: clientSecret,
                                                              redirectURI: "https://app.example.com/oauth"),
                           store: store, configuration: .init(refreshMargin: margin), transport: transport,
                           wallClock: wallClock)
    }
}

extension RecordedRequest {
    /// The percent-encoded query as sent.
    var query: String? { URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.percentEncodedQuery }
    /// The path as sent.
    var path: String { request.url.path }
    /// Whether this is a call to the token endpoint.
    var isTokenRequest: Bool { request.url.path == "/oauth2/access_token" }
    /// The bearer token sent, if any.
    var bearer: String? { request.headers["Authorization"].map { String($0.dropFirst("Bearer ".count)) } }
}

/// The deterministic clocks of KommoSegmentTesting: monotonic clocks that carry a wall clock moving with them.
protocol TestClock: Clock<Duration> {
    var wallClock: WallClock { get }
}

extension ImmediateClock: TestClock {}
extension ManualClock: TestClock {}

/// Records values from concurrent code; a test can wait, without polling, until enough were recorded.
final class Recorder<Value: Sendable>: Sendable {
    private struct State {
        var values: [Value] = []
        var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let storage = LockedValue(State())

    func append(_ value: Value) {
        let ready: [CheckedContinuation<Void, Never>] = storage.withLock { state in
            state.values.append(value)
            let count = state.values.count
            let ready = state.watchers.filter { $0.count <= count }.map(\.continuation)
            state.watchers.removeAll { $0.count <= count }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    var values: [Value] { storage.withLock { $0.values } }

    /// Returns once at least `count` values were recorded.
    func wait(for count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now: Bool = storage.withLock { state in
                if state.values.count >= count { return true }
                state.watchers.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}
