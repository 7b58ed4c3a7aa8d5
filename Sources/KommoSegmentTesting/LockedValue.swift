import HTTPCore

/// A value behind a lock, shared by reference: what a `@Sendable` closure should capture to count or collect.
///
/// The lock is a POSIX mutex, whose ordering the thread sanitizer sees. With `Synchronization.Mutex` on Linux it does
/// not, and `swift test --sanitize=thread` reports races in correct code whenever the lock is contended.
public final class LockedValue<Value: Sendable>: Sendable {
    private let storage: Locked<Value>

    /// Creates the box with an initial value.
    public init(_ value: Value) { storage = Locked(value) }

    /// Runs `body` with exclusive access to the value.
    public func withLock<Result: Sendable>(_ body: (inout sending Value) throws -> sending Result) rethrows -> Result {
        try storage.withLock(body)
    }

    /// The current value.
    public var value: Value { storage.withLock { $0 } }
}
