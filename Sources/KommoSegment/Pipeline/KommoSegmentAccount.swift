import Foundation
import HTTPCore
import KommoAPI
import SegmentAPI

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
    /// The account's Kommo host, used to attribute a webhook that names its account only by `account[subdomain]`
    /// (older amoCRM bodies). Taken from the Kommo client when it is an `HTTPKommoClient`.
    public var host: KommoAccountHost?
    /// Whether the Kommo token is known to be empty (a `LongLivedToken("")`), checked when the pipeline is built.
    var hasEmptyToken = false

    /// An account from its parts.
    public init(accountID: Int64, kommo: any KommoClient, segment: any SegmentClient,
                mapping: MappingConfiguration = MappingConfiguration(), secret: WebhookSecret? = nil,
                writesNotes: Bool = false, queueConfiguration: SegmentQueue.Configuration = .init(),
                host: KommoAccountHost? = nil) {
        self.accountID = accountID
        self.host = host ?? (kommo as? HTTPKommoClient)?.host
        self.kommo = kommo
        self.segment = segment
        self.mapping = mapping
        self.secret = secret
        self.writesNotes = writesNotes
        self.queueConfiguration = queueConfiguration
    }

    /// Whether the Segment write key is known to be empty.
    var hasEmptyWriteKey: Bool {
        (segment as? HTTPSegmentClient).map { $0.configuration.writeKey.value.isEmpty } ?? false
    }

    /// An account that talks HTTP to Kommo and Segment.
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
    ///   - clock: the monotonic clock for waits, rate limiting and caches.
    ///   - wallClock: stamps `sentAt` and reads `Retry-After` dates.
    ///   - log: where the Kommo client logs retries and rate limiting.
    public static func http(
        accountID: Int64, host: KommoAccountHost, tokenProvider: any KommoTokenProvider,
        segment: SegmentClientConfiguration, mapping: MappingConfiguration = MappingConfiguration(),
        secret: WebhookSecret? = nil, writesNotes: Bool = false,
        kommoConfiguration: HTTPKommoClient.Configuration = .init(),
        queueConfiguration: SegmentQueue.Configuration = .init(), rateLimiter: (any KommoRequestLimiter)? = nil,
        transport: any HTTPTransport = URLSessionTransport(), clock: any Clock<Duration> = ContinuousClock(),
        wallClock: WallClock = .system, log: (any LogSink)? = nil
    ) -> KommoSegmentAccount {
        let kommo = HTTPKommoClient(host: host, tokenProvider: tokenProvider, configuration: kommoConfiguration,
                                    transport: transport, rateLimiter: rateLimiter, clock: clock,
                                    wallClock: wallClock, log: log)
        var account = KommoSegmentAccount(
            accountID: accountID, kommo: kommo,
            segment: HTTPSegmentClient(configuration: segment, transport: transport, wallClock: wallClock),
            mapping: mapping, secret: secret, writesNotes: writesNotes, queueConfiguration: queueConfiguration)
        account.hasEmptyToken = (tokenProvider as? LongLivedToken)?.isEmpty ?? false
        return account
    }
}
