import Foundation

/// What happened to messages handed to a ``SegmentQueue``: every accepted message ends in exactly one
/// `delivered` or `failed` event, and every refused one in a `rejected` event.
public enum SegmentDeliveryEvent: Sendable {
    /// Segment accepted the batch holding these messages.
    case delivered([SegmentMessage], SegmentDeliveryReceipt)
    /// These messages could not be delivered and will not be retried (`error` says why, with the status and the
    /// number of attempts).
    case failed([SegmentMessage], SegmentError)
    /// The message was refused at enqueue (invalid, too large, queue full or shut down); it was never queued.
    case rejected(SegmentMessage, SegmentError)
}

/// The batching, retrying delivery queue that most users call: `enqueue` is cheap, delivery happens in the
/// background, and nothing is lost silently.
///
/// - **Batching.** Messages are serialized once at enqueue and sent to `/v1/batch` when ``Configuration/flushAt``
///   are queued (default 100), when the queued bytes fill a request (475,000 bytes), when
///   ``Configuration/flushInterval`` has passed since the oldest queued message (default 5 s), or on ``flush(timeout:)``.
///   A request never holds more than 2,500 messages or more than the byte budget.
/// - **Bounded memory.** At most ``Configuration/maxQueueSize`` messages wait (default 10,000), plus the one batch in
///   flight. When full, ``enqueue(_:)`` rejects the message (throws ``SegmentError/Code/queueFull`` and reports it)
///   while ``enqueueWaiting(_:)`` suspends until there is room (backpressure).
/// - **Retries.** Segment's policy: 429 waits for `Retry-After` (capped at 300 s, not counted as an attempt); 408,
///   410, 460, 5xx (except 501, 505, 511) and network errors back off from 0.5 s doubling to 60 s with jitter, at
///   most 11 attempts and 12 hours; anything else is dropped and reported. Message ids and the batch's contents never
///   change between attempts; `X-Retry-Count` counts every earlier attempt. Batches are delivered one at a time, in
///   order, so a rate-limit pause holds back all uploads.
/// - **Accounting.** Every accepted message ends as delivered or failed, reported through the `onDelivery` handler.
///   ``flush(timeout:)`` waits until everything enqueued before it is finished; ``shutdown(timeout:)`` stops
///   intake, drains, and returns what it could not deliver.
///
/// The delivery task is started on demand by enqueue and flush (never from `init`) and ends when the queue is idle,
/// so an unused queue holds no task.
public actor SegmentQueue {
    /// Batching and retry settings. Every field has a default; out-of-range values are clamped when used.
    public struct Configuration: Sendable, Hashable {
        /// Send as soon as this many messages are queued. Default: 100 (at least 1).
        public var flushAt: Int
        /// Send queued messages at the latest this long after the oldest was queued. Default: 5 seconds.
        public var flushInterval: Duration
        /// The byte budget of one request body, envelope included (write key excepted). Default: 475,000; at most
        /// 4,000,000 (RudderStack's limit; Segment's is 500 KB).
        public var maxBatchBytes: Int
        /// The most messages in one request. Default and maximum: 2,500.
        public var maxBatchMessages: Int
        /// The most messages waiting to be sent. Default: 10,000 (at least 1).
        public var maxQueueSize: Int
        /// The retry policy for batches. Default: ``RetryPolicy/segment``.
        public var retryPolicy: RetryPolicy

        /// Creates a configuration.
        public init(flushAt: Int = 100, flushInterval: Duration = .seconds(5), maxBatchBytes: Int = 475_000,
                    maxBatchMessages: Int = 2_500, maxQueueSize: Int = 10_000, retryPolicy: RetryPolicy = .segment) {
            self.flushAt = flushAt
            self.flushInterval = flushInterval
            self.maxBatchBytes = maxBatchBytes
            self.maxBatchMessages = maxBatchMessages
            self.maxQueueSize = maxQueueSize
            self.retryPolicy = retryPolicy
        }

        var clampedFlushAt: Int { max(flushAt, 1) }
        var clampedBatchBytes: Int { min(max(maxBatchBytes, 40_000), 4_000_000) }
        var clampedBatchMessages: Int { min(max(maxBatchMessages, 1), SegmentBatch.maxMessages) }
        var clampedQueueSize: Int { max(maxQueueSize, 1) }
    }

    /// Counters since the queue was created.
    public struct Statistics: Sendable, Hashable {
        /// Messages accepted into the queue.
        public var enqueued = 0
        /// Messages Segment accepted.
        public var delivered = 0
        /// Accepted messages that could not be delivered.
        public var failed = 0
        /// Messages refused at enqueue.
        public var rejected = 0
        /// Batches delivered.
        public var batchesDelivered = 0
        /// HTTP requests made (attempts, retries included).
        public var requests = 0
        /// Attempts that were retries of an earlier attempt.
        public var retries = 0
        /// Messages waiting now.
        public var queued = 0
        /// The most request bytes sent in one request.
        public var largestRequestBytes = 0
        /// The total request bytes of delivered batches.
        public var deliveredBytes = 0
    }

    /// What ``shutdown(timeout:)`` could and could not do.
    public struct ShutdownReport: Sendable {
        /// Whether everything accepted was finished (delivered or failed) before the deadline.
        public var drained: Bool
        /// Messages that were not delivered after shutdown began: failed batches and those cut off by the
        /// deadline. Store and resend them if they matter.
        public var undelivered: [SegmentMessage]
        /// The counters at the end.
        public var statistics: Statistics
    }

    private enum Phase { case open, shuttingDown, closed }

    /// The settings in force.
    public let configuration: Configuration
    private let client: any SegmentClient
    private let encoder: SegmentWireEncoder
    private let time: any TimeSource
    private let random: @Sendable () -> Double
    private let makeMessageID: @Sendable () -> String
    private let onDelivery: (@Sendable (SegmentDeliveryEvent) -> Void)?

    private var pending: [EncodedSegmentMessage] = []
    private var head = 0
    private var pendingBytes = 0
    private var enqueuedCount = 0
    private var finishedCount = 0
    private var phase = Phase.open
    private var worker: Task<Void, Never>?
    private var intervalTimer: Task<Void, Never>?
    private var intervalElapsed = false
    private var nextWaiterID: UInt64 = 0
    private var flushWaiters: [UInt64: (target: Int, continuation: CheckedContinuation<Bool, Never>)] = [:]
    private var flushTimeouts: [UInt64: Task<Void, Never>] = [:]
    private var roomWaiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var undeliveredSinceShutdown: [SegmentMessage] = []
    private var stats = Statistics()

    /// Creates a queue that delivers through `client`.
    /// - Parameters:
    ///   - client: sends one batch per call; usually an ``HTTPSegmentClient``.
    ///   - configuration: batching and retry settings.
    ///   - library: written as `context.library` on every message.
    ///   - time: the clock for timestamps, the flush interval and retry waits.
    ///   - random: jitter source, values in `0..<1`.
    ///   - makeMessageID: generates ids for messages without one (random lowercase UUIDs by default).
    ///   - onDelivery: told about every delivered, failed and rejected message; called on the queue, keep it short.
    public init(
        client: any SegmentClient, configuration: Configuration = .init(),
        library: SegmentLibraryInfo = .kommoSegment, time: any TimeSource = SystemTimeSource(),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        makeMessageID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() },
        onDelivery: (@Sendable (SegmentDeliveryEvent) -> Void)? = nil
    ) {
        self.client = client
        self.configuration = configuration
        self.encoder = SegmentWireEncoder(library: library)
        self.time = time
        self.random = random
        self.makeMessageID = makeMessageID
        self.onDelivery = onDelivery
    }

    /// Creates a queue that posts to Segment over HTTP with ``HTTPSegmentClient``.
    public init(
        client clientConfiguration: SegmentClientConfiguration, configuration: Configuration = .init(),
        transport: any HTTPTransport = URLSessionTransport(), time: any TimeSource = SystemTimeSource(),
        onDelivery: (@Sendable (SegmentDeliveryEvent) -> Void)? = nil
    ) {
        self.init(client: HTTPSegmentClient(configuration: clientConfiguration, transport: transport, time: time),
                  configuration: configuration, time: time, onDelivery: onDelivery)
    }

    // MARK: - Intake

    /// Queues a message without waiting; returns its `messageId`.
    ///
    /// Fills in a missing `messageId` and `timestamp`, validates and serializes the message.
    /// - Throws: ``SegmentError`` (also reported as ``SegmentDeliveryEvent/rejected(_:_:)``): a validation code,
    ///   ``SegmentError/Code/messageTooLarge``, ``SegmentError/Code/queueFull`` or ``SegmentError/Code/shutDown``.
    @discardableResult
    public func enqueue(_ message: SegmentMessage) throws(SegmentError) -> String {
        let encoded = try prepare(message)
        guard pendingCount < configuration.clampedQueueSize else {
            throw reject(encoded.message, SegmentError(
                code: .queueFull, detail: "the queue holds \(pendingCount) messages (maxQueueSize)"))
        }
        append(encoded)
        return encoded.message.messageID ?? ""
    }

    /// Queues several messages together, all or none, without waiting; returns their `messageId`s in order.
    ///
    /// Use it for the calls of one event (an `identify`, a `track` and a `group`), so that they are batched side by
    /// side and either all queued or all refused.
    /// - Throws: the first message's ``SegmentError``; every message of the group is then reported as rejected with it.
    @discardableResult
    public func enqueueAll(_ messages: [SegmentMessage]) throws(SegmentError) -> [String] {
        var encoded: [EncodedSegmentMessage] = []
        encoded.reserveCapacity(messages.count)
        var failure: SegmentError?
        for message in messages {
            do {
                encoded.append(try prepare(message, reporting: false))
            } catch {
                failure = error
                break
            }
        }
        if failure == nil && pendingCount + messages.count > configuration.clampedQueueSize {
            failure = SegmentError(code: .queueFull, detail: "the queue holds \(pendingCount) messages and "
                                       + "\(messages.count) more do not fit (maxQueueSize)")
        }
        if let failure {
            for message in messages { _ = reject(message, failure) }
            throw failure
        }
        for message in encoded { store(message) }
        schedule()
        return encoded.map { $0.message.messageID ?? "" }
    }

    /// Queues several messages together, all or none, waiting until there is room for all of them (backpressure);
    /// returns their `messageId`s in order.
    ///
    /// - Throws: the first message's ``SegmentError`` (every message of the group is then reported as rejected), a
    ///   group larger than ``Configuration/maxQueueSize`` (``SegmentError/Code/queueFull``), a queue that shuts down
    ///   while waiting (``SegmentError/Code/shutDown``), or `CancellationError` (nothing queued, nothing reported).
    @discardableResult
    public func enqueueAllWaiting(_ messages: [SegmentMessage]) async throws -> [String] {
        // A group larger than the queue can never fit: enqueueAll refuses it. A shutdown while waiting is left to
        // enqueueAll too, which then reports the whole group as rejected.
        if messages.count <= configuration.clampedQueueSize {
            _ = try await waitUntilRoom(for: messages.count)
        }
        return try enqueueAll(messages)
    }

    /// Queues a message, waiting for room when the queue is full (backpressure); returns its `messageId`.
    ///
    /// - Throws: ``SegmentError`` for an invalid message or a queue that shuts down while waiting (both reported as
    ///   rejected), or `CancellationError` if the calling task is cancelled while waiting (not queued, not reported).
    @discardableResult
    public func enqueueWaiting(_ message: SegmentMessage) async throws -> String {
        let encoded = try prepare(message)
        guard try await waitUntilRoom(for: 1) else {
            throw reject(encoded.message, SegmentError(code: .shutDown, detail: "the queue was shut down while waiting for room"))
        }
        append(encoded)
        return encoded.message.messageID ?? ""
    }

    /// Waits until `count` more messages fit; `false` when the queue shut down first.
    /// - Throws: `CancellationError` when the calling task is cancelled while waiting.
    private func waitUntilRoom(for count: Int) async throws -> Bool {
        while pendingCount + count > configuration.clampedQueueSize {
            guard phase == .open else { return false }
            ensureWorker()
            do {
                try await waitForRoom()
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                return false
            }
        }
        return phase == .open
    }

    private func prepare(_ message: SegmentMessage, reporting: Bool = true) throws(SegmentError) -> EncodedSegmentMessage {
        var message = message
        if message.messageID == nil { message.messageID = makeMessageID() }
        if message.timestamp == nil { message.timestamp = time.now }
        do throws(SegmentError) {
            guard phase == .open else { throw SegmentError(code: .shutDown, detail: "the queue is shut down") }
            return try EncodedSegmentMessage(message, encoder: encoder)
        } catch {
            throw reporting ? reject(message, error) : error
        }
    }

    private func reject(_ message: SegmentMessage, _ error: SegmentError) -> SegmentError {
        stats.rejected += 1
        onDelivery?(.rejected(message, error))
        return error
    }

    private var pendingCount: Int { pending.count - head }

    private func append(_ encoded: EncodedSegmentMessage) {
        store(encoded)
        schedule()
    }

    private func store(_ encoded: EncodedSegmentMessage) {
        pending.append(encoded)
        pendingBytes += encoded.json.count + 1
        enqueuedCount += 1
        stats.enqueued += 1
    }

    /// Starts delivery when a batch is ready, else makes sure the interval timer runs.
    private func schedule() {
        if isReady {
            ensureWorker()
        } else if intervalTimer == nil {
            startIntervalTimer()
        }
    }

    private func waitForRoom() async throws {
        nextWaiterID += 1
        let id = nextWaiterID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    roomWaiters.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelRoomWaiter(id) }
        }
    }

    private func cancelRoomWaiter(_ id: UInt64) {
        guard let index = roomWaiters.firstIndex(where: { $0.id == id }) else { return }
        roomWaiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    // MARK: - Flush and shutdown

    /// Waits until every message enqueued before this call is delivered or has failed for good.
    ///
    /// Sends queued messages at once instead of waiting for the interval. Concurrent callers all wait.
    /// - Parameter timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: `true` when everything was finished, `false` if the timeout came first (delivery goes on).
    @discardableResult
    public func flush(timeout: Duration? = nil) async -> Bool {
        await waitForFinished(through: enqueuedCount, timeout: timeout)
    }

    /// Stops accepting messages, delivers what is queued, and reports what could not be delivered.
    ///
    /// Waits up to `timeout` (default 75 s, enough to outlast one `Retry-After` pause); then stops the delivery in
    /// progress, including any retry wait, and reports every message not yet delivered as failed with
    /// ``SegmentError/Code/undelivered``. Later enqueues are rejected with ``SegmentError/Code/shutDown``.
    /// Calling it again returns the same kind of report at once.
    public func shutdown(timeout: Duration = .seconds(75)) async -> ShutdownReport {
        if phase == .open {
            phase = .shuttingDown
            let waiters = roomWaiters
            roomWaiters.removeAll()
            for waiter in waiters {
                waiter.continuation.resume(throwing: SegmentError(code: .shutDown, detail: "shut down"))
            }
        }
        let drained = await waitForFinished(through: enqueuedCount, timeout: timeout)
        if !drained, let worker {
            worker.cancel()
            await worker.value
        }
        phase = .closed
        intervalTimer?.cancel()
        intervalTimer = nil
        stats.queued = pendingCount
        return ShutdownReport(drained: drained, undelivered: undeliveredSinceShutdown, statistics: stats)
    }

    /// The counters so far.
    public var statistics: Statistics {
        var snapshot = stats
        snapshot.queued = pendingCount
        return snapshot
    }

    private func waitForFinished(through target: Int, timeout: Duration?) async -> Bool {
        if finishedCount >= target { return true }
        nextWaiterID += 1
        let id = nextWaiterID
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            flushWaiters[id] = (target, continuation)
            if let timeout {
                let time = self.time
                flushTimeouts[id] = Task {
                    do { try await time.sleep(for: timeout) } catch { return }
                    self.expireFlushWaiter(id)
                }
            }
            ensureWorker()
        }
    }

    private func expireFlushWaiter(_ id: UInt64) {
        flushTimeouts[id] = nil
        flushWaiters.removeValue(forKey: id)?.continuation.resume(returning: false)
    }

    private func resumeFinishedWaiters() {
        for (id, waiter) in flushWaiters where waiter.target <= finishedCount {
            flushWaiters[id] = nil
            flushTimeouts.removeValue(forKey: id)?.cancel()
            waiter.continuation.resume(returning: true)
        }
    }

    // MARK: - Delivery

    private func startIntervalTimer() {
        let time = self.time
        let interval = configuration.flushInterval
        intervalTimer = Task {
            do { try await time.sleep(for: interval) } catch { return }
            self.intervalFired()
        }
    }

    private func intervalFired() {
        intervalTimer = nil
        guard pendingCount > 0 else { return }
        intervalElapsed = true
        ensureWorker()
    }

    private var isReady: Bool {
        guard pendingCount > 0 else { return false }
        return intervalElapsed || !flushWaiters.isEmpty || phase != .open || !roomWaiters.isEmpty
            || pendingCount >= configuration.clampedFlushAt || pendingCount >= configuration.clampedQueueSize
            || pendingBytes + SegmentBatch.envelopeOverhead >= configuration.clampedBatchBytes
    }

    private func ensureWorker() {
        guard worker == nil, isReady else { return }
        worker = Task { await self.drain() }
    }

    private func drain() async {
        while isReady, let batch = takeBatch() {
            if Task.isCancelled {
                finish(batch, with: .failure(SegmentError(code: .undelivered, detail: "shutdown deadline passed")))
                continue
            }
            let outcome = await deliver(batch)
            finish(batch, with: outcome)
        }
        worker = nil
        // Messages may have become ready while the last batch was in flight.
        if isReady && !Task.isCancelled { ensureWorker() }
    }

    private func takeBatch() -> SegmentBatch? {
        guard pendingCount > 0 else { return nil }
        let maxMessages = configuration.clampedBatchMessages
        let budget = configuration.clampedBatchBytes
        var bytes = SegmentBatch.envelopeOverhead
        var end = head
        while end < pending.count && end - head < maxMessages {
            let size = pending[end].json.count + 1
            if end > head && bytes + size > budget { break }
            bytes += size
            end += 1
        }
        let messages = Array(pending[head..<end])
        for message in messages { pendingBytes -= message.json.count + 1 }
        head = end
        if head == pending.count {
            pending.removeAll(keepingCapacity: true)
            head = 0
            intervalElapsed = false
            intervalTimer?.cancel()
            intervalTimer = nil
        } else if head > 4_096 && head * 2 > pending.count {
            pending.removeFirst(head)
            head = 0
        }
        if pendingCount > 0 && intervalTimer == nil && !intervalElapsed { startIntervalTimer() }
        let freed = min(messages.count, roomWaiters.count)
        if freed > 0 {
            let woken = roomWaiters.prefix(freed)
            roomWaiters.removeFirst(freed)
            for waiter in woken { waiter.continuation.resume() }
        }
        return SegmentBatch(messages)
    }

    private func deliver(_ batch: SegmentBatch) async -> Result<SegmentDeliveryReceipt, SegmentError> {
        let retrier = Retrier(policy: configuration.retryPolicy, time: time, random: random)
        var attempts = 0
        do {
            let receipt = try await retrier.run(classify: Self.classify) { attempt in
                attempts += 1
                stats.requests += 1
                if attempt.previousAttempts > 0 { stats.retries += 1 }
                return try await client.send(batch, retryCount: attempt.previousAttempts)
            }
            return .success(receipt)
        } catch is CancellationError {
            return .failure(SegmentError(code: .undelivered, detail: "delivery was stopped by the shutdown deadline",
                                         attempts: attempts, isTransient: true))
        } catch var error as SegmentError {
            error.attempts = attempts
            if error.code == .transientFailure || error.code == .rateLimited {
                error.code = .retriesExhausted
                error.detail = "gave up retrying: \(error.detail)"
            }
            return .failure(error)
        } catch {
            return .failure(SegmentError(code: .retriesExhausted, detail: "unexpected failure \(type(of: error))",
                                         attempts: attempts))
        }
    }

    private func finish(_ batch: SegmentBatch, with outcome: Result<SegmentDeliveryReceipt, SegmentError>) {
        let messages = batch.messages.map(\.message)
        switch outcome {
        case .success(let receipt):
            stats.delivered += messages.count
            stats.batchesDelivered += 1
            stats.deliveredBytes += receipt.requestBytes
            stats.largestRequestBytes = max(stats.largestRequestBytes, receipt.requestBytes)
            onDelivery?(.delivered(messages, receipt))
        case .failure(let error):
            stats.failed += messages.count
            if phase != .open { undeliveredSinceShutdown.append(contentsOf: messages) }
            onDelivery?(.failed(messages, error))
        }
        finishedCount += messages.count
        resumeFinishedWaiters()
    }

    /// Segment's retry classification of one failed attempt.
    static func classify(_ error: any Error) -> RetryVerdict {
        guard let error = error as? SegmentError else { return .doNotRetry }
        switch error.code {
        case .rateLimited: return error.retryAfter.map(RetryVerdict.retryAfter) ?? .retry
        case .transientFailure: return .retry
        default: return .doNotRetry
        }
    }
}
