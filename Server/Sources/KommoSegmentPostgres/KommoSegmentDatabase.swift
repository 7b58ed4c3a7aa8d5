import Foundation
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The connection pool to the PostgreSQL database that several `kommo-segment-server` instances share, and the
/// schema of the stores on it.
///
/// It is a swift-service-lifecycle `Service`: ``run()`` owns the pool's connections, so run it in the service group
/// (or a task group) for as long as the stores are used. ``migrate()`` creates or upgrades the schema; call it once at
/// start, after ``run()`` has started. Several instances may start at once: migrations run under an advisory lock,
/// each version exactly once.
///
/// ```swift
/// let database = try KommoSegmentDatabase(url: PostgresURL(databaseURL), logger: logger)
/// // in a task group: try await database.run()
/// try await database.migrate()
/// let inbox = PostgresInbox(database: database)
/// ```
public final class KommoSegmentDatabase: Service, Sendable {
    /// The pool (postgres-nio), for teams that run their own statements next to the stores.
    public let client: PostgresClient
    /// Where the stores log.
    public let logger: Logger
    /// The URL, without its password.
    public let url: PostgresURL
    /// How long one store operation may wait for a connection and its answer before it fails as `unavailable`.
    public let operationTimeout: Duration
    /// Whether ``run()`` was called, whether the pool has started, and who waits for it to start.
    private let runState = Mutex<(called: Bool, started: Bool, waiters: [CheckedContinuation<Void, Never>])>(
        (false, false, []))

    /// Creates the pool for `url`; connects lazily, once ``run()`` runs.
    ///
    /// - Parameters:
    ///   - url: the database (see ``PostgresURL``).
    ///   - maximumConnections: the pool's size per instance; 20 by default. Each instance holds at most this many, so
    ///     keep `instances × maximumConnections` under the server's `max_connections`.
    ///   - operationTimeout: how long one operation may take before it fails as `unavailable`; 5 seconds by
    ///     default, so that a webhook is answered 503 soon when the database is down, rather than when Kommo gives up.
    ///   - logger: where the pool and the stores log.
    public init(url: PostgresURL, maximumConnections: Int = 20, operationTimeout: Duration = .seconds(5),
                logger: Logger) {
        var configuration = PostgresClient.Configuration(host: url.host, port: url.port, username: url.user,
                                                         password: url.password, database: url.database,
                                                         tls: Self.tls(url.sslMode))
        configuration.options.maximumConnections = max(maximumConnections, 1)
        configuration.options.connectTimeout = .seconds(5)
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.url = url
        self.operationTimeout = operationTimeout
    }

    /// Runs the pool until the task is cancelled (or graceful shutdown, in a service group). A pool runs once.
    ///
    /// - Throws: ``PostgresStoreError`` when called a second time (postgres-nio's pool cannot be restarted: make a
    ///   new database object instead).
    public func run() async throws {
        let first = runState.withLock { state in
            defer { state.called = true }
            return !state.called
        }
        guard first else {
            throw PostgresStoreError(.unavailable, operation: "running the connection pool",
                                     detail: "the pool already ran; a pool runs once, make a new database object")
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await cancelWhenGracefulShutdown { await self.client.run() }
            }
            // The pool marks itself running in the first statement of its run(); let that child start before the
            // waiters go, so that their first query does not find it not yet running (harmless: postgres-nio waits,
            // but logs a warning).
            for _ in 0..<4 { await Task.yield() }
            let waiters = runState.withLock { state in
                state.started = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
            await group.waitForAll()
        }
    }

    /// Returns once ``run()`` has started the pool (a query made before would wait for it, with a warning).
    public func waitUntilRunning() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = runState.withLock { state -> Bool in
                if state.started { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Runs the pool while `body` runs, then stops it: for tools and tests that use the database for one job (a pool
    /// runs once, so this is the object's whole life).
    public func withRunningPool<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { try await self.run() }
            defer { group.cancelAll() }
            await waitUntilRunning()
            return try await body()
        }
    }

    /// libpq's `sslmode` as postgres-nio's TLS setting.
    static func tls(_ mode: PostgresURL.SSLMode) -> PostgresClient.Configuration.TLS {
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none
        switch mode {
        case .disable:
            return .disable
        case .allow, .prefer:
            return .prefer(unverified)
        case .require:
            return .require(unverified)
        case .verifyCA:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .noHostnameVerification
            return .require(configuration)
        case .verifyFull:
            return .require(TLSConfiguration.makeClientConfiguration())
        }
    }

    // MARK: - Statements

    /// Runs `body` within ``operationTimeout``: past it, `body` is cancelled and the operation fails as
    /// `unavailable` (a pool that cannot connect would otherwise keep the caller waiting).
    func withDeadline<T: Sendable>(_ operation: String, timeout: Duration? = nil,
                                   _ body: @escaping @Sendable () async throws -> T) async throws(PostgresStoreError)
        -> T {
        let limit = timeout ?? operationTimeout
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let value = first else {
                    throw PostgresStoreError(.unavailable, operation: operation,
                                             detail: "no answer within \(limit) (the database is down or overloaded)")
                }
                return value
            }
        } catch {
            throw PostgresStoreError.from(error, operation: operation)
        }
    }

    /// Runs `query` and decodes its rows as `Row`, mapping driver errors to ``PostgresStoreError``.
    func rows<Row: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: Row.Type = Row.self,
                                                 operation: String) async throws(PostgresStoreError) -> [Row] {
        try await tuples(query, as: Row.self, operation: operation)
    }

    /// Runs `query` and decodes its rows as the tuple `Row`.
    func tuples<each Column: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: (repeat each Column).Type,
                                                operation: String)
        async throws(PostgresStoreError) -> [(repeat each Column)] {
        let client = self.client
        let logger = self.logger
        return try await withDeadline(operation) {
            var result: [(repeat each Column)] = []
            for try await row in try await client.query(query, logger: logger).decode((repeat each Column).self) {
                result.append(row)
            }
            return result
        }
    }

    /// Runs `query`, ignoring its rows.
    func execute(_ query: PostgresQuery, operation: String) async throws(PostgresStoreError) {
        let client = self.client
        let logger = self.logger
        _ = try await withDeadline(operation) { try await client.query(query, logger: logger) }
    }

    /// Whether the database answers now (for readiness).
    public func isReachable() async -> Bool {
        (try? await rows("SELECT 1::int8", as: Int64.self, operation: "checking the database")) == [1]
    }

    // MARK: - Schema

    /// The schema versions, applied in order, each once, in one transaction. Append only: a version, once released,
    /// never changes, so that every instance agrees on what version N is.
    static let migrations: [(version: Int64, statements: [String])] = [
        (1, [
            """
            CREATE TABLE kommo_segment_dedup_keys (
                key text PRIMARY KEY,
                state text NOT NULL CHECK (state IN ('claimed', 'done')),
                token text,
                expires_at timestamptz NOT NULL)
            """,
            "CREATE INDEX kommo_segment_dedup_keys_expiry ON kommo_segment_dedup_keys (expires_at)",
            """
            CREATE TABLE kommo_segment_change_times (
                entity text PRIMARY KEY,
                change_time bigint NOT NULL,
                expires_at timestamptz NOT NULL)
            """,
            "CREATE INDEX kommo_segment_change_times_expiry ON kommo_segment_change_times (expires_at)",
            """
            CREATE TABLE kommo_segment_inbox (
                id text PRIMARY KEY,
                version bigint NOT NULL,
                account_id bigint NOT NULL,
                received_at timestamptz NOT NULL,
                content_type text,
                body bytea NOT NULL,
                attempts bigint NOT NULL DEFAULT 0,
                last_failure text,
                not_before timestamptz,
                lease_token text,
                lease_expires_at timestamptz,
                dead_reason text,
                dead_at timestamptz)
            """,
            "CREATE INDEX kommo_segment_inbox_pending ON kommo_segment_inbox (id) WHERE dead_at IS NULL",
            """
            CREATE TABLE kommo_segment_rate_limits (
                account text PRIMARY KEY,
                tat timestamptz NOT NULL,
                rate_limited_at timestamptz)
            """,
            """
            CREATE TABLE kommo_segment_tokens (
                account text PRIMARY KEY,
                access_token text NOT NULL,
                refresh_token text NOT NULL,
                expires_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now())
            """,
        ]),
        // Catch-up (issue 14): each account's checkpoint, and the lease of the instance catching it up.
        (2, [
            """
            CREATE TABLE kommo_segment_catchup_checkpoints (
                account_id bigint PRIMARY KEY,
                checkpoint bigint,
                run_owner text,
                run_expires_at timestamptz,
                updated_at timestamptz NOT NULL DEFAULT now())
            """,
        ]),
    ]

    /// The schema version this release writes.
    public static var schemaVersion: Int64 { migrations.last?.version ?? 0 }

    /// The advisory lock held while migrating (`'KSEG'`, then 1).
    static let migrationLock: (Int32, Int32) = (0x4B53_4547, 1)

    /// Creates or upgrades the schema to ``schemaVersion``: idempotent, and safe when several instances start at
    /// once (one migrates under an advisory lock, the others wait for it and find nothing left to do).
    ///
    /// - Returns: The versions applied by this call (empty when the schema was current).
    /// - Throws: ``PostgresStoreError`` with code `migration` (or `unavailable` when the database cannot be reached).
    @discardableResult
    public func migrate() async throws(PostgresStoreError) -> [Int64] {
        let logger = self.logger
        let client = self.client
        do {
            // Generous: another instance may hold the lock while it migrates.
            return try await withDeadline("migrating the schema", timeout: .seconds(120)) {
            try await client.withTransaction(logger: logger) { connection -> [Int64] in
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(\(Self.migrationLock.0), \(Self.migrationLock.1))", logger: logger)
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS kommo_segment_schema (
                        version bigint PRIMARY KEY,
                        applied_at timestamptz NOT NULL DEFAULT now())
                    """, logger: logger)
                var current: Int64 = 0
                for try await version in try await connection.query(
                    "SELECT coalesce(max(version), 0)::int8 FROM kommo_segment_schema", logger: logger
                ).decode(Int64.self) {
                    current = version
                }
                var applied: [Int64] = []
                for migration in Self.migrations where migration.version > current {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO kommo_segment_schema (version) VALUES (\(migration.version))", logger: logger)
                    applied.append(migration.version)
                }
                if current > Self.schemaVersion {
                    logger.notice("the database schema is newer than this release; continuing (migrations only add)",
                                  metadata: ["schema": "\(current)", "release_schema": "\(Self.schemaVersion)"])
                }
                return applied
            }
            }
        } catch {
            let failure = PostgresStoreError.from(error, operation: "migrating the schema")
            guard failure.code != .unavailable else { throw failure }
            throw PostgresStoreError(.migration, operation: "migrating the schema", detail: failure.detail,
                                     sqlState: failure.sqlState, underlyingError: failure.underlyingError)
        }
    }
}
