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
/// Never carries request headers or bodies, so credentials cannot leak through it.
public struct HTTPTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as an open set of codes.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The request's total deadline passed before the response was complete.
        public static let timedOut = Code(rawValue: "timedOut")
        /// The connection could not be made or broke (DNS, refused, reset, TLS).
        public static let connectionFailed = Code(rawValue: "connectionFailed")
        /// The server answered with a redirect, which the SDK never follows so that credentials stay on one host.
        public static let redirectRefused = Code(rawValue: "redirectRefused")
        /// The answer was not a usable HTTP response.
        public static let invalidResponse = Code(rawValue: "invalidResponse")
        /// The request could not be built (for example a URL the platform rejects).
        public static let invalidRequest = Code(rawValue: "invalidRequest")
        /// The calling task was cancelled.
        public static let cancelled = Code(rawValue: "cancelled")

        /// The code's name.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The request's method and URL without query, for context.
    public var request: String
    /// The status of a refused response (a redirect), when there was one.
    public var status: Int?
    /// A short explanation from the underlying system, without secrets.
    public var detail: String

    /// Creates a transport error.
    public init(code: Code, request: String, status: Int? = nil, detail: String) {
        self.code = code
        self.request = request
        self.status = status
        self.detail = detail
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
}
