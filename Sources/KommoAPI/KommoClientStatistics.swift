import HTTPCore

/// What a Kommo client has done so far: its own request statistics, so callers never count URL paths.
public struct KommoClientStatistics: Sendable, Hashable {
    /// HTTP requests sent to Kommo (attempts, retries included).
    public var requests = 0
    /// Attempts that were retries of an earlier attempt.
    public var retries = 0
    /// Responses with status 429.
    public var rateLimited = 0
    /// Reads of reference data (pipelines, users, loss reasons, account) answered from the cache, or by another
    /// caller's fetch of the same data that was in flight and succeeded.
    public var cacheHits = 0
    /// Reads of reference data that went to Kommo.
    public var cacheMisses = 0

    /// Empty statistics.
    public init() {}
}

/// The counters behind ``KommoClientStatistics``, shared by the copies of one client.
final class StatisticsCounter: Sendable {
    private let counts = Locked(KommoClientStatistics())

    func update(_ change: (inout KommoClientStatistics) -> Void) {
        counts.withLock { change(&$0) }
    }

    var snapshot: KommoClientStatistics { counts.withLock { $0 } }
}
