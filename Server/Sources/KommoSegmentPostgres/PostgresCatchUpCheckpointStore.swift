import Foundation
import KommoSegment
import PostgresNIO

/// Catch-up checkpoints in PostgreSQL (`kommo_segment_catchup_checkpoints`), shared by every instance, with the
/// lease that lets one instance at a time catch an account up.
///
/// Each operation is one statement, atomic under concurrency, and leases expire on the database's clock:
/// - ``advance(_:to:)`` keeps the greater of the stored and the new time (`GREATEST`), so runs finishing out of
///   order never move a checkpoint back;
/// - ``holdRun(_:owner:for:)`` takes the lease when nobody holds a live one, or extends its owner's;
/// - ``endRun(_:owner:)`` lets the next run begin at once; a killed instance's lease lapses after its duration.
///
/// Errors are ``CatchUpError/Code/checkpointFailed`` with the ``PostgresStoreError`` as the cause.
public struct PostgresCatchUpCheckpointStore: CatchUpCheckpointStore {
    /// The database.
    public let database: KommoSegmentDatabase

    /// A store on `database` (migrated with ``KommoSegmentDatabase/migrate()``).
    public init(database: KommoSegmentDatabase) {
        self.database = database
    }

    /// The account's checkpoint, or `nil` when no run has moved it yet.
    public func checkpoint(for accountID: Int64) async throws -> Int64? {
        do {
            let rows = try await database.rows("""
                SELECT checkpoint FROM kommo_segment_catchup_checkpoints WHERE account_id = \(accountID)
                """, as: Int64?.self, operation: "reading a catch-up checkpoint")
            return rows.first ?? nil
        } catch {
            throw Self.failure(error, "the catch-up checkpoint could not be read from PostgreSQL")
        }
    }

    /// Moves the account's checkpoint forward to `time`, never back.
    @discardableResult
    public func advance(_ accountID: Int64, to time: Int64) async throws -> Int64 {
        do {
            let rows = try await database.rows("""
                INSERT INTO kommo_segment_catchup_checkpoints AS c (account_id, checkpoint, updated_at)
                VALUES (\(accountID), \(time), now())
                ON CONFLICT (account_id) DO UPDATE
                    SET checkpoint = GREATEST(coalesce(c.checkpoint, excluded.checkpoint), excluded.checkpoint),
                        updated_at = now()
                RETURNING checkpoint
                """, as: Int64.self, operation: "moving a catch-up checkpoint")
            return rows.first ?? time
        } catch {
            throw Self.failure(error, "the catch-up checkpoint could not be moved in PostgreSQL")
        }
    }

    /// Takes the account's lease for `owner` if nobody holds a live one, or extends `owner`'s, for `duration` on the
    /// database's clock.
    public func holdRun(_ accountID: Int64, owner: String, for duration: Duration) async throws -> Bool {
        let seconds = duration.secondsValue
        do {
            let rows = try await database.rows("""
                INSERT INTO kommo_segment_catchup_checkpoints AS c (account_id, run_owner, run_expires_at)
                VALUES (\(accountID), \(owner), clock_timestamp() + make_interval(secs => \(seconds)))
                ON CONFLICT (account_id) DO UPDATE
                    SET run_owner = excluded.run_owner, run_expires_at = excluded.run_expires_at
                WHERE c.run_owner IS NULL OR c.run_owner = excluded.run_owner
                    OR c.run_expires_at <= clock_timestamp()
                RETURNING 1::int8
                """, as: Int64.self, operation: "taking the catch-up lease")
            return !rows.isEmpty
        } catch {
            throw Self.failure(error, "the catch-up lease could not be taken in PostgreSQL")
        }
    }

    /// Ends `owner`'s lease on the account.
    public func endRun(_ accountID: Int64, owner: String) async throws {
        do {
            try await database.execute("""
                UPDATE kommo_segment_catchup_checkpoints SET run_owner = NULL, run_expires_at = NULL
                WHERE account_id = \(accountID) AND run_owner = \(owner)
                """, operation: "ending the catch-up lease")
        } catch {
            throw Self.failure(error, "the catch-up lease could not be ended in PostgreSQL")
        }
    }

    private static func failure(_ error: any Error, _ detail: String) -> CatchUpError {
        let store = PostgresStoreError.from(error, operation: "using the catch-up checkpoint store")
        return CatchUpError(code: .checkpointFailed, detail: "\(detail): \(store.detail)", underlyingError: store)
    }
}
