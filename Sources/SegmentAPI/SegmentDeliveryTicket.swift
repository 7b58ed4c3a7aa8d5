import Foundation

/// What became of a group of messages handed to a ``SegmentQueue``.
public enum SegmentDeliveryOutcome: Sendable, Hashable {
    /// Segment accepted every message of the group.
    case delivered
    /// At least one message of the group was not delivered; the error is the first failure (its code says why:
    /// ``SegmentError/Code/rejected``, ``SegmentError/Code/retriesExhausted``, ``SegmentError/Code/undelivered``...).
    case failed(SegmentError)

    /// The failure, if the group was not delivered.
    public var error: SegmentError? {
        if case .failed(let error) = self { return error }
        return nil
    }
}

/// A receipt for messages queued together: their ids, and their outcome once the queue knows it.
///
/// Every ticket is resolved exactly once: when each of its messages is delivered or has failed for good, or when
/// ``SegmentQueue/shutdown(timeout:)`` or the end of ``SegmentQueue/run()`` gives up on them.
public struct SegmentDeliveryTicket: Sendable {
    /// The `messageId`s of the group, in order.
    public let messageIDs: [String]
    private let latch: AsyncLatch<SegmentDeliveryOutcome>

    init(messageIDs: [String], latch: AsyncLatch<SegmentDeliveryOutcome>) {
        self.messageIDs = messageIDs
        self.latch = latch
    }

    /// Waits for the group's outcome.
    /// - Throws: `CancellationError` when the waiting task is cancelled (the messages stay queued).
    public func outcome() async throws -> SegmentDeliveryOutcome {
        guard let outcome = await latch.wait() else { throw CancellationError() }
        return outcome
    }

    /// The outcome if it is known already, else `nil`.
    public var currentOutcome: SegmentDeliveryOutcome? { latch.value }
}

/// The open tickets of a queue: how many messages each still waits for, and its first failure.
///
/// Tickets are numbered in order and almost always finish in order (batches are delivered one at a time), so they
/// sit in an array indexed from the oldest open one: no hashing on the hot path.
struct TicketBook {
    private struct Entry {
        var remaining: Int
        var failure: SegmentError?
        let latch: AsyncLatch<SegmentDeliveryOutcome>
    }

    private var entries: [Entry?] = []
    /// Where the oldest entry still held sits in ``entries``.
    private var head = 0
    /// The ticket number of `entries[0]`.
    private var base: UInt64 = 1
    private var nextID: UInt64 = 1

    /// Opens a ticket for `count` messages; returns its number and its latch.
    mutating func open(count: Int) -> (id: UInt64, latch: AsyncLatch<SegmentDeliveryOutcome>) {
        let latch = AsyncLatch<SegmentDeliveryOutcome>()
        let id = nextID
        nextID += 1
        if count == 0 {
            latch.resolve(.delivered)
            entries.append(nil)
        } else {
            entries.append(Entry(remaining: count, failure: nil, latch: latch))
        }
        compact()
        return (id, latch)
    }

    /// Records the outcome of one message of ticket `id`; resolves the ticket after its last message.
    mutating func record(_ id: UInt64, failure: SegmentError?) {
        guard id >= base else { return }
        let index = Int(id - base)
        guard index < entries.count, var entry = entries[index] else { return }
        entry.remaining -= 1
        if entry.failure == nil { entry.failure = failure }
        if entry.remaining > 0 {
            entries[index] = entry
            return
        }
        entries[index] = nil
        entry.latch.resolve(entry.failure.map(SegmentDeliveryOutcome.failed) ?? .delivered)
        compact()
    }

    /// Drops finished tickets from the front, and the space they held once it is half the array.
    private mutating func compact() {
        while head < entries.count && entries[head] == nil { head += 1 }
        if head == entries.count {
            base += UInt64(head)
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1_024 && head * 2 > entries.count {
            base += UInt64(head)
            entries.removeFirst(head)
            head = 0
        }
    }
}
