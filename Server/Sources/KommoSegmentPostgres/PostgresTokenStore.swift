import Foundation
import KommoSegment
import Logging
import PostgresNIO

/// OAuth tokens for one Kommo account in `kommo_segment_tokens`, shared by every instance, with one refresh at a time
/// across them.
///
/// Kommo replaces the refresh token on every refresh, so instances that each refresh on their own lock one another
/// out. ``refreshExclusively(replacing:refresh:)`` therefore takes an advisory lock for the account in a transaction
/// (`pg_advisory_xact_lock`), reads the stored pair, and refreshes only if it is still the stale one; an instance
/// that waited on the lock reads the pair the first one stored, and makes no request. The new pair is written in the
/// same transaction, so it is committed before any instance uses it.
///
/// Errors are ``KommoAPIError/Code/tokenStoreFailed`` with the ``PostgresStoreError`` as the cause; never a token.
public struct PostgresTokenStore: KommoTokenStore, CustomStringConvertible {
    /// The database.
    public let database: KommoSegmentDatabase
    /// The account's key (its host, such as `acme.kommo.com`).
    public let account: String

    /// A store for `account`'s tokens.
    public init(database: KommoSegmentDatabase, account: String) {
        self.database = database
        self.account = account
    }

    /// `PostgresTokenStore(account)`.
    public var description: String { "PostgresTokenStore(\(account))" }

    /// The stored pair, or `nil` when none is stored.
    public func load() async throws -> KommoTokenPair? {
        do {
            return try await database.tuples("""
                SELECT access_token, refresh_token, expires_at FROM kommo_segment_tokens WHERE account = \(account)
                """, as: (String, String, Date).self, operation: "reading the Kommo tokens")
                .first.map { KommoTokenPair(accessToken: $0.0, refreshToken: $0.1, expiresAt: $0.2) }
        } catch {
            throw Self.failure(error)
        }
    }

    /// Stores `pair` (an authorization, or a pair obtained elsewhere).
    public func save(_ pair: KommoTokenPair) async throws {
        do {
            try await database.execute(Self.upsert(account, pair), operation: "storing the Kommo tokens")
        } catch {
            throw Self.failure(error)
        }
    }

    /// Refreshes under the account's advisory lock, unless another instance already replaced `stale`.
    public func refreshExclusively(replacing stale: KommoTokenPair,
                                   refresh: @Sendable (KommoTokenPair) async throws -> KommoTokenPair) async throws
        -> KommoTokenPair {
        let logger = database.logger
        let account = self.account
        let client = database.client
        let database = self.database
        do {
            // The deadline covers the wait for another instance's refresh and this one's token request (15 s). The
            // closure does not outlive this call: the deadline's task group ends before it returns.
            return try await withoutActuallyEscaping(refresh) { refresh in
            try await database.withDeadline("refreshing the Kommo tokens", timeout: .seconds(60)) {
            try await client.withTransaction(logger: logger) { connection -> KommoTokenPair in
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(\(KommoSegmentDatabase.migrationLock.0), hashtext(\(account)))",
                    logger: logger)
                var stored: KommoTokenPair?
                for try await (access, refreshToken, expiry) in try await connection.query("""
                    SELECT access_token, refresh_token, expires_at FROM kommo_segment_tokens WHERE account = \(account)
                    """, logger: logger).decode((String, String, Date).self) {
                    stored = KommoTokenPair(accessToken: access, refreshToken: refreshToken, expiresAt: expiry)
                }
                if let stored, stored.accessToken != stale.accessToken { return stored }
                let fresh = try await refresh(stored ?? stale)
                try await connection.query(Self.upsert(account, fresh), logger: logger)
                return fresh
            }
            }
            }
        } catch let error as PostgresStoreError {
            // A failed token request comes back as the cause: pass it on as it is (a dead grant must stay one).
            if let cause = error.underlyingError as? KommoAPIError { throw cause }
            throw Self.failure(error)
        } catch {
            throw Self.failure(error)
        }
    }

    private static func upsert(_ account: String, _ pair: KommoTokenPair) -> PostgresQuery {
        """
        INSERT INTO kommo_segment_tokens (account, access_token, refresh_token, expires_at, updated_at)
        VALUES (\(account), \(pair.accessToken), \(pair.refreshToken), \(pair.expiresAt), now())
        ON CONFLICT (account) DO UPDATE SET access_token = excluded.access_token,
            refresh_token = excluded.refresh_token, expires_at = excluded.expires_at, updated_at = now()
        """
    }

    private static func failure(_ error: any Error) -> KommoAPIError {
        let store = PostgresStoreError.from(error, operation: "using the Kommo token store")
        return KommoAPIError(code: .tokenStoreFailed, detail: "PostgreSQL: \(store.detail)", underlyingError: store)
    }
}
