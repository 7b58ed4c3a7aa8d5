import Foundation
import KommoSegment
import PostgresNIO

/// The deduplication store on PostgreSQL, shared by every instance: a redelivered webhook that reaches another
/// instance finds its change claimed or done.
///
/// Each operation is one statement, atomic under concurrency (`INSERT … ON CONFLICT … DO UPDATE … WHERE`, whose
/// conflict check and update take the row's lock), and every expiry is computed on the database's clock, so the
/// instances share one clock. The table `kommo_segment_dedup_keys` holds a key's state (`claimed` with a token, or
/// `done`) and its expiry; `kommo_segment_change_times` each lead's newest applied change time. Expired rows count as
/// absent; ``purgeExpired(limit:)`` deletes them.
///
/// Errors are ``PostgresStoreError``; the pipeline then processes the change anyway and relies on the message ids.
public struct PostgresDeduplicationStore: DeduplicationStore {
    /// The database.
    public let database: KommoSegmentDatabase
    private let makeToken: @Sendable () -> String

    /// A store on `database` (migrated with ``KommoSegmentDatabase/migrate()``).
    ///
    /// - Parameter makeToken: the claim tokens' source; random UUIDs by default.
    public init(database: KommoSegmentDatabase, makeToken: @escaping @Sendable () -> String = { UUID().uuidString }) {
        self.database = database
        self.makeToken = makeToken
    }

    /// Claims `key`: one statement that inserts the claim, or takes over an expired one, or leaves a live one.
    public func claim(_ key: DeduplicationKey, for duration: Duration) async throws -> DeduplicationClaim {
        let token = makeToken()
        let seconds = duration.secondsValue
        // The outer SELECT reads the row as it was before the statement: its state says why nothing was claimed.
        let rows = try await database.tuples("""
            WITH claimed AS (
                INSERT INTO kommo_segment_dedup_keys AS k (key, state, token, expires_at)
                VALUES (\(key.rawValue), 'claimed', \(token), clock_timestamp() + make_interval(secs => \(seconds)))
                ON CONFLICT (key) DO UPDATE SET state = 'claimed', token = excluded.token,
                    expires_at = excluded.expires_at
                WHERE k.expires_at <= clock_timestamp()
                RETURNING k.token)
            SELECT (SELECT token FROM claimed), (SELECT state FROM kommo_segment_dedup_keys WHERE key = \(key.rawValue))
            """, as: (String?, String?).self, operation: "claiming a deduplication key")
        let (claimedToken, previousState) = rows.first ?? (nil, nil)
        if claimedToken == token { return .claimed(token) }
        return previousState == "done" ? .alreadyDone : .inFlight
    }

    /// Marks `key` done if `token` owns its claim, or nobody holds it (expired or absent).
    @discardableResult
    public func complete(_ key: DeduplicationKey, token: String, retention: Duration) async throws
        -> DeduplicationCompletion {
        let rows = try await database.tuples("""
            WITH done AS (
                INSERT INTO kommo_segment_dedup_keys AS k (key, state, token, expires_at)
                VALUES (\(key.rawValue), 'done', NULL,
                        clock_timestamp() + make_interval(secs => \(retention.secondsValue)))
                ON CONFLICT (key) DO UPDATE SET state = 'done', token = NULL, expires_at = excluded.expires_at
                WHERE (k.state = 'claimed' AND k.token = \(token)) OR k.expires_at <= clock_timestamp()
                RETURNING 1)
            SELECT (SELECT count(*) FROM done)::int8,
                   (SELECT state FROM kommo_segment_dedup_keys WHERE key = \(key.rawValue))
            """, as: (Int64, String?).self, operation: "completing a deduplication key")
        let (changed, previousState) = rows.first ?? (0, nil)
        if changed > 0 { return .completed }
        return previousState == "done" ? .alreadyDone : .claimedByAnother
    }

    /// Deletes the claim on `key` if `token` owns it and it is live.
    @discardableResult
    public func release(_ key: DeduplicationKey, token: String) async throws -> Bool {
        let rows = try await database.rows("""
            DELETE FROM kommo_segment_dedup_keys
            WHERE key = \(key.rawValue) AND state = 'claimed' AND token = \(token) AND expires_at > clock_timestamp()
            RETURNING 1::int8
            """, as: Int64.self, operation: "releasing a deduplication key")
        return !rows.isEmpty
    }

    /// Extends the claim on `key` if `token` owns it and it is live.
    public func renew(_ key: DeduplicationKey, token: String, for duration: Duration) async throws -> Bool {
        let rows = try await database.rows("""
            UPDATE kommo_segment_dedup_keys
            SET expires_at = clock_timestamp() + make_interval(secs => \(duration.secondsValue))
            WHERE key = \(key.rawValue) AND state = 'claimed' AND token = \(token) AND expires_at > clock_timestamp()
            RETURNING 1::int8
            """, as: Int64.self, operation: "renewing a deduplication claim")
        return !rows.isEmpty
    }

    /// Records `time` as `entity`'s newest change time if it is at least the stored one (or the stored one expired).
    @discardableResult
    public func recordChangeTime(_ time: Int64, for entity: DeduplicationEntityKey, retention: Duration) async throws
        -> Bool {
        let rows = try await database.rows("""
            INSERT INTO kommo_segment_change_times AS c (entity, change_time, expires_at)
            VALUES (\(entity.rawValue), \(time), clock_timestamp() + make_interval(secs => \(retention.secondsValue)))
            ON CONFLICT (entity) DO UPDATE SET change_time = excluded.change_time, expires_at = excluded.expires_at
            WHERE c.change_time <= excluded.change_time OR c.expires_at <= clock_timestamp()
            RETURNING 1::int8
            """, as: Int64.self, operation: "recording a change time")
        return !rows.isEmpty
    }

    /// The newest live change time of `entity`.
    public func newestChangeTime(for entity: DeduplicationEntityKey) async throws -> Int64? {
        try await database.rows("""
            SELECT change_time FROM kommo_segment_change_times
            WHERE entity = \(entity.rawValue) AND expires_at > clock_timestamp()
            """, as: Int64.self, operation: "reading a change time").first
    }

    /// The keys among `keys` that are claimed or done now, in one statement: how the pipeline finds the same change
    /// reported at a neighbouring second by a webhook and by Kommo's events log, whichever instance saw it first.
    public func knownKeys(among keys: [DeduplicationKey]) async throws -> Set<DeduplicationKey> {
        guard !keys.isEmpty else { return [] }
        let wanted = keys.map(\.rawValue)
        let found = try await database.rows("""
            SELECT key FROM kommo_segment_dedup_keys
            WHERE key = ANY(\(wanted)) AND expires_at > clock_timestamp()
            """, as: String.self, operation: "looking up deduplication keys")
        let known = Set(found)
        return Set(keys.filter { known.contains($0.rawValue) })
    }

    /// Deletes up to `limit` expired keys and change times; returns how many. Run it now and then (the server does,
    /// every few minutes): expired rows already count as absent, so this only keeps the tables small.
    @discardableResult
    public func purgeExpired(limit: Int = 10_000) async throws -> Int {
        var removed = 0
        for table in ["kommo_segment_dedup_keys", "kommo_segment_change_times"] {
            let key = table == "kommo_segment_dedup_keys" ? "key" : "entity"
            removed += try await database.rows(PostgresQuery(unsafeSQL: """
                WITH gone AS (
                    DELETE FROM \(table) WHERE \(key) IN (
                        SELECT \(key) FROM \(table) WHERE expires_at <= clock_timestamp() LIMIT \(max(limit, 1)))
                    RETURNING 1)
                SELECT count(*)::int8 FROM gone
                """), as: Int64.self, operation: "purging expired keys").reduce(0) { $0 + Int($1) }
        }
        return removed
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
