import Foundation
import SegmentAPI
import Synchronization
import Testing
import KommoSegmentTesting

@Suite("Segment queue: batching")
struct BatchingTests {
    @Test("flushes on count: full batches go at once, the rest on flush")
    func byCount() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        let log = DeliveryLog()
        let queue = makeQueue(transport: transport, time: ManualTimeSource(), configuration: .init(flushAt: 3), log: log)
        for i in 0..<7 { try await queue.enqueue(.track("E\(i)", userID: "u")) }
        #expect(await queue.flush())
        let sizes = try transport.requests.map { try batchCount($0) }
        #expect(sizes == [3, 3, 1])
        #expect(log.delivered.map(\.event) == (0..<7).map { "E\($0)" })
        #expect(log.delivered.map(\.messageID) == (1...7).map { "m-\($0)" })
        let stats = await queue.statistics
        #expect(stats.enqueued == 7 && stats.delivered == 7 && stats.batchesDelivered == 3 && stats.queued == 0)
    }

    @Test("flushes on bytes: no request crosses 475,000 bytes, and a batch that would is cut")
    func byBytes() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        let queue = makeQueue(transport: transport, time: ManualTimeSource(), configuration: .init(flushAt: 1_000))
        let padding = String(repeating: "é", count: 5_000)  // 10,000 bytes of UTF-8
        for i in 0..<100 { try await queue.enqueue(.track("E", userID: "u\(i)", properties: ["pad": .string(padding)])) }
        #expect(await queue.flush())
        let bodies = transport.requests.compactMap(\.body)
        let sizes = try transport.requests.map { try batchCount($0) }
        #expect(sizes.reduce(0, +) == 100)
        #expect(sizes.count >= 3)
        for body in bodies {
            // The write key's bytes come on top of the 475,000-byte budget.
            #expect(body.count <= 475_000 + testKey.value.utf8.count + 2)
            #expect(body.count > 400_000 || body == bodies.last)
        }
        // The first batch was cut because one more message would have crossed the budget.
        let first = try #require(bodies.first)
        #expect(first.count + 10_100 > 475_000)
    }

    @Test("flushes on the interval, measured on the injected clock")
    func byInterval() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        let clock = ManualTimeSource(start: fixedDate)
        let log = DeliveryLog()
        let queue = makeQueue(transport: transport, time: clock, log: log)
        try await queue.enqueue(.track("E", userID: "u"))
        await clock.waitForSleeper(lasting: .seconds(5))
        #expect(transport.requests.isEmpty)
        clock.advance(by: .seconds(4))
        #expect(transport.requests.isEmpty)
        clock.advance(by: .seconds(1))
        while log.delivered.isEmpty { await Task.yield() }
        #expect(transport.requests.count == 1)
        #expect(log.delivered.first?.timestamp == fixedDate)
    }

    @Test("never more than 2,500 messages in one request")
    func messageCap() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        let queue = makeQueue(transport: transport, time: ManualTimeSource(),
                              configuration: .init(flushAt: 10_000, maxBatchBytes: 4_000_000))
        for i in 0..<6_000 { try await queue.enqueue(.track("E", userID: "\(i)")) }
        #expect(await queue.flush())
        #expect(try transport.requests.map { try batchCount($0) } == [2_500, 2_500, 1_000])
    }

    @Test("a message over 32 KB is rejected at enqueue and reported")
    func oversize() async throws {
        let log = DeliveryLog()
        let queue = makeQueue(transport: ScriptedTransport(), log: log)
        let big = SegmentMessage.track("E", userID: "u", properties: ["pad": .string(String(repeating: "x", count: 40_000))])
        await #expect(throws: SegmentError.self) { try await queue.enqueue(big) }
        #expect(log.rejected.map(\.1.code) == [.messageTooLarge])
        #expect(await queue.statistics.rejected == 1)
        #expect(await queue.statistics.enqueued == 0)
    }

    @Test("a full queue rejects a non-waiting enqueue and reports it")
    func fullQueueRejects() async throws {
        let gate = Gate()
        let log = DeliveryLog()
        let queue = SegmentQueue(client: GatedClient(gate: gate), configuration: .init(flushAt: 1, maxBatchMessages: 1,
                                                                                    maxQueueSize: 2),
                                 time: ImmediateTimeSource(), onDelivery: log.handler)
        try await queue.enqueue(.track("E", userID: "0"))  // taken into flight at once
        while gate.waiting == 0 { await Task.yield() }
        try await queue.enqueue(.track("E", userID: "1"))
        try await queue.enqueue(.track("E", userID: "2"))
        await #expect(throws: SegmentError.self) { try await queue.enqueue(.track("E", userID: "3")) }
        #expect(log.rejected.map(\.1.code) == [.queueFull])
        #expect(log.rejected.first?.0.userID == "3")
        gate.open()
        #expect(await queue.flush())
        #expect(log.delivered.compactMap(\.userID) == ["0", "1", "2"])
    }

    @Test("concurrent flush callers all wait for delivery; a flush with a timeout returns false while blocked")
    func concurrentFlush() async throws {
        let gate = Gate()
        let queue = SegmentQueue(client: GatedClient(gate: gate), time: SystemTimeSource())
        try await queue.enqueue(.track("E", userID: "u"))
        let clock = ManualTimeSource()
        let timed = SegmentQueue(client: GatedClient(gate: Gate()), time: clock)
        try await timed.enqueue(.track("E", userID: "u"))
        async let timedOut = timed.flush(timeout: .seconds(1))
        await clock.waitForSleeper(lasting: .seconds(1))  // the flush timeout
        clock.advance(by: .seconds(1))
        #expect(await timedOut == false)

        async let a = queue.flush()
        async let b = queue.flush()
        async let c = queue.flush()
        while gate.waiting == 0 { await Task.yield() }
        gate.open()
        let results = await [a, b, c]
        #expect(results == [true, true, true])
        #expect(await queue.statistics.delivered == 1)
    }

    @Test("stress: 50 tasks enqueue 2,000 messages each through the waiting enqueue into a 10,000-message queue")
    func stress() async throws {
        let client = CountingClient()
        let queue = SegmentQueue(client: client, time: ImmediateTimeSource())
        await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<50 {
                group.addTask {
                    for i in 0..<2_000 {
                        try await queue.enqueueWaiting(.track("E", userID: "t\(task)", properties: ["i": .int(Int64(i))]))
                    }
                }
            }
        }
        #expect(await queue.flush())
        let stats = await queue.statistics
        #expect(stats.enqueued == 100_000)
        #expect(stats.delivered == 100_000)
        #expect(stats.rejected == 0 && stats.failed == 0)
        #expect(client.uniqueIDs == 100_000)
        #expect(client.totalMessages == 100_000)
        #expect(client.largestBatch <= 2_500)
        #expect(client.largestBody <= 475_000)
    }
}

/// A gate that holds sends until opened.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiting: Int, continuations: [CheckedContinuation<Void, Never>])>((false, 0, []))
    var waiting: Int { state.withLock { $0.waiting } }
    func wait() async {
        await withCheckedContinuation { continuation in
            let proceed = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiting += 1
                s.continuations.append(continuation)
                return false
            }
            if proceed { continuation.resume() }
        }
    }
    func open() {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.continuations.removeAll() }
            return s.continuations
        }
        for continuation in waiting { continuation.resume() }
    }
}

/// A client that waits at the gate, then succeeds.
struct GatedClient: SegmentClient {
    let gate: Gate
    func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        await gate.wait()
        return SegmentDeliveryReceipt(status: 200, requestBytes: batch.estimatedBodyBytes)
    }
}

/// A client that counts messages and checks batch limits.
final class CountingClient: SegmentClient {
    private let state = Mutex<(ids: Set<String>, total: Int, largestBatch: Int, largestBody: Int)>(([], 0, 0, 0))
    var uniqueIDs: Int { state.withLock { $0.ids.count } }
    var totalMessages: Int { state.withLock { $0.total } }
    var largestBatch: Int { state.withLock { $0.largestBatch } }
    var largestBody: Int { state.withLock { $0.largestBody } }
    func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        let body = batch.body(sentAt: Date(), writeKey: nil)
        state.withLock { s in
            for message in batch.messages { s.ids.insert(message.message.messageID ?? "") }
            s.total += batch.messages.count
            s.largestBatch = max(s.largestBatch, batch.messages.count)
            s.largestBody = max(s.largestBody, body.count)
        }
        return SegmentDeliveryReceipt(status: 200, requestBytes: body.count)
    }
}

@Suite("Segment queue: groups of messages")
struct GroupEnqueueTests {
    @Test("enqueueAll queues the calls of one event together, or refuses them all")
    func allOrNothing() async throws {
        let log = DeliveryLog()
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        let queue = makeQueue(transport: transport, time: ManualTimeSource(), configuration: .init(maxQueueSize: 4),
                              log: log)
        let ids = try await queue.enqueueAll([.identify(userID: "u"), .track("E", userID: "u"), .group("g", userID: "u")])
        #expect(ids == ["m-1", "m-2", "m-3"])
        // One invalid message refuses the whole group, and every message of it is reported.
        await #expect(throws: SegmentError.self) {
            try await queue.enqueueAll([.track("F", userID: "u"), .track("", userID: "u")])
        }
        #expect(log.rejected.map(\.1.code) == [.missingEvent, .missingEvent])
        // Two more do not fit in a queue of four holding three.
        await #expect(throws: SegmentError.self) {
            try await queue.enqueueAll([.track("G", userID: "u"), .track("H", userID: "u")])
        }
        #expect(log.rejected.suffix(2).map(\.1.code) == [.queueFull, .queueFull])
        #expect(await queue.statistics.queued == 3)
        #expect(await queue.flush())
        #expect(log.delivered.compactMap(\.messageID) == ["m-1", "m-2", "m-3"])
    }

    @Test("enqueueAllWaiting waits until the whole group fits")
    func waitsForRoom() async throws {
        let gate = Gate()
        let log = DeliveryLog()
        let queue = SegmentQueue(client: GatedClient(gate: gate),
                                 configuration: .init(flushAt: 1, maxBatchMessages: 1, maxQueueSize: 2),
                                 time: ImmediateTimeSource(), makeMessageID: sequentialIDs(), onDelivery: log.handler)
        try await queue.enqueue(.track("A", userID: "u"))  // goes into flight and waits at the gate
        while gate.waiting == 0 { await Task.yield() }
        try await queue.enqueue(.track("B", userID: "u"))
        let group = Task { try await queue.enqueueAllWaiting([.track("C", userID: "u"), .track("D", userID: "u")]) }
        gate.open()
        let ids = try await group.value
        #expect(ids == ["m-3", "m-4"])
        #expect(await queue.flush())
        #expect(log.delivered.compactMap(\.event) == ["A", "B", "C", "D"])
        #expect(log.rejected.isEmpty)
    }
}
