/// A value that is set once and awaited by any number of tasks: the outcome of a delivery, the end of a drain.
///
/// Waiting honours cancellation: a cancelled waiter gets `nil` at once and the latch stays as it is.
///
/// Creating, reading and resolving are inlinable, so that a queue that opens one latch per message gets them
/// specialized rather than through generic metadata.
package final class AsyncLatch<Value: Sendable>: Sendable {
    @usableFromInline
    struct State {
        @usableFromInline var value: Value?
        @usableFromInline var waiters: [UInt64: CheckedContinuation<Value?, Never>] = [:]
        @usableFromInline var nextID: UInt64 = 0

        @inlinable init() {}
    }

    @usableFromInline let state = Locked(State())

    @inlinable package init() {}

    /// The value, if it has been set.
    @inlinable package var value: Value? { state.withLock { $0.value } }

    /// Sets the value and wakes every waiter; `false` (and nothing changes) if it was already set.
    @inlinable @discardableResult
    package func resolve(_ value: Value) -> Bool {
        let waiters: [CheckedContinuation<Value?, Never>]? = state.withLock { state in
            guard state.value == nil else { return nil }
            state.value = value
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume(returning: value) }
        return true
    }

    /// Waits for the value; `nil` when the calling task is cancelled first.
    package func wait() async -> Value? {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let ready: Value?? = state.withLock { state in
                    if let value = state.value { return .some(value) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}

extension AsyncLatch {
    /// Waits for the value until `clock` reaches `deadline`; `nil` when the deadline or a cancellation comes first.
    package func wait(until deadline: Duration, on clock: MonotonicClock) async -> Value? {
        if let value { return value }
        guard deadline > clock.now else { return nil }
        return await withTaskGroup(of: Value?.self) { group in
            group.addTask { await self.wait() }
            group.addTask {
                try? await clock.sleep(until: deadline)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

/// A wake-up call for one long-running loop: ``signal()`` is remembered until the loop next calls ``wait()``, so no
/// wake-up is lost between checking for work and going to sleep.
package final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Locked(State())

    package init() {}

    /// Wakes the waiting loop, or the next call to ``wait()``.
    package func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns after the next ``signal()`` (at once if one is pending), or when the calling task is cancelled.
    ///
    /// The waiter stays on its caller's actor, so a signal resumes it there directly, as one job of that actor,
    /// rather than through the global executor first.
    package func wait(isolation: isolated (any Actor)? = #isolation) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation(isolation: isolation) { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow: Bool = state.withLock { state in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter?.resume()
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    /// Waits for a signal, or until `clock` reaches `deadline`, whichever comes first (also on cancellation).
    package func wait(until deadline: Duration?, on clock: MonotonicClock) async {
        guard let deadline else { return await wait() }
        guard deadline > clock.now else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.wait() }
            group.addTask { try? await clock.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
    }
}

/// A value behind a lock that tasks can wait on: ``wait(until:)`` returns once a condition on the value holds,
/// checked at once and again after every ``update(_:)``, or when the waiting task is cancelled.
///
/// The shape of the pipeline's burst coordination (stages, lead order, queueing order): state changed by many
/// tasks, and tasks that wait for a condition of it, with no polling and no lost wake-up.
package final class AwaitedState<Value: Sendable>: Sendable {
    private struct Waiter {
        let condition: @Sendable (Value) -> Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct Inner {
        var value: Value
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
    }

    private let inner: Locked<Inner>

    package init(_ value: Value) {
        inner = Locked(Inner(value: value))
    }

    /// Reads the value under the lock.
    package func read<Result: Sendable>(_ body: (Value) -> Result) -> Result {
        inner.withLock { body($0.value) }
    }

    /// Changes the value under the lock, then wakes every waiter whose condition now holds.
    @discardableResult
    package func update<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        let (result, woken): (Result, [CheckedContinuation<Void, Never>]) = inner.withLock { inner in
            let result = body(&inner.value)
            let value = inner.value
            let due = inner.waiters.filter { $0.value.condition(value) }
            for key in due.keys { inner.waiters[key] = nil }
            return (result, due.values.map(\.continuation))
        }
        for waiter in woken { waiter.resume() }
        return result
    }

    /// Returns once `condition` holds for the value, or when the calling task is cancelled.
    package func wait(until condition: @escaping @Sendable (Value) -> Bool) async {
        let id = inner.withLock { inner -> UInt64 in
            inner.nextID += 1
            return inner.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now: Bool = inner.withLock { inner in
                    if condition(inner.value) || Task.isCancelled { return true }
                    inner.waiters[id] = Waiter(condition: condition, continuation: continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            inner.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }
}
