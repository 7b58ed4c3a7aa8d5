import Foundation
import HTTPCore
import Synchronization

/// A clock whose `sleep` returns at once and moves `now` forward by the requested duration; it records every wait.
public final class ImmediateTimeSource: TimeSource {
    private struct State { var now: Date; var sleeps: [Duration] = [] }
    private let state: Mutex<State>

    /// Creates the clock at `start`.
    public init(start: Date = Date(timeIntervalSince1970: 1_795_000_000)) {
        state = Mutex(State(now: start))
    }

    /// The current fake time.
    public var now: Date { state.withLock { $0.now } }

    /// Every duration passed to `sleep`, in order.
    public var sleeps: [Duration] { state.withLock { $0.sleeps } }

    /// Records the wait, moves `now` forward by `duration` and returns at once (after a yield).
    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        state.withLock {
            $0.sleeps.append(duration)
            $0.now = $0.now.addingTimeInterval(Double(duration.components.seconds)
                + Double(duration.components.attoseconds) / 1e18)
        }
        await Task.yield()
    }

    /// Moves the clock forward without sleeping.
    public func advance(by duration: Duration) {
        state.withLock {
            $0.now = $0.now.addingTimeInterval(Double(duration.components.seconds)
                + Double(duration.components.attoseconds) / 1e18)
        }
    }
}

/// A clock whose sleepers wait until the test moves time past their deadline with ``advance(by:)``.
public final class ManualTimeSource: TimeSource {
    private struct Sleeper {
        let id: UInt64
        let deadline: Date
        let duration: Duration
        let continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var now: Date
        var sleepers: [Sleeper] = []
        var nextID: UInt64 = 0
        var cancelled: Set<UInt64> = []
    }
    private let state: Mutex<State>

    /// Creates the clock at `start`.
    public init(start: Date = Date(timeIntervalSince1970: 1_795_000_000)) {
        state = Mutex(State(now: start))
    }

    /// The current fake time.
    public var now: Date { state.withLock { $0.now } }

    /// How many tasks are sleeping now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Suspends until ``advance(by:)`` moves time to `now + duration`, or the task is cancelled.
    public func sleep(for duration: Duration) async throws {
        let id = state.withLock { s -> UInt64 in s.nextID += 1; return s.nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = state.withLock { s in
                    if s.cancelled.contains(id) { return true }
                    let deadline = s.now.addingTimeInterval(Double(duration.components.seconds)
                        + Double(duration.components.attoseconds) / 1e18)
                    if deadline <= s.now { return true }
                    s.sleepers.append(Sleeper(id: id, deadline: deadline, duration: duration,
                                              continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { s in
                s.cancelled.insert(id)
                guard let index = s.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return s.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let due: [Sleeper] = state.withLock { s in
            s.now = s.now.addingTimeInterval(Double(duration.components.seconds)
                + Double(duration.components.attoseconds) / 1e18)
            let now = s.now
            let due = s.sleepers.filter { $0.deadline <= now }
            s.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Waits (yielding, without sleeping) until at least `count` tasks sleep on this clock.
    public func waitForSleepers(_ count: Int = 1) async {
        while sleeperCount < count { await Task.yield() }
    }

    /// Waits (yielding, without sleeping) until a task sleeps on this clock for exactly `duration`.
    public func waitForSleeper(lasting duration: Duration) async {
        while !state.withLock({ $0.sleepers.contains { $0.duration == duration } }) { await Task.yield() }
    }
}
