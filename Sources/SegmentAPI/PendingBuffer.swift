/// One queued message and the ticket it belongs to.
struct PendingMessage: Sendable {
    let encoded: EncodedSegmentMessage
    let ticket: UInt64
    var bytes: Int { encoded.json.count + 1 }
}

/// The messages waiting to be sent, in order, with their byte count: the queue's buffer.
struct PendingBuffer {
    /// Taken messages are moved out (leaving `nil`), so a batch holds the only copy and nothing is retained twice.
    private var items: [PendingMessage?] = []
    private var head = 0
    /// The JSON bytes of the waiting messages, one separator each included.
    private(set) var bytes = 0

    /// How many messages wait.
    var count: Int { items.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ message: PendingMessage) {
        items.append(message)
        bytes += message.bytes
    }

    /// Takes the next batch: at most `maxMessages` messages whose request fits `budget` bytes (always one at least).
    mutating func takeBatch(maxMessages: Int, budget: Int) -> [PendingMessage] {
        var size = SegmentBatch.envelopeOverhead
        var end = head
        while end < items.count && end - head < maxMessages {
            let next = items[end]?.bytes ?? 0
            if end > head && size + next > budget { break }
            size += next
            end += 1
        }
        var batch: [PendingMessage] = []
        batch.reserveCapacity(end - head)
        for index in head..<end {
            guard let message = items[index].take() else { continue }
            bytes -= message.bytes
            batch.append(message)
        }
        head = end
        compact()
        return batch
    }

    /// Takes everything.
    mutating func takeAll() -> [PendingMessage] {
        let all = items[head...].compactMap { $0 }
        items.removeAll(keepingCapacity: true)
        head = 0
        bytes = 0
        return all
    }

    private mutating func compact() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4_096 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
