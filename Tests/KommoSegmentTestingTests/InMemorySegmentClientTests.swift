import Foundation
import JSONCore
import KommoSegmentTesting
import SegmentAPI
import Testing

@Suite("InMemorySegmentClient with SegmentQueue", .timeLimit(.minutes(1)))
struct InMemorySegmentClientTests {
    /// A queue on `manualClock`, or else on an ``ImmediateClock`` (retry and interval waits cost no time).
    static func queue(_ client: InMemorySegmentClient, flushAt: Int = 100, manualClock: ManualClock? = nil,
                      onDelivery: (@Sendable (SegmentDeliveryEvent) -> Void)? = nil) -> SegmentQueue {
        let counter = LockedValue(0)
        let immediate = ImmediateClock()
        return SegmentQueue(client: client, configuration: .init(flushAt: flushAt),
                            clock: manualClock.map { $0 as any Clock<Duration> } ?? immediate,
                            wallClock: manualClock?.wallClock ?? immediate.wallClock, random: { 0 },
                            makeMessageID: { "m-" + String(counter.withLock { $0 += 1; return $0 }) },
                            onDelivery: onDelivery)
    }

    /// Runs `body` while the queue's `run()` delivers, then shuts the queue down and waits for `run()` to return.
    static func withRunning(_ queue: SegmentQueue, _ body: () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await queue.run() }
            do {
                try await body()
            } catch {
                group.cancelAll()
                throw error
            }
            _ = await queue.shutdown(timeout: .seconds(5))
            try await group.waitForAll()
        }
    }

    @Test("collects every message of every batch, in order")
    func collects() async throws {
        let sink = InMemorySegmentClient()
        // A manual clock that never moves: batches go on the count or the flush, never on the interval.
        let queue = Self.queue(sink, flushAt: 2, manualClock: ManualClock())
        try await Self.withRunning(queue) {
            try await queue.enqueue(.identify(userID: "olivia.bennett@example.com", traits: ["name": "Olivia Bennett"]))
            let second = try await queue.enqueue(.track("Deal Won", userID: "olivia.bennett@example.com",
                                                        properties: ["value": 12500]))
            #expect(try await second.outcome() == .delivered)  // two make a batch, sent without a flush
            let last = try await queue.enqueue(.track("Deal Lost", userID: "hiro.tanaka@example.com"))
            #expect(await queue.flush())
            #expect(last.currentOutcome == .delivered)
        }
        #expect(sink.messages.map(\.type.rawValue) == ["identify", "track", "track"])
        #expect(sink.messages.map(\.messageID) == ["m-1", "m-2", "m-3"])
        #expect(sink.batches.map(\.messages.count) == [2, 1])
        #expect(sink.retryCounts == [0, 0])
        #expect(sink.wireMessages[1]["event"] == "Deal Won")
        #expect(sink.wireMessages[1]["properties"]?["value"] == 12500)
    }

    @Test("scripted transient failures are retried by the queue; retry counts are recorded", arguments: [503, 429])
    func transientFailures(status: Int) async throws {
        let sink = InMemorySegmentClient(failures: [.init(attempts: 2, status: status)])
        let queue = Self.queue(sink)
        try await Self.withRunning(queue) {
            let ticket = try await queue.enqueue(.track("Deal Won", userID: "u1"))
            #expect(await queue.flush())
            #expect(ticket.currentOutcome == .delivered)
        }
        #expect(sink.retryCounts == [0, 1, 2])
        #expect(sink.attempts.map(\.status) == [status, status, 200])
        #expect(sink.messages.map(\.event) == ["Deal Won"])
        #expect(sink.pendingFailures == 0)
    }

    @Test("a final refusal is not retried and reaches the delivery handler as a failure")
    func refusal() async throws {
        let failures = LockedValue<[SegmentError.Code]>([])
        let sink = InMemorySegmentClient()
        sink.failNext(.init(status: 400))
        let queue = Self.queue(sink) { event in
            if case .failed(_, let error) = event { failures.withLock { $0.append(error.code) } }
        }
        try await Self.withRunning(queue) {
            let ticket = try await queue.enqueue(.track("Deal Won", userID: "u1"))
            _ = await queue.flush()
            #expect(ticket.currentOutcome?.error?.code == .rejected)
        }
        #expect(sink.retryCounts == [0])
        #expect(sink.messages.isEmpty)
        #expect(sink.batches.isEmpty)
        #expect(failures.withLock { $0 } == [.rejected])
    }
}
