import Foundation

/// The source of wall-clock dates, used only to stamp things: message timestamps, `sentAt`, token expiry dates,
/// and reading `Retry-After` dates.
///
/// Waits, timeouts, time-to-live and rate limits never read it: they run on a monotonic `Clock` (see
/// ``MonotonicClock``), so a wall clock that jumps (NTP, a suspended machine, a manual change) cannot shorten or
/// stretch them.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date

    /// A wall clock that reads `now` each time a date is needed.
    public init(_ now: @escaping @Sendable () -> Date) {
        read = now
    }

    /// The system's clock, `Date()`.
    public static let system = WallClock { Date() }

    /// A wall clock that always reads `date` (for tests and reproducible output).
    public static func fixed(_ date: Date) -> WallClock { WallClock { date } }

    /// The current date.
    public var now: Date { read() }
}

/// A monotonic clock as the SDK uses it: the time elapsed since the clock was adopted, and sleeping.
///
/// Built from any `Clock` whose duration is `Duration` (`ContinuousClock` in production, a manual clock in tests);
/// the concrete clock is opened once here, so that the components store no generic parameter.
package struct MonotonicClock: Sendable {
    private let reading: @Sendable () -> Duration
    private let sleeper: @Sendable (Duration) async throws -> Void

    /// Adopts `clock`; ``now`` is measured from this moment.
    package init(_ clock: any Clock<Duration>) {
        self = Self.open(clock)
    }

    private init(reading: @escaping @Sendable () -> Duration,
                 sleeper: @escaping @Sendable (Duration) async throws -> Void) {
        self.reading = reading
        self.sleeper = sleeper
    }

    private static func open<C: Clock<Duration>>(_ clock: C) -> MonotonicClock {
        let origin = clock.now
        return MonotonicClock(reading: { origin.duration(to: clock.now) },
                              sleeper: { duration in try await clock.sleep(for: duration) })
    }

    /// The time elapsed since the clock was adopted; never decreases.
    package var now: Duration { reading() }

    /// Runs `body` every `interval` (the first time after one interval) until the task is cancelled or `body`
    /// answers `false`: the shape of every lease and claim renewal.
    package func repeating(every interval: Duration, _ body: () async -> Bool) async {
        while !Task.isCancelled {
            do {
                try await sleep(for: interval)
            } catch {
                return
            }
            guard await body() else { return }
        }
    }

    /// Suspends for `duration` (returns at once, after a cancellation check, when it is zero or negative).
    /// - Throws: `CancellationError` when the task is cancelled first.
    package func sleep(for duration: Duration) async throws {
        guard duration > .zero else {
            try Task.checkCancellation()
            return
        }
        try await sleeper(duration)
    }

    /// Suspends until ``now`` reaches `deadline`.
    package func sleep(until deadline: Duration) async throws {
        try await sleep(for: deadline - now)
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    package var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    /// A duration from a number of seconds, clamped to non-negative and to about 100 years.
    package static func clampedSeconds(_ value: Double) -> Duration {
        guard value.isFinite, value > 0 else { return .zero }
        return .milliseconds(Int64(min(value, 3.15e9) * 1000))
    }
}

extension Date {
    /// The date moved by `duration`.
    package func adding(_ duration: Duration) -> Date {
        addingTimeInterval(duration.seconds)
    }
}
