import Foundation

/// Sends one HTTP request and returns the response: the single seam between the SDK's clients and the network.
///
/// The SDK ships ``URLSessionTransport``; tests and services inject their own (a scripted fake, a transport built
/// on another HTTP client, a proxy that adds compression). Implementations must be safe to call concurrently.
///
/// A transport reports every HTTP status as a response, including 4xx and 5xx: deciding what a status means is the
/// caller's job. It throws ``HTTPTransportError`` only when no usable response arrived.
public protocol HTTPTransport: Sendable {
    /// Sends `request` with an optional `body` and returns the response head and the complete body.
    func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data)
}

/// A failure to complete an HTTP exchange: no response, or a response the SDK refuses to use.
///
/// The shape of async-http-client's errors: a struct over a private code, so new codes never break callers; an
/// immutable ``code``; context (the request, a refused status) and the cause in ``underlyingError``. Never carries
/// request headers or bodies, so credentials cannot leak through it.
public struct HTTPTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong: an open set of codes compared with `==` (a `switch` over them needs a `default`).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case timedOut, connectionFailed, redirectRefused, invalidResponse, invalidRequest, cancelled
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The request's total deadline passed before the response was complete.
        public static let timedOut = Code(.timedOut)
        /// The connection could not be made or broke (DNS, refused, reset, TLS).
        public static let connectionFailed = Code(.connectionFailed)
        /// The server answered with a redirect, which the SDK never follows so that credentials stay on one host.
        public static let redirectRefused = Code(.redirectRefused)
        /// The answer was not a usable HTTP response.
        public static let invalidResponse = Code(.invalidResponse)
        /// The request could not be built (for example a URL the platform rejects).
        public static let invalidRequest = Code(.invalidRequest)
        /// The calling task was cancelled.
        public static let cancelled = Code(.cancelled)

        /// The code's stable name, for example `timedOut`.
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// The request's method and URL without query, for context.
    public let request: String
    /// The status of a refused response (a redirect), when there was one.
    public let status: Int?
    /// A short explanation from the underlying system, without secrets.
    public let detail: String
    /// The platform error behind this one, when there is one: ``URLSessionTransport`` gives the `URLError` (its code
    /// only, without the failing URL or other user info).
    public let underlyingError: (any Error)?

    /// Creates a transport error.
    public init(code: Code, request: String, status: Int? = nil, detail: String, underlyingError: (any Error)? = nil) {
        self.code = code
        self.request = request
        self.status = status
        self.detail = detail
        self.underlyingError = underlyingError
    }

    /// Whether the exchange may succeed if tried again (timeouts and connection failures).
    public var isTransient: Bool { code == .timedOut || code == .connectionFailed }

    /// What happened and what to do about it.
    public var description: String {
        switch code {
        case .timedOut:
            "\(request) timed out: \(detail). The server or the network is slow; the request may be retried."
        case .connectionFailed:
            "\(request) could not connect: \(detail). Check the host name and network; the request may be retried."
        case .redirectRefused:
            "\(request) was answered with a redirect (HTTP \(status ?? 0)), which is never followed so that "
                + "credentials are not sent to another host. Configure the final URL instead."
        case .invalidResponse:
            "\(request) got an unusable response: \(detail)."
        case .invalidRequest:
            "\(request) could not be sent: \(detail). Check the configured URL."
        case .cancelled:
            "\(request) was cancelled."
        default:
            "\(request) failed (\(code)): \(detail)."
        }
    }

    /// Equal when code, request, status, detail and the cause's description are equal.
    public static func == (lhs: HTTPTransportError, rhs: HTTPTransportError) -> Bool {
        lhs.code == rhs.code && lhs.request == rhs.request && lhs.status == rhs.status && lhs.detail == rhs.detail
            && causesMatch(lhs.underlyingError, rhs.underlyingError)
    }

    /// Hashes code, request, status and detail.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(request)
        hasher.combine(status)
        hasher.combine(detail)
    }

    /// The same error with `scrub` applied to its request and detail (the cause is kept as it is).
    package func scrubbed(_ scrub: (String) -> String) -> HTTPTransportError {
        HTTPTransportError(code: code, request: scrub(request), status: status, detail: scrub(detail),
                           underlyingError: underlyingError)
    }
}
