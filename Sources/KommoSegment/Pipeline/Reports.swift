import Foundation
import KommoAPI
import SegmentAPI

/// What a webhook route should answer, decided before any Kommo request is made.
public struct WebhookAcknowledgement: Sendable, Hashable, CustomStringConvertible {
    /// The outcome of the cheap checks.
    public struct Outcome: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The outcome's stable name.
        public let rawValue: String
        /// Creates an outcome from its name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The outcome's name.
        public var description: String { rawValue }

        /// Verified and parsed; processing goes on in the background. Answer 200.
        public static let accepted = Outcome(rawValue: "accepted")
        /// The URL's secret is missing or wrong. Answer 401.
        public static let badSecret = Outcome(rawValue: "badSecret")
        /// The body names an account this pipeline does not serve (or not the one the secret belongs to). Answer 403.
        public static let otherAccount = Outcome(rawValue: "otherAccount")
        /// The body is not a Kommo webhook (see ``WebhookAcknowledgement/detail``). Answer 400.
        public static let malformed = Outcome(rawValue: "malformed")
        /// The body is larger than the parser's limit. Answer 413.
        public static let tooLarge = Outcome(rawValue: "tooLarge")
        /// The content type is not `application/x-www-form-urlencoded`. Answer 415.
        public static let unsupportedMediaType = Outcome(rawValue: "unsupportedMediaType")
        /// The pipeline is shutting down. Answer 503 (Kommo retries later).
        public static let shuttingDown = Outcome(rawValue: "shuttingDown")
        /// The pipeline already holds as many webhooks, or as many bytes, as it may
        /// (``KommoSegmentPipeline/Configuration/maxWebhooksInFlight``, ``KommoSegmentPipeline/Configuration/maxBytesInFlight``).
        /// Answer 503 (Kommo retries later).
        public static let busy = Outcome(rawValue: "busy")
        /// The inbox could not keep the webhook (full, or its storage failed), so it is not acknowledged. Answer 503
        /// (Kommo retries later).
        public static let inboxUnavailable = Outcome(rawValue: "inboxUnavailable")
    }

    /// What happened.
    public var outcome: Outcome
    /// The HTTP status the route should answer with.
    public var httpStatus: Int
    /// The account the webhook came from, when known.
    public var accountID: Int64?
    /// How many items the webhook carried (accepted only).
    public var eventCount: Int
    /// A short explanation, without secrets or body content.
    public var detail: String

    /// Whether the webhook was accepted.
    public var isAccepted: Bool { outcome == .accepted }

    /// The outcome and the status.
    public var description: String { "\(outcome) (HTTP \(httpStatus)): \(detail)" }

    static func rejected(_ outcome: Outcome, _ detail: String, accountID: Int64? = nil) -> WebhookAcknowledgement {
        let status: Int
        switch outcome {
        case .badSecret: status = 401
        case .otherAccount: status = 403
        case .tooLarge: status = 413
        case .unsupportedMediaType: status = 415
        case .shuttingDown, .busy, .inboxUnavailable: status = 503
        default: status = 400
        }
        return WebhookAcknowledgement(outcome: outcome, httpStatus: status, accountID: accountID, eventCount: 0,
                                      detail: detail)
    }
}

/// Why an event was not delivered: a Kommo, Segment or store failure, with the error that caused it.
///
/// The shape of async-http-client's errors: a struct over a private code, so new codes never break callers; an
/// immutable ``code``; the cause in ``underlyingError`` (a ``KommoAPIError`` or a ``SegmentError``, whose codes,
/// statuses and request ids tests and callers read directly).
public struct PipelineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What failed.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case kommo, segment, webhook, shutdown, alreadyRunning, claimedElsewhere, accountNotServed
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Reading from Kommo failed; ``PipelineError/underlyingError`` is the ``KommoAPIError`` (401, 402, 403,
        /// 429, 5xx, network).
        public static let kommo = Code(.kommo)
        /// Segment refused or never accepted the messages; ``PipelineError/underlyingError`` is the ``SegmentError``.
        public static let segment = Code(.segment)
        /// The webhook could not be verified or parsed (replays: a bad file).
        public static let webhook = Code(.webhook)
        /// The pipeline shut down, or its `run()` was cancelled, before the event was delivered.
        public static let shutdown = Code(.shutdown)
        /// `run()` was called while it was already running.
        public static let alreadyRunning = Code(.alreadyRunning)
        /// Another worker holds the item's claim (a redelivery that arrived while the first attempt was in flight).
        /// The item is not counted as a duplicate, since that attempt may still fail: with an inbox the record is
        /// tried again once the claim is completed or has expired.
        public static let claimedElsewhere = Code(.claimedElsewhere)
        /// An inbox record belongs to an account this pipeline no longer serves: it goes to the dead letters.
        public static let accountNotServed = Code(.accountNotServed)

        /// The code's stable name.
        public var description: String { base.rawValue }
    }

    /// What failed.
    public let code: Code
    /// A sentence about what failed (never a secret or a value from the body).
    public let detail: String
    /// The error that caused it, when there is one.
    public let underlyingError: (any Error & Sendable)?

    /// Creates an error.
    public init(code: Code, detail: String, underlyingError: (any Error & Sendable)? = nil) {
        self.code = code
        self.detail = detail
        self.underlyingError = underlyingError
    }

    /// The Kommo error behind this one, if any.
    public var kommoError: KommoAPIError? { underlyingError as? KommoAPIError }
    /// The Segment error behind this one, if any.
    public var segmentError: SegmentError? { underlyingError as? SegmentError }

    /// What failed and why, with the cause's own description (which carries no secrets).
    public var description: String {
        guard let underlyingError else { return "\(code): \(detail)" }
        return "\(code): \(detail): \(underlyingError)"
    }

    /// Equal when code, detail and the cause's description are equal.
    public static func == (lhs: PipelineError, rhs: PipelineError) -> Bool {
        lhs.code == rhs.code && lhs.detail == rhs.detail
            && causesMatch(lhs.underlyingError, rhs.underlyingError)
    }

    /// Hashes code and detail.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(detail)
    }
}

/// What became of one webhook item.
public enum EventOutcome: Sendable, Hashable {
    /// Every message was delivered to Segment.
    case delivered
    /// Nothing was sent, on purpose (the mapping's reasons).
    case skipped([SkipReason])
    /// Already processed or being processed (a redelivered webhook, or a status and an update item for the same
    /// change).
    case duplicate
    /// Something failed; the claim was released so that a redelivery is processed again.
    case failed(PipelineError)
}

/// The report of one webhook item.
public struct EventReport: Sendable, Hashable {
    /// The item's position in the webhook.
    public var index: Int
    /// The item, e.g. `leads[status] 24000017`.
    public var item: String
    /// What became of it.
    public var outcome: EventOutcome
    /// The messages sent (or that failed), in order.
    public var messages: [SegmentMessage]
    /// Calls the mapping left out (a partial skip, such as no `group` without a company).
    public var partialSkips: [SkipReason]
}

/// The report of one webhook processed to completion.
public struct WebhookReport: Sendable, Hashable {
    /// The acknowledgement the checks produced (a rejected webhook has no events).
    public var acknowledgement: WebhookAcknowledgement
    /// One report per item, in order.
    public var events: [EventReport]
    /// Notes written back to Kommo.
    public var notesWritten: Int
    /// Why writing notes failed, if it did (the events themselves are unaffected); its cause is the
    /// ``KommoAPIError``.
    public var noteError: PipelineError?

    /// Whether anything failed (a rejected webhook, or a failed event).
    public var hasFailures: Bool {
        !acknowledgement.isAccepted || events.contains { if case .failed = $0.outcome { true } else { false } }
    }
}

/// Counters of everything the pipeline did, readable at any time as a snapshot.
public struct PipelineCounters: Sendable, Hashable {
    /// Webhooks received.
    public var webhooks = 0
    /// Webhooks refused by the checks.
    public var webhooksRejected = 0
    /// Items processed.
    public var events = 0
    /// Items delivered.
    public var eventsDelivered = 0
    /// Items skipped on purpose.
    public var eventsSkipped = 0
    /// Items recognised as duplicates.
    public var eventsDuplicate = 0
    /// Items that failed.
    public var eventsFailed = 0
    /// Segment messages delivered.
    public var messagesDelivered = 0
    /// Segment messages that failed.
    public var messagesFailed = 0
    /// HTTP requests sent to Kommo, as the accounts' Kommo clients report them (``KommoClient/statistics``).
    public var kommoRequests = 0
    /// Reference-data reads (pipelines, users, account) answered from the client's cache.
    public var kommoCacheHits = 0
    /// Segment requests that were retries.
    public var segmentRetries = 0
    /// Notes written back to Kommo.
    public var notesWritten = 0
    /// Webhooks answered 503 because the pipeline held as many webhooks or bytes as it may.
    public var webhooksRefusedBusy = 0
    /// Webhooks answered 503 because the inbox could not keep them.
    public var inboxAppendFailures = 0
    /// Inbox records taken up again by ``KommoSegmentPipeline/run()`` (left by an earlier run, a crash, or a
    /// passing failure).
    public var inboxRecordsResumed = 0
    /// Inbox records done and deleted.
    public var inboxRecordsCompleted = 0
    /// Inbox records kept for another attempt after a passing failure.
    public var inboxRecordsRetried = 0
    /// Inbox records moved to the dead letters.
    public var inboxRecordsDeadLettered = 0
    /// Lead changes matched to the same change already known at a neighbouring second (a webhook and the events
    /// log disagreeing on the time), within ``KommoSegmentPipeline/Configuration/changeTimeTolerance``.
    public var changeTimesMatched = 0
    /// Catch-up runs finished, with or without failed events (``KommoSegmentPipeline/catchUp(_:progress:)``).
    public var catchUpRuns = 0
    /// Catch-up runs that stopped with an error (Kommo, the checkpoint store, shutdown).
    public var catchUpRunsFailed = 0
    /// Catch-up runs that did not start because another instance was catching the same account up
    /// (``CatchUpError/Code/runningElsewhere``).
    public var catchUpRunsDeferred = 0
    /// Events read from Kommo's events log, across pages.
    public var catchUpEventsRead = 0
    /// Pages of the events log read.
    public var catchUpPages = 0
    /// Lead changes recovered by catch-up: delivered, so the webhooks had missed them (or not yet brought them).
    public var catchUpRecovered = 0
    /// Lead changes catch-up found already processed (by a webhook, or an earlier catch-up).
    public var catchUpAlreadyProcessed = 0
    /// Lead changes catch-up skipped on purpose (a stage that did not change, a deleted lead...).
    public var catchUpSkipped = 0
    /// Lead changes catch-up could not deliver; the checkpoint stays before the first of them.
    public var catchUpFailed = 0
    /// Lead changes catch-up found in flight on another worker (``CatchUpReport/heldElsewhere``).
    public var catchUpHeldElsewhere = 0
    /// Won leads a backfill sent (``KommoSegmentPipeline/backfill(_:progress:)``).
    public var backfillLeadsSent = 0
}
