import Foundation
import KommoSegment
import KommoSegmentPostgres
import Logging
import ServiceLifecycle

/// Keeps the shared tables small: deletes expired deduplication keys and change times every ``interval``.
///
/// Expired rows already count as absent, so this is housekeeping, not correctness; a failure is logged at `warning`
/// and tried again next time. Run it in the service group next to the pipeline (every instance may run it: the
/// deletes are idempotent).
public struct PostgresMaintenanceService: Service {
    /// The store whose expired rows are deleted.
    public let store: PostgresDeduplicationStore
    /// Time between two passes; 5 minutes by default.
    public let interval: Duration
    private let clock: any Clock<Duration>
    private let logger: Logger

    /// Creates the service.
    public init(store: PostgresDeduplicationStore, interval: Duration = .seconds(300),
                clock: any Clock<Duration> = ContinuousClock(), logger: Logger) {
        self.store = store
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    /// Purges every interval until graceful shutdown or cancellation.
    public func run() async throws {
        await repeatUntilShutdown(every: interval, clock: clock) { [store, logger] in
            do {
                let removed = try await store.purgeExpired()
                if removed > 0 { logger.debug("expired deduplication rows deleted", metadata: ["rows": "\(removed)"]) }
            } catch {
                logger.warning("expired deduplication rows could not be deleted; tried again later",
                               metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Runs `work` every `interval` on `clock`, the first time one interval from now, until graceful shutdown or
/// cancellation: the loop of the server's periodic services.
func repeatUntilShutdown(every interval: Duration, clock: any Clock<Duration>,
                         _ work: @escaping @Sendable () async -> Void) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: interval)
            } catch {
                return
            }
            await work()
        }
    }
}
