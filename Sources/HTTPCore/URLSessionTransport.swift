import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The default ``HTTPTransport``, built on Foundation's `URLSession` (FoundationNetworking on Linux).
///
/// Two safety rules that `URLSession` does not give by default:
/// - **Redirects are never followed.** A 3xx answer (other than 304) becomes ``HTTPTransportError/Code/redirectRefused``,
///   so an `Authorization` header is never carried to another host.
/// - **The total deadline is enforced here**, not only `URLSession`'s idle timeout: a server that trickles bytes
///   cannot hold a request past ``HTTPRequest/timeout`` (or ``Configuration/defaultTimeout``).
public final class URLSessionTransport: HTTPTransport {
    /// Settings of the transport.
    public struct Configuration: Sendable, Hashable {
        /// The total deadline of a request that sets none itself. Default: 15 seconds.
        public var defaultTimeout: Duration
        /// Whether `URLSession` may keep cookies. Default: `false` (API calls carry no cookies).
        public var acceptsCookies: Bool

        /// Creates a configuration.
        public init(defaultTimeout: Duration = .seconds(15), acceptsCookies: Bool = false) {
            self.defaultTimeout = defaultTimeout
            self.acceptsCookies = acceptsCookies
        }
    }

    /// The settings in force.
    public let configuration: Configuration
    private let session: URLSession

    /// Creates a transport with its own `URLSession`.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.httpShouldSetCookies = configuration.acceptsCookies
        sessionConfiguration.httpCookieAcceptPolicy = configuration.acceptsCookies ? .always : .never
        sessionConfiguration.urlCache = nil
        sessionConfiguration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: sessionConfiguration, delegate: RedirectRefusingDelegate(),
                             delegateQueue: nil)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// Sends the request and returns the response; throws ``HTTPTransportError`` when no usable response arrives.
    public func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        let timeout = request.timeout ?? configuration.defaultTimeout
        let urlRequest = Self.makeURLRequest(request, body: body, timeout: timeout)
        let label = request.description
        let session = self.session
        return try await withThrowingTaskGroup(of: (HTTPResponse, Data).self) { group in
            group.addTask {
                try await Self.perform(urlRequest, on: session, label: label)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw HTTPTransportError(code: .timedOut, request: label,
                                         detail: "no complete response within \(timeout.seconds) s")
            }
            defer { group.cancelAll() }
            do {
                guard let first = try await group.next() else {
                    throw HTTPTransportError(code: .invalidResponse, request: label, detail: "no result")
                }
                return first
            } catch is CancellationError {
                throw HTTPTransportError(code: .cancelled, request: label, detail: "the calling task was cancelled")
            }
        }
    }

    /// Converts the SDK's request into a `URLRequest` (kept apart so it can be tested without a network).
    static func makeURLRequest(_ request: HTTPRequest, body: Data?, timeout: Duration) -> URLRequest {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method.rawValue
        for field in request.headers {
            urlRequest.addValue(field.value, forHTTPHeaderField: field.name)
        }
        urlRequest.httpBody = body
        // `send` enforces the deadline itself. URLSession's own (idle) timeout is given whole seconds, at least one:
        // swift-corelibs-foundation truncates it to whole seconds, so a deadline under a second would time every
        // request out at once.
        urlRequest.timeoutInterval = max(timeout.seconds.rounded(.up), 1)
        urlRequest.httpShouldHandleCookies = false
        return urlRequest
    }

    /// Converts a `URLResponse` into the SDK's response head, refusing redirects.
    static func makeResponse(_ response: URLResponse?, label: String) throws -> HTTPResponse {
        guard let http = response as? HTTPURLResponse else {
            throw HTTPTransportError(code: .invalidResponse, request: label, detail: "not an HTTP response")
        }
        var headers = HTTPHeaders()
        for (name, value) in http.allHeaderFields {
            headers.append(name: String(describing: name), value: String(describing: value))
        }
        if (300..<400).contains(http.statusCode) && http.statusCode != 304 {
            throw HTTPTransportError(code: .redirectRefused, request: label, status: http.statusCode,
                                     detail: "redirects are not followed")
        }
        return HTTPResponse(status: http.statusCode, headers: headers)
    }

    /// Maps a `URLSession` error to the SDK's transport error.
    static func mapError(_ error: any Error, label: String) -> HTTPTransportError {
        if let transportError = error as? HTTPTransportError { return transportError }
        guard let urlError = error as? URLError else {
            return HTTPTransportError(code: .connectionFailed, request: label, detail: "\(type(of: error))")
        }
        let detail = "URLError \(urlError.code.rawValue)"
        // The cause keeps the URLError's code only: its user info holds the failing URL, query included.
        let cause = URLError(urlError.code)
        let code: HTTPTransportError.Code
        switch urlError.code {
        case .timedOut: code = .timedOut
        case .cancelled: code = .cancelled
        case .badURL, .unsupportedURL: code = .invalidRequest
        case .badServerResponse, .cannotParseResponse, .cannotDecodeRawData, .cannotDecodeContentData:
            code = .invalidResponse
        default: code = .connectionFailed
        }
        return HTTPTransportError(code: code, request: label, detail: detail, underlyingError: cause)
    }

    private static func perform(_ urlRequest: URLRequest, on session: URLSession,
                                label: String) async throws -> (HTTPResponse, Data) {
        let handle = DataTaskHandle()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(HTTPResponse, Data), any Error>) in
                let task = session.dataTask(with: urlRequest) { data, response, error in
                    if let error {
                        continuation.resume(throwing: mapError(error, label: label))
                        return
                    }
                    do {
                        continuation.resume(returning: (try makeResponse(response, label: label), data ?? Data()))
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
                handle.task.withLock { $0 = task }
                task.resume()
                if Task.isCancelled { task.cancel() }
            }
        } onCancel: {
            handle.task.withLock { $0?.cancel() }
        }
    }
}

/// The data task of one request, shared with its cancellation handler.
private final class DataTaskHandle: Sendable {
    let task = Locked<URLSessionDataTask?>(nil)
}

/// Refuses every redirect, so that the 3xx response itself is returned and credentials stay on one host.
private final class RedirectRefusingDelegate: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
