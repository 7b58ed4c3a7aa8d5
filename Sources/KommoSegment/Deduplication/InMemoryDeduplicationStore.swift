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

    private enum Marker {
        case claim(String)
        case done
    }

    private struct Entry {
        var marker: Marker
        var expiresAt: Double
        var sequence: UInt64
    }

    private struct ChangeTime {
        var time: Int64
        var expiresAt: Double
        var sequence: UInt64
    }

    /// The most keys held at once.
    nonisolated public let capacity: Int
    /// The most entity change times held at once.
    nonisolated public let changeTimeCapacity: Int

    private let clock: MonotonicClock
    private let makeToken: @Sendable () -> String

    private var entries: [DeduplicationKey: Entry] = [:]
    private var claimHeap = ExpiryHeap<DeduplicationKey>()
    private var doneHeap = ExpiryHeap<DeduplicationKey>()
    private var changeTimes: [DeduplicationEntityKey: ChangeTime] = [:]
    private var changeTimeHeap = ExpiryHeap<DeduplicationEntityKey>()
    private var nextSequence: UInt64 = 0

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
        self.capacity = max(1, capacity)
        self.changeTimeCapacity = max(1, changeTimeCapacity)
        self.clock = MonotonicClock(clock)
        self.makeToken = makeToken
    }

    // MARK: DeduplicationStore

    /// Claims `key` for `duration` if it is absent or its claim expired; see ``DeduplicationStore/claim(_:for:)``.
    public func claim(_ key: DeduplicationKey, for duration: Duration) -> DeduplicationClaim {
        let now = currentTime()
        defer { purgeExpiredEntries(now: now, limit: Self.purgeBatch) }
        if let entry = liveEntry(key, now: now) {
            switch entry.marker {
            case .claim: return .inFlight
            case .done: return .alreadyDone
            }
        }
        let token = makeToken()
        store(key, marker: .claim(token), expiresAt: now + Self.seconds(duration), now: now)
        return .claimed(token)
    }

    /// Marks `key` done for `retention` if `token` owns the claim or nobody holds the key; see
    /// ``DeduplicationStore/complete(_:token:retention:)``.
    @discardableResult
    public func complete(_ key: DeduplicationKey, token: String, retention: Duration) -> DeduplicationCompletion {
        let now = currentTime()
        defer { purgeExpiredEntries(now: now, limit: Self.purgeBatch) }
        if let entry = liveEntry(key, now: now) {
            switch entry.marker {
            case .claim(let owner) where owner != token: return .claimedByAnother
            case .done: return .alreadyDone
            case .claim: break
            }
        }
        store(key, marker: .done, expiresAt: now + Self.seconds(retention), now: now)
        return .completed
    }

    /// Deletes the claim on `key` if `token` owns it; see ``DeduplicationStore/release(_:token:)``.
    @discardableResult
    public func release(_ key: DeduplicationKey, token: String) -> Bool {
        let now = currentTime()
        defer { purgeExpiredEntries(now: now, limit: Self.purgeBatch) }
        guard let entry = liveEntry(key, now: now), case .claim(let owner) = entry.marker, owner == token else {
            return false
        }
        entries[key] = nil
        return true
    }

    /// Records `time` as `entity`'s newest change time if it is at least the stored one; see
    /// ``DeduplicationStore/recordChangeTime(_:for:retention:)``.
    @discardableResult
    public func recordChangeTime(_ time: Int64, for entity: DeduplicationEntityKey, retention: Duration) -> Bool {
        let now = currentTime()
        defer { purgeExpiredChangeTimes(now: now, limit: Self.purgeBatch) }
        if let stored = liveChangeTime(entity, now: now), time < stored.time {
            return false
        }
        if changeTimes[entity] == nil {
            makeRoomForChangeTime(now: now)
        }
        nextSequence += 1
        let expiresAt = now + Self.seconds(retention)
        changeTimes[entity] = ChangeTime(time: time, expiresAt: expiresAt, sequence: nextSequence)
        changeTimeHeap.push(.init(expiresAt: expiresAt, sequence: nextSequence, key: entity))
        compactChangeTimeHeapIfNeeded()
        return true
    }

    /// The newest change time recorded for `entity`, or `nil`; see ``DeduplicationStore/newestChangeTime(for:)``.
    public func newestChangeTime(for entity: DeduplicationEntityKey) -> Int64? {
        liveChangeTime(entity, now: currentTime())?.time
    }

    // MARK: Inspection

    /// The state of `key` now (for diagnostics and tests).
    public func state(of key: DeduplicationKey) -> KeyState {
        guard let entry = liveEntry(key, now: currentTime()) else { return .absent }
        switch entry.marker {
        case .claim(let token): return .claimed(token)
        case .done: return .done
        }
    }

    /// How many keys are held, counting expired ones not yet purged (never more than ``capacity``).
    public var keyCount: Int { entries.count }

    /// How many entity change times are held, counting expired ones not yet purged (never more than
    /// ``changeTimeCapacity``).
    public var changeTimeCount: Int { changeTimes.count }

    // MARK: Keys

    private func currentTime() -> Double { clock.now.seconds }

    /// The entry of `key` if it has not expired; an expired one is removed.
    private func liveEntry(_ key: DeduplicationKey, now: Double) -> Entry? {
        guard let entry = entries[key] else { return nil }
        if entry.expiresAt > now { return entry }
        entries[key] = nil
        return nil
    }

    /// Sets `key`'s entry, evicting another one first if the store is full and the key is new.
    private func store(_ key: DeduplicationKey, marker: Marker, expiresAt: Double, now: Double) {
        if entries[key] == nil, entries.count >= capacity {
            evictOneKey(now: now)
        }
        nextSequence += 1
        entries[key] = Entry(marker: marker, expiresAt: expiresAt, sequence: nextSequence)
        let item = ExpiryHeap<DeduplicationKey>.Item(expiresAt: expiresAt, sequence: nextSequence, key: key)
        switch marker {
        case .claim: claimHeap.push(item)
        case .done: doneHeap.push(item)
        }
        compactKeyHeapsIfNeeded()
    }

    /// Drops stale items from the top of `heap` and returns the first live one, without removing it.
    private func firstLiveItem(_ heap: inout ExpiryHeap<DeduplicationKey>) -> ExpiryHeap<DeduplicationKey>.Item? {
        while let top = heap.top {
            if entries[top.key]?.sequence == top.sequence { return top }
            heap.pop()
        }
        return nil
    }

    /// Removes one key: the soonest-expiring expired one, else the soonest-expiring done one, else the
    /// soonest-expiring claim.
    private func evictOneKey(now: Double) {
        let claim = firstLiveItem(&claimHeap)
        let done = firstLiveItem(&doneHeap)
        let victim: ExpiryHeap<DeduplicationKey>.Item?
        if let claim, claim.expiresAt <= now, done.map({ claim.expiresAt <= $0.expiresAt }) ?? true {
            victim = claimHeap.pop()
        } else if done != nil {
            victim = doneHeap.pop()
        } else {
            victim = claimHeap.pop()
        }
        if let victim { entries[victim.key] = nil }
    }

    /// Removes up to `limit` expired keys, soonest-expiring first, skipping stale heap items.
    private func purgeExpiredEntries(now: Double, limit: Int) {
        var removed = 0
        while removed < limit, let top = firstLiveItem(&claimHeap), top.expiresAt <= now {
            claimHeap.pop()
            entries[top.key] = nil
            removed += 1
        }
        while removed < limit, let top = firstLiveItem(&doneHeap), top.expiresAt <= now {
            doneHeap.pop()
            entries[top.key] = nil
            removed += 1
        }
    }

    /// Rebuilds the key heaps from the entries once stale items outnumber live ones (amortized O(1) per update).
    private func compactKeyHeapsIfNeeded() {
        guard claimHeap.count + doneHeap.count > 2 * entries.count + 64 else { return }
        var claims: [ExpiryHeap<DeduplicationKey>.Item] = []
        var dones: [ExpiryHeap<DeduplicationKey>.Item] = []
        for (key, entry) in entries {
            let item = ExpiryHeap<DeduplicationKey>.Item(expiresAt: entry.expiresAt, sequence: entry.sequence, key: key)
            switch entry.marker {
            case .claim: claims.append(item)
            case .done: dones.append(item)
            }
        }
        claimHeap.rebuild(claims)
        doneHeap.rebuild(dones)
    }

    // MARK: Change times

    /// The change time of `entity` if it has not expired; an expired one is removed.
    private func liveChangeTime(_ entity: DeduplicationEntityKey, now: Double) -> ChangeTime? {
        guard let stored = changeTimes[entity] else { return nil }
        if stored.expiresAt > now { return stored }
        changeTimes[entity] = nil
        return nil
    }

    /// Drops stale items from the top of the change-time heap and returns the first live one.
    private func firstLiveChangeTimeItem() -> ExpiryHeap<DeduplicationEntityKey>.Item? {
        while let top = changeTimeHeap.top {
            if changeTimes[top.key]?.sequence == top.sequence { return top }
            changeTimeHeap.pop()
        }
        return nil
    }

    /// Evicts the soonest-expiring change time (an expired one first, as it expires soonest) if the store is full.
    private func makeRoomForChangeTime(now: Double) {
        guard changeTimes.count >= changeTimeCapacity else { return }
        if firstLiveChangeTimeItem() != nil, let victim = changeTimeHeap.pop() {
            changeTimes[victim.key] = nil
        }
    }

    /// Removes up to `limit` expired change times.
    private func purgeExpiredChangeTimes(now: Double, limit: Int) {
        var removed = 0
        while removed < limit, let top = firstLiveChangeTimeItem(), top.expiresAt <= now {
            changeTimeHeap.pop()
            changeTimes[top.key] = nil
            removed += 1
        }
    }

    /// Rebuilds the change-time heap once stale items outnumber live ones.
    private func compactChangeTimeHeapIfNeeded() {
        guard changeTimeHeap.count > 2 * changeTimes.count + 64 else { return }
        changeTimeHeap.rebuild(changeTimes.map { key, stored in
            .init(expiresAt: stored.expiresAt, sequence: stored.sequence, key: key)
        })
    }

    // MARK: Durations

    /// `duration` in seconds, clamped to between 1 millisecond and about 100 years.
    private static func seconds(_ duration: Duration) -> Double {
        min(max(duration.seconds, 0.001), 3.15e9)
    }
}
