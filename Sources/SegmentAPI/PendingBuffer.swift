/// Messages taken from the buffer together, with the ticket of each: a batch in flight.
struct PendingBatch: Sendable {
    /// The messages, in order.
    var messages: [EncodedSegmentMessage] = []
    /// `tickets[i]` is the ticket of `messages[i]`.
    var tickets: [UInt64] = []

    var isEmpty: Bool { messages.isEmpty }
}

/// The messages waiting to be sent, in order, with their byte count: the queue's buffer.
struct PendingBuffer {
    /// Taken messages are moved out (leaving `nil`), so a batch holds the only copy and nothing is retained twice.
    private var items: [EncodedSegmentMessage?] = []
    /// `tickets[i]` is the ticket of `items[i]`.
    private var tickets: [UInt64] = []
    private var head = 0
    /// The JSON bytes of the waiting messages, one separator each included.
    private(set) var bytes = 0

    /// How many messages wait.
    var count: Int { items.count - head }
    var isEmpty: Bool { count == 0 }

    /// The bytes a message takes in a request: its JSON and one separator.
    private static func size(_ message: EncodedSegmentMessage) -> Int { message.json.count + 1 }

    mutating func append(_ message: EncodedSegmentMessage, ticket: UInt64) {
        bytes += Self.size(message)
        items.append(message)
        tickets.append(ticket)
    }

    /// Takes the next batch: at most `maxMessages` messages whose request fits `budget` bytes (always one at least).
    mutating func takeBatch(maxMessages: Int, budget: Int) -> PendingBatch {
        var size = SegmentBatch.envelopeOverhead
        var end = head
        while end < items.count && end - head < maxMessages {
            let next = items[end].map(Self.size) ?? 0
            if end > head && size + next > budget { break }
            size += next
            end += 1
        }
        var batch = PendingBatch()
        batch.messages.reserveCapacity(end - head)
        batch.tickets.append(contentsOf: tickets[head..<end])
        for index in head..<end {
            guard let message = items[index].take() else { continue }
            bytes -= Self.size(message)
            batch.messages.append(message)
        }
        head = end
        compact()
        return batch
    }

    /// Takes everything.
    mutating func takeAll() -> PendingBatch {
        let all = PendingBatch(messages: items[head...].compactMap { $0 }, tickets: Array(tickets[head...]))
        items.removeAll(keepingCapacity: true)
        tickets.removeAll(keepingCapacity: true)
        head = 0
        bytes = 0
        return all
    }

    private mutating func compact() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            tickets.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4_096 && head * 2 > items.count {
            items.removeFirst(head)
            tickets.removeFirst(head)
            head = 0
        }
    }
}
