/// The newest change time of each entity, for an ``InMemoryDeduplicationStore``: at most `capacity` entities, each
/// with its expiry.
///
/// An expired change time behaves as absent at once and is removed when looked up, purged a few at a time, or
/// evicted. When a new entity would exceed the capacity, the soonest-expiring change time is evicted first.
struct ChangeTimeTable {
    struct ChangeTime {
        var time: Int64
        var expiresAt: Double
        var sequence: UInt64
    }

    private typealias Item = ExpiryHeap<DeduplicationEntityKey>.Item

    /// The most entity change times held at once.
    let capacity: Int

    private var changeTimes: [DeduplicationEntityKey: ChangeTime] = [:]
    private var heap = ExpiryHeap<DeduplicationEntityKey>()
    private var nextSequence: UInt64 = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// How many change times are held, counting expired ones not yet purged.
    var count: Int { changeTimes.count }

    /// The change time of `entity` if it has not expired; an expired one is removed.
    mutating func liveChangeTime(_ entity: DeduplicationEntityKey, now: Double) -> ChangeTime? {
        guard let stored = changeTimes[entity] else { return nil }
        if stored.expiresAt > now { return stored }
        changeTimes[entity] = nil
        return nil
    }

    /// Sets `entity`'s change time, evicting another one first if the table is full and the entity is new.
    mutating func record(_ time: Int64, for entity: DeduplicationEntityKey, expiresAt: Double, now: Double) {
        if changeTimes[entity] == nil {
            makeRoom(now: now)
        }
        nextSequence += 1
        changeTimes[entity] = ChangeTime(time: time, expiresAt: expiresAt, sequence: nextSequence)
        heap.push(Item(expiresAt: expiresAt, sequence: nextSequence, key: entity))
        compactHeapIfNeeded()
    }

    /// Removes up to `limit` expired change times.
    mutating func purgeExpired(now: Double, limit: Int) {
        var removed = 0
        while removed < limit, let top = firstLiveItem(), top.expiresAt <= now {
            heap.pop()
            changeTimes[top.key] = nil
            removed += 1
        }
    }

    /// Drops stale items from the top of the heap and returns the first live one.
    private mutating func firstLiveItem() -> Item? {
        while let top = heap.top {
            if changeTimes[top.key]?.sequence == top.sequence { return top }
            heap.pop()
        }
        return nil
    }

    /// Evicts the soonest-expiring change time (an expired one first, as it expires soonest) if the table is full.
    private mutating func makeRoom(now: Double) {
        guard changeTimes.count >= capacity else { return }
        if firstLiveItem() != nil, let victim = heap.pop() {
            changeTimes[victim.key] = nil
        }
    }

    /// Rebuilds the heap once stale items outnumber live ones.
    private mutating func compactHeapIfNeeded() {
        guard heap.count > 2 * changeTimes.count + 64 else { return }
        heap.rebuild(changeTimes.map { key, stored in
            .init(expiresAt: stored.expiresAt, sequence: stored.sequence, key: key)
        })
    }
}
