import Foundation
import KommoSegment
import Logging
import ServiceLifecycle

/// Keeps OAuth grants alive when webhooks are sparse: refreshes each account's tokens every ``interval``.
///
/// The access token lasts 24 hours and is refreshed when a request needs it; the refresh token is replaced by every
/// refresh and dies after 3 months without one. An account that gets no webhook for that long would need a person to
/// authorize it again. This service refreshes each provider once per interval (a week by default), starting one
/// interval after start-up, so that a start makes no request to Kommo. A failure is logged at `error` and counted
/// (`kommo_segment_kommo_token_refreshes_total{outcome="failed"}`); the next interval tries again, and webhooks keep
/// refreshing on demand meanwhile.
public struct TokenRefreshService: Service {
    /// One account's provider.
    public struct Account: Sendable {
        /// The Kommo account id, for logs.
        public var accountID: Int64
        /// Its token provider.
        public var provider: OAuthTokenProvider

        /// Creates an entry.
        public init(accountID: Int64, provider: OAuthTokenProvider) {
            self.accountID = accountID
            self.provider = provider
        }
    }

    /// The accounts refreshed.
    public let accounts: [Account]
    /// Time between two refreshes of an account.
    public let interval: Duration
    private let clock: any Clock<Duration>
    private let metrics: KommoSegmentMetrics?
    private let logger: Logger

    /// A week: well inside the refresh token's 3 months, and about one request per account per week.
    public static let defaultInterval: Duration = .seconds(7 * 86_400)

    /// Creates the service.
    ///
    /// - Parameters:
    ///   - accounts: the OAuth accounts (with none, ``run()`` waits for shutdown and does nothing).
    ///   - interval: time between refreshes; a week by default.
    ///   - clock: the monotonic clock the waits use (injected in tests).
    ///   - metrics: where refreshes are counted, if anywhere.
    ///   - logger: where refreshes and failures are logged.
    public init(accounts: [Account], interval: Duration = TokenRefreshService.defaultInterval,
                clock: any Clock<Duration> = ContinuousClock(), metrics: KommoSegmentMetrics? = nil,
                logger: Logger) {
        self.accounts = accounts
        self.interval = interval
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
    }

    /// Refreshes every interval until graceful shutdown (or cancellation), then returns.
    public func run() async throws {
        guard !accounts.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        await repeatUntilShutdown(every: interval, clock: clock) { await refreshAll() }
    }

    /// Refreshes every account once, now.
    public func refreshAll() async {
        for account in accounts {
            do {
                let pair = try await account.provider.refresh()
                metrics?.recordTokenRefresh(outcome: "refreshed")
                logger.info("kommo tokens refreshed", metadata: [
                    "account": "\(account.accountID)",
                    "expires_at": "\(ISO8601DateFormatter().string(from: pair.expiresAt))",
                ])
            } catch {
                metrics?.recordTokenRefresh(outcome: "failed")
                logger.error("kommo token refresh failed; webhooks refresh on demand, the next try is in one interval",
                             metadata: ["account": "\(account.accountID)", "error": "\(error)"])
            }
        }
    }
}
