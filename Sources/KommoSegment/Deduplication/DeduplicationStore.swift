import Foundation

/// Remembers which Kommo changes have been processed, so that a redelivered webhook is not fetched and mapped again,
/// and which change of each lead is the newest applied, so that a late webhook does not undo a newer state.
///
/// This is the second layer of idempotency; the first is the deterministic message ids that Segment drops as
/// repeats (`Documentation/MessageIDs.md`). The life cycle of one change's ``DeduplicationKey``:
///
/// 1. ``claim(_:for:)`` before any work. `.claimed(token)` means: go ahead, you own the key for the claim's
///    duration. `.inFlight` means another worker is processing the same change now; `.alreadyDone` means it was
///    processed. Either way, do nothing more.
/// 2. ``complete(_:token:retention:)`` once the change's messages are delivered, deliberately skipped, or failed for
///    good: the key is then done for the retention (24 hours by default, the same window as Segment's).
/// 3. ``release(_:token:)`` instead when the work failed in a way a retry could fix: the claim is deleted, so the
///    next delivery of the change is processed, never dropped.
///
/// Ordering is kept per lead with ``recordChangeTime(_:for:retention:)`` and ``newestChangeTime(for:)``.
///
/// Every operation is atomic with respect to every other operation on the same key, across every process that
/// shares the store. ``InMemoryDeduplicationStore`` serves one process; `Documentation/Idempotency.md` shows how to
/// back the protocol with Redis for several instances. Operations may throw (a shared store can be unreachable);
/// the recommended reaction to a thrown error is to process the change anyway and rely on the message ids.
public protocol DeduplicationStore: Sendable {
    /// Atomically claims `key` for `duration` if nobody holds it.
    ///
    /// - Returns: `.claimed(token)` with a fresh unique token if the key was absent or its claim had expired;
    ///   `.alreadyDone` if the key is marked done; `.inFlight` if another claim is live.
    func claim(_ key: DeduplicationKey, for duration: Duration) async throws -> DeduplicationClaim

    /// Marks `key` done for `retention`, provided `token` still owns the claim.
    ///
    /// If the claim expired and nobody claimed the key since, the key is marked done as well (the work is done, and
    /// nobody else holds the key). If another worker claimed the key after the expiry, or marked it done, nothing is
    /// changed: another owner's claim or marker is never overwritten.
    @discardableResult
    func complete(_ key: DeduplicationKey, token: String, retention: Duration) async throws -> DeduplicationCompletion

    /// Deletes the claim on `key` if `token` still owns it, so that the next delivery of the change is processed.
    ///
    /// - Returns: Whether a live claim owned by `token` was deleted. `false` when the claim had expired, another
    ///   worker holds the key, or it is done; none of those is touched.
    @discardableResult
    func release(_ key: DeduplicationKey, token: String) async throws -> Bool

    /// Extends the claim on `key` to `duration` from now, provided `token` still owns a live claim.
    ///
    /// The pipeline renews its claims every third of their duration while it works, so that a short claim (60 s by
    /// default) outlives slow work but a crashed worker's claims expire soon. A store that cannot renew answers
    /// `false`: its claims then last their original duration, so give the pipeline a longer ``KommoSegmentPipeline/Configuration/claimDuration``.
    /// - Returns: Whether the claim was extended.
    func renew(_ key: DeduplicationKey, token: String, for duration: Duration) async throws -> Bool

    /// Atomically records `time` as the newest change time of `entity` if it is at least the stored one.
    ///
    /// - Parameters:
    ///   - time: When the change happened, in Unix seconds.
    ///   - entity: The lead (or other entity) the change belongs to.
    ///   - retention: How long the stored time is kept after this call when it is replaced.
    /// - Returns: `true` if `time` is the newest (no time stored, or `time` >= the stored one; the stored time is
    ///   then `time` with a fresh retention); `false` if a newer change was already applied, which is left as it is.
    ///   Equal times count as newest: two changes in the same second are both applied.
    @discardableResult
    func recordChangeTime(_ time: Int64, for entity: DeduplicationEntityKey, retention: Duration) async throws -> Bool

    /// The newest change time recorded for `entity` (Unix seconds), or `nil` if none is stored or it expired.
    func newestChangeTime(for entity: DeduplicationEntityKey) async throws -> Int64?

    /// Which of `keys` the store knows now: done within their retention, or held by a live claim.
    ///
    /// The pipeline asks it before claiming a lead change, with the keys of the same change at the neighbouring
    /// seconds, so that one change reported at slightly different times by a webhook and by Kommo's events log is
    /// processed once, with the first one's ids (``KommoSegmentPipeline/Configuration/changeTimeTolerance``).
    /// The default implementation knows none, which turns that matching off: only equal times then match.
    func knownKeys(among keys: [DeduplicationKey]) async throws -> Set<DeduplicationKey>
}

/// The answer to ``DeduplicationStore/claim(_:for:)``.
public enum DeduplicationClaim: Sendable, Hashable {
    /// The caller owns the key until the claim expires; the token proves it to `complete` and `release`.
    case claimed(String)
    /// Another worker holds a live claim on the key: the change is being processed now. Do nothing.
    case inFlight
    /// The change was processed (delivered, skipped or failed for good) within the retention. Do nothing.
    case alreadyDone

    /// The token, if the key was claimed.
    public var token: String? {
        if case .claimed(let token) = self { return token }
        return nil
    }
}

/// The answer to ``DeduplicationStore/complete(_:token:retention:)``.
public enum DeduplicationCompletion: Sendable, Hashable {
    /// The key is now done: the token owned the live claim, or the claim had expired and nobody held the key.
    case completed
    /// The claim had expired and another worker claimed the key since: its claim was left untouched.
    case claimedByAnother
    /// The key was already done (another worker completed it after this claim expired): left untouched.
    case alreadyDone
}

/// Default durations of the deduplication store.
public enum DeduplicationDefaults {
    /// How long a done key and a lead's newest change time are kept: 24 hours, as long as Segment drops a repeated
    /// message id.
    public static let retention: Duration = .seconds(24 * 60 * 60)

    /// How long a claim lasts unless completed, released or renewed: 60 seconds. The pipeline renews its claims
    /// while it works, so a crashed worker's changes are taken over within about a minute.
    public static let claimDuration: Duration = .seconds(60)
}

extension DeduplicationStore {
    /// Knows none of `keys`: a store that does not implement the lookup matches changes at equal times only.
    public func knownKeys(among keys: [DeduplicationKey]) async throws -> Set<DeduplicationKey> { [] }

    /// Claims `key` for ``DeduplicationDefaults/claimDuration``.
    public func claim(_ key: DeduplicationKey) async throws -> DeduplicationClaim {
        try await claim(key, for: DeduplicationDefaults.claimDuration)
    }

    /// Marks `key` done for ``DeduplicationDefaults/retention`` if `token` still owns it.
    @discardableResult
    public func complete(_ key: DeduplicationKey, token: String) async throws -> DeduplicationCompletion {
        try await complete(key, token: token, retention: DeduplicationDefaults.retention)
    }

    /// Records `time` for `entity`, kept for ``DeduplicationDefaults/retention``.
    @discardableResult
    public func recordChangeTime(_ time: Int64, for entity: DeduplicationEntityKey) async throws -> Bool {
        try await recordChangeTime(time, for: entity, retention: DeduplicationDefaults.retention)
    }
}
