import Foundation
import PostgresNIO

/// A PostgreSQL store operation that failed: which operation, why, and the driver's error as the cause.
///
/// It never holds a password, a token or a webhook body: the detail names the operation and the server's SQLSTATE and
/// message, which PostgreSQL writes without the statement's parameters.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's name.
        public var description: String { rawValue }

        /// `DATABASE_URL` cannot be used.
        public static let invalidURL = Code(rawValue: "invalidURL")
        /// The database cannot be reached (connection refused or lost, the pool closed): a passing failure.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The server refused a statement (see the detail's SQLSTATE).
        public static let refused = Code(rawValue: "refused")
        /// The schema could not be created or migrated.
        public static let migration = Code(rawValue: "migration")
        /// A row does not hold what this release expects.
        public static let corrupt = Code(rawValue: "corrupt")
    }

    /// What went wrong.
    public let code: Code
    /// The operation, for example `claiming a deduplication key`.
    public let operation: String
    /// What failed, without secrets or body values.
    public let detail: String
    /// The server's SQLSTATE when it refused a statement (`53100`: disk full), else `nil`.
    public let sqlState: String?
    /// The driver's error, when there is one.
    public let underlyingError: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, operation: String, detail: String, sqlState: String? = nil,
                underlyingError: (any Error & Sendable)? = nil) {
        self.code = code
        self.operation = operation
        self.detail = detail
        self.sqlState = sqlState
        self.underlyingError = underlyingError
    }

    /// `PostgreSQL: OPERATION failed (CODE): DETAIL`, and what to do.
    public var description: String {
        let advice = code == .unavailable ? " It is retried; check that the database is up and reachable." : ""
        return "PostgreSQL: \(operation) failed (\(code)): \(detail).\(advice)"
    }

    /// The error for a driver error thrown during `operation`.
    static func from(_ error: any Error, operation: String) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        if let error = error as? PostgresTransactionError,
           let cause = error.closureError ?? error.beginError ?? error.commitError {
            return from(cause, operation: operation)
        }
        if let error = error as? PSQLError {
            if error.code == .server {
                let state = error.serverInfo?[.sqlState] ?? "?"
                let message = error.serverInfo?[.message] ?? "no message"
                return PostgresStoreError(.refused, operation: operation, detail: "SQLSTATE \(state): \(message)",
                                          sqlState: error.serverInfo?[.sqlState], underlyingError: error)
            }
            return PostgresStoreError(.unavailable, operation: operation,
                                      detail: "the connection failed (\(error.code))", underlyingError: error)
        }
        if error is CancellationError {
            return PostgresStoreError(.unavailable, operation: operation, detail: "cancelled", underlyingError: error)
        }
        return PostgresStoreError(.unavailable, operation: operation, detail: "\(type(of: error))",
                                  underlyingError: error)
    }
}
