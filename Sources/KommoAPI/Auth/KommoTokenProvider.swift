import Foundation

/// Supplies the bearer token for Kommo API calls and, where possible, a fresh one after Kommo rejects a token.
///
/// The client calls ``accessToken()`` before each call. When Kommo answers 401 it calls ``tokenRejected(_:)`` once
/// with the token that failed: a provider that can refresh returns the new token and the client repeats the call
/// once; one that cannot returns `nil` and the client fails with ``KommoAPIError/Code/unauthorized``.
///
/// Implementations must be safe to call concurrently and must never put a token in an error or a log.
public protocol KommoTokenProvider: Sendable {
    /// The token to send now.
    func accessToken() async throws -> String
    /// Kommo rejected `token` with 401: returns a different token to retry with once, or `nil` when none exists.
    func tokenRejected(_ token: String) async throws -> String?
}

/// A long-lived token from a private integration ("Keys and scopes"): sent as is, never refreshed.
///
/// When it expires or is revoked, calls fail with ``KommoAPIError/Code/unauthorized`` and an admin must issue a
/// new one. Its description never shows the token.
public struct LongLivedToken: KommoTokenProvider, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable {
    private let token: String

    /// Wraps the token (surrounding whitespace is removed).
    public init(_ token: String) {
        self.token = token.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether the token is empty (checked when a pipeline is built).
    package var isEmpty: Bool { token.isEmpty }

    /// The token.
    public func accessToken() async throws -> String {
        guard !token.isEmpty else {
            throw KommoAPIError(code: .notAuthorized, detail: "the long-lived token is empty")
        }
        return token
    }

    /// Always `nil`: a long-lived token cannot be refreshed.
    public func tokenRejected(_ token: String) async throws -> String? { nil }

    /// `LongLivedToken(<redacted>)`.
    public var description: String { "LongLivedToken(\(Redaction.marker))" }
    /// `LongLivedToken(<redacted>)`.
    public var debugDescription: String { description }
    /// A mirror without the token, so `dump` and reflection cannot show it.
    public var customMirror: Mirror { Mirror(self, children: ["token": Redaction.marker]) }
}

/// An OAuth access token with its refresh token and expiry, as stored between runs.
///
/// Its description never shows either token.
public struct KommoTokenPair: Codable, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable {
    /// The bearer token (24 hours).
    public var accessToken: String
    /// The refresh token (3 months; replaced by every refresh).
    public var refreshToken: String
    /// When the access token expires.
    public var expiresAt: Date

    /// Creates a pair.
    public init(accessToken: String, refreshToken: String, expiresAt: Date) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case expiresAt = "expires_at"
    }

    /// Decodes a stored pair (`expires_at` in Unix seconds).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        accessToken = try c.decode(String.self, forKey: .accessToken)
        refreshToken = try c.decode(String.self, forKey: .refreshToken)
        expiresAt = Date(timeIntervalSince1970: try c.decode(Double.self, forKey: .expiresAt))
    }

    /// Encodes the pair for storage (`expires_at` in Unix seconds).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(accessToken, forKey: .accessToken)
        try c.encode(refreshToken, forKey: .refreshToken)
        try c.encode(expiresAt.timeIntervalSince1970, forKey: .expiresAt)
    }

    /// The expiry only.
    public var description: String {
        "KommoTokenPair(accessToken: \(Redaction.marker), refreshToken: \(Redaction.marker), "
            + "expiresAt: \(Int(expiresAt.timeIntervalSince1970)))"
    }
    /// The expiry only.
    public var debugDescription: String { description }
    /// A mirror without the tokens.
    public var customMirror: Mirror {
        Mirror(self, children: ["accessToken": Redaction.marker, "refreshToken": Redaction.marker,
                                "expiresAt": expiresAt])
    }
}

/// Where an ``OAuthTokenProvider`` keeps the current token pair between runs.
///
/// Kommo rotates the refresh token on every refresh, so the new pair must be saved (durably, atomically) before it
/// is used; a pair that fails to save is not used. Keep exactly one store per (integration, account).
public protocol KommoTokenStore: Sendable {
    /// The stored pair, or `nil` when the integration has not been authorized yet.
    func load() async throws -> KommoTokenPair?
    /// Replaces the stored pair.
    func save(_ pair: KommoTokenPair) async throws
    /// Refreshes `stale`, exclusively among every process that shares the store, and stores the result.
    ///
    /// `refresh` makes the token request with the pair it is given. A store shared by several processes holds a
    /// lock across them while it runs, reads the pair stored now and, if another process has already replaced
    /// `stale` (its access token differs), returns that pair without calling `refresh`: a refresh token is good for
    /// one refresh only. The default implementation, for a store used by one process, calls `refresh(stale)` and
    /// ``save(_:)``s the result.
    ///
    /// - Throws: what `refresh` throws, unchanged; ``KommoAPIError/Code/tokenStoreFailed`` when the store fails (a
    ///   pair that could not be stored must not be used).
    func refreshExclusively(replacing stale: KommoTokenPair,
                            refresh: @Sendable (KommoTokenPair) async throws -> KommoTokenPair) async throws
        -> KommoTokenPair
}

extension KommoTokenStore {
    /// Calls `refresh(stale)` and saves its result (one process: the provider already makes one refresh at a time).
    public func refreshExclusively(replacing stale: KommoTokenPair,
                                   refresh: @Sendable (KommoTokenPair) async throws -> KommoTokenPair) async throws
        -> KommoTokenPair {
        let pair = try await refresh(stale)
        do {
            try await save(pair)
        } catch {
            throw KommoAPIError.tokenStore(error, while: "saving the rotated tokens")
        }
        return pair
    }
}

extension KommoAPIError {
    /// A token store's failure while `doing` something: the store's own ``Code/tokenStoreFailed`` error passes
    /// through; any other error becomes one, kept as the cause (only its type is named: it may quote a token).
    static func tokenStore(_ error: any Error, while doing: String) -> KommoAPIError {
        if let error = error as? KommoAPIError, error.code == .tokenStoreFailed { return error }
        return KommoAPIError(code: .tokenStoreFailed, detail: "\(doing) failed (\(type(of: error)))",
                             underlyingError: error)
    }
}

/// A token store in memory, for tests and short-lived tools (tokens are lost when the process ends).
public actor InMemoryTokenStore: KommoTokenStore {
    private var pair: KommoTokenPair?
    private var saves = 0

    /// Creates a store holding `pair`.
    public init(_ pair: KommoTokenPair? = nil) { self.pair = pair }

    /// The stored pair.
    public func load() async throws -> KommoTokenPair? { pair }

    /// Replaces the stored pair.
    public func save(_ pair: KommoTokenPair) async throws {
        self.pair = pair
        saves += 1
    }

    /// How many times ``save(_:)`` was called.
    public var saveCount: Int { saves }
}

/// The integration's OAuth client credentials; the description never shows the secret.
public struct KommoOAuthCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable {
    /// The integration id (`client_id`).
    public var clientID: String
    /// The integration's secret key (`client_secret`).
    public var clientSecret: String
    /// The redirect URI exactly as registered for the integration.
    public var redirectURI: String

    /// Creates credentials.
    public init(clientID: String, clientSecret: String, redirectURI: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURI = redirectURI
    }

    /// The client id and redirect URI; the secret is redacted.
    public var description: String {
        "KommoOAuthCredentials(clientID: \(clientID), clientSecret: \(Redaction.marker), redirectURI: \(redirectURI))"
    }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// A mirror without the secret.
    public var customMirror: Mirror {
        Mirror(self, children: ["clientID": clientID, "clientSecret": Redaction.marker, "redirectURI": redirectURI])
    }
}
