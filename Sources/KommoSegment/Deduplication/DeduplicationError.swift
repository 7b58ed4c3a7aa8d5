import Foundation

/// A failure of a ``DeduplicationStore``, for implementations backed by a shared store such as Redis.
///
/// ``InMemoryDeduplicationStore`` never throws. A shared store throws this (or its client's own error) when it cannot
/// answer; the recommended reaction is to process the change anyway and rely on the deterministic message ids, which
/// Segment de-duplicates for about 24 hours. Never put credentials (a Redis password or URL with a password) into
/// ``detail``.
public struct DeduplicationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as an open set of codes.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The store could not be reached (connection refused or lost, failover in progress).
        public static let unavailable = Code(rawValue: "unavailable")
        /// The store did not answer in time.
        public static let timedOut = Code(rawValue: "timedOut")
        /// The store answered something the implementation did not expect (a wrong type, an unknown script result).
        public static let unexpectedReply = Code(rawValue: "unexpectedReply")
        /// An argument was out of range.
        public static let invalidArgument = Code(rawValue: "invalidArgument")

        /// The code's name.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The operation that failed: `claim`, `complete`, `release`, `recordChangeTime` or `newestChangeTime`.
    public var operation: String
    /// The key involved (a ``DeduplicationKey`` or ``DeduplicationEntityKey`` string), if any. Keys hold no secrets.
    public var key: String?
    /// A short explanation, without credentials.
    public var detail: String

    /// Creates an error.
    public init(code: Code, operation: String, key: String? = nil, detail: String) {
        self.code = code
        self.operation = operation
        self.key = key
        self.detail = detail
    }

    /// What happened, and what to do about it.
    public var description: String {
        var text = "Deduplication store: \(operation) failed"
        if let key { text += " for \(key)" }
        text += ": "
        switch code {
        case .unavailable:
            text += "the store is unavailable (\(detail)). Check its address and health"
        case .timedOut:
            text += "the store did not answer in time (\(detail)). Check its load and the network"
        case .unexpectedReply:
            text += "unexpected reply (\(detail)). Check that the store's scripts and version match this SDK"
        case .invalidArgument:
            text += "invalid argument (\(detail)). Fix the caller"
        default:
            text += "\(code) (\(detail))"
        }
        text += "; until it is fixed, process changes anyway and rely on message ids to drop repeats."
        return text
    }
}
