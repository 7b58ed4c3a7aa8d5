/// A binary min-heap of keys ordered by expiry, then by insertion sequence (so ties leave in insertion order).
///
/// Entries are never updated in place: a store pushes a new item when an entry changes and treats items whose
/// sequence no longer matches the entry as stale, skipping them when they reach the top.
struct ExpiryHeap<Key: Hashable & Sendable>: Sendable {
    /// One scheduled expiry.
    struct Item: Sendable {
        /// When the entry expires, in seconds since 1970.
        var expiresAt: Double
        /// The entry's sequence number when the item was pushed.
        var sequence: UInt64
        /// The entry's key.
        var key: Key
    }

    private(set) var items: [Item] = []

    /// How many items (live and stale) the heap holds.
    var count: Int { items.count }

    /// The item that expires first, if any.
    var top: Item? { items.first }

    /// Adds `item` in O(log n).
    mutating func push(_ item: Item) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the item that expires first, in O(log n).
    @discardableResult
    mutating func pop() -> Item? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let first = items.removeLast()
        siftDown(from: 0)
        return first
    }

    /// Replaces the contents with `newItems`, in O(n).
    mutating func rebuild(_ newItems: [Item]) {
        items = newItems
        var index = items.count / 2
        while index > 0 {
            index -= 1
            siftDown(from: index)
        }
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, Self.precedes(items[left], items[smallest]) { smallest = left }
            if right < items.count, Self.precedes(items[right], items[smallest]) { smallest = right }
            if smallest == parent { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }

    private static func precedes(_ lhs: Item, _ rhs: Item) -> Bool {
        lhs.expiresAt != rhs.expiresAt ? lhs.expiresAt < rhs.expiresAt : lhs.sequence < rhs.sequence
    }
}
