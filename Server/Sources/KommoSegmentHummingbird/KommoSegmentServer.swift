import Foundation
import Hummingbird
import KommoSegment
import KommoSegmentPostgres
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// The whole service `kommo-segment-server` runs: the pipeline with its inbox, the webhook route, `/health`,
/// `/ready` and `/metrics`, and graceful shutdown on SIGTERM and SIGINT.
///
/// Building it makes no request to Kommo or Segment: the first Kommo request follows the first webhook.
///
/// ```swift
/// let configuration = try ServerConfiguration(environment: ProcessInfo.processInfo.environment)
/// let server = try KommoSegmentServer(configuration: configuration, logger: Logger(label: "kommo-segment"))
/// try await server.run()
/// ```
public struct KommoSegmentServer: Sendable {
    /// The configuration in force.
    public let configuration: ServerConfiguration
    /// The pipeline.
    public let pipeline: KommoSegmentPipeline
    /// The metrics, in ``registry``.
    public let metrics: KommoSegmentMetrics
    /// The Prometheus registry `/metrics` emits.
    public let registry: PrometheusCollectorRegistry
    private let service: PipelineService
    private let tokenRefresh: TokenRefreshService
    private let logger: Logger
    private let inboxDirectory: URL
    /// The shared database (`DATABASE_URL`), when the stores are there.
    public let database: KommoSegmentDatabase?
    private let maintenance: PostgresMaintenanceService?
    /// The OAuth accounts whose tokens are in the database, checked once it is reachable.
    private let databaseTokenStores: [(accountID: Int64, store: any KommoTokenStore)]
    private let secrets: [WebhookSecrets]

    /// The file, in the inbox directory, that keeps the catch-up checkpoints when there is no `DATABASE_URL`.
    public static let checkpointFileName = "catch-up-checkpoints.json"

    /// Replacements for the network, for the demo mode and for tests.
    public struct Overrides: Sendable {
        /// Answers Kommo requests instead of the network (a `KommoFixtureTransport`, say).
        public var kommoTransport: (any HTTPTransport)?
        /// The Segment client of each account instead of an `HTTPSegmentClient` (one that prints, say).
        public var segmentClient: (@Sendable (ServerConfiguration.AccountSettings) -> any SegmentClient)?
        /// Kommo's rate limit; 6.5 requests per second by default.
        public var kommoRateLimit: KommoRateLimiter.Limit?

        /// No replacement.
        public init(kommoTransport: (any HTTPTransport)? = nil,
                    segmentClient: (@Sendable (ServerConfiguration.AccountSettings) -> any SegmentClient)? = nil,
                    kommoRateLimit: KommoRateLimiter.Limit? = nil) {
            self.kommoTransport = kommoTransport
            self.segmentClient = segmentClient
            self.kommoRateLimit = kommoRateLimit
        }
    }

    /// Builds the service (opens the inbox, builds the pipeline); listens only in ``run(onListening:)``.
    ///
    /// - Throws: ``ServerStartError`` when the inbox cannot be opened or the pipeline refuses the accounts.
    public init(configuration: ServerConfiguration, logger: Logger, overrides: Overrides = .init())
    throws(ServerStartError) {
        self.configuration = configuration
        self.logger = logger
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[KommoSegmentMetrics.acknowledgementTimerLabel] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2),
        ]
        let metrics = KommoSegmentMetrics(factory: factory)
        self.metrics = metrics
        let sink = SwiftLogSink(logger: logger)
        inboxDirectory = URL(fileURLWithPath: configuration.inboxDirectory)
        let inbox: any WebhookInbox
        let deduplication: any DeduplicationStore
        let checkpoints: any CatchUpCheckpointStore
        let database = configuration.database.map { KommoSegmentDatabase(url: $0, logger: logger) }
        self.database = database
        if let database {
            inbox = PostgresInbox(database: database)
            let store = PostgresDeduplicationStore(database: database)
            deduplication = store
            checkpoints = PostgresCatchUpCheckpointStore(database: database)
            maintenance = PostgresMaintenanceService(store: store, logger: logger)
            logger.info("inbox, deduplication, catch-up checkpoints, Kommo rate limit and OAuth tokens: PostgreSQL",
                        metadata: ["database": "\(database.url)"])
            for ignored in configuration.ignoredSettings {
                logger.notice("setting ignored: DATABASE_URL is set", metadata: ["setting": "\(ignored)"])
            }
        } else {
            do {
                inbox = try FileWebhookInbox(directory: inboxDirectory, log: sink)
            } catch {
                throw ServerStartError(.inbox, "KOMMO_SEGMENT_INBOX \(configuration.inboxDirectory) cannot be used as "
                    + "the inbox (\(error)); make it a writable directory on a local disk", underlyingError: error)
            }
            deduplication = InMemoryDeduplicationStore()
            checkpoints = FileCatchUpCheckpointStore(
                path: inboxDirectory.appendingPathComponent(Self.checkpointFileName).path)
            maintenance = nil
        }
        var refreshed: [TokenRefreshService.Account] = []
        var databaseStores: [(accountID: Int64, store: any KommoTokenStore)] = []
        var accounts: [KommoSegmentAccount] = []
        for settings in configuration.accounts {
            var kommoConfiguration = HTTPKommoClient.Configuration()
            if let limit = overrides.kommoRateLimit { kommoConfiguration.rateLimit = limit }
            let kommoTransport = MeteredTransport(overrides.kommoTransport ?? URLSessionTransport(), service: "kommo",
                                                  metrics: metrics)
            let tokens = try settings.kommoTokenProvider(transport: kommoTransport, database: database)
            if let database, case .oauth(_, nil) = settings.kommoAuthentication,
               let store = settings.tokenStore(database: database) {
                databaseStores.append((settings.accountID, store))
            }
            let limiter: (any KommoRequestLimiter)? = database.map {
                PostgresRateLimiter(database: $0, account: settings.kommoHost.baseURL.host ?? "\(settings.accountID)",
                                    limit: kommoConfiguration.rateLimit)
            }
            if let oauth = tokens as? OAuthTokenProvider {
                refreshed.append(.init(accountID: settings.accountID, provider: oauth))
            }
            let kommo = HTTPKommoClient(host: settings.kommoHost, tokenProvider: tokens,
                                        configuration: kommoConfiguration, transport: kommoTransport,
                                        rateLimiter: limiter, log: sink)
            let segment = overrides.segmentClient?(settings) ?? HTTPSegmentClient(
                configuration: SegmentClientConfiguration(writeKey: settings.segmentWriteKey,
                                                          endpoint: settings.segmentEndpoint),
                transport: MeteredTransport(URLSessionTransport(), service: "segment", metrics: metrics))
            accounts.append(KommoSegmentAccount(accountID: settings.accountID, kommo: kommo, segment: segment,
                                                mapping: settings.mapping, secret: settings.webhookSecrets.current))
        }
        do {
            var pipelineConfiguration = KommoSegmentPipeline.Configuration()
            pipelineConfiguration.claimDuration = configuration.leaseDuration
            pipelineConfiguration.inboxLeaseDuration = configuration.leaseDuration
            pipelineConfiguration.inboxScanInterval = configuration.leaseDuration / 2
            pipelineConfiguration.catchUp.interval = configuration.catchUpInterval
            pipelineConfiguration.catchUp.lookBack = configuration.catchUpLookBack
            pipelineConfiguration.catchUp.settleDelay = configuration.catchUpSettleDelay
            pipeline = try KommoSegmentPipeline(accounts: accounts, configuration: pipelineConfiguration,
                                                deduplication: deduplication, inbox: inbox, checkpoints: checkpoints,
                                                log: sink)
        } catch {
            throw ServerStartError(.pipeline, "the accounts cannot be served: \(error)", underlyingError: error)
        }
        secrets = configuration.accounts.map(\.webhookSecrets)
        service = PipelineService(pipeline: pipeline, gracePeriod: configuration.shutdownGracePeriod,
                                  metrics: metrics, logger: logger)
        tokenRefresh = TokenRefreshService(accounts: refreshed, metrics: metrics, logger: logger)
        databaseTokenStores = databaseStores
    }

    /// The router: the webhook route, `/health`, `/ready` and `/metrics`, with request logging that never prints
    /// a query string.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestLogMiddleware())
        KommoWebhookRoute(pipeline: pipeline, secrets: secrets, metrics: metrics).register(on: router)
        router.get("health") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        router.get("ready") { _, _ in
            let (ready, reason) = await readiness()
            return Response(status: ready ? .ok : .serviceUnavailable,
                            body: .init(byteBuffer: ByteBuffer(string: reason + "\n")))
        }
        router.get("metrics") { _, _ in
            await metrics.refresh(from: pipeline)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        return router
    }

    /// Whether the service takes webhooks: the pipeline runs (not draining) and the inbox is writable.
    public func readiness() async -> (ready: Bool, reason: String) {
        switch service.phase {
        case .starting: return (false, "starting")
        case .draining: return (false, "draining")
        case .stopped: return (false, "stopped")
        case .running: break
        }
        if let database {
            guard await database.isReachable() else { return (false, "database not reachable") }
            return (true, "ready")
        }
        let pending = inboxDirectory.appendingPathComponent("pending").path
        guard FileManager.default.isWritableFile(atPath: pending), await pipeline.inboxStatus != nil else {
            return (false, "inbox not writable")
        }
        return (true, "ready")
    }

    /// Listens and runs until SIGTERM or SIGINT has drained the pipeline (within the grace period), then returns.
    ///
    /// - Parameter onListening: called with the port once the server listens (useful with port 0).
    /// - Throws: the server's error when it cannot listen, or the pipeline's.
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        guard let database else { return try await runServices(onListening: onListening) }
        // The pool runs around the whole service group: it stops last, after the pipeline has drained.
        try await database.withRunningPool {
            do {
                try await database.migrate()
            } catch {
                throw ServerStartError(.database, "the database \(database.url) cannot be used (\(error)); check "
                    + "DATABASE_URL and that the server is up", underlyingError: error)
            }
            for (accountID, store) in databaseTokenStores {
                let stored: KommoTokenPair?
                do {
                    stored = try await store.load()
                } catch {
                    throw ServerStartError(.tokens, "account \(accountID): the tokens cannot be read from the "
                        + "database (\(error))", underlyingError: error)
                }
                guard stored != nil else {
                    throw ServerStartError(.tokens, "account \(accountID): no OAuth tokens in the database: authorize "
                        + "the integration first (kommo-segment-server authorize CODE, see Documentation/Server.md)",
                        underlyingError: KommoAPIError(code: .notAuthorized, detail: "no tokens stored"))
                }
            }
            try await runServices(onListening: onListening)
        }
    }

    private func runServices(onListening: @escaping @Sendable (Int) -> Void) async throws {
        let application = Application(
            router: router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                 serverName: "kommo-segment-server"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        // Reverse order on shutdown: the pipeline drains first (the server answers 503 meanwhile), then the
        // server stops.
        var services: [any Service] = [application, service, tokenRefresh]
        if let maintenance { services.append(maintenance) }
        let group = ServiceGroup(configuration: .init(services: services,
                                                      gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}

/// Why the service could not start: the inbox cannot be opened, an OAuth account has no usable token file, or the
/// pipeline refuses the accounts. One line, no
/// secret; the cause is kept.
public struct ServerStartError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public enum Step: String, Sendable, Hashable {
        /// Opening the inbox directory.
        case inbox
        /// Building the pipeline from the accounts.
        case pipeline
        /// Reading an OAuth account's token file (missing, unreadable or not a token pair), or its tokens in the
        /// database.
        case tokens
        /// Reaching or migrating the database (`DATABASE_URL`).
        case database
    }

    /// What failed.
    public let step: Step
    /// What failed and what to do.
    public let message: String
    /// The SDK's error.
    public let underlyingError: any Error & Sendable

    /// Creates an error.
    public init(_ step: Step, _ message: String, underlyingError: any Error & Sendable) {
        self.step = step
        self.message = message
        self.underlyingError = underlyingError
    }

    /// The message.
    public var description: String { message }
}
