import Foundation

/// How the pipeline catches up from Kommo's events log (`GET /api/v4/events`): what a webhook missed is read back
/// and delivered with the same message ids (`Documentation/CatchUp.md`).
public struct CatchUpConfiguration: Sendable, Hashable {
    /// How often ``KommoSegmentPipeline/run()`` catches up every account, the first time one interval after it
    /// starts; `nil` never does (call ``KommoSegmentPipeline/catchUp(_:progress:)`` yourself, as the command line
    /// does). Default: `nil`; the server turns it on (every 10 minutes).
    public var interval: Duration?
    /// How far back a run reads when the account has no checkpoint yet; a scheduled run never reads further back
    /// than this, however old its checkpoint. Default: 24 hours.
    public var lookBack: Duration
    /// How long after an event's time a run reads it: the window ends this long before now, so that an event Kommo
    /// writes to its log a moment late is not passed over by the checkpoint. Default: 60 seconds.
    public var settleDelay: Duration
    /// How many events are processed at once; their leads, contacts and companies are read together (up to 250
    /// ids a request). Default: 250.
    public var concurrency: Int
    /// After this many events a run moves the checkpoint, so an interrupted run goes on from there. Default: 500.
    public var checkpointEvery: Int
    /// The most pages (of 100 events) one run reads before failing with ``CatchUpError/Code/tooManyEvents``.
    /// Default: 10,000.
    public var maxPages: Int
    /// How long a run's lease on its account lasts in the checkpoint store unless renewed
    /// (``CatchUpCheckpointStore/holdRun(_:owner:for:)``); a run renews it every third of this, so a lease outlives
    /// its run only when the instance dies, and another instance takes the account up after this long. Default:
    /// 2 minutes.
    public var leaseDuration: Duration

    /// A configuration; every value has a default.
    public init(interval: Duration? = nil, lookBack: Duration = .seconds(86_400), settleDelay: Duration = .seconds(60),
                concurrency: Int = 250, checkpointEvery: Int = 500, maxPages: Int = 10_000,
                leaseDuration: Duration = .seconds(120)) {
        self.interval = interval
        self.lookBack = lookBack
        self.settleDelay = settleDelay
        self.concurrency = concurrency
        self.checkpointEvery = checkpointEvery
        self.maxPages = maxPages
        self.leaseDuration = leaseDuration
    }
}

/// One catch-up run: the account and the window of event times.
public struct CatchUpRequest: Sendable, Hashable {
    /// The Kommo account; the pipeline must serve it.
    public var accountID: Int64
    /// The first second read. `nil`: the second after the account's checkpoint, or, without one,
    /// ``CatchUpConfiguration/lookBack`` before now.
    public var since: Date?
    /// The last second read. `nil`: ``CatchUpConfiguration/settleDelay`` before now.
    public var until: Date?
    /// Whether the run moves the account's checkpoint as it goes (a dry run does not). Default: `true`.
    public var movesCheckpoint: Bool

    /// A request.
    public init(accountID: Int64, since: Date? = nil, until: Date? = nil, movesCheckpoint: Bool = true) {
        self.accountID = accountID
        self.since = since
        self.until = until
        self.movesCheckpoint = movesCheckpoint
    }
}

/// How far a catch-up run has got, as it goes.
public struct CatchUpProgress: Sendable, Hashable {
    /// What the run is doing.
    public enum Phase: String, Sendable, Hashable {
        /// Reading the events log, page by page.
        case reading
        /// Processing the events read, oldest first.
        case processing
        /// Done.
        case finished
    }

    /// What the run is doing.
    public var phase: Phase
    /// Pages read so far.
    public var pages: Int
    /// Events read so far.
    public var eventsRead: Int
    /// Lead changes to process (known once reading is done).
    public var eventsToProcess: Int
    /// Lead changes processed so far.
    public var eventsProcessed: Int
    /// Lead changes delivered so far.
    public var delivered: Int
}

/// What became of one event of the log.
public struct CatchUpEventReport: Sendable, Hashable {
    /// The event as Kommo logged it.
    public var event: KommoEvent
    /// The webhook item it became (its time may be that of the same change already known at a neighbouring second).
    public var item: String
    /// What became of it: delivered (recovered), duplicate (already processed), skipped, or failed (a failure with
    /// ``PipelineError/Code/claimedElsewhere`` is a change another worker is processing now: see
    /// ``CatchUpReport/heldElsewhere``).
    public var outcome: EventOutcome
    /// The messages sent, or that would have been (a dry run prints them).
    public var messages: [SegmentMessage]
}

/// What a catch-up run did.
public struct CatchUpReport: Sendable, Hashable {
    /// The account.
    public var accountID: Int64
    /// The first second of the window, Unix seconds.
    public var from: Int64
    /// The last second of the window, Unix seconds.
    public var to: Int64
    /// Pages of the events log read.
    public var pages: Int
    /// Events read, across pages (with any repeated across pages counted once).
    public var eventsRead: Int
    /// Events read but not processed: outside the window, of another entity or of a type catch-up does not read.
    public var eventsIgnored: Int
    /// One report per lead change processed, oldest first.
    public var events: [CatchUpEventReport]
    /// Lead changes not processed because an earlier batch had failures (the checkpoint stops before them anyway).
    public var eventsNotProcessed: Int
    /// The checkpoint stored after the run; `nil` when the account has none.
    public var checkpoint: Int64?

    /// Lead changes delivered: what the webhooks had missed.
    public var recovered: Int { count { if case .delivered = $0 { true } else { false } } }
    /// Lead changes already processed (by a webhook or an earlier run).
    public var alreadyProcessed: Int { count { if case .duplicate = $0 { true } else { false } } }
    /// Lead changes skipped on purpose (a stage that did not change, a deleted lead, a disabled event...).
    public var skipped: Int { count { if case .skipped = $0 { true } else { false } } }
    /// Lead changes that failed (not counting those held elsewhere).
    public var failed: Int { count { if case .failed(let error) = $0 { error.code != .claimedElsewhere } else { false } } }
    /// Lead changes another worker was processing at that moment (a webhook of the same change, on this instance's
    /// neighbour): not a failure, but not known to be done either, so the checkpoint stays before the first of them
    /// and the next run finds them done.
    public var heldElsewhere: Int {
        count { if case .failed(let error) = $0 { error.code == .claimedElsewhere } else { false } }
    }
    /// Whether every lead change was processed: none failed, none held elsewhere, none left unprocessed.
    public var isComplete: Bool { failed == 0 && heldElsewhere == 0 && eventsNotProcessed == 0 }

    private func count(_ matches: (EventOutcome) -> Bool) -> Int {
        events.reduce(0) { $0 + (matches($1.outcome) ? 1 : 0) }
    }
}

/// Why a catch-up or a backfill stopped: Kommo could not be read, the checkpoint not kept, or the request is wrong.
/// Events that fail one by one do not throw: they are in the report.
public struct CatchUpError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case kommo, checkpointFailed, accountNotServed, tooManyEvents, shutdown, runningElsewhere
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Reading from Kommo failed after the client's retries; ``CatchUpError/underlyingError`` is the
        /// ``KommoAPIError``. Run again later: the checkpoint has not moved past what was not processed.
        public static let kommo = Code(.kommo)
        /// The checkpoint could not be read or written (a file's permissions, the database).
        public static let checkpointFailed = Code(.checkpointFailed)
        /// The pipeline does not serve the account.
        public static let accountNotServed = Code(.accountNotServed)
        /// The window holds more pages than ``CatchUpConfiguration/maxPages``: give a shorter window.
        public static let tooManyEvents = Code(.tooManyEvents)
        /// The pipeline is shutting down.
        public static let shutdown = Code(.shutdown)
        /// Another instance sharing the checkpoint store is catching the account up now
        /// (``CatchUpCheckpointStore/holdRun(_:owner:for:)``): its run moves the checkpoint. Not a failure: a
        /// scheduled run tries again at its next interval.
        public static let runningElsewhere = Code(.runningElsewhere)

        /// The code's stable name.
        public var description: String { base.rawValue }
    }

    /// What failed.
    public let code: Code
    /// A sentence about what failed and what to do (never a secret or personal data).
    public let detail: String
    /// The error that caused it, when there is one.
    public let underlyingError: (any Error & Sendable)?

    /// An error.
    public init(code: Code, detail: String, underlyingError: (any Error & Sendable)? = nil) {
        self.code = code
        self.detail = detail
        self.underlyingError = underlyingError
    }

    /// What failed and why, with the cause's own description.
    public var description: String {
        guard let underlyingError else { return "\(code): \(detail)" }
        return "\(code): \(detail): \(underlyingError)"
    }
}

extension LeadEvent {
    /// The webhook item that reports the same change as an event of Kommo's log, so that both go through the same
    /// claim, fetch, map and delivery, with the same ``KommoChange`` and message ids.
    ///
    /// | Event type | Item |
    /// | --- | --- |
    /// | `lead_status_changed` | `leads[status]`: old and new stage and pipeline |
    /// | `entity_responsible_changed` | `leads[responsible]`: old and new responsible user |
    /// | `lead_added` | `leads[add]` |
    /// | `lead_deleted` | `leads[delete]` |
    /// | `lead_restored` | `leads[restore]` |
    ///
    /// The event's `created_at` becomes `updated_at`, the time a webhook item's change carries. `nil` for an event of
    /// another entity or type, or a status or owner event without its values.
    public init?(catchUp event: KommoEvent) {
        guard event.entityType == "lead" else { return nil }
        let time = event.createdAt
        switch event.type {
        case .leadStatusChanged:
            guard let before = event.statusBefore, let after = event.statusAfter else { return nil }
            self.init(action: .status, id: event.entityID, statusID: after.statusID, pipelineID: after.pipelineID,
                      oldStatusID: before.statusID, oldPipelineID: before.pipelineID, accountID: event.accountID,
                      updatedAt: time)
        case .entityResponsibleChanged:
            guard let owner = event.responsibleAfter else { return nil }
            self.init(action: .responsible, id: event.entityID, responsibleUserID: owner,
                      oldResponsibleUserID: event.responsibleBefore, accountID: event.accountID, updatedAt: time)
        case .leadAdded:
            self.init(action: .add, id: event.entityID, accountID: event.accountID, createdAt: time, updatedAt: time)
        case .leadDeleted:
            self.init(action: .delete, id: event.entityID, accountID: event.accountID, updatedAt: time)
        case .leadRestored:
            self.init(action: .restore, id: event.entityID, accountID: event.accountID, updatedAt: time)
        default:
            return nil
        }
    }
}
