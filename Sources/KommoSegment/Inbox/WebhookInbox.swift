import Foundation

/// One webhook as Kommo handed it over, kept until every item in it is delivered, skipped or a duplicate.
///
/// Records hold deal and contact data (the raw body): an inbox deletes a record once it is done, and keeps dead
/// letters only for a limited time.
public struct InboxRecord: Sendable, Hashable {
    /// The format version written by this release. A newer release reads every older version.
    public static let currentVersion = 1

    /// The record's id: unique, and ordered by arrival (sorting ids sorts records oldest first).
    public var id: String
    /// The format version the record was written with.
    public var version: Int
    /// The Kommo account the webhook belongs to.
    public var accountID: Int64
    /// When the webhook arrived.
    public var receivedAt: Date
    /// The request's `Content-Type` header.
    public var contentType: String?
    /// The raw request body.
    public var body: Data
    /// Processing attempts that ended in a passing failure so far.
    public var attempts: Int
    /// Why the last attempt failed: a code and a static detail, never a body value.
    public var lastFailure: String?
    /// The record is not tried again before this date (the backoff after a passing failure).
    public var notBefore: Date?

    /// Creates a record.
    public init(id: String, version: Int = InboxRecord.currentVersion, accountID: Int64, receivedAt: Date,
                contentType: String?, body: Data, attempts: Int = 0, lastFailure: String? = nil,
                notBefore: Date? = nil) {
        self.id = id
        self.version = version
        self.accountID = accountID
        self.receivedAt = receivedAt
        self.contentType = contentType
        self.body = body
        self.attempts = attempts
        self.lastFailure = lastFailure
        self.notBefore = notBefore
    }

    /// A new id for a record received at `date`: the time in milliseconds, zero-padded so that ids sort by
    /// arrival, then a random suffix.
    public static func makeID(receivedAt date: Date,
                              random: @Sendable () -> UInt64 = { UInt64.random(in: .min ... .max) }) -> String {
        let milliseconds = max(0, Int64((date.timeIntervalSince1970 * 1_000).rounded(.down)))
        let time = String(milliseconds)
        let suffix = String(random(), radix: 16)
        return String(repeating: "0", count: max(0, 15 - time.count)) + time + "-"
            + String(repeating: "0", count: max(0, 16 - suffix.count)) + suffix
    }
}

/// A worker's exclusive hold on one record, for a limited time.
public struct InboxLease: Sendable, Hashable {
    /// The record held.
    public var recordID: String
    /// Proves the hold: only the holder of the token can renew, complete, retry or dead-letter the record.
    public var token: String
    /// When the hold ends unless renewed; another worker may then take the record over.
    public var expiresAt: Date

    /// Creates a lease.
    public init(recordID: String, token: String, expiresAt: Date) {
        self.recordID = recordID
        self.token = token
        self.expiresAt = expiresAt
    }
}

/// A record that failed for good, kept with its reason until it is queued again or purged.
public struct InboxDeadLetter: Sendable, Hashable {
    /// The record as it was last tried.
    public var record: InboxRecord
    /// Why it failed for good: a code and a static detail, never a body value.
    public var reason: String
    /// When it became a dead letter.
    public var deadAt: Date

    /// Creates a dead letter.
    public init(record: InboxRecord, reason: String, deadAt: Date) {
        self.record = record
        self.reason = reason
        self.deadAt = deadAt
    }
}

/// What an inbox holds, for metrics and alerts.
public struct InboxStatus: Sendable, Hashable {
    /// Records pending (leased or not).
    public var pending: Int
    /// When the oldest pending record arrived; `nil` when none is pending.
    public var oldestPendingReceivedAt: Date?
    /// Dead letters kept.
    public var deadLetters: Int
    /// Bytes on storage, records and dead letters together.
    public var bytes: Int64

    /// Creates a status.
    public init(pending: Int, oldestPendingReceivedAt: Date?, deadLetters: Int, bytes: Int64) {
        self.pending = pending
        self.oldestPendingReceivedAt = oldestPendingReceivedAt
        self.deadLetters = deadLetters
        self.bytes = bytes
    }
}

/// Where webhooks are kept between the acknowledgement and their delivery, so that a crash, a restart or a failing
/// Kommo or Segment loses none of them.
///
/// An implementation must be safe for several workers at once, in one process or several: ``lease(_:for:)`` gives
/// a record to one worker at a time, and a lease that expires lets another worker take the record over.
public protocol WebhookInbox: Sendable {
    /// Stores the record durably: returns only once it is on stable storage.
    /// - Throws: ``InboxError`` with code ``InboxError/Code/full`` when the inbox is at its size limit (answer 503 so
    ///   that Kommo retries), or ``InboxError/Code/storage`` when the storage failed.
    func append(_ record: InboxRecord) async throws(InboxError)

    /// The ids of the records pending, oldest first, at most `limit` of them, with those held by a live lease or
    /// waiting for their backoff (``InboxRecord/notBefore``) included.
    func pending(limit: Int) async throws(InboxError) -> [String]

    /// Takes the record for `duration`: the record and the lease, or `nil` when the record is gone, is a dead
    /// letter, or another worker holds a lease on it that has not expired.
    func lease(_ id: String, for duration: Duration) async throws(InboxError) -> (InboxRecord, InboxLease)?

    /// Extends a lease; `nil` when the lease was lost (expired and taken over, or the record is gone).
    func renew(_ lease: InboxLease, for duration: Duration) async throws(InboxError) -> InboxLease?

    /// Gives the record back untouched, for another worker or a later attempt (the lease was taken but the work not
    /// started: the record's backoff has not passed, the pipeline is busy or shutting down).
    func release(_ lease: InboxLease) async throws(InboxError)

    /// The record is done: every item delivered, skipped or a duplicate. The record is deleted.
    func complete(_ lease: InboxLease) async throws(InboxError)

    /// The attempt failed in passing: keep the record, count the attempt, and do not try it before `notBefore`.
    func retryLater(_ lease: InboxLease, failure: String, notBefore: Date) async throws(InboxError)

    /// The record failed for good: move it to the dead letters with its reason.
    func deadLetter(_ lease: InboxLease, reason: String) async throws(InboxError)

    /// The dead letters kept, oldest first.
    func deadLetters() async throws(InboxError) -> [InboxDeadLetter]

    /// Queues a dead letter again, with its attempts reset; `false` when there is no such dead letter.
    func requeue(deadLetter id: String) async throws(InboxError) -> Bool

    /// Deletes the dead letters that died before `date`; returns how many.
    func purgeDeadLetters(diedBefore date: Date) async throws(InboxError) -> Int

    /// What the inbox holds now.
    func status() async throws(InboxError) -> InboxStatus
}

/// An inbox operation that failed.
public struct InboxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case full, storage, corrupt, leaseLost, unsupportedVersion
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The inbox is at its size limit: the webhook is answered 503 so that Kommo retries later.
        public static let full = Code(.full)
        /// Reading or writing the storage failed (disk, permissions, database).
        public static let storage = Code(.storage)
        /// A record could not be read back intact (torn write, bad checksum); it was moved aside.
        public static let corrupt = Code(.corrupt)
        /// The lease expired and another worker took the record over, or the record is gone.
        public static let leaseLost = Code(.leaseLost)
        /// The record was written by a newer release, in a format this one does not know.
        public static let unsupportedVersion = Code(.unsupportedVersion)

        /// The code's stable name.
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// What happened and what to do, without body values or secrets.
    public let detail: String
    /// The error underneath (a file system or database error), when there is one.
    public let underlyingError: (any Error & Sendable)?

    /// Creates an error.
    public init(code: Code, detail: String, underlyingError: (any Error & Sendable)? = nil) {
        self.code = code
        self.detail = detail
        self.underlyingError = underlyingError
    }

    /// The code, the detail and the cause.
    public var description: String {
        guard let underlyingError else { return "inbox \(code): \(detail)" }
        return "inbox \(code): \(detail): \(underlyingError)"
    }

    /// Equal when code, detail and the cause's description are equal.
    public static func == (lhs: InboxError, rhs: InboxError) -> Bool {
        lhs.code == rhs.code && lhs.detail == rhs.detail && causesMatch(lhs.underlyingError, rhs.underlyingError)
    }

    /// Hashes the code and the detail.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(detail)
    }
}
