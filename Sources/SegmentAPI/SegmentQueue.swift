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

/// The batching, retrying delivery queue that most users call: enqueueing is cheap and returns a
/// ``SegmentDeliveryTicket``; ``run()`` delivers in the background; nothing is lost silently.
///
/// ```swift
/// let queue = SegmentQueue(client: SegmentClientConfiguration(writeKey: key))
/// try await withThrowingTaskGroup(of: Void.self) { group in
///     group.addTask { try await queue.run() }
///     let ticket = try await queue.enqueueWaiting([.track("Deal Won", userID: "u1")])
///     print(try await ticket.outcome())   // .delivered, or .failed(error)
///     _ = await queue.shutdown(timeout: .seconds(10))
///     try await group.waitForAll()
/// }
/// ```
///
/// - **Lifecycle.** ``run()`` owns all delivery work: it sends batches, keeps the flush interval, and returns once
///   ``shutdown(timeout:)`` has finished (or at once when its task is cancelled, failing what is left). Nothing is
///   sent while `run()` is not running; enqueued messages wait for it.
/// - **Batching.** Messages are serialized once at enqueue and sent to `/v1/batch` when ``Configuration/flushAt``
///   are queued (default 100), when the queued bytes fill a request (475,000 bytes), when
///   ``Configuration/flushInterval`` has passed since the oldest queued message (default 5 s), or on ``flush(timeout:)``.
///   A request never holds more than 2,500 messages or more than the byte budget.
/// - **Bounded memory.** At most ``Configuration/maxQueueSize`` messages wait (default 10,000), plus the one batch in
///   flight. When full, ``enqueue(_:)`` rejects the group (throws ``SegmentError/Code/queueFull`` and reports it)
///   while ``enqueueWaiting(_:)`` suspends until there is room (backpressure).
/// - **Retries.** Segment's policy: 429 waits for `Retry-After` (capped at 300 s, not counted as an attempt); 408,
///   410, 460, 5xx (except 501, 505, 511) and network errors back off from 0.5 s doubling to 60 s with jitter, at
///   most 11 attempts and 12 hours; anything else is dropped and reported. Message ids and the batch's contents never
///   change between attempts; `X-Retry-Count` counts every earlier attempt. Batches are delivered one at a time, in
///   order, so a rate-limit pause holds back all uploads. Waits run on the injected monotonic clock.
/// - **Accounting.** Every accepted message ends as delivered or failed: its ticket resolves, and the optional
///   `onDelivery` handler hears of it. ``flush(timeout:)`` waits until everything enqueued before it is finished;
///   ``shutdown(timeout:)`` stops intake, drains, and returns what it could not deliver.
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
    private let delivery: BatchDelivery
    private let clock: MonotonicClock
    private let completion: MessageCompletion
    private let onDelivery: (@Sendable (SegmentDeliveryEvent) -> Void)?

    private var buffer = PendingBuffer()
    private var tickets = TicketBook()
    private var inFlight: PendingBatch?
    private var intervalStart: Duration?
    private var phase = Phase.open
    private var isRunning = false
    private var waiters = Waiters()
    private var accounting = Accounting()
    private let signals = RunSignals()
    /// Whether shutdown's deadline has passed (what stopped a delivery, when one stops).
    private var deadlinePassed = false

    /// Creates a queue that delivers through `client`.
    /// - Parameters:
    ///   - client: sends one batch per call; usually an ``HTTPSegmentClient``.
    ///   - configuration: batching and retry settings.
    ///   - library: written as `context.library` on every message.
    ///   - clock: the monotonic clock of the flush interval, retry waits and deadlines; `ContinuousClock` by default.
    ///   - wallClock: stamps the `timestamp` of messages that have none.
    ///   - random: jitter source, values in `0..<1`.
    ///   - makeMessageID: generates ids for messages without one (random lowercase UUIDs by default).
    ///   - onDelivery: told about every delivered, failed and rejected message; called on the queue, keep it short.
    ///   - log: where retry waits (debug) and batches that failed for good (warning) are logged; silent by default.
    public init(
        client: any SegmentClient, configuration: Configuration = .init(),
        library: SegmentLibraryInfo = .kommoSegment, clock: any Clock<Duration> = ContinuousClock(),
        wallClock: WallClock = .system, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        makeMessageID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() },
        onDelivery: (@Sendable (SegmentDeliveryEvent) -> Void)? = nil, log: (any LogSink)? = nil
    ) {
        let monotonic = MonotonicClock(clock)
        self.configuration = configuration
        self.delivery = BatchDelivery(client: client, encoder: SegmentWireEncoder(library: library),
                                      retrier: Retrier(policy: configuration.retryPolicy, monotonic: monotonic,
                                                       random: random),
                                      logger: SDKLogger(log, source: "segment"))
        self.clock = monotonic
        self.completion = MessageCompletion(wallClock: wallClock, makeMessageID: makeMessageID)
        self.onDelivery = onDelivery
    }

    /// Creates a queue that posts to Segment over HTTP with ``HTTPSegmentClient``.
    public init(
        client clientConfiguration: SegmentClientConfiguration, configuration: Configuration = .init(),
        transport: any HTTPTransport = URLSessionTransport(), clock: any Clock<Duration> = ContinuousClock(),
        wallClock: WallClock = .system, onDelivery: (@Sendable (SegmentDeliveryEvent) -> Void)? = nil,
        log: (any LogSink)? = nil
    ) {
        self.init(client: HTTPSegmentClient(configuration: clientConfiguration, transport: transport,
                                            wallClock: wallClock),
                  configuration: configuration, clock: clock, wallClock: wallClock, onDelivery: onDelivery, log: log)
    }

    // MARK: - Intake

    /// Queues messages together, all or none, without waiting.
    ///
    /// Fills in a missing `messageId` and `timestamp`, validates and serializes each message. Use one call for the
    /// messages of one event (an `identify`, a `track` and a `group`), so that they are batched side by side and
    /// either all queued or all refused.
    /// - Returns: the ticket of the group: its message ids, and its outcome once delivered or failed.
    /// - Throws: ``SegmentError`` (each message is then reported as ``SegmentDeliveryEvent/rejected(_:_:)``): a
    ///   validation code, ``SegmentError/Code/messageTooLarge``, ``SegmentError/Code/queueFull`` or
    ///   ``SegmentError/Code/shutDown``.
    @discardableResult
    public func enqueue(_ messages: [SegmentMessage]) throws(SegmentError) -> SegmentDeliveryTicket {
        try enqueue(prepare(messages), original: messages)
    }

    /// Queues one message without waiting; see ``enqueue(_:)-([SegmentMessage])``.
    @discardableResult
    public func enqueue(_ message: SegmentMessage) throws(SegmentError) -> SegmentDeliveryTicket {
        try enqueue(CollectionOfOne(prepare(message)), original: CollectionOfOne(message))
    }

    /// Queues one message, waiting for room; see ``enqueueWaiting(_:)-([SegmentMessage])``.
    @discardableResult
    public func enqueueWaiting(_ message: SegmentMessage) async throws -> SegmentDeliveryTicket {
        try await enqueueWaiting(CollectionOfOne(prepare(message)), original: CollectionOfOne(message))
    }

    /// Queues messages together, all or none, waiting until there is room for all of them (backpressure).
    ///
    /// - Returns: the ticket of the group.
    /// - Throws: what ``enqueue(_:)`` throws, except that a full queue is waited for; a group larger than
    ///   ``Configuration/maxQueueSize`` fails with ``SegmentError/Code/queueFull``, a queue that shuts down while
    ///   waiting with ``SegmentError/Code/shutDown``; `CancellationError` when the calling task is cancelled while
    ///   waiting (nothing queued, nothing reported).
    @discardableResult
    public func enqueueWaiting(_ messages: [SegmentMessage]) async throws -> SegmentDeliveryTicket {
        try await enqueueWaiting(prepare(messages), original: messages)
    }

    // One message or many take the same path; one message is held in a `CollectionOfOne`, not in arrays.

    private func enqueue(_ encoded: some Collection<EncodedSegmentMessage>,
                         original messages: some Collection<SegmentMessage>) throws(SegmentError)
        -> SegmentDeliveryTicket {
        guard buffer.count + encoded.count <= configuration.clampedQueueSize else {
            throw reject(messages, SegmentError(
                code: .queueFull, detail: "the queue holds \(buffer.count) messages and \(messages.count) more do "
                    + "not fit (maxQueueSize)"))
        }
        return store(encoded)
    }

    private func enqueueWaiting(_ encoded: some Collection<EncodedSegmentMessage>,
                                original messages: some Collection<SegmentMessage>) async throws
        -> SegmentDeliveryTicket {
        if encoded.count <= configuration.clampedQueueSize {
            while phase == .open && buffer.count + encoded.count > configuration.clampedQueueSize {
                signals.wake.signal()
                guard await waiters.addRoomWaiter().wait() != nil else { throw CancellationError() }
            }
        }
        guard phase == .open else {
            throw reject(messages, SegmentError(code: .shutDown, detail: "the queue was shut down while waiting"))
        }
        guard buffer.count + encoded.count <= configuration.clampedQueueSize else {
            throw reject(messages, SegmentError(
                code: .queueFull, detail: "a group of \(messages.count) messages is larger than maxQueueSize"))
        }
        let ticket = store(encoded)
        // A batch is ready and nothing is in flight: let the delivery start before this producer queues more, so
        // that batches stay near flushAt and the queue does not fill up behind one busy producer.
        if inFlight == nil && isReadyWithoutTimer { await Task.yield() }
        return ticket
    }

    private func prepare(_ messages: [SegmentMessage]) throws(SegmentError) -> [EncodedSegmentMessage] {
        var encoded: [EncodedSegmentMessage] = []
        encoded.reserveCapacity(messages.count)
        for index in messages.indices {
            var message = messages[index]
            complete(&message)
            do throws(SegmentError) {
                guard phase == .open else { throw SegmentError(code: .shutDown, detail: "the queue is shut down") }
                encoded.append(try EncodedSegmentMessage(message, encoder: delivery.encoder))
            } catch {
                // The whole group is refused, each message with the id and timestamp it was given.
                var group = encoded.map(\.message) + [message]
                for var rest in messages[(index + 1)...] {
                    complete(&rest)
                    group.append(rest)
                }
                throw reject(group, error)
            }
        }
        return encoded
    }

    private func prepare(_ message: SegmentMessage) throws(SegmentError) -> EncodedSegmentMessage {
        var message = message
        complete(&message)
        do throws(SegmentError) {
            guard phase == .open else { throw SegmentError(code: .shutDown, detail: "the queue is shut down") }
            return try EncodedSegmentMessage(message, encoder: delivery.encoder)
        } catch {
            throw reject(CollectionOfOne(message), error)
        }
    }

    private func complete(_ message: inout SegmentMessage) {
        completion.complete(&message)
    }

    private func reject(_ messages: some Collection<SegmentMessage>, _ error: SegmentError) -> SegmentError {
        accounting.stats.rejected += messages.count
        for message in messages { onDelivery?(.rejected(message, error)) }
        return error
    }

    private func store(_ encoded: some Collection<EncodedSegmentMessage>) -> SegmentDeliveryTicket {
        let (id, state) = tickets.open(count: encoded.count)
        if buffer.isEmpty && !encoded.isEmpty {
            intervalStart = clock.now
            signals.intervalChanged.signal()
        }
        for message in encoded { buffer.append(message, ticket: id) }
        accounting.counts.enqueued += encoded.count
        accounting.stats.enqueued += encoded.count
        if buffer.count == encoded.count || isReadyWithoutTimer { signals.wake.signal() }
        let ids: SegmentDeliveryTicket.IDs = if encoded.count == 1, let only = encoded.first {
            .one(only.message.messageID ?? "")
        } else {
            .many(encoded.map { $0.message.messageID ?? "" })
        }
        return SegmentDeliveryTicket(ids: ids, state: state)
    }

    // MARK: - Running

    /// Delivers queued messages until the queue is shut down; this is the queue's only background work.
    ///
    /// Run it in a task group or a service group for as long as the queue is used. It returns once
    /// ``shutdown(timeout:)`` has finished. When its task is cancelled, it stops at once: the batch in flight is
    /// abandoned, every queued message fails with ``SegmentError/Code/undelivered``, and the queue is closed.
    /// - Throws: ``SegmentError/Code/alreadyRunning`` when another `run()` of this queue is in progress.
    public func run() async throws {
        guard !isRunning else {
            throw SegmentError(code: .alreadyRunning, detail: "run() was called while another run() of this queue "
                                   + "is in progress")
        }
        isRunning = true
        defer { isRunning = false }
        let abort = signals.abort
        // Three children for the whole run, none per batch: delivery, the flush interval, and the shutdown
        // deadline, which stops the other two (and the batch in flight) by ending the group.
        try? await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.deliveryLoop() }
            group.addTask { await self.intervalLoop() }
            group.addTask {
                if await abort.wait() == true { throw DeadlinePassed() }
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// Thrown inside ``run()`` when shutdown's deadline has passed.
    private struct DeadlinePassed: Error {}

    /// Sends batches while they are ready; returns when the queue is closed, or at once when cancelled.
    private func deliveryLoop() async {
        while true {
            if Task.isCancelled {
                if !deadlinePassed {
                    abandonAll(SegmentError(code: .undelivered, detail: "the queue's run() was cancelled",
                                            isTransient: true))
                }
                phase = .closed
                return
            }
            if phase == .closed && inFlight == nil { return }
            if isReady {
                await deliverNextBatch()
            } else {
                await signals.wake.wait()
            }
        }
    }

    /// Wakes the delivery when the oldest queued message has waited ``Configuration/flushInterval``.
    private func intervalLoop() async {
        var fired: Duration?
        while !Task.isCancelled {
            // A full batch goes without a timer; taking it signals intervalChanged, so the check comes back.
            guard let deadline = intervalDeadline, deadline != fired, !hasFullBatch else {
                await signals.intervalChanged.wait()
                continue
            }
            try? await clock.sleep(until: deadline)
            fired = deadline
            signals.wake.signal()
        }
    }

    private var intervalDeadline: Duration? {
        guard !buffer.isEmpty, let intervalStart else { return nil }
        return intervalStart + configuration.flushInterval
    }

    /// Whether the buffer holds a whole batch; only taking a batch (or abandoning the buffer) ends it.
    private var hasFullBatch: Bool {
        buffer.count >= configuration.clampedFlushAt || buffer.count >= configuration.clampedQueueSize
            || buffer.bytes + SegmentBatch.envelopeOverhead >= configuration.clampedBatchBytes
    }

    private var isReady: Bool {
        if isReadyWithoutTimer { return true }
        guard let deadline = intervalDeadline else { return false }
        return clock.now >= deadline
    }

    /// ``isReady`` without reading the clock, for intake: a passed flush interval wakes the delivery by itself
    /// (``intervalLoop()``), so enqueueing need not check it for every message.
    private var isReadyWithoutTimer: Bool {
        guard !buffer.isEmpty else { return false }
        return phase != .open || waiters.wantsDelivery || hasFullBatch
    }

    private func deliverNextBatch() async {
        let batch = buffer.takeBatch(maxMessages: configuration.clampedBatchMessages,
                                     budget: configuration.clampedBatchBytes)
        intervalStart = buffer.isEmpty ? nil : clock.now
        signals.intervalChanged.signal()
        waiters.roomFreed()
        inFlight = batch
        let outcome = await delivery.deliver(SegmentBatch(batch.messages), counting: self)
        // Shutdown's deadline abandons the batch in flight itself (see abandonAll).
        guard inFlight != nil else { return }
        inFlight = nil
        switch outcome {
        case .finished(let result):
            finish(batch, with: result)
        case .stopped(let attempts, let lastError):
            finish(batch, with: .failure(stoppedError(attempts: attempts, lastError: lastError)))
        }
    }

    /// The error of a batch whose delivery stopped before it finished, saying what stopped it.
    private func stoppedError(attempts: Int?, lastError: SegmentError?) -> SegmentError {
        let detail = if deadlinePassed {
            "delivery was stopped by the shutdown deadline"
        } else if Task.isCancelled {
            "the queue's run() was cancelled while the batch was being delivered"
        } else {
            "the Segment client threw CancellationError while its task was not cancelled"
        }
        return SegmentError(code: .undelivered, detail: detail, status: lastError?.status,
                            responseBody: lastError?.responseBody, attempts: attempts, isTransient: true,
                            underlyingError: lastError)
    }

    /// Counts one HTTP attempt (called by the delivery).
    func countAttempt(isRetry: Bool) {
        accounting.stats.requests += 1
        if isRetry { accounting.stats.retries += 1 }
    }

    private func finish(_ batch: PendingBatch, with outcome: DeliveryResult) {
        let count = batch.messages.count
        // The messages themselves only for those who hear of them.
        var messages: [SegmentMessage] {
            batch.messages.map(\.message)
        }
        switch outcome {
        case .success(let receipt):
            accounting.stats.delivered += count
            accounting.stats.batchesDelivered += 1
            accounting.stats.deliveredBytes += receipt.requestBytes
            accounting.stats.largestRequestBytes = max(accounting.stats.largestRequestBytes, receipt.requestBytes)
            tickets.record(batch.tickets, failure: nil)
            onDelivery?(.delivered(messages, receipt))
        case .failure(let error):
            delivery.logger.log(.warning, "batch not delivered", [
                "messages": String(count), "code": error.code.description,
                "status": error.status.map(String.init) ?? "-", "attempts": error.attempts.map(String.init) ?? "-",
            ])
            accounting.stats.failed += count
            if phase != .open { accounting.undeliveredSinceShutdown.append(contentsOf: messages) }
            tickets.record(batch.tickets, failure: error)
            onDelivery?(.failed(messages, error))
        }
        accounting.counts.finished += count
        waiters.finished(through: accounting.counts.finished)
    }

    /// Fails the batch in flight and everything queued with `error`.
    private func abandonAll(_ error: SegmentError) {
        if let batch = inFlight {
            inFlight = nil
            finish(batch, with: .failure(error))
        }
        let rest = buffer.takeAll()
        if !rest.isEmpty { finish(rest, with: .failure(error)) }
        intervalStart = nil
        waiters.roomFreed()
    }

    // MARK: - Flush and shutdown

    /// Waits until every message enqueued before this call is delivered or has failed for good.
    ///
    /// Sends queued messages at once instead of waiting for the interval (through ``run()``, which must be
    /// running). Concurrent callers all wait.
    /// - Parameter timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: `true` when everything was finished, `false` if the timeout came first or the calling task was
    ///   cancelled (delivery goes on).
    @discardableResult
    public func flush(timeout: Duration? = nil) async -> Bool {
        await waitForFinished(through: accounting.counts.enqueued, timeout: timeout)
    }

    /// Stops accepting messages, delivers what is queued, and reports what could not be delivered.
    ///
    /// Waits up to `timeout` (default 75 s, enough to outlast one `Retry-After` pause) for ``run()`` to deliver
    /// everything; then stops the delivery in progress, including any retry wait, and reports every message not yet
    /// delivered as failed with ``SegmentError/Code/undelivered``. It returns within `timeout` whatever Segment does.
    /// Later enqueues are rejected with ``SegmentError/Code/shutDown``, and ``run()`` returns. Calling it again
    /// returns the same kind of report at once.
    public func shutdown(timeout: Duration = .seconds(75)) async -> ShutdownReport {
        if phase == .open {
            phase = .shuttingDown
            waiters.roomFreed()
        }
        signals.wake.signal()
        let drained = await waitForFinished(through: accounting.counts.enqueued, timeout: timeout)
        if !drained {
            deadlinePassed = true
            abandonAll(SegmentError(code: .undelivered, detail: "the shutdown deadline passed", isTransient: true))
            signals.abort.resolve(true)
        }
        phase = .closed
        signals.wake.signal()
        var statistics = accounting.stats
        statistics.queued = buffer.count
        return ShutdownReport(drained: drained, undelivered: accounting.undeliveredSinceShutdown, statistics: statistics)
    }

    /// The counters so far.
    public var statistics: Statistics {
        var snapshot = accounting.stats
        snapshot.queued = buffer.count
        return snapshot
    }

    private func waitForFinished(through target: Int, timeout: Duration?) async -> Bool {
        if accounting.counts.finished >= target { return true }
        let (id, latch) = waiters.addFinishWaiter(through: target)
        defer { waiters.removeFinishWaiter(id) }
        signals.wake.signal()
        guard let timeout else { return await latch.wait() ?? false }
        let clock = self.clock
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { await latch.wait() ?? false }
            group.addTask {
                try? await clock.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}

typealias DeliveryResult = Result<SegmentDeliveryReceipt, SegmentError>

/// Fills in what a message lacks at enqueue: a `messageId` and a `timestamp`.
struct MessageCompletion: Sendable {
    let wallClock: WallClock
    let makeMessageID: @Sendable () -> String

    func complete(_ message: inout SegmentMessage) {
        if message.messageID == nil { message.messageID = makeMessageID() }
        if message.timestamp == nil { message.timestamp = wallClock.now }
    }
}

/// What a queue has counted: messages enqueued and finished (for flush), the statistics, and what failed after
/// shutdown began.
struct Accounting {
    var counts = (enqueued: 0, finished: 0)
    var stats = SegmentQueue.Statistics()
    var undeliveredSinceShutdown: [SegmentMessage] = []
}

/// The signals of ``SegmentQueue/run()``.
struct RunSignals: Sendable {
    /// Wakes the delivery when a batch may be ready or the queue changes phase.
    let wake = WakeSignal()
    /// Wakes the interval timer when the oldest queued message changes.
    let intervalChanged = WakeSignal()
    /// Set once when shutdown's deadline passes: the batch in flight is abandoned.
    let abort = AsyncLatch<Bool>()
}

/// The callers waiting on a queue: for room (backpressure) and for messages to finish (flush, shutdown).
struct Waiters {
    private var room: [AsyncLatch<Bool>] = []
    private var finish: [UInt64: (target: Int, latch: AsyncLatch<Bool>)] = [:]
    private var nextID: UInt64 = 0

    /// Whether someone waits, so that delivery should not wait for the interval.
    var wantsDelivery: Bool { !room.isEmpty || !finish.isEmpty }

    /// A latch that ``roomFreed()`` resolves; the caller waits on it, then checks again. A cancelled caller's latch
    /// stays until then, harmlessly.
    mutating func addRoomWaiter() -> AsyncLatch<Bool> {
        let latch = AsyncLatch<Bool>()
        room.append(latch)
        return latch
    }

    /// Wakes every caller waiting for room.
    mutating func roomFreed() {
        let woken = room
        room.removeAll()
        for latch in woken { latch.resolve(true) }
    }

    mutating func addFinishWaiter(through target: Int) -> (UInt64, AsyncLatch<Bool>) {
        nextID += 1
        let latch = AsyncLatch<Bool>()
        finish[nextID] = (target, latch)
        return (nextID, latch)
    }

    mutating func removeFinishWaiter(_ id: UInt64) {
        finish[id] = nil
    }

    /// Resolves the waiters whose messages have all finished.
    mutating func finished(through count: Int) {
        for (id, waiter) in finish where waiter.target <= count {
            finish[id] = nil
            waiter.latch.resolve(true)
        }
    }
}

/// Sends one batch under the retry policy and classifies the outcome; holds no state of its own.
struct BatchDelivery: Sendable {
    let client: any SegmentClient
    let encoder: SegmentWireEncoder
    let retrier: Retrier
    let logger: SDKLogger

    /// How one delivery ended.
    enum Outcome: Sendable {
        /// Delivered, or failed for good.
        case finished(DeliveryResult)
        /// Stopped by cancellation before it finished, after `attempts` attempts; `lastError` is the last attempt's
        /// error, if one failed.
        case stopped(attempts: Int, lastError: SegmentError?)
    }

    func deliver(_ batch: SegmentBatch, counting queue: SegmentQueue) async -> Outcome {
        var attempts = 0
        var lastError: SegmentError?
        do {
            let logger = self.logger
            let receipt = try await retrier.run(classify: Self.classify, onWait: { wait in
                logger.log(.debug, "batch retry wait", [
                    "seconds": String(wait.duration.seconds), "attempts": String(wait.attemptsSoFar),
                    "requestedByServer": String(wait.isRequestedByServer),
                ])
            }) { attempt in
                attempts += 1
                await queue.countAttempt(isRetry: attempt.previousAttempts > 0)
                do {
                    return try await client.send(batch, retryCount: attempt.previousAttempts)
                } catch let error as SegmentError {
                    lastError = error
                    throw error
                }
            }
            return .finished(.success(receipt))
        } catch is CancellationError {
            return .stopped(attempts: attempts, lastError: lastError)
        } catch let error as SegmentError {
            guard error.code == .transientFailure || error.code == .rateLimited else {
                return .finished(.failure(error.with(attempts: attempts)))
            }
            return .finished(.failure(SegmentError(
                code: .retriesExhausted, detail: "gave up retrying: \(error.detail)", status: error.status,
                responseBody: error.responseBody, attempts: attempts, isTransient: error.isTransient,
                retryAfter: error.retryAfter, underlyingError: error)))
        } catch {
            return .finished(.failure(SegmentError(code: .retriesExhausted,
                                                   detail: "unexpected failure \(type(of: error))",
                                                   attempts: attempts, underlyingError: error)))
        }
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
