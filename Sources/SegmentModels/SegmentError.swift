/// Everything that can go wrong on the Segment side: a message refused before it is queued, or a batch that could
/// not be delivered.
///
/// Extensible: ``code`` is an open set. The write key never appears in an error or its description.
public struct SegmentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's name.
        public var description: String { rawValue }

        // Validation (before anything is queued).
        /// The message has neither `userId` nor `anonymousId` (or an `alias` lacks `userId`).
        public static let missingIdentity = Code(rawValue: "missingIdentity")
        /// A `track` has an empty or missing `event`.
        public static let missingEvent = Code(rawValue: "missingEvent")
        /// A `group` has an empty or missing `groupId`.
        public static let missingGroupID = Code(rawValue: "missingGroupID")
        /// An `alias` has an empty or missing `previousId`.
        public static let missingPreviousID = Code(rawValue: "missingPreviousID")
        /// The `messageId` is empty or longer than 100 characters.
        public static let invalidMessageID = Code(rawValue: "invalidMessageID")
        /// The `type` is not one of Segment's six call types.
        public static let invalidType = Code(rawValue: "invalidType")
        /// The serialized message is larger than 32 KB (32,768 bytes of UTF-8 JSON).
        public static let messageTooLarge = Code(rawValue: "messageTooLarge")

        // Queue.
        /// The queue is full and the message was rejected (non-waiting enqueue).
        public static let queueFull = Code(rawValue: "queueFull")
        /// The queue is shutting down or shut down and accepts no more messages.
        public static let shutDown = Code(rawValue: "shutDown")
        /// Shutdown's deadline passed before the message could be delivered.
        public static let undelivered = Code(rawValue: "undelivered")

        // Delivery.
        /// Segment refused the batch with a status that is not retried (400, 401, 403, 404, 413, 422, 3xx, 501...).
        public static let rejected = Code(rawValue: "rejected")
        /// Retrying stopped (attempt limit or total deadline) with the batch still undelivered.
        public static let retriesExhausted = Code(rawValue: "retriesExhausted")
        /// The request could not be built (for example an invalid endpoint URL).
        public static let invalidConfiguration = Code(rawValue: "invalidConfiguration")
    }

    /// What went wrong.
    public var code: Code
    /// A sentence with the specifics (never the write key).
    public var detail: String
    /// The HTTP status of the last response, when there was one.
    public var status: Int?
    /// The start of the last response body (at most 512 bytes), for diagnosis.
    public var responseBody: String?
    /// How many HTTP attempts were made for the batch.
    public var attempts: Int?
    /// Whether trying again later may succeed (transient failures that ran out of retries).
    public var isTransient: Bool
    /// How long the server asked to wait before the next attempt (`Retry-After` on a 429), when it did.
    public var retryAfter: Duration?

    /// Creates an error.
    public init(code: Code, detail: String, status: Int? = nil, responseBody: String? = nil, attempts: Int? = nil,
                isTransient: Bool = false) {
        self.code = code
        self.detail = detail
        self.status = status
        self.responseBody = responseBody
        self.attempts = attempts
        self.isTransient = isTransient
        retryAfter = nil
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
        case .undelivered: "The shutdown deadline passed; store these messages and send them again later."
        case .rejected:
            switch status {
            case 401?, 403?: "Check the write key and that it belongs to this region (US/EU)."
            case 404?: "Check the endpoint; on RudderStack a 404 means the source is disabled."
            case 400?, 413?, 422?: "The batch was malformed or too large; this is reported, not retried."
            default: "The status is not retryable; check the endpoint configuration."
            }
        case .retriesExhausted: "Segment or the network stayed unavailable; the messages were not delivered."
        case .invalidConfiguration: "Check the endpoint URL."
        default: ""
        }
    }
}
