import Foundation

/// The SDK's source of time: the current wall-clock date and a way to wait.
///
/// Every component that stamps, waits or measures takes one in its `init`, so that tests can substitute a clock
/// that advances instantly and deterministically instead of sleeping.
public protocol TimeSource: Sendable {
    /// The current date.
    var now: Date { get }
    /// Suspends for `duration`; throws `CancellationError` if the task is cancelled first.
    func sleep(for duration: Duration) async throws
}

/// The real clock: `Date()` and `Task.sleep`.
public struct SystemTimeSource: TimeSource {
    /// Creates the system time source.
    public init() {}

    /// The current date.
    public var now: Date { Date() }

    /// Suspends the task for `duration` (nothing if it is zero or negative).
    public func sleep(for duration: Duration) async throws {
        guard duration > .zero else {
            try Task.checkCancellation()
            return
        }
        try await Task.sleep(for: duration)
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
