import SDKCore

/// Where the webhooks of one account stand on their way to the Segment queue, so that a burst is read from Kommo in
/// shared requests and sent to Segment in shared batches.
///
/// A webhook enters at ``Stage/intake`` when its processing starts, moves through the fetch stages as it asks the
/// batch fetchers (or skips them), and leaves once its messages are queued (or it failed before). Two decisions
/// read it:
/// - a batch fetcher's leader gathers ids until no webhook of the account is at an earlier stage and every webhook
///   at its own stage has asked (``asked(at:)``), that is until every webhook that will ask this fetcher has
///   asked, bounded by the gather window;
/// - a prompt flush (a replay, the inbox, a drain) is made by the last prompt webhook to leave, so that the
///   messages of webhooks processed together go out together instead of one flush per webhook. Webhooks of
///   ``KommoSegmentPipeline/run()`` that leave their delivery to the queue's own schedule are not waited for.
final class BurstStages: Sendable {
    /// The stages before and at the batch fetchers, in the order a webhook goes through them.
    enum Stage: Int, Comparable, CaseIterable {
        /// Parsed and being claimed: not yet at a fetcher.
        case intake
        /// Asking for its leads, then for their contacts, then for the companies.
        case leads, contacts, companies

        static func < (lhs: Stage, rhs: Stage) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    private struct State: Sendable {
        /// Webhooks at each stage, by raw value; a webhook past the last stage and not yet gone counts in `past`.
        var atStage = [Int](repeating: 0, count: Stage.allCases.count)
        var past = 0
        /// Webhooks at each fetch stage that have asked its fetcher (a webhook asks once per stage, before it
        /// moves on).
        var asked = [Int](repeating: 0, count: Stage.allCases.count)
        /// Webhooks in flight that flush promptly.
        var prompt = 0

        /// Whether a webhook may still ask the fetcher of `stage`: one at an earlier stage, or one at this stage that
        /// has not asked yet.
        func mayStillAsk(_ stage: Stage) -> Bool {
            atStage[..<stage.rawValue].contains { $0 > 0 } || asked[stage.rawValue] < atStage[stage.rawValue]
        }
    }

    private let state = AwaitedState(State())

    init() {}

    /// One webhook's place; move it with ``advance(_:to:)`` and end it with ``leave(_:)``.
    struct Place: Sendable {
        /// The stage, or `nil` once past every fetcher.
        fileprivate(set) var stage: Stage?
        fileprivate(set) var prompt: Bool
        fileprivate(set) var hasLeft = false
    }

    /// A webhook starts processing; `prompt` when it flushes its messages as soon as it can.
    func enter(prompt: Bool) -> Place {
        state.update { state in
            state.atStage[Stage.intake.rawValue] += 1
            if prompt { state.prompt += 1 }
        }
        return Place(stage: .intake, prompt: prompt)
    }

    /// The webhook reaches `stage` (or, with `nil`, is past every fetch stage); a place only moves forward.
    func advance(_ place: inout Place, to stage: Stage?) {
        guard let current = place.stage, stage.map({ $0 > current }) ?? true else { return }
        place.stage = stage
        state.update { state in
            state.atStage[current.rawValue] -= 1
            // A webhook leaves a fetch stage only after its fetcher answered it, so it has asked.
            if current != .intake { state.asked[current.rawValue] -= 1 }
            if let stage { state.atStage[stage.rawValue] += 1 } else { state.past += 1 }
        }
    }

    /// The webhook has queued its messages or given up; returns how many prompt webhooks of the account have not.
    /// Leaving twice is harmless.
    func leave(_ place: inout Place) -> Int {
        guard !place.hasLeft else { return state.read(\.prompt) }
        advance(&place, to: nil)
        place.hasLeft = true
        let prompt = place.prompt
        return state.update { state in
            state.past -= 1
            if prompt { state.prompt -= 1 }
            return state.prompt
        }
    }

    /// A webhook at `stage` has asked that stage's fetcher (called by the fetcher as the request is queued, ids or
    /// none).
    func asked(at stage: Stage) {
        state.update { $0.asked[stage.rawValue] += 1 }
    }

    /// Returns once no webhook may still ask the fetcher of `stage` (none at an earlier stage, every one at this
    /// stage has asked), or when `window` has passed on `clock`, or when the task is cancelled.
    func gather(for stage: Stage, window: Duration, clock: MonotonicClock) async {
        guard window > .zero, state.read({ $0.mayStillAsk(stage) }) else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.state.wait { !$0.mayStillAsk(stage) } }
            group.addTask { try? await clock.sleep(for: window) }
            await group.next()
            group.cancelAll()
        }
    }
}

/// Orders the newest-change check of the lead changes that are in flight together, in event-time order.
///
/// The newest-change rule drops an older change's identify and group once a newer change of the lead has been
/// applied, so without an order the messages of a burst would depend on which webhook was fetched first. Each lead
/// change takes a ticket when its webhook starts; before its check it waits until every older ticket of the same
/// lead (or as old and taken earlier) is done. A webhook checks its own changes in ticket order, so the waits
/// cannot form a cycle.
final class ChangeSequencer: Sendable {
    /// One change's place in its lead's order.
    struct Ticket: Hashable, Comparable, Sendable {
        let lead: Int64
        let time: Int64
        let sequence: UInt64

        static func < (lhs: Ticket, rhs: Ticket) -> Bool {
            (lhs.time, lhs.sequence) < (rhs.time, rhs.sequence)
        }
    }

    private struct State: Sendable {
        var nextSequence: UInt64 = 0
        var pending: [Int64: Set<Ticket>] = [:]

        func isTurn(of ticket: Ticket) -> Bool {
            !(pending[ticket.lead] ?? []).contains { $0 < ticket }
        }
    }

    private let state = AwaitedState(State())

    init() {}

    /// A ticket for a change of `lead` made at `time` (seconds).
    func register(lead: Int64, time: Int64) -> Ticket {
        state.update { state in
            state.nextSequence += 1
            let ticket = Ticket(lead: lead, time: time, sequence: state.nextSequence)
            state.pending[ticket.lead, default: []].insert(ticket)
            return ticket
        }
    }

    /// Returns once no older ticket of the same lead is pending, or when the task is cancelled.
    func waitForTurn(_ ticket: Ticket) async {
        await state.wait { $0.isTurn(of: ticket) }
    }

    /// The change has been checked (or will not be): later tickets of its lead may go. Finishing twice is harmless.
    func finish(_ ticket: Ticket) {
        state.update { state in
            state.pending[ticket.lead]?.remove(ticket)
            if state.pending[ticket.lead]?.isEmpty == true { state.pending[ticket.lead] = nil }
        }
    }
}

/// The deduplication keys claimed by this pipeline and not yet settled, so that a second webhook of the same change
/// in flight in this process is told apart from one claimed by another worker.
final class HeldClaims: Sendable {
    private let keys = Locked(Set<String>())

    init() {}

    func insert(_ key: String) { keys.withLock { _ = $0.insert(key) } }
    func remove(_ key: String) { keys.withLock { _ = $0.remove(key) } }
    func contains(_ key: String) -> Bool { keys.withLock { $0.contains(key) } }
}

/// Lets the webhooks of one ``KommoSegmentPipeline/process(maxConcurrency:next:report:)`` call queue their messages
/// in the order of their positions, so that the Segment batches (and a dry run's output) list them in the order the
/// bodies were given, however the processing interleaved. A webhook passes once every earlier position has queued
/// its messages or given up.
final class QueueingOrder: Sendable {
    private struct State: Sendable {
        /// The first position not yet done.
        var next = 0
        /// Positions done after `next`.
        var done = Set<Int>()
    }

    private let state = AwaitedState(State())

    init() {}

    /// Returns once every position before `position` is done, or when the task is cancelled.
    func waitForTurn(_ position: Int) async {
        await state.wait { $0.next >= position }
    }

    /// `position` has queued its messages, or will queue none. Finishing twice is harmless.
    func finish(_ position: Int) {
        state.update { state in
            guard position >= state.next else { return }
            state.done.insert(position)
            while state.done.remove(state.next) != nil { state.next += 1 }
        }
    }
}
