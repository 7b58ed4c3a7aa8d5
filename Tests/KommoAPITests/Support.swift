import Foundation
import HTTPCore
import JSONCore
import KommoAPI
import Synchronization
import KommoSegmentTesting

/// Shared builders for the client tests.
enum K {
    static let accessToken = "at-SECRET-0123456789abcdef"
    static let refreshToken = "rt-SECRET-fedcba9876543210"
    static let clientSecret = "cs-SECRET-client-secret-xyz"
    static let allSecrets = [accessToken, refreshToken, clientSecret]

    static func host() throws -> KommoAccountHost { try KommoAccountHost(subdomain: "acme") }

    static func client(_ transport: ScriptedTransport, time: any TimeSource = ImmediateTimeSource(),
                       tokens: (any KommoTokenProvider)? = nil, configuration: HTTPKommoClient.Configuration = .init(),
                       limiter: KommoRateLimiter? = nil) throws -> HTTPKommoClient {
        HTTPKommoClient(host: try host(), tokenProvider: tokens ?? LongLivedToken(accessToken),
                        configuration: configuration, transport: transport, rateLimiter: limiter, time: time,
                        random: { 0 })
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

    static func oauth(_ transport: ScriptedTransport, store: any KommoTokenStore, time: any TimeSource,
                      margin: Duration = .seconds(300)) throws -> OAuthTokenProvider {
        OAuthTokenProvider(host: try host(),
                           credentials: KommoOAuthCredentials(clientID: "client-1", clientSecret: clientSecret,
                                                              redirectURI: "https://app.example.com/oauth"),
                           store: store, configuration: .init(refreshMargin: margin), transport: transport, time: time)
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

/// Records values from concurrent code.
final class Recorder<Value: Sendable>: Sendable {
    private let storage = Mutex<[Value]>([])
    func append(_ value: Value) { storage.withLock { $0.append(value) } }
    var values: [Value] { storage.withLock { $0 } }
}
