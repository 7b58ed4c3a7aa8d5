/// The claims and done keys of an ``InMemoryDeduplicationStore``: at most `capacity` keys, each with its expiry.
///
/// An expired entry behaves as absent at once and is removed when looked up, purged a few at a time, or evicted.
/// When a new key would exceed the capacity, one entry is evicted first: the soonest-expiring expired one, else the
/// soonest-expiring done one, else the soonest-expiring claim.
struct DeduplicationKeyTable {
    /// What a key holds.
    enum Marker {
        /// A claim, owned by the token.
        case claim(String)
        /// A done key.
        case done
    }

    struct Entry {
        var marker: Marker
        var expiresAt: Double
        var sequence: UInt64
    }

    private typealias Item = ExpiryHeap<DeduplicationKey>.Item

    /// The most keys held at once.
    let capacity: Int

    private var entries: [DeduplicationKey: Entry] = [:]
    private var claimHeap = ExpiryHeap<DeduplicationKey>()
    private var doneHeap = ExpiryHeap<DeduplicationKey>()
    private var nextSequence: UInt64 = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// How many keys are held, counting expired ones not yet purged.
    var count: Int { entries.count }

    /// The entry of `key` if it has not expired; an expired one is removed.
    mutating func liveEntry(_ key: DeduplicationKey, now: Double) -> Entry? {
        guard let entry = entries[key] else { return nil }
        if entry.expiresAt > now { return entry }
        entries[key] = nil
        return nil
    }

    /// Sets `key`'s entry, evicting another one first if the table is full and the key is new.
    mutating func store(_ key: DeduplicationKey, marker: Marker, expiresAt: Double, now: Double) {
        if entries[key] == nil, entries.count >= capacity {
            evictOne(now: now)
        }
        nextSequence += 1
        entries[key] = Entry(marker: marker, expiresAt: expiresAt, sequence: nextSequence)
        let item = Item(expiresAt: expiresAt, sequence: nextSequence, key: key)
        switch marker {
        case .claim: claimHeap.push(item)
        case .done: doneHeap.push(item)
        }
        compactHeapsIfNeeded()
    }

    /// Removes `key`'s entry.
    mutating func remove(_ key: DeduplicationKey) {
        entries[key] = nil
    }

    /// Removes up to `limit` expired keys, soonest-expiring first, skipping stale heap items.
    mutating func purgeExpired(now: Double, limit: Int) {
        var removed = 0
        while removed < limit, let top = Self.firstLiveItem(&claimHeap, entries: entries), top.expiresAt <= now {
            claimHeap.pop()
            entries[top.key] = nil
            removed += 1
        }
        while removed < limit, let top = Self.firstLiveItem(&doneHeap, entries: entries), top.expiresAt <= now {
            doneHeap.pop()
            entries[top.key] = nil
            removed += 1
        }
    }

    /// Drops stale items from the top of `heap` and returns the first live one, without removing it.
    private static func firstLiveItem(_ heap: inout ExpiryHeap<DeduplicationKey>,
                                      entries: [DeduplicationKey: Entry]) -> Item? {
        while let top = heap.top {
            if entries[top.key]?.sequence == top.sequence { return top }
            heap.pop()
        }
        return nil
    }

    /// Removes one key: the soonest-expiring expired one, else the soonest-expiring done one, else the
    /// soonest-expiring claim.
    private mutating func evictOne(now: Double) {
        let claim = Self.firstLiveItem(&claimHeap, entries: entries)
        let done = Self.firstLiveItem(&doneHeap, entries: entries)
        let victim: Item?
        if let claim, claim.expiresAt <= now, done.map({ claim.expiresAt <= $0.expiresAt }) ?? true {
            victim = claimHeap.pop()
        } else if done != nil {
            victim = doneHeap.pop()
        } else {
            victim = claimHeap.pop()
        }
        if let victim { entries[victim.key] = nil }
    }

    /// Rebuilds the heaps from the entries once stale items outnumber live ones (amortized O(1) per update).
    private mutating func compactHeapsIfNeeded() {
        guard claimHeap.count + doneHeap.count > 2 * entries.count + 64 else { return }
        var claims: [Item] = []
        var dones: [Item] = []
        for (key, entry) in entries {
            let item = Item(expiresAt: entry.expiresAt, sequence: entry.sequence, key: key)
            switch entry.marker {
            case .claim: claims.append(item)
            case .done: dones.append(item)
            }
        }
        claimHeap.rebuild(claims)
        doneHeap.rebuild(dones)
    }
}
