import Foundation

/// A PostgreSQL connection URL, `postgres://user[:password]@host[:port]/database[?sslmode=…]`, as `DATABASE_URL`
/// holds it.
///
/// The password is percent-decoded and never shown: ``description`` prints the URL without it. `sslmode` takes
/// libpq's values; without it, libpq's default applies (`prefer`: TLS when the server offers it, without verifying
/// the certificate).
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// How TLS is used, with libpq's meanings.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        /// Never TLS.
        case disable
        /// TLS when the server offers it (libpq: try plain first); treated as `prefer`.
        case allow
        /// TLS when the server offers it, else plain; the certificate is not verified. The default.
        case prefer
        /// TLS or no connection; the certificate is not verified.
        case require
        /// TLS, with the certificate verified against the system's trusted roots, but not the host name.
        case verifyCA = "verify-ca"
        /// TLS, with the certificate and the host name verified.
        case verifyFull = "verify-full"
    }

    /// The server's host name or address.
    public var host: String
    /// The server's port; 5432 by default.
    public var port: Int
    /// The user name.
    public var user: String
    /// The password, if any.
    public var password: String?
    /// The database name; the user's name when the URL names none (as libpq does).
    public var database: String
    /// How TLS is used.
    public var sslMode: SSLMode

    /// Parses `text`.
    ///
    /// - Throws: ``PostgresStoreError`` with code `invalidURL`, saying what is wrong; never quoting the password.
    public init(_ text: String) throws(PostgresStoreError) {
        func fail(_ detail: String) -> PostgresStoreError {
            PostgresStoreError(.invalidURL, operation: "reading DATABASE_URL", detail: detail)
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw fail("it is not a URL; write postgres://user[:password]@host:port/database[?sslmode=…]")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw fail("the scheme must be postgres:// or postgresql://, not \(scheme)://")
        }
        guard let host = components.host, !host.isEmpty else { throw fail("the URL names no host") }
        guard let user = components.user, !user.isEmpty else { throw fail("the URL names no user") }
        self.host = host
        port = components.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? self.user : (path.removingPercentEncoding ?? path)
        sslMode = .prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = SSLMode(rawValue: value) else {
                    throw fail("sslmode must be one of " + SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
                        + ", not '\(item.value ?? "")'")
                }
                sslMode = mode
            case "application_name", "connect_timeout":
                continue
            default:
                throw fail("the parameter '\(item.name)' is not supported (only sslmode)")
            }
        }
    }

    /// `postgres://user@host:port/database?sslmode=…`, without the password.
    public var description: String {
        "postgres://\(user)\(password == nil ? "" : ":<redacted>")@\(host):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }
}
