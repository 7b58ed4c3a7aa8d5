import Foundation

/// What the Segment side did with a delivered batch.
public struct SegmentDeliveryReceipt: Sendable, Hashable {
    /// The HTTP status (2xx).
    public var status: Int
    /// The size of the request body sent, in bytes (before any compression).
    public var requestBytes: Int

    /// Creates a receipt (for custom ``SegmentClient`` implementations).
    public init(status: Int, requestBytes: Int) {
        self.status = status
        self.requestBytes = requestBytes
    }
}

/// Sends one batch to Segment, once: the protocol at the seam between the queue and the network.
///
/// ``HTTPSegmentClient`` is the implementation; tests substitute their own. Retrying is the caller's job
/// (``SegmentQueue`` does it); a client makes exactly one attempt and either returns a receipt or throws a
/// ``SegmentError`` whose ``SegmentError/code`` says whether trying again makes sense.
public protocol SegmentClient: Sendable {
    /// Sends `batch` once. `retryCount` is the number of earlier attempts of this same batch (sent as
    /// `X-Retry-Count` when above zero).
    ///
    /// - Throws: ``SegmentError`` with ``SegmentError/Code/transientFailure`` or ``SegmentError/Code/rateLimited``
    ///   (worth retrying) or another code (final); `CancellationError` when the task is cancelled.
    func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt
}

/// How the SDK treats a Segment response status (the table in the reference, §12).
public enum SegmentResponseDisposition: Sendable, Hashable {
    /// 2xx: delivered.
    case success
    /// 429: wait (for `Retry-After` when given) and retry.
    case rateLimited
    /// 408, 410, 460 and 5xx except 501, 505 and 511: retry with backoff.
    case retry
    /// Everything else (3xx, 400, 401, 403, 404, 413, 422, other 4xx, 501, 505, 511 without OAuth): drop and report.
    case drop

    /// The disposition of an HTTP status.
    public init(status: Int) {
        switch status {
        case 200..<300: self = .success
        case 429: self = .rateLimited
        case 408, 410, 460: self = .retry
        case 501, 505, 511: self = .drop
        case 500..<600: self = .retry
        default: self = .drop
        }
    }
}

extension SegmentError {
    /// The error of one Segment response, by ``SegmentResponseDisposition``; `nil` for a success (2xx).
    ///
    /// The one status-to-error mapping: ``HTTPSegmentClient`` and test doubles (`InMemorySegmentClient`) both use
    /// it, and so can a custom ``SegmentClient``. 429 is ``Code/rateLimited``, a retryable status
    /// ``Code/transientFailure`` (both transient), anything else ``Code/rejected``.
    /// - Parameters:
    ///   - status: the HTTP status.
    ///   - responseBody: the start of the response body, already cut to at most 512 bytes and without secrets.
    ///   - retryAfter: the wait the response asked for (`Retry-After`), if any.
    public init?(status: Int, responseBody: String? = nil, retryAfter: Duration? = nil) {
        let code: Code
        let detail: String
        switch SegmentResponseDisposition(status: status) {
        case .success: return nil
        case .rateLimited: (code, detail) = (.rateLimited, "rate limited")
        case .retry: (code, detail) = (.transientFailure, "server error")
        case .drop: (code, detail) = (.rejected, "batch refused")
        }
        self.init(code: code, detail: detail, status: status, responseBody: responseBody,
                  isTransient: code != .rejected, retryAfter: retryAfter)
    }
}

/// The ``SegmentClient`` that posts to `/v1/batch` over an ``HTTPTransport``.
///
/// Each attempt stamps a fresh `sentAt` (so Segment can correct clock skew), sends
/// `Authorization: Basic base64(writeKey + ":")`, `Content-Type: application/json`, the SDK's `User-Agent`, and
/// `X-Retry-Count` on retries. The write key never appears in errors.
public struct HTTPSegmentClient: SegmentClient {
    /// The settings in force.
    public let configuration: SegmentClientConfiguration
    private let transport: any HTTPTransport
    private let wallClock: WallClock

    /// Creates a client.
    /// - Parameters:
    ///   - configuration: write key, endpoint and request options.
    ///   - transport: the HTTP transport; a new ``URLSessionTransport`` by default.
    ///   - wallClock: the wall clock that stamps `sentAt` and reads `Retry-After` dates.
    public init(configuration: SegmentClientConfiguration, transport: any HTTPTransport = URLSessionTransport(),
                wallClock: WallClock = .system) {
        self.configuration = configuration
        self.transport = transport
        self.wallClock = wallClock
    }

    /// Sends the batch once; see ``SegmentClient/send(_:retryCount:)``.
    public func send(_ batch: SegmentBatch, retryCount: Int) async throws -> SegmentDeliveryReceipt {
        let writeKey = configuration.writeKey
        var body = batch.body(sentAt: wallClock.now, writeKey: configuration.includesWriteKeyInBody ? writeKey : nil)
        let requestBytes = body.count
        var headers: HTTPHeaders = [
            "Content-Type": "application/json",
            "Authorization": writeKey.basicAuthorization,
            "User-Agent": configuration.userAgent,
        ]
        if retryCount > 0 { headers["X-Retry-Count"] = String(retryCount) }
        if let compressor = configuration.compressor {
            do {
                body = try compressor.compress(body)
            } catch {
                throw SegmentError(code: .invalidConfiguration,
                                   detail: "the body compressor failed: \(type(of: error))", underlyingError: error)
            }
            headers["Content-Encoding"] = compressor.contentEncoding
        }
        let request = HTTPRequest(method: .post, url: configuration.endpoint.batchURL, headers: headers,
                                  timeout: configuration.requestTimeout)
        let response: HTTPResponse
        let responseBody: Data
        // What an error may never show: the key, and the Authorization value that encodes it.
        let secrets = [writeKey.value, String(writeKey.basicAuthorization.dropFirst("Basic ".count))]
        do {
            (response, responseBody) = try await transport.send(request, body: body)
        } catch let error as HTTPTransportError {
            let scrubbed = error.scrubbed { Redaction.scrub($0, secrets: secrets) }
            switch error.code {
            case .cancelled: throw CancellationError()
            case .redirectRefused:
                throw SegmentError(code: .rejected, detail: scrubbed.description, status: error.status,
                                   underlyingError: scrubbed)
            case .invalidRequest:
                throw SegmentError(code: .invalidConfiguration, detail: scrubbed.description,
                                   underlyingError: scrubbed)
            default:
                throw SegmentError(code: .transientFailure, detail: scrubbed.description, isTransient: true,
                                   underlyingError: scrubbed)
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw SegmentError(code: .transientFailure, detail: "transport failed: \(type(of: error))",
                               isTransient: true, underlyingError: error)
        }
        if let error = SegmentError(status: response.status,
                                    responseBody: Redaction.excerpt(responseBody, secrets: secrets),
                                    retryAfter: RetryAfter.from(response.headers, now: wallClock.now)) {
            throw error
        }
        return SegmentDeliveryReceipt(status: response.status, requestBytes: requestBytes)
    }
}
