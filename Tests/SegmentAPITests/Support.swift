import Foundation
import SegmentAPI
import KommoSegmentTesting

/// Collects delivery events from the queue's handler.
final class DeliveryLog: Sendable {
    private let events = LockedValue<[SegmentDeliveryEvent]>([])
    var handler: @Sendable (SegmentDeliveryEvent) -> Void { { event in self.events.withLock { $0.append(event) } } }
    var all: [SegmentDeliveryEvent] { events.withLock { $0 } }
    var delivered: [SegmentMessage] {
        all.flatMap { event -> [SegmentMessage] in
            if case .delivered(let m, _) = event { return m }
            return []
        }
    }
    var failed: [(SegmentMessage, SegmentError)] {
        all.flatMap { event -> [(SegmentMessage, SegmentError)] in
            if case .failed(let m, let e) = event { m.map { ($0, e) } } else { [] }
        }
    }
    var rejected: [(SegmentMessage, SegmentError)] {
        all.compactMap { if case .rejected(let m, let e) = $0 { (m, e) } else { nil } }
    }
}

/// Decodes a JSON body into a `JSONValue`.
func json(_ data: Data?) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: data ?? Data())
}

/// A deterministic message id sequence: m-1, m-2, ...
func sequentialIDs() -> @Sendable () -> String {
    let counter = LockedValue(0)
    return { "m-" + String(counter.withLock { $0 += 1; return $0 }) }
}

let testKey: SegmentWriteKey = "wk_TEST_secret_123"
let fixedDate = Date(timeIntervalSince1970: 1_796_033_700)  // 2026-11-30T10:15:00Z

/// The deterministic clocks of KommoSegmentTesting: monotonic clocks that carry a wall clock moving with them.
protocol TestClock: Clock<Duration> {
    var wallClock: WallClock { get }
}

extension ImmediateClock: TestClock {}
extension ManualClock: TestClock {}

func makeQueue(
    transport: ScriptedTransport, clock: some TestClock = ImmediateClock(start: fixedDate),
    configuration: SegmentQueue.Configuration = .init(), log: DeliveryLog? = nil
) -> SegmentQueue {
    let client = HTTPSegmentClient(configuration: SegmentClientConfiguration(writeKey: testKey),
                                   transport: transport, wallClock: clock.wallClock)
    return SegmentQueue(client: client, configuration: configuration, clock: clock, wallClock: clock.wallClock,
                        random: { 0 }, makeMessageID: sequentialIDs(), onDelivery: log?.handler)
}

/// Runs `body` while `queue.run()` delivers in a child task; then shuts the queue down and waits for `run()` to
/// return. If `body` throws, `run()` is cancelled instead (abandoning whatever is queued) and the error rethrown.
///
/// Shutting down returns at once when everything was delivered; tests that leave messages pending shut down (or
/// cancel) themselves.
func withRunning<T: Sendable>(_ queue: SegmentQueue, _ body: () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
        group.addTask { try await queue.run() }
        let result: T
        do {
            result = try await body()
        } catch {
            group.cancelAll()
            throw error
        }
        _ = await queue.shutdown(timeout: .seconds(5))
        try await group.waitForAll()
        return result
    }
}

func ok() -> ScriptedTransport.Answer { .respond(status: 200, body: Data("{}".utf8)) }

/// The `batch` array of a recorded request.
func batchOf(_ recorded: RecordedRequest) throws -> [JSONValue] {
    try json(recorded.body)["batch"]?.arrayValue ?? []
}

/// The number of messages in a recorded request (JSONSerialization: much faster than decoding `JSONValue`s).
func batchCount(_ recorded: RecordedRequest) throws -> Int {
    let object = try JSONSerialization.jsonObject(with: recorded.body ?? Data()) as? [String: Any]
    return (object?["batch"] as? [Any])?.count ?? -1
}

/// Counts arrivals (a send started, say) and lets a test wait, without polling, until enough have happened.
final class Arrivals: Sendable {
    private struct Watcher {
        let count: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var count = 0
        var watchers: [Watcher] = []
    }

    private let state = LockedValue(State())

    /// How many arrivals so far.
    var count: Int { state.withLock { $0.count } }

    /// Records one arrival and wakes the waiters it satisfies.
    func arrive() {
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.count += 1
            let count = state.count
            let ready = state.watchers.filter { $0.count <= count }.map(\.continuation)
            state.watchers.removeAll { $0.count <= count }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once at least `count` arrivals have happened.
    func wait(for count: Int = 1) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now: Bool = state.withLock { state in
                if state.count >= count { return true }
                state.watchers.append(Watcher(count: count, continuation: continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// A gate that holds sends until opened; ``arrivals`` counts the sends that reached it.
final class Gate: Sendable {
    private let state = LockedValue<(open: Bool, continuations: [CheckedContinuation<Void, Never>])>((false, []))
    let arrivals = Arrivals()

    func wait() async {
        await withCheckedContinuation { continuation in
            let proceed = state.withLock { s -> Bool in
                if s.open { return true }
                s.continuations.append(continuation)
                return false
            }
            arrivals.arrive()
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

/// A Segment that never answers: every send suspends until its task is cancelled.
final class SilentClient: SegmentClient {
    /// Sends that started.
    let started = Arrivals()
    /// Sends that were cancelled.
    let cancelled = Arrivals()

    func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        let state = LockedValue<(cancelled: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if !s.cancelled { s.waiter = continuation }
                    return s.cancelled
                }
                started.arrive()
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                s.cancelled = true
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
        cancelled.arrive()
        throw CancellationError()
    }
}
