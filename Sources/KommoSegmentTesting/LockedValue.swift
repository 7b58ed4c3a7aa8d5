import Synchronization

/// A value behind a lock, shared by reference: what a `@Sendable` closure should capture to count or collect.
///
/// Capture this class rather than a local `Mutex`: a `Mutex` is not copyable, and an escaping closure must not hold
/// on to a local one.
public final class LockedValue<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    /// Creates the box with an initial value.
    public init(_ value: Value) { storage = Mutex(value) }

    /// Runs `body` with exclusive access to the value.
    public func withLock<Result: Sendable>(_ body: (inout sending Value) throws -> sending Result) rethrows -> Result {
        try storage.withLock(body)
    }

    /// The current value.
    public var value: Value { storage.withLock { $0 } }
}
