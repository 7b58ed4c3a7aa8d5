import Foundation
import KommoSegment
import Logging
import PostgresNIO

/// Kommo's budget for one account, shared by every instance through one row of `kommo_segment_rate_limits`.
///
/// Kommo allows 7 requests per second for an account, not for an instance: three instances limited to 6.5 each
/// earn 429s, then an IP block. This limiter keeps the account's schedule in the database (GCRA: the row holds the
/// next free start time, `tat`). ``acquire()`` is one statement that reserves the next start and moves `tat` on by
/// one interval, atomically under the row's lock, on the database's clock (one clock for every instance):
///
/// ```sql
/// INSERT INTO kommo_segment_rate_limits AS r (account, tat) VALUES ($1, now + interval)
/// ON CONFLICT (account) DO UPDATE SET tat = greatest(r.tat, now) + interval
/// RETURNING greatest(r.tat - interval - tolerance, now)   -- the reserved start; wait until then
/// ```
///
/// then waits that long on the instance's monotonic clock. With the default 6.5 requests per second and a burst of
/// 1, starts across all instances are at least 154 ms apart. A 429 seen by any instance moves `tat` past its
/// `Retry-After` for all of them, and is remembered for ``wasRateLimited(within:)``.
///
/// When the database cannot be reached, ``acquire()`` throws a ``PostgresStoreError`` rather than let the request
/// through: the Kommo call fails, and its item is retried later.
public struct PostgresRateLimiter: KommoRequestLimiter {
    /// The database.
    public let database: KommoSegmentDatabase
    /// The account's key in the table (the account host, such as `acme.kommo.com`).
    public let account: String
    /// The rate and burst, the same for every instance.
    public let limit: KommoRateLimiter.Limit
    private let clock: any Clock<Duration>

    /// A limiter for `account`.
    ///
    /// - Parameters:
    ///   - database: the shared database.
    ///   - account: the key of the account's row: give every instance the same one (the account's host).
    ///   - limit: 6.5 requests per second, burst 1, by default.
    ///   - clock: where the instance waits for its start.
    public init(database: KommoSegmentDatabase, account: String, limit: KommoRateLimiter.Limit = .default,
                clock: any Clock<Duration> = ContinuousClock()) {
        self.database = database
        self.account = account
        self.limit = limit
        self.clock = clock
    }

    private var interval: Double { 1 / (limit.requestsPerSecond.isFinite ? max(limit.requestsPerSecond, 0.01) : 6.5) }
    private var tolerance: Double { Double(max(limit.burst, 1) - 1) * interval }

    /// Reserves the account's next start and waits for it.
    public func acquire() async throws {
        let wait = try await reserve().wait
        if wait > .zero {
            try await clock.sleep(for: wait)
        }
    }

    /// Reserves the account's next start without waiting: the start on the database's clock, and how long from now
    /// (on that clock) it is. ``acquire()`` is this, then the wait.
    public func reserve() async throws -> (start: Date, wait: Duration) {
        // One reading of the clock for the reservation, so that the first start of a row is exactly one interval
        // before its `tat`; the wait is measured on the clock again at the end (after any wait for the row's lock).
        let rows = try await database.tuples("""
            WITH now AS (SELECT clock_timestamp() AS t),
            reserved AS (
                INSERT INTO kommo_segment_rate_limits AS r (account, tat)
                SELECT \(account), now.t + make_interval(secs => \(interval)) FROM now
                ON CONFLICT (account) DO UPDATE
                    SET tat = greatest(r.tat, (SELECT t FROM now)) + make_interval(secs => \(interval))
                RETURNING r.tat),
            start AS (
                SELECT greatest(reserved.tat - make_interval(secs => \(interval + tolerance)), now.t) AS at
                FROM reserved, now)
            SELECT at, extract(epoch FROM at - clock_timestamp())::float8 FROM start
            """, as: (Date, Double).self, operation: "reserving a Kommo request")
        guard let (start, seconds) = rows.first else {
            throw PostgresStoreError(.corrupt, operation: "reserving a Kommo request", detail: "no row came back")
        }
        return (start, seconds > 0 ? .microseconds(Int64((seconds * 1_000_000).rounded(.up))) : .zero)
    }

    /// Waits until the account's next start is free on the database's clock, without reserving it: the pipeline's
    /// batch fetchers gather ids meanwhile. Another instance may take that start first; the acquire that follows
    /// then waits for the next one.
    public func waitForNextStart() async throws {
        let rows = try await database.rows("""
            SELECT extract(epoch FROM tat - make_interval(secs => \(tolerance)) - clock_timestamp())::float8
            FROM kommo_segment_rate_limits WHERE account = \(account)
            """, as: Double.self, operation: "reading the next Kommo start")
        guard let seconds = rows.first, seconds > 0 else { return }
        try await clock.sleep(for: .microseconds(Int64((seconds * 1_000_000).rounded(.up))))
    }

    /// Holds every instance back for `retryAfter` (when given) and remembers the 429. A database failure here is
    /// logged: the 429 is then only paused for by this instance's retry.
    public func noteRateLimited(retryAfter: Duration?) async {
        let pause = (retryAfter?.secondsValue ?? 0) + tolerance
        do {
            try await database.execute("""
                INSERT INTO kommo_segment_rate_limits AS r (account, tat, rate_limited_at)
                VALUES (\(account), clock_timestamp() + make_interval(secs => \(pause)), clock_timestamp())
                ON CONFLICT (account) DO UPDATE
                    SET tat = greatest(r.tat, clock_timestamp() + make_interval(secs => \(pause))),
                        rate_limited_at = clock_timestamp()
                """, operation: "sharing a Kommo 429")
        } catch {
            database.logger.error("the Kommo 429 could not be shared with the other instances",
                                  metadata: ["account": "\(account)", "error": "\(error)"])
        }
    }

    /// Whether any instance saw a 429 for the account within `window`.
    public func wasRateLimited(within window: Duration) async -> Bool {
        let rows = try? await database.rows("""
            SELECT coalesce(rate_limited_at > clock_timestamp() - make_interval(secs => \(window.secondsValue)), false)
            FROM kommo_segment_rate_limits WHERE account = \(account)
            """, as: Bool.self, operation: "reading the last Kommo 429")
        return rows?.first ?? false
    }
}
