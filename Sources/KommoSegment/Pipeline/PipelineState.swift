import HTTPCore

/// The pipeline's counters, behind a lock so that the gate and every webhook's task count without an actor hop.
final class PipelineCounterBox: Sendable {
    private let counters = Locked(PipelineCounters())

    func update(_ change: (inout PipelineCounters) -> Void) {
        counters.withLock { change(&$0) }
    }

    var snapshot: PipelineCounters { counters.withLock { $0 } }
}

/// Where the pipeline stands: open or draining, whether `run()` runs, and how many webhooks are in flight.
final class PipelineState: Sendable {
    enum Phase { case open, draining }
    /// Who reads the accepted webhooks: `run()`, or shutdown when `run()` never ran.
    enum IntakeReader { case run, shutdown }

    private struct State {
        var phase = Phase.open
        var isRunning = false
        var intakeReader: IntakeReader?
        var inFlight = 0
        var bytesInFlight = 0
        var idleWaiters: [AsyncLatch<Bool>] = []
        var subscribers: [UInt64: AsyncStream<WebhookReport>.Continuation] = [:]
        var nextSubscriber: UInt64 = 0
    }

    private let state = Locked(State())
    /// Resolved when `run()` first starts.
    let runStarted = AsyncLatch<Bool>()

    var isOpen: Bool { state.withLock { $0.phase == .open } }
    var isDraining: Bool { state.withLock { $0.phase == .draining } }

    /// Whether a webhook may start.
    enum Admission { case admitted, closed, busy }

    /// Marks the start of a webhook's processing, holding `bytes` of the budget until ``end(bytes:)``: `.closed`
    /// when the pipeline no longer takes work, `.busy` when it already holds `maxWebhooks` webhooks or the bytes
    /// would pass `maxBytes` (a webhook alone larger than the budget is still admitted when nothing else is held).
    func begin(bytes: Int, maxWebhooks: Int, maxBytes: Int) -> Admission {
        state.withLock { state in
            guard state.phase == .open else { return .closed }
            if state.inFlight >= maxWebhooks { return .busy }
            if state.inFlight > 0 && state.bytesInFlight + bytes > maxBytes { return .busy }
            state.inFlight += 1
            state.bytesInFlight += bytes
            return .admitted
        }
    }

    /// Marks the end of a webhook's processing and frees its bytes.
    func end(bytes: Int) {
        let woken: [AsyncLatch<Bool>] = state.withLock { state in
            state.inFlight -= 1
            state.bytesInFlight -= bytes
            guard state.inFlight == 0 else { return [] }
            defer { state.idleWaiters.removeAll() }
            return state.idleWaiters
        }
        for latch in woken { latch.resolve(true) }
    }

    /// Stops taking work; `false` if it was already stopped.
    func beginDraining() -> Bool {
        state.withLock { state in
            guard state.phase == .open else { return false }
            state.phase = .draining
            return true
        }
    }

    /// A latch resolved when no webhook is in flight.
    func idle() -> AsyncLatch<Bool> {
        let latch = AsyncLatch<Bool>()
        let isIdle = state.withLock { state in
            if state.inFlight == 0 { return true }
            state.idleWaiters.append(latch)
            return false
        }
        if isIdle { latch.resolve(true) }
        return latch
    }

    /// Marks `run()` as running; `false` if it already was.
    func startRunning() -> Bool {
        let started = state.withLock { state in
            guard !state.isRunning else { return false }
            state.isRunning = true
            return true
        }
        if started { runStarted.resolve(true) }
        return started
    }

    /// Whether `reader` may read the intake: the first reader takes it, and only `run()` may read it again.
    func takeIntake(for reader: IntakeReader) -> Bool {
        state.withLock { state in
            switch state.intakeReader {
            case nil:
                state.intakeReader = reader
                return true
            case .run?: return reader == .run
            case .shutdown?: return false
            }
        }
    }

    func stopRunning() {
        state.withLock { $0.isRunning = false }
    }

    var isRunning: Bool { state.withLock { $0.isRunning } }

    // MARK: Reports

    func subscribe(bufferingNewest limit: Int) -> AsyncStream<WebhookReport> {
        let (stream, continuation) = AsyncStream.makeStream(of: WebhookReport.self,
                                                            bufferingPolicy: .bufferingNewest(max(limit, 1)))
        let id = state.withLock { state -> UInt64 in
            state.nextSubscriber += 1
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ report: WebhookReport) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(report) }
    }

    func finishReports() {
        let subscribers = state.withLock { state in
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }
}
