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
    public var messageIDs: [String] {
        switch ids {
        case .one(let id): [id]
        case .many(let ids): ids
        }
    }

    /// The ids as queued: a group of one (the usual case) keeps its id without an array.
    enum IDs: Sendable {
        case one(String)
        case many([String])
    }

    private let ids: IDs
    private let state: TicketState

    init(ids: IDs, state: TicketState) {
        self.ids = ids
        self.state = state
    }

    /// Waits for the group's outcome.
    /// - Throws: `CancellationError` when the waiting task is cancelled (the messages stay queued).
    public func outcome() async throws -> SegmentDeliveryOutcome {
        guard let outcome = await state.wait() else { throw CancellationError() }
        return outcome
    }

    /// The outcome if it is known already, else `nil`.
    public var currentOutcome: SegmentDeliveryOutcome? { state.value }
}

/// Where one ticket's outcome is kept: set once by its queue, awaited by any number of tasks.
///
/// A queue makes one per group of messages, often one per message, so it is made to be cheap: one object, not
/// generic (no metadata to look up at run time), whose two fields are guarded by a lock that every ticket of the queue
/// shares rather than a lock of its own. A waiter that is cancelled gets `nil` at once and the outcome stays unset.
final class TicketState: @unchecked Sendable {
    /// The lock of every ticket of one queue; its value numbers the waiters.
    private let lock: Locked<UInt64>
    // Both guarded by `lock`.
    private var outcome: SegmentDeliveryOutcome?
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<SegmentDeliveryOutcome?, Never>)] = []

    init(lock: Locked<UInt64>, outcome: SegmentDeliveryOutcome? = nil) {
        self.lock = lock
        self.outcome = outcome
    }

    /// The outcome, if it has been set.
    var value: SegmentDeliveryOutcome? { lock.withLock { _ in outcome } }

    /// Sets the outcome and wakes every waiter; a second outcome is ignored.
    func resolve(_ outcome: SegmentDeliveryOutcome) {
        let woken = lock.withLock { _ -> [CheckedContinuation<SegmentDeliveryOutcome?, Never>] in
            guard self.outcome == nil else { return [] }
            self.outcome = outcome
            defer { waiters.removeAll() }
            return waiters.map(\.continuation)
        }
        for waiter in woken { waiter.resume(returning: outcome) }
    }

    /// Waits for the outcome; `nil` when the calling task is cancelled first.
    func wait() async -> SegmentDeliveryOutcome? {
        if let outcome = value { return outcome }
        let id = lock.withLock { next -> UInt64 in
            next &+= 1
            return next
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<SegmentDeliveryOutcome?, Never>) in
                let ready: SegmentDeliveryOutcome?? = lock.withLock { _ in
                    if let outcome { return .some(outcome) }
                    if Task.isCancelled { return .some(nil) }
                    waiters.append((id, continuation))
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            let waiter = lock.withLock { _ -> CheckedContinuation<SegmentDeliveryOutcome?, Never>? in
                guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: nil)
        }
    }
}

/// The open tickets of a queue: how many messages each still waits for, and its first failure.
///
/// Tickets are numbered in order and almost always finish in order (batches are delivered one at a time), so they
/// sit in an array indexed from the oldest open one: no hashing on the hot path.
struct TicketBook {
    private struct Entry {
        var remaining: Int
        var failure: SegmentError?
        let state: TicketState
    }

    /// The one lock of every ticket's state.
    private let lock = Locked<UInt64>(0)

    private var entries: [Entry?] = []
    /// Where the oldest entry still held sits in ``entries``.
    private var head = 0
    /// The ticket number of `entries[0]`.
    private var base: UInt64 = 1
    private var nextID: UInt64 = 1

    /// Opens a ticket for `count` messages; returns its number and its state.
    mutating func open(count: Int) -> (id: UInt64, state: TicketState) {
        let id = nextID
        nextID += 1
        let state: TicketState
        if count == 0 {
            state = TicketState(lock: lock, outcome: .delivered)
            entries.append(nil)
        } else {
            state = TicketState(lock: lock)
            entries.append(Entry(remaining: count, failure: nil, state: state))
        }
        compact()
        return (id, state)
    }

    /// Records the outcome of one message of each of `ids` (a ticket once per message of it).
    mutating func record(_ ids: [UInt64], failure: SegmentError?) {
        for id in ids { record(id, failure: failure) }
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
        entry.state.resolve(entry.failure.map(SegmentDeliveryOutcome.failed) ?? .delivered)
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
