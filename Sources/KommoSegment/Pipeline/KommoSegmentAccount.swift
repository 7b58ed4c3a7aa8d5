import Foundation
import Synchronization

/// Counts the HTTP requests that pass through it, by path, then hands them to the wrapped transport.
public final class RequestCountingTransport: HTTPTransport {
    private let wrapped: any HTTPTransport
    private let counts = Mutex<[String: Int]>([:])

    /// Wraps a transport.
    public init(_ wrapped: any HTTPTransport) { self.wrapped = wrapped }

    /// Counts the request, then sends it through the wrapped transport.
    public func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        counts.withLock { $0[request.url.path, default: 0] += 1 }
        return try await wrapped.send(request, body: body)
    }

    /// Requests sent so far, in all.
    public var total: Int { counts.withLock { $0.values.reduce(0, +) } }

    /// Requests sent so far to each path (without query).
    public var byPath: [String: Int] { counts.withLock { $0 } }
}

/// One Kommo account served by the pipeline: its Kommo client, its Segment destination and its mapping.
///
/// Several accounts can share one pipeline; each has its own token, write key, region and configuration.
public struct KommoSegmentAccount: Sendable {
    /// The Kommo account id (`account[id]` in its webhooks).
    public var accountID: Int64
    /// Reads leads, contacts, companies, pipelines and users, and writes notes.
    public var kommo: any KommoClient
    /// Sends batches to Segment (an `HTTPSegmentClient` for the account's write key and region).
    public var segment: any SegmentClient
    /// How events become Segment calls.
    public var mapping: MappingConfiguration
    /// The secret in this account's webhook URL; `nil` accepts webhooks without one (only where the route is
    /// protected otherwise, and only if the pipeline allows it).
    public var secret: WebhookSecret?
    /// Whether to write a note on each lead whose event was delivered.
    public var writesNotes: Bool
    /// Batching and retries of this account's Segment queue.
    public var queueConfiguration: SegmentQueue.Configuration
    /// Counts this account's Kommo requests for the pipeline's counters, when set.
    public var requestCounter: RequestCountingTransport?

    /// An account from its parts.
    public init(accountID: Int64, kommo: any KommoClient, segment: any SegmentClient,
                mapping: MappingConfiguration = MappingConfiguration(), secret: WebhookSecret? = nil,
                writesNotes: Bool = false, queueConfiguration: SegmentQueue.Configuration = .init(),
                requestCounter: RequestCountingTransport? = nil) {
        self.accountID = accountID
        self.kommo = kommo
        self.segment = segment
        self.mapping = mapping
        self.secret = secret
        self.writesNotes = writesNotes
        self.queueConfiguration = queueConfiguration
        self.requestCounter = requestCounter
    }

    /// An account that talks HTTP to Kommo and Segment, with its Kommo requests counted.
    ///
    /// - Parameters:
    ///   - accountID: the Kommo account id.
    ///   - host: the account's Kommo host (validated: see `KommoAccountHost`).
    ///   - tokenProvider: a `LongLivedToken` or an `OAuthTokenProvider`.
    ///   - segment: the write key and region (or RudderStack origin).
    ///   - mapping: the mapping configuration.
    ///   - secret: the webhook URL secret.
    ///   - writesNotes: whether to write notes back.
    ///   - kommoConfiguration: the Kommo client's timeouts, rate limit and caches.
    ///   - queueConfiguration: batching and retries of the Segment queue.
    ///   - rateLimiter: the Kommo rate limiter to share with other clients of the same account; a new one from
    ///     `kommoConfiguration.rateLimit` by default.
    ///   - transport: the HTTP transport for both services.
    ///   - time: the clock for waits and caches.
    public static func http(
        accountID: Int64, host: KommoAccountHost, tokenProvider: any KommoTokenProvider,
        segment: SegmentClientConfiguration, mapping: MappingConfiguration = MappingConfiguration(),
        secret: WebhookSecret? = nil, writesNotes: Bool = false,
        kommoConfiguration: HTTPKommoClient.Configuration = .init(),
        queueConfiguration: SegmentQueue.Configuration = .init(), rateLimiter: KommoRateLimiter? = nil,
        transport: any HTTPTransport = URLSessionTransport(), time: any TimeSource = SystemTimeSource()
    ) -> KommoSegmentAccount {
        let counter = RequestCountingTransport(transport)
        let kommo = HTTPKommoClient(host: host, tokenProvider: tokenProvider, configuration: kommoConfiguration,
                                    transport: counter, rateLimiter: rateLimiter, time: time)
        return KommoSegmentAccount(
            accountID: accountID, kommo: kommo,
            segment: HTTPSegmentClient(configuration: segment, transport: transport, time: time),
            mapping: mapping, secret: secret, writesNotes: writesNotes, queueConfiguration: queueConfiguration,
            requestCounter: counter)
    }
}
