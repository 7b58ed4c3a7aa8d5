import Foundation
import SegmentAPI
import Testing
import KommoSegmentTesting

@Suite("Segment queue: batching", .timeLimit(.minutes(1)))
struct BatchingTests {
    @Test("flushes on count: full batches go at once, the rest on flush")
    func byCount() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        let log = DeliveryLog()
        // A manual clock that never moves: only the count (and the final flush) can send.
        let queue = makeQueue(transport: transport, clock: ManualClock(), configuration: .init(flushAt: 3), log: log)
        try await withRunning(queue) {
            for start in [0, 3] {
                var last: SegmentDeliveryTicket?
                for i in start..<start + 3 { last = try await queue.enqueue(.track("E\(i)", userID: "u")) }
                // The third message completes a batch, which goes without a flush.
                #expect(try await last?.outcome() == .delivered)
            }
            let rest = try await queue.enqueue(.track("E6", userID: "u"))
            #expect(rest.currentOutcome == nil)
            #expect(await queue.flush())
            #expect(rest.currentOutcome == .delivered)
        }
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
        let queue = makeQueue(transport: transport, clock: ManualClock(), configuration: .init(flushAt: 1_000))
        let padding = String(repeating: "é", count: 5_000)  // 10,000 bytes of UTF-8
        try await withRunning(queue) {
            for i in 0..<100 {
                try await queue.enqueue(.track("E", userID: "u\(i)", properties: ["pad": .string(padding)]))
            }
            #expect(await queue.flush())
        }
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
        let clock = ManualClock(start: fixedDate)
        let log = DeliveryLog()
        let queue = makeQueue(transport: transport, clock: clock, log: log)
        try await withRunning(queue) {
            let ticket = try await queue.enqueue(.track("E", userID: "u"))
            await clock.waitForSleeper(lasting: .seconds(5))
            #expect(transport.requests.isEmpty)
            clock.advance(by: .seconds(4))
            #expect(transport.requests.isEmpty)
            #expect(ticket.currentOutcome == nil)
            clock.advance(by: .seconds(1))
            #expect(try await ticket.outcome() == .delivered)
        }
        #expect(transport.requests.count == 1)
        #expect(log.delivered.first?.timestamp == fixedDate)
    }

    @Test("never more than 2,500 messages in one request")
    func messageCap() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        let queue = makeQueue(transport: transport, clock: ManualClock(),
                              configuration: .init(flushAt: 10_000, maxBatchBytes: 4_000_000))
        try await withRunning(queue) {
            for i in 0..<6_000 { try await queue.enqueue(.track("E", userID: "\(i)")) }
            #expect(await queue.flush())
        }
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
                                 clock: ManualClock(), wallClock: .fixed(fixedDate), onDelivery: log.handler)
        try await withRunning(queue) {
            try await queue.enqueue(.track("E", userID: "0"))  // taken into flight at once
            await gate.arrivals.wait(for: 1)
            try await queue.enqueue(.track("E", userID: "1"))
            try await queue.enqueue(.track("E", userID: "2"))
            await #expect(throws: SegmentError.self) { try await queue.enqueue(.track("E", userID: "3")) }
            #expect(log.rejected.map(\.1.code) == [.queueFull])
            #expect(log.rejected.first?.0.userID == "3")
            gate.open()
            #expect(await queue.flush())
        }
        #expect(log.delivered.compactMap(\.userID) == ["0", "1", "2"])
    }

    @Test("concurrent flush callers all wait for delivery; a flush with a timeout returns false while blocked")
    func concurrentFlush() async throws {
        let clock = ManualClock()
        let timedGate = Gate()
        let timed = SegmentQueue(client: GatedClient(gate: timedGate), clock: clock, wallClock: clock.wallClock)
        try await withRunning(timed) {
            try await timed.enqueue(.track("E", userID: "u"))
            async let timedOut = timed.flush(timeout: .seconds(1))
            await clock.waitForSleeper(lasting: .seconds(1))  // the flush timeout
            clock.advance(by: .seconds(1))
            #expect(await timedOut == false)
            timedGate.open()  // lets the queue drain, so that it shuts down at once
        }

        let gate = Gate()
        let queue = SegmentQueue(client: GatedClient(gate: gate), clock: ManualClock(), wallClock: .fixed(fixedDate))
        try await withRunning(queue) {
            try await queue.enqueue(.track("E", userID: "u"))
            async let a = queue.flush()
            async let b = queue.flush()
            async let c = queue.flush()
            await gate.arrivals.wait(for: 1)
            gate.open()
            let results = await [a, b, c]
            #expect(results == [true, true, true])
        }
        #expect(await queue.statistics.delivered == 1)
    }

    @Test("stress: 50 tasks enqueue 500 messages each through the waiting enqueue into a 10,000-message queue")
    func stress() async throws {
        let client = CountingClient()
        let queue = SegmentQueue(client: client, clock: ImmediateClock(), wallClock: .fixed(fixedDate))
        try await withRunning(queue) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<50 {
                    group.addTask {
                        for i in 0..<500 {
                            try await queue.enqueueWaiting(.track("E", userID: "t\(task)",
                                                                  properties: ["i": .int(Int64(i))]))
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(await queue.flush())
        }
        let stats = await queue.statistics
        #expect(stats.enqueued == 25_000)
        #expect(stats.delivered == 25_000)
        #expect(stats.rejected == 0 && stats.failed == 0)
        #expect(client.uniqueIDs == 25_000)
        #expect(client.totalMessages == 25_000)
        #expect(client.largestBatch <= 2_500)
        #expect(client.largestBody <= 475_000)
    }
}

/// A client that counts messages and checks batch limits.
final class CountingClient: SegmentClient {
    private let state = LockedValue<(ids: Set<String>, total: Int, largestBatch: Int, largestBody: Int)>(([], 0, 0, 0))
    var uniqueIDs: Int { state.withLock { $0.ids.count } }
    var totalMessages: Int { state.withLock { $0.total } }
    var largestBatch: Int { state.withLock { $0.largestBatch } }
    var largestBody: Int { state.withLock { $0.largestBody } }
    func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        let body = batch.body(sentAt: fixedDate, writeKey: nil)
        state.withLock { s in
            for message in batch.messages { s.ids.insert(message.message.messageID ?? "") }
            s.total += batch.messages.count
            s.largestBatch = max(s.largestBatch, batch.messages.count)
            s.largestBody = max(s.largestBody, body.count)
        }
        return SegmentDeliveryReceipt(status: 200, requestBytes: body.count)
    }
}

@Suite("Segment queue: groups of messages", .timeLimit(.minutes(1)))
struct GroupEnqueueTests {
    @Test("enqueue queues the calls of one event together, or refuses them all")
    func allOrNothing() async throws {
        let log = DeliveryLog()
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        let queue = makeQueue(transport: transport, clock: ManualClock(), configuration: .init(maxQueueSize: 4),
                              log: log)
        try await withRunning(queue) {
            let ticket = try await queue.enqueue([.identify(userID: "u"), .track("E", userID: "u"),
                                                  .group("g", userID: "u")])
            #expect(ticket.messageIDs == ["m-1", "m-2", "m-3"])
            // One invalid message refuses the whole group, and every message of it is reported.
            await #expect(throws: SegmentError.self) {
                try await queue.enqueue([.track("F", userID: "u"), .track("", userID: "u")])
            }
            #expect(log.rejected.map(\.1.code) == [.missingEvent, .missingEvent])
            // Two more do not fit in a queue of four holding three.
            await #expect(throws: SegmentError.self) {
                try await queue.enqueue([.track("G", userID: "u"), .track("H", userID: "u")])
            }
            #expect(log.rejected.suffix(2).map(\.1.code) == [.queueFull, .queueFull])
            #expect(await queue.statistics.queued == 3)
            #expect(await queue.flush())
            #expect(ticket.currentOutcome == .delivered)
        }
        #expect(log.delivered.compactMap(\.messageID) == ["m-1", "m-2", "m-3"])
    }

    @Test("enqueueWaiting waits until the whole group fits")
    func waitsForRoom() async throws {
        let gate = Gate()
        let log = DeliveryLog()
        let queue = SegmentQueue(client: GatedClient(gate: gate),
                                 configuration: .init(flushAt: 1, maxBatchMessages: 1, maxQueueSize: 2),
                                 clock: ManualClock(), wallClock: .fixed(fixedDate), makeMessageID: sequentialIDs(),
                                 onDelivery: log.handler)
        try await withRunning(queue) {
            try await queue.enqueue(.track("A", userID: "u"))  // goes into flight and waits at the gate
            await gate.arrivals.wait(for: 1)
            try await queue.enqueue(.track("B", userID: "u"))
            let group = Task { try await queue.enqueueWaiting([.track("C", userID: "u"), .track("D", userID: "u")]) }
            gate.open()
            let ticket = try await group.value
            #expect(ticket.messageIDs == ["m-3", "m-4"])
            #expect(await queue.flush())
            #expect(ticket.currentOutcome == .delivered)
        }
        #expect(log.delivered.compactMap(\.event) == ["A", "B", "C", "D"])
        #expect(log.rejected.isEmpty)
    }
}

@Suite("Segment queue: run() and delivery tickets", .timeLimit(.minutes(1)))
struct LifecycleTests {
    @Test("nothing is sent until run() runs; then the ticket resolves as delivered")
    func ticketDelivered() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        let queue = makeQueue(transport: transport, clock: ManualClock(start: fixedDate),
                              configuration: .init(flushAt: 2))
        let ticket = try await queue.enqueue([.track("A", userID: "u"), .track("B", userID: "u")])
        #expect(ticket.messageIDs == ["m-1", "m-2"])
        #expect(ticket.currentOutcome == nil)
        #expect(transport.requests.isEmpty)
        try await withRunning(queue) { () async throws in
            #expect(try await ticket.outcome() == .delivered)
        }
        #expect(ticket.currentOutcome == .delivered)
        #expect(try transport.requests.map { try batchCount($0) } == [2])
    }

    @Test("a batch refused with 400 resolves its ticket as failed with code rejected")
    func ticketRejected() async throws {
        let transport = ScriptedTransport([.respond(status: 400, body: Data(#"{"code":"invalid"}"#.utf8))])
        let queue = makeQueue(transport: transport, clock: ManualClock(start: fixedDate),
                              configuration: .init(flushAt: 1))
        let outcome = try await withRunning(queue) {
            try await queue.enqueue(.track("E", userID: "u")).outcome()
        }
        let error = try #require(outcome.error)
        #expect(error.code == .rejected)
        #expect(error.status == 400)
        #expect(error.attempts == 1)
        #expect(transport.requests.count == 1)
    }

    @Test("a second concurrent run() throws alreadyRunning and leaves the first one running")
    func runTwice() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in ok() })
        let queue = makeQueue(transport: transport, clock: ManualClock(start: fixedDate),
                              configuration: .init(flushAt: 1))
        try await withRunning(queue) { () async throws in
            // A delivered message proves that the first run() is under way.
            #expect(try await queue.enqueue(.track("A", userID: "u")).outcome() == .delivered)
            let error = await #expect(throws: SegmentError.self) { try await queue.run() }
            #expect(error?.code == .alreadyRunning)
            // The first run() still delivers.
            #expect(try await queue.enqueue(.track("B", userID: "u")).outcome() == .delivered)
        }
        #expect(transport.requests.count == 2)
    }

    @Test("shutdown returns within its timeout while Segment never answers")
    func shutdownWhileSegmentIsSilent() async throws {
        let client = SilentClient()
        let clock = ManualClock(start: fixedDate)
        let log = DeliveryLog()
        let queue = SegmentQueue(client: client, configuration: .init(flushAt: 1), clock: clock,
                                 wallClock: clock.wallClock, makeMessageID: sequentialIDs(), onDelivery: log.handler)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await queue.run() }
            let ticket = try await queue.enqueue([.track("A", userID: "u"), .track("B", userID: "u")])
            await client.started.wait(for: 1)
            async let report = queue.shutdown(timeout: .seconds(10))
            await clock.waitForSleeper(lasting: .seconds(10))  // the shutdown deadline
            #expect(ticket.currentOutcome == nil)
            clock.advance(by: .seconds(10))
            let result = await report
            #expect(result.drained == false)
            #expect(result.undelivered.compactMap(\.messageID) == ["m-1", "m-2"])
            #expect(result.statistics.failed == 2 && result.statistics.delivered == 0)
            let outcome = try await ticket.outcome()
            #expect(outcome.error?.code == .undelivered)
            #expect(log.failed.map(\.1.code) == [.undelivered, .undelivered])
            #expect(log.failed.map(\.1.detail) == ["the shutdown deadline passed", "the shutdown deadline passed"])
            // run() returns once shutdown has finished, and the send that never answered was cancelled.
            try await group.waitForAll()
            await client.cancelled.wait(for: 1)
        }
        #expect(client.started.count == 1)
    }

    @Test("cancelling run() fails what is queued as undelivered")
    func cancelledRun() async throws {
        let client = SilentClient()
        let queue = SegmentQueue(client: client, configuration: .init(flushAt: 1), clock: ManualClock(),
                                 wallClock: .fixed(fixedDate))
        let runner = Task { try await queue.run() }
        let first = try await queue.enqueue(.track("A", userID: "u"))
        await client.started.wait(for: 1)
        let second = try await queue.enqueue(.track("B", userID: "u"))
        runner.cancel()
        try await runner.value
        // The batch in flight and the one still queued each say that run() was cancelled, not a deadline.
        let inFlight = try #require(try await first.outcome().error)
        #expect(inFlight.code == .undelivered)
        #expect(inFlight.detail == "the queue's run() was cancelled while the batch was being delivered")
        #expect(inFlight.attempts == 1)
        #expect(inFlight.underlyingError == nil)
        let queued = try #require(try await second.outcome().error)
        #expect(queued.code == .undelivered)
        #expect(queued.detail == "the queue's run() was cancelled")
        await #expect(throws: SegmentError.self) { try await queue.enqueue(.track("C", userID: "u")) }
    }
}
