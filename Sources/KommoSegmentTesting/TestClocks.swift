import Foundation
import HTTPCore

/// The instant of the test clocks: the time elapsed since the clock was created.
public struct TestInstant: InstantProtocol, Sendable, Hashable, Comparable {
    /// The time since the clock's start.
    public var offset: Duration

    /// An instant `offset` after the clock's start.
    public init(offset: Duration) { self.offset = offset }

    /// This instant moved by `duration`.
    public func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }

    /// The duration from this instant to `other`.
    public func duration(to other: TestInstant) -> Duration { other.offset - offset }

    /// Whether `lhs` comes before `rhs`.
    public static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }
}

extension Duration {
    var testSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// What the test clocks share: instants measured from their start, and a wall clock that moves with them.
public protocol TestClock: Clock, Sendable where Instant == TestInstant, Duration == Swift.Duration {
    /// The wall-clock date at which the clock starts.
    var start: Date { get }
}

extension TestClock {
    /// The smallest step: one nanosecond.
    public var minimumResolution: Swift.Duration { .nanoseconds(1) }

    /// The wall clock: ``start`` plus the time elapsed on this clock.
    public var wallClock: WallClock {
        WallClock { [self] in start.addingTimeInterval(now.offset.testSeconds) }
    }

    /// The current wall-clock date.
    public var date: Date { wallClock.now }
}

/// A monotonic clock whose `sleep` returns at once and moves time forward by the requested duration; it records
/// every wait. Its ``wallClock`` moves with it.
public final class ImmediateClock: TestClock {
    private struct State {
        var now = TestInstant(offset: .zero)
        var sleeps: [Duration] = []
    }

    private let state = Locked(State())
    /// The wall-clock date at which the clock starts.
    public let start: Date

    /// A clock whose wall clock reads `start` at the beginning.
    public init(start: Date = Date(timeIntervalSince1970: 1_795_000_000)) {
        self.start = start
    }

    /// The current instant.
    public var now: TestInstant { state.withLock { $0.now } }


    /// Every duration slept, in order.
    public var sleeps: [Duration] { state.withLock { $0.sleeps } }


    /// Records the wait, moves time to `deadline` (if later) and returns after a yield.
    public func sleep(until deadline: TestInstant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        state.withLock { state in
            state.sleeps.append(state.now.duration(to: deadline))
            if deadline > state.now { state.now = deadline }
        }
        await Task.yield()
    }

    /// Moves time forward without sleeping.
    public func advance(by duration: Duration) {
        state.withLock { $0.now = $0.now.advanced(by: duration) }
    }
}

/// A monotonic clock whose sleepers wait until the test moves time past their deadline with ``advance(by:)``.
///
/// ``waitForSleepers(_:)`` and ``waitForSleeper(lasting:)`` return when the expected sleeper has started to wait,
/// signalled by the clock itself, so tests never poll. Its ``wallClock`` moves with it.
public final class ManualClock: TestClock {
    private struct Sleeper {
        let id: UInt64
        let deadline: TestInstant
        let duration: Duration
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct Watcher {
        let isSatisfied: @Sendable ([Duration]) -> Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now = TestInstant(offset: .zero)
        var sleepers: [Sleeper] = []
        var watchers: [Watcher] = []
        var nextID: UInt64 = 0
        var cancelled: Set<UInt64> = []
        var durations: [Duration] { sleepers.map(\.duration) }

        mutating func satisfiedWatchers() -> [CheckedContinuation<Void, Never>] {
            let current = durations
            var ready: [CheckedContinuation<Void, Never>] = []
            watchers.removeAll { watcher in
                guard watcher.isSatisfied(current) else { return false }
                ready.append(watcher.continuation)
                return true
            }
            return ready
        }
    }

    private let state = Locked(State())
    /// The wall-clock date at which the clock starts.
    public let start: Date

    /// A clock whose wall clock reads `start` at the beginning.
    public init(start: Date = Date(timeIntervalSince1970: 1_795_000_000)) {
        self.start = start
    }

    /// The current instant.
    public var now: TestInstant { state.withLock { $0.now } }



    /// How many tasks sleep on this clock now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Suspends until ``advance(by:)`` moves time to `deadline`, or the task is cancelled.
    public func sleep(until deadline: TestInstant, tolerance: Duration?) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        // Once the handler is gone no cancellation can mark the id any more: forget any mark it left.
        defer { state.withLock { _ = $0.cancelled.remove(id) } }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resumeNow, watchers): (Bool, [CheckedContinuation<Void, Never>]) = state.withLock { state in
                    if state.cancelled.remove(id) != nil || deadline <= state.now { return (true, []) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, duration: state.now.duration(to: deadline),
                                                  continuation: continuation))
                    return (false, state.satisfiedWatchers())
                }
                if resumeNow { continuation.resume() }
                for watcher in watchers { watcher.resume() }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { state in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else {
                    // Cancelled before the sleeper was registered: the body sees the mark and returns at once.
                    state.cancelled.insert(id)
                    return nil
                }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let due: [Sleeper] = state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Returns once at least `count` tasks sleep on this clock.
    public func waitForSleepers(_ count: Int = 1) async {
        await waitUntil { $0.count >= count }
    }

    /// Returns once a task sleeps on this clock for exactly `duration` (measured from when it started to sleep).
    public func waitForSleeper(lasting duration: Duration) async {
        await waitUntil { $0.contains(duration) }
    }

    private func waitUntil(_ condition: @escaping @Sendable ([Duration]) -> Bool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let satisfied: Bool = state.withLock { state in
                if condition(state.durations) { return true }
                state.watchers.append(Watcher(isSatisfied: condition, continuation: continuation))
                return false
            }
            if satisfied { continuation.resume() }
        }
    }
}
