import Foundation
import HTTPCore

/// The seam that spaces the requests to one Kommo account: every request waits on ``acquire()`` first.
///
/// ``KommoRateLimiter`` (a token bucket in this process) is the default. Several processes that call the same
/// account share one budget (Kommo's 7 requests per second are per account, not per instance), so they need one
/// limiter between them: `PostgresRateLimiter` in the Server package's `KommoSegmentPostgres` is such a one.
///
/// Implementations must be safe to call concurrently. An error thrown by ``acquire()`` fails the Kommo call with
/// it (the pipeline then retries the item later): a shared limiter that cannot reach its store must not let the
/// request through.
public protocol KommoRequestLimiter: Sendable {
    /// Waits until a request may start, then returns; throws `CancellationError` if the task is cancelled, or the
    /// limiter's own error.
    func acquire() async throws
    /// Records that Kommo answered 429 now, and holds every caller of the account back for `retryAfter` when given.
    func noteRateLimited(retryAfter: Duration?) async
    /// Whether Kommo answered 429 to any caller of the account within `window` (a 403 soon after a 429 is read as
    /// an IP block).
    func wasRateLimited(within window: Duration) async -> Bool
    /// Waits until ``acquire()`` would return at once, without reserving a start: a caller gathers work meanwhile
    /// and then acquires. Another caller may take that start first, so the acquire can still wait. The default
    /// implementation returns at once.
    func waitForNextStart() async throws
}

extension KommoRequestLimiter {
    /// Returns at once: this limiter cannot tell when its next start is free.
    public func waitForNextStart() async throws {}
}

/// Spaces requests to one Kommo account so that no one-second window ever holds more than 7 of them.
///
/// Kommo allows 7 requests per second (per IP, and an account-wide ceiling on top); going over returns 429 and
/// repeated 429s get the IP blocked (403 on everything). The limiter is a token bucket in its "virtual scheduling"
/// form: each caller reserves the next free start time and sleeps until it on the injected monotonic clock, so
/// callers are served in arrival order and nothing polls, and a wall clock that jumps cannot let a burst through.
///
/// The default ``Limit`` is 6.5 requests per second with a burst of 1: starts at least 1/6.5 s ≈ 154 ms apart, so
/// any closed one-second window contains at most 7 starts (7 × 154 ms > 1 s), with some room for clock jitter.
/// A limit with `burst + ⌊requestsPerSecond⌋ > 7` can exceed Kommo's window; the default never does.
///
/// Share one limiter between every client (and every process, as far as possible) that calls the same account
/// from the same IP: pass it to each ``HTTPKommoClient``. After a 429 the client calls ``pause(for:)`` so that
/// every caller of the account waits, not only the one that was refused.
public actor KommoRateLimiter: KommoRequestLimiter {
    /// A rate and a burst size.
    public struct Limit: Sendable, Hashable {
        /// The sustained rate. Values below 0.01 are clamped to 0.01.
        public var requestsPerSecond: Double
        /// How many requests may start at once after an idle period. Values below 1 are clamped to 1.
        public var burst: Int

        /// Creates a limit; the defaults are 6.5 requests per second, burst 1.
        public init(requestsPerSecond: Double = 6.5, burst: Int = 1) {
            self.requestsPerSecond = requestsPerSecond
            self.burst = burst
        }

        /// 6.5 requests per second, burst 1: never more than 7 in any one-second window.
        public static let `default` = Limit()

        var interval: Double {
            let rate = requestsPerSecond.isFinite ? max(requestsPerSecond, 0.01) : 6.5
            return 1 / rate
        }
        var tolerance: Double { Double(max(burst, 1) - 1) * interval }
    }

    /// The limit in force.
    public let limit: Limit
    private let clock: MonotonicClock
    private var theoreticalArrival: Duration?
    private var lastRateLimited: Duration?
    private var granted = 0

    /// Creates a limiter.
    /// - Parameters:
    ///   - limit: the rate and burst.
    ///   - clock: the monotonic clock that spaces requests; `ContinuousClock` by default.
    public init(limit: Limit = .default, clock: any Clock<Duration> = ContinuousClock()) {
        self.limit = limit
        self.clock = MonotonicClock(clock)
    }

    /// Waits until a request may start, then returns; throws `CancellationError` if the task is cancelled.
    public func acquire() async throws {
        let now = clock.now
        let interval = Duration.seconds(limit.interval)
        let tat = max(theoreticalArrival ?? now, now)
        let start = max(now, tat - .seconds(limit.tolerance))
        theoreticalArrival = max(start, tat) + interval
        granted += 1
        if start > now {
            try await clock.sleep(until: start)
        }
    }

    /// Waits until ``acquire()`` would return at once (after a 429's pause too), without reserving a start.
    public func waitForNextStart() async throws {
        guard let theoreticalArrival else { return }
        let start = theoreticalArrival - .seconds(limit.tolerance)
        if start > clock.now { try await clock.sleep(until: start) }
    }

    /// Holds every later request back until `duration` from now (called after a 429).
    public func pause(for duration: Duration) {
        let until = clock.now + max(duration, .zero) + .seconds(limit.tolerance)
        theoreticalArrival = max(theoreticalArrival ?? until, until)
    }

    /// Records that Kommo answered 429 now, and pauses for `retryAfter` when given.
    public func noteRateLimited(retryAfter: Duration?) {
        lastRateLimited = clock.now
        if let retryAfter { pause(for: retryAfter) }
    }

    /// Whether Kommo answered 429 to any caller of this limiter within `window` (a 403 soon after a 429 is read
    /// as an IP block).
    public func wasRateLimited(within window: Duration) -> Bool {
        guard let lastRateLimited else { return false }
        return clock.now - lastRateLimited <= window
    }

    /// How many requests the limiter has let through (or is about to).
    public var grantedCount: Int { granted }
}
