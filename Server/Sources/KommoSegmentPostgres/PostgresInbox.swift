import Foundation
import KommoSegment
import PostgresNIO

/// The webhook inbox on PostgreSQL, shared by every instance: a record that a crashed instance left behind is
/// finished by another.
///
/// - **Append** is one `INSERT`, committed before it returns, so before the webhook is answered 200.
/// - **Lease** is one `UPDATE` of a row picked with `FOR UPDATE SKIP LOCKED`, taken only when nobody holds a live
///   lease; a lease expires on the database's clock, so a dead instance's records are taken over once it lapses.
/// - Every later step (renew, release, complete, retry, dead letter) names the lease's token and changes nothing
///   when another worker holds the record: ``InboxError/Code/leaseLost``.
/// - Dead letters stay in the table (`dead_at` set) until queued again or purged.
///
/// Failures are ``InboxError``s: `storage` with the ``PostgresStoreError`` as the cause (the pipeline answers 503
/// while the database is down, and the keeper retries), `full` when the server reports a full disk.
public struct PostgresInbox: WebhookInbox {
    /// The database.
    public let database: KommoSegmentDatabase
    private let makeToken: @Sendable () -> String

    /// An inbox on `database` (migrated with ``KommoSegmentDatabase/migrate()``).
    ///
    /// - Parameter makeToken: the lease tokens' source; random UUIDs by default.
    public init(database: KommoSegmentDatabase, makeToken: @escaping @Sendable () -> String = { UUID().uuidString }) {
        self.database = database
        self.makeToken = makeToken
    }

    /// Inserts the record; returns once the insert is committed.
    public func append(_ record: InboxRecord) async throws(InboxError) {
        try await run("keeping a webhook") { () async throws(PostgresStoreError) in
            try await database.execute("""
                INSERT INTO kommo_segment_inbox (id, version, account_id, received_at, content_type, body, attempts,
                    last_failure, not_before)
                VALUES (\(record.id), \(Int64(record.version)), \(record.accountID), \(record.receivedAt),
                    \(record.contentType), \(ByteBuffer(bytes: record.body)), \(Int64(record.attempts)), \(record.lastFailure),
                    \(record.notBefore))
                """, operation: "keeping a webhook")
        }
    }

    /// The ids of pending records, oldest first.
    public func pending(limit: Int) async throws(InboxError) -> [String] {
        try await run("listing pending webhooks") { () async throws(PostgresStoreError) in
            try await database.rows("""
                SELECT id FROM kommo_segment_inbox WHERE dead_at IS NULL ORDER BY id LIMIT \(Int64(max(limit, 0)))
                """, as: String.self, operation: "listing pending webhooks")
        }
    }

    /// Takes the record for `duration` if nobody holds a live lease on it (and no other transaction is taking it).
    public func lease(_ id: String, for duration: Duration) async throws(InboxError) -> (InboxRecord, InboxLease)? {
        let token = makeToken()
        let rows = try await run("leasing a webhook") { () async throws(PostgresStoreError) in
            try await database.tuples("""
                UPDATE kommo_segment_inbox SET lease_token = \(token),
                    lease_expires_at = clock_timestamp() + make_interval(secs => \(duration.secondsValue))
                WHERE id = (
                    SELECT id FROM kommo_segment_inbox
                    WHERE id = \(id) AND dead_at IS NULL
                        AND (lease_expires_at IS NULL OR lease_expires_at <= clock_timestamp())
                    FOR UPDATE SKIP LOCKED)
                RETURNING id, version, account_id, received_at, content_type, body, attempts, last_failure,
                    not_before, lease_expires_at
                """, as: (String, Int64, Int64, Date, String?, Data, Int64, String?, Date?, Date).self,
                operation: "leasing a webhook")
        }
        guard let row = rows.first else { return nil }
        let record = InboxRecord(id: row.0, version: Int(row.1), accountID: row.2, receivedAt: row.3,
                                 contentType: row.4, body: row.5, attempts: Int(row.6), lastFailure: row.7,
                                 notBefore: row.8)
        guard record.version <= InboxRecord.currentVersion else {
            // Give it back for a release that can read it.
            try await release(InboxLease(recordID: id, token: token, expiresAt: row.9))
            throw InboxError(code: .unsupportedVersion, detail: "record \(id) has format version \(record.version); "
                + "this release reads up to \(InboxRecord.currentVersion). Upgrade this instance")
        }
        return (record, InboxLease(recordID: id, token: token, expiresAt: row.9))
    }

    /// Extends the lease while the token still holds the record.
    public func renew(_ lease: InboxLease, for duration: Duration) async throws(InboxError) -> InboxLease? {
        let rows = try await run("renewing a lease") { () async throws(PostgresStoreError) in
            try await database.rows("""
                UPDATE kommo_segment_inbox
                SET lease_expires_at = clock_timestamp() + make_interval(secs => \(duration.secondsValue))
                WHERE id = \(lease.recordID) AND lease_token = \(lease.token) AND dead_at IS NULL
                RETURNING lease_expires_at
                """, as: Date.self, operation: "renewing a lease")
        }
        return rows.first.map { InboxLease(recordID: lease.recordID, token: lease.token, expiresAt: $0) }
    }

    /// Gives the record back untouched.
    public func release(_ lease: InboxLease) async throws(InboxError) {
        try await updateHeld(lease, operation: "releasing a webhook", """
            UPDATE kommo_segment_inbox SET lease_token = NULL, lease_expires_at = NULL
            WHERE id = \(lease.recordID) AND lease_token = \(lease.token) RETURNING 1::int8
            """)
    }

    /// Deletes the record (it holds personal data).
    public func complete(_ lease: InboxLease) async throws(InboxError) {
        try await updateHeld(lease, operation: "completing a webhook", """
            DELETE FROM kommo_segment_inbox WHERE id = \(lease.recordID) AND lease_token = \(lease.token)
            RETURNING 1::int8
            """)
    }

    /// Counts the attempt, keeps the failure and the backoff, and gives the record back.
    public func retryLater(_ lease: InboxLease, failure: String, notBefore: Date) async throws(InboxError) {
        try await updateHeld(lease, operation: "scheduling a retry", """
            UPDATE kommo_segment_inbox SET attempts = attempts + 1, last_failure = \(failure),
                not_before = \(notBefore), lease_token = NULL, lease_expires_at = NULL
            WHERE id = \(lease.recordID) AND lease_token = \(lease.token) RETURNING 1::int8
            """)
    }

    /// Makes the record a dead letter, with its reason.
    public func deadLetter(_ lease: InboxLease, reason: String) async throws(InboxError) {
        try await updateHeld(lease, operation: "keeping a dead letter", """
            UPDATE kommo_segment_inbox SET dead_reason = \(reason), dead_at = clock_timestamp(), lease_token = NULL,
                lease_expires_at = NULL
            WHERE id = \(lease.recordID) AND lease_token = \(lease.token) RETURNING 1::int8
            """)
    }

    /// The dead letters, oldest first.
    public func deadLetters() async throws(InboxError) -> [InboxDeadLetter] {
        let rows = try await run("listing dead letters") { () async throws(PostgresStoreError) in
            try await database.tuples("""
                SELECT id, version, account_id, received_at, content_type, body, attempts, last_failure, not_before,
                    dead_reason, dead_at
                FROM kommo_segment_inbox WHERE dead_at IS NOT NULL ORDER BY id
                """, as: (String, Int64, Int64, Date, String?, Data, Int64, String?, Date?, String?, Date).self,
                operation: "listing dead letters")
        }
        return rows.map { row in
            InboxDeadLetter(record: InboxRecord(id: row.0, version: Int(row.1), accountID: row.2, receivedAt: row.3,
                                                contentType: row.4, body: row.5, attempts: Int(row.6),
                                                lastFailure: row.7, notBefore: row.8),
                            reason: row.9 ?? "", deadAt: row.10)
        }
    }

    /// Queues a dead letter again with its attempts reset.
    public func requeue(deadLetter id: String) async throws(InboxError) -> Bool {
        let rows = try await run("queueing a dead letter again") { () async throws(PostgresStoreError) in
            try await database.rows("""
                UPDATE kommo_segment_inbox SET dead_at = NULL, dead_reason = NULL, attempts = 0, last_failure = NULL,
                    not_before = NULL, lease_token = NULL, lease_expires_at = NULL
                WHERE id = \(id) AND dead_at IS NOT NULL RETURNING 1::int8
                """, as: Int64.self, operation: "queueing a dead letter again")
        }
        return !rows.isEmpty
    }

    /// Deletes the dead letters that died before `date`.
    public func purgeDeadLetters(diedBefore date: Date) async throws(InboxError) -> Int {
        let rows = try await run("purging dead letters") { () async throws(PostgresStoreError) in
            try await database.rows("""
                WITH gone AS (DELETE FROM kommo_segment_inbox WHERE dead_at IS NOT NULL AND dead_at < \(date)
                    RETURNING 1)
                SELECT count(*)::int8 FROM gone
                """, as: Int64.self, operation: "purging dead letters")
        }
        return Int(rows.first ?? 0)
    }

    /// Pending records, the oldest one's arrival, dead letters and the bodies' bytes.
    public func status() async throws(InboxError) -> InboxStatus {
        let rows = try await run("reading the inbox's status") { () async throws(PostgresStoreError) in
            try await database.tuples("""
                SELECT count(*) FILTER (WHERE dead_at IS NULL)::int8,
                    min(received_at) FILTER (WHERE dead_at IS NULL),
                    count(*) FILTER (WHERE dead_at IS NOT NULL)::int8,
                    coalesce(sum(octet_length(body)), 0)::int8
                FROM kommo_segment_inbox
                """, as: (Int64, Date?, Int64, Int64).self, operation: "reading the inbox's status")
        }
        let row = rows.first ?? (0, nil, 0, 0)
        return InboxStatus(pending: Int(row.0), oldestPendingReceivedAt: row.1, deadLetters: Int(row.2),
                           bytes: row.3)
    }

    // MARK: - Internals

    /// Runs a statement that must change the row the lease holds: none changed means the lease was lost.
    private func updateHeld(_ lease: InboxLease, operation: String, _ query: PostgresQuery) async throws(InboxError) {
        let rows = try await run(operation) { () async throws(PostgresStoreError) in
            try await database.rows(query, as: Int64.self, operation: operation)
        }
        guard !rows.isEmpty else {
            throw InboxError(code: .leaseLost, detail: "record \(lease.recordID) is held by another worker or gone")
        }
    }

    /// Runs `body`, turning a store error into an ``InboxError``: `full` for a full disk (SQLSTATE 53100), `storage`
    /// otherwise, with the store error as the cause.
    private func run<T>(_ operation: String, _ body: () async throws(PostgresStoreError) -> T)
        async throws(InboxError) -> T {
        do {
            return try await body()
        } catch {
            if error.sqlState == "53100" {
                throw InboxError(code: .full, detail: "the database's disk is full; the webhook is answered 503",
                                 underlyingError: error)
            }
            throw InboxError(code: .storage, detail: "\(operation) in PostgreSQL failed (\(error.code))",
                             underlyingError: error)
        }
    }
}
