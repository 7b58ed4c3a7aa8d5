import Foundation
import HTTPCore

/// A bounded ``DeduplicationStore`` in the memory of one process.
///
/// Right for a single instance (and for tests); a service with several instances behind a load balancer needs a
/// shared store instead (see `Documentation/Idempotency.md`). It never throws.
///
/// - **Expiry** is checked against the injected monotonic clock: an expired claim, done key or change time behaves
///   as absent at once and is purged a few entries per call (amortized), never by a full scan.
/// - **Bounds**: at most `capacity` keys and `changeTimeCapacity` entity change times. When a new entry would exceed
///   a bound, entries are evicted soonest-expiring first, in this order for keys: expired entries, then done keys,
///   and only when neither exists, live claims. So a live claim is never evicted while an expired or done entry
///   exists. Evicting a done key lets a redelivery of that change be processed again (its messages keep their ids,
///   so Segment drops them); evicting a claim lets a concurrent duplicate in, with the same safety net.
/// - **Cost**: O(log n) per operation (a dictionary plus expiry heaps; heaps are rebuilt, in O(n), only after about
///   n updates, which is amortized O(1)).
/// - **Durations** are clamped to between 1 millisecond and 100 years, the range a Redis `PX` accepts sensibly.
public actor InMemoryDeduplicationStore: DeduplicationStore {
    /// The state of one key, as ``state(of:)`` reports it.
    public enum KeyState: Sendable, Hashable {
        /// No live entry: the next ``claim(_:for:)`` succeeds.
        case absent
        /// A live claim, owned by the token.
        case claimed(String)
        /// Done until the retention ends.
        case done
    }

    /// The most keys held at once.
    nonisolated public let capacity: Int
    /// The most entity change times held at once.
    nonisolated public let changeTimeCapacity: Int

    private let clock: MonotonicClock
    private let makeToken: @Sendable () -> String

    private var keys: DeduplicationKeyTable
    private var changeTimes: ChangeTimeTable

    /// Entries purged per call at most, beyond what a call needs for itself.
    private static let purgeBatch = 4

    /// Creates an empty store.
    ///
    /// - Parameters:
    ///   - capacity: The most keys held at once (claims and done keys together); at least 1. Default 100,000.
    ///   - changeTimeCapacity: The most entity change times held at once; at least 1. Default 100,000.
    ///   - clock: The monotonic clock expiry is checked against; `ContinuousClock` by default.
    ///   - makeToken: Makes claim tokens; each must be unique. Default: a random UUID, lowercase.
    public init(capacity: Int = 100_000, changeTimeCapacity: Int = 100_000,
                clock: any Clock<Duration> = ContinuousClock(),
                makeToken: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }) {
        let capacity = max(1, capacity)
        let changeTimeCapacity = max(1, changeTimeCapacity)
        self.capacity = capacity
        self.changeTimeCapacity = changeTimeCapacity
        keys = DeduplicationKeyTable(capacity: capacity)
        changeTimes = ChangeTimeTable(capacity: changeTimeCapacity)
        self.clock = MonotonicClock(clock)
        self.makeToken = makeToken
    }

    // MARK: DeduplicationStore

    /// Claims `key` for `duration` if it is absent or its claim expired; see ``DeduplicationStore/claim(_:for:)``.
    public func claim(_ key: DeduplicationKey, for duration: Duration) -> DeduplicationClaim {
        let now = currentTime()
        defer { keys.purgeExpired(now: now, limit: Self.purgeBatch) }
        if let entry = keys.liveEntry(key, now: now) {
            switch entry.marker {
            case .claim: return .inFlight
            case .done: return .alreadyDone
            }
        }
        let token = makeToken()
        keys.store(key, marker: .claim(token), expiresAt: now + Self.seconds(duration), now: now)
        return .claimed(token)
    }

    /// Marks `key` done for `retention` if `token` owns the claim or nobody holds the key; see
    /// ``DeduplicationStore/complete(_:token:retention:)``.
    @discardableResult
    public func complete(_ key: DeduplicationKey, token: String, retention: Duration) -> DeduplicationCompletion {
        let now = currentTime()
        defer { keys.purgeExpired(now: now, limit: Self.purgeBatch) }
        if let entry = keys.liveEntry(key, now: now) {
            switch entry.marker {
            case .claim(let owner) where owner != token: return .claimedByAnother
            case .done: return .alreadyDone
            case .claim: break
            }
        }
        keys.store(key, marker: .done, expiresAt: now + Self.seconds(retention), now: now)
        return .completed
    }

    /// Deletes the claim on `key` if `token` owns it; see ``DeduplicationStore/release(_:token:)``.
    @discardableResult
    public func release(_ key: DeduplicationKey, token: String) -> Bool {
        let now = currentTime()
        defer { keys.purgeExpired(now: now, limit: Self.purgeBatch) }
        guard let entry = keys.liveEntry(key, now: now), case .claim(let owner) = entry.marker, owner == token else {
            return false
        }
        keys.remove(key)
        return true
    }

    /// Extends the claim on `key` if `token` owns it and it is live; see
    /// ``DeduplicationStore/renew(_:token:for:)``.
    public func renew(_ key: DeduplicationKey, token: String, for duration: Duration) -> Bool {
        let now = currentTime()
        guard let entry = keys.liveEntry(key, now: now), case .claim(let owner) = entry.marker, owner == token else {
            return false
        }
        keys.store(key, marker: .claim(token), expiresAt: now + Self.seconds(duration), now: now)
        return true
    }

    /// Records `time` as `entity`'s newest change time if it is at least the stored one; see
    /// ``DeduplicationStore/recordChangeTime(_:for:retention:)``.
    @discardableResult
    public func recordChangeTime(_ time: Int64, for entity: DeduplicationEntityKey, retention: Duration) -> Bool {
        let now = currentTime()
        defer { changeTimes.purgeExpired(now: now, limit: Self.purgeBatch) }
        if let stored = changeTimes.liveChangeTime(entity, now: now), time < stored.time {
            return false
        }
        changeTimes.record(time, for: entity, expiresAt: now + Self.seconds(retention), now: now)
        return true
    }

    /// The newest change time recorded for `entity`, or `nil`; see ``DeduplicationStore/newestChangeTime(for:)``.
    public func newestChangeTime(for entity: DeduplicationEntityKey) -> Int64? {
        changeTimes.liveChangeTime(entity, now: currentTime())?.time
    }

    /// The keys among `keys` that are done or claimed now; see ``DeduplicationStore/knownKeys(among:)``.
    public func knownKeys(among keys: [DeduplicationKey]) -> Set<DeduplicationKey> {
        let now = currentTime()
        return Set(keys.filter { self.keys.liveEntry($0, now: now) != nil })
    }

    // MARK: Inspection

    /// The state of `key` now (for diagnostics and tests).
    public func state(of key: DeduplicationKey) -> KeyState {
        guard let entry = keys.liveEntry(key, now: currentTime()) else { return .absent }
        switch entry.marker {
        case .claim(let token): return .claimed(token)
        case .done: return .done
        }
    }

    /// How many keys are held, counting expired ones not yet purged (never more than ``capacity``).
    public var keyCount: Int { keys.count }

    /// How many entity change times are held, counting expired ones not yet purged (never more than
    /// ``changeTimeCapacity``).
    public var changeTimeCount: Int { changeTimes.count }

    // MARK: Time

    private func currentTime() -> Double { clock.now.seconds }

    /// `duration` in seconds, clamped to between 1 millisecond and about 100 years.
    private static func seconds(_ duration: Duration) -> Double {
        min(max(duration.seconds, 0.001), 3.15e9)
    }
}
