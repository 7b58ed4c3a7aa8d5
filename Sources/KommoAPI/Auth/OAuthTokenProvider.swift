import Foundation
import HTTPCore
import JSONCore

/// OAuth 2.0 tokens for one Kommo account, refreshed with refresh-token rotation.
///
/// - **Single-flight**: however many calls need a fresh token at once, one refresh request is made and every
///   caller waits for it. Parallel refreshes with the same refresh token race and can lock the grant out.
/// - **Proactive**: a token that expires within ``Configuration/refreshMargin`` (5 minutes by default, measured on
///   the injected clock) is refreshed before use.
/// - **Reactive**: after a 401 the client calls ``tokenRejected(_:)``; if that token is still the current one it is
///   refreshed once, otherwise the newer token is returned without a request.
/// - **Save before use**: the rotated pair goes to the ``KommoTokenStore`` first; if saving fails the pair is not
///   used and ``KommoAPIError/Code/tokenStoreFailed`` is thrown.
/// - **Dead grant**: a 401 from the token endpoint means the grant was revoked or expired. It is surfaced as
///   ``KommoAPIError/Code/grantRevoked``, never retried, and remembered: later calls fail at once, without a
///   request, until ``exchangeAuthorizationCode(_:)`` or ``replaceTokens(_:)`` installs a new grant.
///
/// The token request (`POST {account host}/oauth2/access_token`) is a rotation with an unknown outcome if it times
/// out, so it is never retried automatically. Tokens, refresh tokens and the client secret never appear in errors.
public actor OAuthTokenProvider: KommoTokenProvider, CustomStringConvertible, CustomReflectable {
    /// Settings of the provider.
    public struct Configuration: Sendable, Hashable {
        /// Refresh when the access token expires within this margin. Default: 5 minutes.
        public var refreshMargin: Duration
        /// The deadline of one token request. Default: 15 seconds.
        public var requestTimeout: Duration
        /// The `User-Agent` sent with token requests. Default: ``SDKInfo/userAgent``.
        public var userAgent: String

        /// Creates a configuration.
        public init(refreshMargin: Duration = .seconds(300), requestTimeout: Duration = .seconds(15),
                    userAgent: String = SDKInfo.userAgent) {
            self.refreshMargin = refreshMargin
            self.requestTimeout = requestTimeout
            self.userAgent = userAgent
        }
    }

    private let host: KommoAccountHost
    private let credentials: KommoOAuthCredentials
    private let store: any KommoTokenStore
    private let configuration: Configuration
    private let transport: any HTTPTransport
    private let wallClock: WallClock

    private var current: KommoTokenPair?
    private var loaded = false
    private var inFlight: Task<KommoTokenPair, any Error>?
    private var deadGrant: KommoAPIError?
    private var refreshes = 0
    /// The access token of the pair this provider obtained last; used until it really expires even when Kommo
    /// issued it with a lifetime shorter than the margin, so that a short-lived token cannot cause a refresh loop.
    private var freshlyIssued: String?

    /// Creates a provider for the account at `host`.
    ///
    /// - Parameters:
    ///   - host: the account host that issues the tokens (the same one the API calls go to).
    ///   - credentials: the integration's client id, secret and redirect URI.
    ///   - store: where the current pair is loaded from and every rotated pair is saved.
    ///   - configuration: refresh margin, timeout, user agent.
    ///   - transport: the HTTP transport for token requests.
    ///   - wallClock: the clock that decides expiry (token expiry is a date, stored with the tokens).
    public init(host: KommoAccountHost, credentials: KommoOAuthCredentials, store: any KommoTokenStore,
                configuration: Configuration = .init(), transport: any HTTPTransport = URLSessionTransport(),
                wallClock: WallClock = .system) {
        self.host = host
        self.credentials = credentials
        self.store = store
        self.configuration = configuration
        self.transport = transport
        self.wallClock = wallClock
    }

    /// The provider's host and client id; never a token or the secret.
    public nonisolated var description: String {
        "OAuthTokenProvider(host: \(host), clientID: \(credentials.clientID))"
    }

    /// The host and client id only, so that `dump` cannot reach the tokens or the secret.
    public nonisolated var customMirror: Mirror {
        Mirror(self, children: ["host": host, "clientID": credentials.clientID])
    }

    /// How many refresh requests succeeded (for metrics and tests).
    public var refreshCount: Int { refreshes }

    /// A valid access token, refreshed first when it expires within the margin.
    public func accessToken() async throws -> String {
        if let deadGrant { throw deadGrant }
        let pair = try await loadedPair()
        let remaining = pair.expiresAt.timeIntervalSince(wallClock.now)
        if remaining > configuration.refreshMargin.seconds || (remaining > 0 && pair.accessToken == freshlyIssued) {
            return pair.accessToken
        }
        return try await refreshOnce(from: pair).accessToken
    }

    /// Refreshes once if `token` is still the current token; returns the newer token otherwise.
    public func tokenRejected(_ token: String) async throws -> String? {
        if let deadGrant { throw deadGrant }
        let pair = try await loadedPair()
        if pair.accessToken != token { return pair.accessToken }
        return try await refreshOnce(from: pair).accessToken
    }

    /// Forces a refresh now (for example on a weekly schedule, so that an idle grant does not lapse after 3 months).
    @discardableResult
    public func refresh() async throws -> KommoTokenPair {
        if let deadGrant { throw deadGrant }
        return try await refreshOnce(from: try await loadedPair())
    }

    /// Exchanges an authorization code from the OAuth redirect (valid 20 minutes, single use) for a token pair,
    /// saves it and uses it from now on.
    @discardableResult
    public func exchangeAuthorizationCode(_ code: String) async throws -> KommoTokenPair {
        let pair = try await requestTokens(grant: [
            "grant_type": "authorization_code", "code": .string(code),
        ], secrets: [code])
        try await persist(pair)
        freshlyIssued = pair.accessToken
        return pair
    }

    /// Installs a pair obtained elsewhere (saving it to the store) and clears a remembered dead grant.
    public func replaceTokens(_ pair: KommoTokenPair) async throws {
        try await persist(pair)
    }

    // MARK: - Internals

    private func loadedPair() async throws -> KommoTokenPair {
        if let current { return current }
        if !loaded {
            let stored: KommoTokenPair?
            do {
                stored = try await store.load()
            } catch {
                throw KommoAPIError.tokenStore(error, while: "loading tokens")
            }
            if !loaded {
                current = stored
                loaded = true
            }
        }
        guard let current else {
            throw KommoAPIError(code: .notAuthorized, detail: "the token store for \(host) is empty")
        }
        return current
    }

    private func refreshOnce(from pair: KommoTokenPair) async throws -> KommoTokenPair {
        if let inFlight { return try await inFlight.value }
        if let current, current.accessToken != pair.accessToken { return current }
        let task = Task { try await self.performRefresh(from: pair) }
        inFlight = task
        defer { inFlight = nil }
        return try await task.value
    }

    /// One refresh through the store's ``KommoTokenStore/refreshExclusively(replacing:refresh:)``: a store shared by
    /// several processes may hand back the pair another process refreshed meanwhile, with no request made here.
    private func performRefresh(from stale: KommoTokenPair) async throws -> KommoTokenPair {
        let requested = Locked(false)
        let pair: KommoTokenPair
        do {
            pair = try await store.refreshExclusively(replacing: stale) { latest in
                requested.withLock { $0 = true }
                return try await self.requestTokens(grant: [
                    "grant_type": "refresh_token", "refresh_token": .string(latest.refreshToken),
                ], secrets: [latest.refreshToken, latest.accessToken])
            }
        } catch let error as KommoAPIError where error.code == .grantRevoked {
            deadGrant = error
            throw error
        } catch let error as KommoAPIError {
            throw error
        } catch {
            throw KommoAPIError.tokenStore(error, while: "refreshing through the token store")
        }
        current = pair
        loaded = true
        deadGrant = nil
        freshlyIssued = pair.accessToken
        if requested.withLock({ $0 }) { refreshes += 1 }
        return pair
    }

    private func persist(_ pair: KommoTokenPair) async throws {
        do {
            try await store.save(pair)
        } catch {
            throw KommoAPIError.tokenStore(error, while: "saving the rotated tokens")
        }
        current = pair
        loaded = true
        deadGrant = nil
    }

    private func requestTokens(grant: [String: JSONValue], secrets extraSecrets: [String]) async throws
        -> KommoTokenPair {
        var fields: [String: JSONValue] = [
            "client_id": .string(credentials.clientID),
            "client_secret": .string(credentials.clientSecret),
            "redirect_uri": .string(credentials.redirectURI),
        ]
        fields.merge(grant) { _, new in new }
        var writer = JSONWriter()
        writer.write(JSONValue.object(fields))
        let body = Data(writer.string.utf8)
        let url = try host.url(path: "/oauth2/access_token")
        let request = HTTPRequest(method: .post, url: url, headers: [
            "Content-Type": "application/json", "Accept": "application/json",
            "User-Agent": configuration.userAgent,
        ], timeout: configuration.requestTimeout)
        let secrets = [credentials.clientSecret] + extraSecrets
        let response: HTTPResponse
        let data: Data
        do {
            (response, data) = try await transport.send(request, body: body)
        } catch let error as HTTPTransportError {
            throw KommoAPIError(code: .tokenRefreshFailed, request: request.description,
                                detail: "no response from the token endpoint (\(error.code)); not retried because "
                                    + "the refresh token may already have been rotated",
                                underlyingError: error.scrubbed { Redaction.scrub($0, secrets: secrets) })
        }
        let requestID = response.headers["X-Request-Id"]
        guard response.isSuccess else {
            throw KommoAPIError.from(response: response, body: data, request: request, secrets: secrets,
                                     now: wallClock.now, afterRateLimit: false,
                                     code: response.status == 401 ? .grantRevoked : .tokenRefreshFailed)
        }
        guard let token = try? JSONDecoder().decode(TokenResponse.self, from: data),
              !token.accessToken.isEmpty, !token.refreshToken.isEmpty else {
            // The body may hold tokens: it is not included in the error.
            throw KommoAPIError(code: .tokenRefreshFailed, request: request.description, status: response.status,
                                requestID: requestID, detail: "the token response could not be decoded")
        }
        let lifetime = token.expiresIn ?? Self.jwtExpiry(token.accessToken).map { $0 - wallClock.now.timeIntervalSince1970 }
            ?? 86_400
        return KommoTokenPair(accessToken: token.accessToken, refreshToken: token.refreshToken,
                              expiresAt: wallClock.now.addingTimeInterval(max(lifetime, 0)))
    }

    /// The `exp` claim (Unix seconds) of a JWT, read without verifying it.
    static func jwtExpiry(_ token: String) -> Double? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let claims = try? JSONDecoder().decode(JSONValue.self, from: data) else { return nil }
        return claims["exp"]?.doubleValue
    }
}

/// The token endpoint's answer.
struct TokenResponse: Decodable {
    var accessToken: String
    var refreshToken: String
    var expiresIn: Double?

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case expiresIn = "expires_in"
    }
}
