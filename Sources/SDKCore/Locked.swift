#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a POSIX mutex, shared by reference: the one lock of the package's targets.
///
/// Why not `Synchronization.Mutex`: on Linux its contended path takes and hands over the lock inside the kernel
/// (`FUTEX_LOCK_PI`), in code the thread sanitizer does not see. Every access made after waiting for such a lock is
/// then reported as a data race, and `swift test --sanitize=thread` fails on correct code. The sanitizer intercepts
/// `pthread_mutex_lock` and `pthread_mutex_unlock`, so it sees this lock's ordering. Uncontended, both cost about the
/// same: one atomic exchange in the C library.
///
/// The closure runs with the lock held: keep it short, never `await` or call back into code that takes the same lock.
package final class Locked<Value: ~Copyable>: @unchecked Sendable {
    // Both live at fixed addresses: a pthread mutex must never move once initialised.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline let storage: UnsafeMutablePointer<Value>

    /// A lock guarding `value`.
    @inlinable
    package init(_ value: consuming sending Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        storage = .allocate(capacity: 1)
        storage.initialize(to: value)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    /// Runs `body` with exclusive access to the value and returns what it returns.
    @inlinable
    package func withLock<Result: ~Copyable, Failure: Error>(
        _ body: (inout sending Value) throws(Failure) -> sending Result
    ) throws(Failure) -> sending Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&storage.pointee)
    }
}
