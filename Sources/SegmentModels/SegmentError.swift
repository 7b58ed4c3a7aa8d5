import SDKCore

/// Everything that can go wrong on the Segment side: a message refused before it is queued, or a batch that could
/// not be delivered.
///
/// The shape of async-http-client's errors: a struct over a private code, so new codes never break callers; an
/// immutable ``code``; the cause in ``underlyingError`` (the transport error of a failed attempt, or the last
/// attempt's error once retrying stopped); and context (status, attempts, `Retry-After`, a body excerpt). The write
/// key never appears in an error or its description.
public struct SegmentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong: an open set of codes compared with `==` (a `switch` over them needs a `default`).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case missingIdentity, missingEvent, missingGroupID, missingPreviousID, invalidMessageID, invalidType
            case messageTooLarge
            case queueFull, shutDown, undelivered, alreadyRunning
            case transientFailure, rateLimited, rejected, retriesExhausted, invalidConfiguration
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The code's stable name, for example `retriesExhausted`.
        public var description: String { base.rawValue }

        // Validation (before anything is queued).
        /// The message has neither `userId` nor `anonymousId` (or an `alias` lacks `userId`).
        public static let missingIdentity = Code(.missingIdentity)
        /// A `track` has an empty or missing `event`.
        public static let missingEvent = Code(.missingEvent)
        /// A `group` has an empty or missing `groupId`.
        public static let missingGroupID = Code(.missingGroupID)
        /// An `alias` has an empty or missing `previousId`.
        public static let missingPreviousID = Code(.missingPreviousID)
        /// The `messageId` is empty or longer than 100 characters.
        public static let invalidMessageID = Code(.invalidMessageID)
        /// The `type` is not one of Segment's six call types.
        public static let invalidType = Code(.invalidType)
        /// The serialized message is larger than 32 KB (32,768 bytes of UTF-8 JSON).
        public static let messageTooLarge = Code(.messageTooLarge)

        // Queue.
        /// The queue is full and the message was rejected (non-waiting enqueue).
        public static let queueFull = Code(.queueFull)
        /// The queue is shutting down or shut down and accepts no more messages.
        public static let shutDown = Code(.shutDown)
        /// The message was not delivered because the queue stopped first: shutdown's deadline passed, or the queue's
        /// `run()` was cancelled (``SegmentError/detail`` says which).
        public static let undelivered = Code(.undelivered)
        /// The queue's `run()` was called while another `run()` of the same queue was in progress.
        public static let alreadyRunning = Code(.alreadyRunning)

        // Delivery.
        /// One attempt failed in a way that may pass (a retryable status such as 5xx, 408, 460, or a network error;
        /// ``SegmentError/underlyingError`` is then the transport error).
        public static let transientFailure = Code(.transientFailure)
        /// Segment answered 429; ``SegmentError/retryAfter`` says how long it asked to wait, when it did.
        public static let rateLimited = Code(.rateLimited)
        /// Segment refused the batch with a status that is not retried (400, 401, 403, 404, 413, 422, 3xx, 501...).
        public static let rejected = Code(.rejected)
        /// Retrying stopped (attempt limit or total deadline) with the batch still undelivered;
        /// ``SegmentError/underlyingError`` is the last attempt's error (a ``transientFailure`` or ``rateLimited``).
        public static let retriesExhausted = Code(.retriesExhausted)
        /// The request could not be built (for example an invalid endpoint URL).
        public static let invalidConfiguration = Code(.invalidConfiguration)
    }

    /// What went wrong.
    public let code: Code
    /// A sentence with the specifics (never the write key).
    public let detail: String
    /// The HTTP status of the last response, when there was one.
    public let status: Int?
    /// The start of the last response body (at most 512 bytes of UTF-8, without the write key), for diagnosis.
    public let responseBody: String?
    /// How many HTTP attempts were made for the batch.
    public let attempts: Int?
    /// Whether trying again later may succeed (transient failures that ran out of retries).
    public let isTransient: Bool
    /// How long the server asked to wait before the next attempt (`Retry-After`), when it did; the queue honours it
    /// on a 429.
    public let retryAfter: Duration?
    /// The error that caused this one, when there is one: the transport error of an attempt without a response
    /// (scrubbed of the write key), or, for ``Code/retriesExhausted`` and a delivery stopped by shutdown or
    /// cancellation, the last attempt's ``SegmentError``. Not part of ``description``.
    public let underlyingError: (any Error)?

    /// Creates an error.
    public init(code: Code, detail: String, status: Int? = nil, responseBody: String? = nil, attempts: Int? = nil,
                isTransient: Bool = false, retryAfter: Duration? = nil, underlyingError: (any Error)? = nil) {
        self.code = code
        self.detail = detail
        self.status = status
        self.responseBody = responseBody
        self.attempts = attempts
        self.isTransient = isTransient
        self.retryAfter = retryAfter
        self.underlyingError = underlyingError
    }

    /// The same error with the number of attempts made for its batch (the queue knows it, the client does not).
    package func with(attempts: Int) -> SegmentError {
        SegmentError(code: code, detail: detail, status: status, responseBody: responseBody, attempts: attempts,
                     isTransient: isTransient, retryAfter: retryAfter, underlyingError: underlyingError)
    }

    /// Equal when every field and the cause's description are equal.
    public static func == (lhs: SegmentError, rhs: SegmentError) -> Bool {
        lhs.code == rhs.code && lhs.detail == rhs.detail && lhs.status == rhs.status
            && lhs.responseBody == rhs.responseBody && lhs.attempts == rhs.attempts
            && lhs.isTransient == rhs.isTransient && lhs.retryAfter == rhs.retryAfter
            && causesMatch(lhs.underlyingError, rhs.underlyingError)
    }

    /// Hashes code, detail, status and attempts.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(detail)
        hasher.combine(status)
        hasher.combine(attempts)
    }

    /// What happened and what to do.
    public var description: String {
        var text = "Segment \(code): \(detail)"
        if let status { text += " (HTTP \(status))" }
        if let attempts { text += " after \(attempts) attempt\(attempts == 1 ? "" : "s")" }
        text += ". " + advice
        if let responseBody, !responseBody.isEmpty { text += " Response: \(responseBody)" }
        return text
    }

    private var advice: String {
        switch code {
        case .missingIdentity: "Set userID or anonymousID (alias needs userID and previousID)."
        case .missingEvent: "Give the track call a non-empty event name."
        case .missingGroupID: "Give the group call a non-empty group id."
        case .missingPreviousID: "Give the alias call the previous id."
        case .invalidMessageID: "Use a message id of 1 to 100 characters, or leave it nil to have one generated."
        case .invalidType: "Use one of identify, track, page, screen, group, alias."
        case .messageTooLarge: "Send fewer or shorter properties/traits; Segment refuses messages over 32 KB."
        case .queueFull: "Delivery is behind; use the waiting enqueue for backpressure or raise maxQueueSize."
        case .shutDown: "The queue was shut down; create a new one to send more."
        case .undelivered:
            "The queue stopped before delivering them; store these messages and send them again later."
        case .rejected:
            switch status {
            case 401?, 403?: "Check the write key and that it belongs to this region (US/EU)."
            case 404?: "Check the endpoint; on RudderStack a 404 means the source is disabled."
            case 400?, 413?, 422?: "The batch was malformed or too large; this is reported, not retried."
            default: "The status is not retryable; check the endpoint configuration."
            }
        case .retriesExhausted: "Segment or the network stayed unavailable; the messages were not delivered."
        case .invalidConfiguration: "Check the endpoint URL."
        case .alreadyRunning: "Run the queue's run() once, in one task group or service group."
        case .transientFailure: "The attempt may pass later; the queue retries it."
        case .rateLimited: "Segment asked to slow down; the queue waits and retries."
        default: ""
        }
    }
}
