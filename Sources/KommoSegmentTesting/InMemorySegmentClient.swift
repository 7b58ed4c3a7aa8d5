import Foundation
import JSONCore
import SegmentAPI

/// A ``SegmentClient`` that keeps every batch in memory instead of posting it, optionally failing some attempts
/// first, so tests can drive a ``SegmentQueue`` (or anything built on it) and read back what would have been sent.
///
/// ```swift
/// let sink = InMemorySegmentClient(failures: [.init(attempts: 2, status: 503)])
/// let queue = SegmentQueue(client: sink, clock: ImmediateClock())
/// try await withThrowingTaskGroup(of: Void.self) { group in
///     group.addTask { try await queue.run() }          // the queue delivers only while run() runs
///     let ticket = try await queue.enqueue(.track("Deal Won", userID: "u1"))
///     _ = try await ticket.outcome()                   // .delivered, after two scripted 503s
///     _ = await queue.shutdown()                       // run() returns
///     try await group.waitForAll()
/// }
/// // sink.messages holds the message; sink.retryCounts == [0, 1, 2]
/// ```
public final class InMemorySegmentClient: SegmentClient, Sendable {
    /// A scripted failure: the next `attempts` calls of ``send(_:retryCount:)`` throw the error
    /// ``HTTPSegmentClient`` throws for `status` (`SegmentError(status:responseBody:retryAfter:)`: 429 and the
    /// retryable 408, 410, 460 and 5xx are transient; other statuses are final refusals; a 2xx is accepted).
    public struct Failure: Sendable, Hashable {
        /// How many consecutive attempts fail.
        public var attempts: Int
        /// The HTTP status to simulate.
        public var status: Int
        /// The `Retry-After` to report, if any (the queue honours it on a 429).
        public var retryAfter: Duration?

        /// Creates a scripted failure.
        public init(attempts: Int = 1, status: Int, retryAfter: Duration? = nil) {
            self.attempts = attempts
            self.status = status
            self.retryAfter = retryAfter
        }
    }

    /// One call of ``send(_:retryCount:)`` as it was received.
    public struct Attempt: Sendable, Hashable {
        /// The batch.
        public var batch: SegmentBatch
        /// The `retryCount` the caller passed.
        public var retryCount: Int
        /// The status answered (200, or the simulated failure's).
        public var status: Int
    }

    private struct State {
        var script: [Failure]
        var attempts: [Attempt] = []
    }
    private let state: Locked<State>

    /// Creates a sink that fails according to `failures` (in order), then accepts every batch with 200.
    public init(failures: [Failure] = []) {
        state = Locked(State(script: failures.filter { $0.attempts > 0 }))
    }

    /// Adds failures to the end of the script.
    public func failNext(_ failure: Failure) {
        guard failure.attempts > 0 else { return }
        state.withLock { $0.script.append(failure) }
    }

    /// Accepts the batch (or throws the next scripted failure); see ``SegmentClient/send(_:retryCount:)``.
    public func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        try Task.checkCancellation()
        let failure: Failure? = state.withLock { s in
            var current: Failure?
            if var first = s.script.first {
                current = first
                first.attempts -= 1
                if first.attempts == 0 { s.script.removeFirst() } else { s.script[0] = first }
            }
            s.attempts.append(Attempt(batch: batch, retryCount: retryCount, status: current?.status ?? 200))
            return current
        }
        guard let failure else {
            return SegmentDeliveryReceipt(status: 200, requestBytes: batch.estimatedBodyBytes)
        }
        // The same status-to-error mapping as HTTPSegmentClient.
        if let error = SegmentError(status: failure.status, retryAfter: failure.retryAfter) { throw error }
        return SegmentDeliveryReceipt(status: failure.status, requestBytes: batch.estimatedBodyBytes)
    }

    /// Every attempt, in order, failed ones included.
    public var attempts: [Attempt] { state.withLock { $0.attempts } }

    /// The batches that were accepted, in order.
    public var batches: [SegmentBatch] {
        state.withLock { $0.attempts.filter { (200..<300).contains($0.status) }.map(\.batch) }
    }

    /// The messages of every accepted batch, in order.
    public var messages: [SegmentMessage] { batches.flatMap { $0.messages.map(\.message) } }

    /// Each accepted message as the JSON object that would have gone over the wire (keys sorted).
    public var wireMessages: [JSONValue] {
        batches.flatMap { batch in
            batch.messages.compactMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.json)) }
        }
    }

    /// The `retryCount` of every attempt, in order (`[0, 1, 2]` for a batch that failed twice, then passed).
    public var retryCounts: [Int] { state.withLock { $0.attempts.map(\.retryCount) } }

    /// How many scripted failures are still to come.
    public var pendingFailures: Int { state.withLock { $0.script.reduce(0) { $0 + $1.attempts } } }
}

/// A ``LogSink`` that keeps every record in memory, for tests that assert on what was logged.
public final class InMemoryLogSink: LogSink, Sendable {
    private let records = Locked<[LogRecord]>([])

    /// The least severe level kept.
    public let minimumLevel: LogLevel

    /// A sink that keeps records at `minimumLevel` and above.
    public init(minimumLevel: LogLevel = .trace) {
        self.minimumLevel = minimumLevel
    }

    /// Keeps the record.
    public func write(_ record: LogRecord) {
        records.withLock { $0.append(record) }
    }

    /// Every record kept, in order.
    public var all: [LogRecord] { records.withLock { $0 } }

    /// The records with `message`.
    public func records(_ message: String) -> [LogRecord] { all.filter { $0.message == message } }
}
