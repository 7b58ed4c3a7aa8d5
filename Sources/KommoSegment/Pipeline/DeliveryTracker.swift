import SegmentAPI

/// Connects the Segment queue's delivery events to the events waiting for them, by message id.
actor DeliveryTracker {
    private struct Entry {
        var expected = 0
        var outcome: SegmentError??
        var waiters: [CheckedContinuation<SegmentError?, Never>] = []
    }

    private var entries: [String: Entry] = [:]

    /// Announces that someone will wait for these ids (call before enqueueing them).
    func expect(_ ids: [String]) {
        for id in ids { entries[id, default: Entry()].expected += 1 }
    }

    /// Forgets ids that will not be waited for (their enqueue failed).
    func forget(_ ids: [String]) {
        for id in ids { consume(id) }
    }

    /// Waits for each id's outcome: `nil` when delivered, else the error.
    func outcomes(_ ids: [String]) async -> [String: SegmentError?] {
        var result: [String: SegmentError?] = [:]
        for id in ids {
            result[id] = await outcome(id)
        }
        return result
    }

    private func outcome(_ id: String) async -> SegmentError? {
        if let known = entries[id]?.outcome {
            consume(id)
            return known
        }
        let value = await withCheckedContinuation { continuation in
            entries[id, default: Entry()].waiters.append(continuation)
        }
        consume(id)
        return value
    }

    private func consume(_ id: String) {
        guard var entry = entries[id] else { return }
        entry.expected -= 1
        entries[id] = entry.expected <= 0 && entry.waiters.isEmpty ? nil : entry
    }

    /// Records a delivery event from the queue.
    func record(_ event: SegmentDeliveryEvent) {
        switch event {
        case .delivered(let messages, _):
            for message in messages { resolve(message.messageID, with: nil) }
        case .failed(let messages, let error):
            for message in messages { resolve(message.messageID, with: error) }
        case .rejected(let message, let error):
            resolve(message.messageID, with: error)
        }
    }

    private func resolve(_ id: String?, with error: SegmentError?) {
        guard let id, var entry = entries[id] else { return }
        entry.outcome = .some(error)
        let waiters = entry.waiters
        entry.waiters.removeAll()
        entries[id] = entry
        for waiter in waiters { waiter.resume(returning: error) }
    }
}
