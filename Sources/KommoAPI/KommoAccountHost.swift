import Foundation
import HTTPCore

/// The base URL of one Kommo account (`https://acme.kommo.com`), checked before any token is sent to it.
///
/// Three ways to get one:
/// - ``init(subdomain:parentDomain:)`` builds `https://{subdomain}.kommo.com` (or another parent domain).
/// - ``init(url:)`` trusts an explicit URL you configured yourself (a proxy, a test server). It must be `https`,
///   or `http` on a loopback host (`127.0.0.1`, `::1`, `localhost`); a path prefix is kept.
/// - ``init(validating:allowedParentDomains:)`` accepts a host learned from Kommo's traffic — the webhook's
///   `account[_links][self]` or the OAuth redirect's `referer` — only when it is an `https` host strictly under an
///   allowed parent domain (by default `kommo.com`, `amocrm.ru`, `amocrm.com`). A forged webhook therefore cannot
///   make the client send a token elsewhere.
public struct KommoAccountHost: Sendable, Hashable, CustomStringConvertible {
    /// The parent domains of Kommo and amoCRM account hosts.
    public static let defaultParentDomains = ["kommo.com", "amocrm.ru", "amocrm.com"]

    /// The base URL, without a trailing slash (`https://acme.kommo.com`).
    public let baseURL: URL

    /// The account host for `subdomain` under `parentDomain` (default `kommo.com`).
    ///
    /// - Throws: ``KommoAPIError/Code/invalidURL`` when the subdomain or domain is not a valid host name part.
    public init(subdomain: String, parentDomain: String = "kommo.com") throws {
        let sub = subdomain.lowercased()
        let parent = parentDomain.lowercased()
        guard Self.isValidLabel(sub) else {
            throw KommoAPIError(code: .invalidURL, detail: "'\(subdomain)' is not a valid subdomain")
        }
        guard !parent.isEmpty, parent.split(separator: ".", omittingEmptySubsequences: false)
            .allSatisfy({ Self.isValidLabel(String($0)) }) else {
            throw KommoAPIError(code: .invalidURL, detail: "'\(parentDomain)' is not a valid domain")
        }
        var components = URLComponents()
        components.scheme = "https"
        components.host = "\(sub).\(parent)"
        guard let url = components.url else {
            throw KommoAPIError(code: .invalidURL, detail: "cannot build a URL for '\(subdomain)'")
        }
        baseURL = url
    }

    /// An explicitly configured base URL (trusted): `https`, or `http` on a loopback host; a path prefix is kept.
    ///
    /// - Throws: ``KommoAPIError/Code/invalidURL`` (no host, user info, query or fragment) or
    ///   ``KommoAPIError/Code/insecureURL`` (plain `http` to a non-loopback host).
    public init(url: URL) throws {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
              let scheme = components.scheme?.lowercased(), let host = components.host?.lowercased(),
              !host.isEmpty else {
            throw KommoAPIError(code: .invalidURL, detail: "'\(url.redactedForLogs)' has no scheme or host")
        }
        guard components.user == nil, components.password == nil, components.query == nil,
              components.fragment == nil else {
            throw KommoAPIError(code: .invalidURL,
                                detail: "a base URL may not carry user info, a query or a fragment")
        }
        switch scheme {
        case "https": break
        case "http" where Self.isLoopback(host): break
        case "http":
            throw KommoAPIError(code: .insecureURL, detail: "http://\(host) is not a loopback host")
        default:
            throw KommoAPIError(code: .invalidURL, detail: "scheme '\(scheme)' is not http(s)")
        }
        var normalized = URLComponents()
        normalized.scheme = scheme
        normalized.host = components.host
        normalized.port = components.port
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        normalized.percentEncodedPath = path
        guard let result = normalized.url else {
            throw KommoAPIError(code: .invalidURL, detail: "cannot normalize '\(url.redactedForLogs)'")
        }
        baseURL = result
    }

    /// An explicitly configured base URL given as text; see ``init(url:)``.
    public init(url: String) throws {
        guard let parsed = URL(string: url) else {
            throw KommoAPIError(code: .invalidURL, detail: "'\(url)' is not a URL")
        }
        try self.init(url: parsed)
    }

    /// A host taken from Kommo's traffic (`account[_links][self]` such as `https://acme.kommo.com`, or an OAuth
    /// `referer` such as `acme.kommo.com`), accepted only under an allowed parent domain.
    ///
    /// Rules: scheme `https` (a bare host is read as `https`); no user info; no port other than 443; the host must
    /// be strictly below one of `allowedParentDomains` (not the domain itself, not `www.`). An allow-list entry that
    /// is a loopback host is accepted as an exact match over `http` or `https`, for tests. Path, query and fragment
    /// are dropped: the base URL is the origin.
    ///
    /// - Throws: ``KommoAPIError/Code/hostNotAllowed``, ``KommoAPIError/Code/insecureURL`` or
    ///   ``KommoAPIError/Code/invalidURL``.
    public init(validating text: String, allowedParentDomains: [String] = KommoAccountHost.defaultParentDomains) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let withScheme = trimmed.contains("://") ? trimmed : "https://" + trimmed
        guard let components = URLComponents(string: withScheme), let scheme = components.scheme?.lowercased(),
              let rawHost = components.host, !rawHost.isEmpty else {
            throw KommoAPIError(code: .invalidURL, detail: "'\(Self.shortened(trimmed))' is not a host or URL")
        }
        let host = rawHost.lowercased()
        guard components.user == nil, components.password == nil else {
            throw KommoAPIError(code: .hostNotAllowed, detail: "the URL carries user info")
        }
        let allowed = allowedParentDomains.map { $0.lowercased() }
        if Self.isLoopback(host), allowed.contains(host) {
            guard scheme == "http" || scheme == "https" else {
                throw KommoAPIError(code: .invalidURL, detail: "scheme '\(scheme)' is not http(s)")
            }
        } else {
            guard scheme == "https" else {
                throw KommoAPIError(code: .insecureURL, detail: "'\(host)' must be reached over https")
            }
            guard components.port == nil || components.port == 443 else {
                throw KommoAPIError(code: .hostNotAllowed, detail: "'\(host)' with a non-standard port")
            }
            let labels = host.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard labels.allSatisfy(Self.isValidLabel) else {
                throw KommoAPIError(code: .hostNotAllowed, detail: "'\(Self.shortened(host))' is not a valid host name")
            }
            let underAllowed = allowed.contains { parent in
                !parent.isEmpty && host.hasSuffix("." + parent)
            }
            guard underAllowed, labels.first != "www" else {
                throw KommoAPIError(code: .hostNotAllowed,
                                    detail: "'\(Self.shortened(host))' is not an account host under "
                                        + allowed.joined(separator: ", "))
            }
        }
        var origin = URLComponents()
        origin.scheme = scheme
        origin.host = host
        origin.port = Self.isLoopback(host) ? components.port : nil
        guard let url = origin.url else {
            throw KommoAPIError(code: .invalidURL, detail: "cannot build a URL for '\(Self.shortened(host))'")
        }
        baseURL = url
    }

    /// The base URL as text.
    public var description: String { baseURL.absoluteString }

    /// The host name (`acme.kommo.com`).
    public var host: String { baseURL.host ?? "" }

    /// The URL of `path` (starting with `/`) under the base URL, with an already percent-encoded query.
    func url(path: String, percentEncodedQuery: String? = nil) throws -> URL {
        guard var components = URLComponents(url: baseURL, resolvingAgainstBaseURL: false) else {
            throw KommoAPIError(code: .invalidURL, detail: "cannot use base URL \(baseURL.redactedForLogs)")
        }
        components.percentEncodedPath += path
        components.percentEncodedQuery = percentEncodedQuery
        guard let url = components.url else {
            throw KommoAPIError(code: .invalidURL, detail: "cannot build a URL for \(path)")
        }
        return url
    }

    /// Whether `url` has this host's scheme, host and port (so a token may be sent to it).
    func owns(_ url: URL) -> Bool {
        guard let a = URLComponents(url: baseURL, resolvingAgainstBaseURL: false),
              let b = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return false }
        return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased()
            && a.port == b.port && b.user == nil && b.password == nil
    }

    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return h == "localhost" || h == "::1" || h == "127.0.0.1" || h.hasPrefix("127.")
            && h.split(separator: ".").count == 4 && h.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    static func isValidLabel(_ label: String) -> Bool {
        guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
        return label.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    static func shortened(_ text: String) -> String {
        text.count > 100 ? String(text.prefix(100)) + "…" : text
    }
}
