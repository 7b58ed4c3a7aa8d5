import Foundation
import HTTPCore
import JSONCore

/// Every failure of the Kommo client: a bad host, a rejected token, an HTTP error status, a broken response.
///
/// The shape of async-http-client's errors: a struct over a private code, so new codes never break callers; an
/// immutable ``code``; the cause in ``underlyingError`` (the ``HTTPTransportError`` of a ``Code/transport`` failure);
/// and the context needed to act on it (status, Kommo's `X-Request-Id`, validation errors, a body excerpt of at most
/// 512 bytes). It never carries a token, refresh token or client secret: bodies, details and the transport errors it
/// wraps are scrubbed of the secrets the client knows, and request headers are never included.
public struct KommoAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong: an open set of codes compared with `==` (a `switch` over them needs a `default`).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidURL, hostNotAllowed, insecureURL, invalidArgument
            case badRequest, validationFailed, unauthorized, paymentRequired, forbidden, blockedAfterRateLimit
            case notFound, unprocessable, rateLimited, serverError, unexpectedStatus
            case transport, decodingFailed, invalidPaging
            case notAuthorized, grantRevoked, tokenRefreshFailed, tokenStoreFailed
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A URL or subdomain could not be turned into an account host.
        public static let invalidURL = Code(.invalidURL)
        /// A host is not under an allowed parent domain (kommo.com, amocrm.ru, amocrm.com): no token is sent to it.
        public static let hostNotAllowed = Code(.hostNotAllowed)
        /// A URL uses plain `http` for a host that is not loopback.
        public static let insecureURL = Code(.insecureURL)
        /// An argument was out of range.
        public static let invalidArgument = Code(.invalidArgument)

        /// HTTP 400 without validation details: the request was malformed.
        public static let badRequest = Code(.badRequest)
        /// HTTP 400 with `validation-errors`: see ``KommoAPIError/validationErrors``.
        public static let validationFailed = Code(.validationFailed)
        /// HTTP 401: the token is missing, expired or revoked (after one refresh attempt where possible).
        public static let unauthorized = Code(.unauthorized)
        /// HTTP 402: the account's subscription or trial has expired.
        public static let paymentRequired = Code(.paymentRequired)
        /// HTTP 403: not enough rights, or the IP is not on the account's allow-list.
        public static let forbidden = Code(.forbidden)
        /// HTTP 403 after rate limiting: Kommo has probably blocked this IP or account. Never retried.
        public static let blockedAfterRateLimit = Code(.blockedAfterRateLimit)
        /// HTTP 404: unknown path or object.
        public static let notFound = Code(.notFound)
        /// HTTP 422: the request was understood but cannot be processed (for example too many items).
        public static let unprocessable = Code(.unprocessable)
        /// HTTP 429: the rate limit was exceeded and retries were used up.
        public static let rateLimited = Code(.rateLimited)
        /// HTTP 5xx: Kommo failed.
        public static let serverError = Code(.serverError)
        /// Another unexpected HTTP status.
        public static let unexpectedStatus = Code(.unexpectedStatus)

        /// No usable response arrived (timeout, connection failure, refused redirect); the
        /// ``KommoAPIError/underlyingError`` is the ``HTTPTransportError`` (see ``KommoAPIError/transportCode``).
        public static let transport = Code(.transport)
        /// A successful response could not be decoded.
        public static let decodingFailed = Code(.decodingFailed)
        /// A `_links.next` URL pointed to another host, or paging did not end.
        public static let invalidPaging = Code(.invalidPaging)

        /// The token store holds no tokens: the integration must be authorized first.
        public static let notAuthorized = Code(.notAuthorized)
        /// The token endpoint answered 401: the grant is revoked or expired, a person must authorize again.
        public static let grantRevoked = Code(.grantRevoked)
        /// Refreshing the access token failed for another reason (see status and body).
        public static let tokenRefreshFailed = Code(.tokenRefreshFailed)
        /// The token store could not load or save a pair; a rotated pair that could not be saved was not used.
        public static let tokenStoreFailed = Code(.tokenStoreFailed)

        /// The code's stable name, for example `unauthorized`.
        public var description: String { base.rawValue }
    }

    /// One rejected input reported in a 400 response's `validation-errors`.
    public struct ValidationIssue: Sendable, Hashable, CustomStringConvertible {
        /// The `request_id` of the rejected input object (`"0"` unless the client set one).
        public var requestID: String?
        /// Kommo's error code, for example `NotSupportedChoice` or `InvalidType`.
        public var code: String
        /// A dotted path into the input object, for example `custom_fields_values.2.values.0.value`.
        public var path: String
        /// Kommo's explanation.
        public var detail: String

        /// Creates an issue.
        public init(requestID: String? = nil, code: String, path: String, detail: String) {
            self.requestID = requestID
            self.code = code
            self.path = path
            self.detail = detail
        }

        /// `path: code (detail)`.
        public var description: String { "\(path): \(code) (\(detail))" }
    }

    /// What went wrong.
    public let code: Code
    /// The request's method and URL without query (`GET https://acme.kommo.com/api/v4/leads`), when there was one.
    public let request: String?
    /// The HTTP status, when a response arrived.
    public let status: Int?
    /// Kommo's `X-Request-Id`, to quote when asking Kommo support.
    public let requestID: String?
    /// A short explanation: the problem body's `detail` or `title`, or what the client found wrong.
    public let detail: String
    /// The validation errors of a 400 response.
    public let validationErrors: [ValidationIssue]
    /// The wait Kommo asked for on a 429 (`Retry-After` header or `retry_after` in the body).
    public let retryAfter: Duration?
    /// The first bytes (at most 512) of the response body, with known secrets removed.
    public let body: String?
    /// The error that caused this one, when there is one: the ``HTTPTransportError`` (scrubbed of the token) of a
    /// ``Code/transport`` or ``Code/tokenRefreshFailed`` failure without a response; the repeated call's own
    /// ``Code/unauthorized`` error when it was rejected again after a token refresh; the `DecodingError` of
    /// ``Code/decodingFailed``; the `EncodingError` of a note that could not be encoded. Not part of ``description``.
    public let underlyingError: (any Error)?

    /// Creates an error.
    public init(code: Code, request: String? = nil, status: Int? = nil, requestID: String? = nil,
                detail: String, validationErrors: [ValidationIssue] = [], retryAfter: Duration? = nil,
                body: String? = nil, underlyingError: (any Error)? = nil) {
        self.code = code
        self.request = request
        self.status = status
        self.requestID = requestID
        self.detail = detail
        self.validationErrors = validationErrors
        self.retryAfter = retryAfter
        self.body = body
        self.underlyingError = underlyingError
    }

    /// The code of the ``HTTPTransportError`` behind this error, when there is one (``Code/transport``).
    public var transportCode: HTTPTransportError.Code? { (underlyingError as? HTTPTransportError)?.code }

    /// The most body bytes an error keeps.
    public static let maxBodyBytes = Redaction.maxBodyBytes

    /// Whether a transport failure was transient (a timeout or a broken connection).
    public var isTransientTransportFailure: Bool {
        code == .transport && (transportCode == .timedOut || transportCode == .connectionFailed)
    }

    /// What happened, with the request, status, request id and body excerpt, and what to do about it.
    public var description: String {
        var text = "Kommo API: " + summary
        if let request { text += " [\(request)]" }
        if let status { text += " HTTP \(status)." }
        if let requestID { text += " X-Request-Id: \(requestID)." }
        if !validationErrors.isEmpty {
            text += " Validation errors: " + validationErrors.map(\.description).joined(separator: "; ") + "."
        }
        if let body, !body.isEmpty { text += " Body: \(body)" }
        return text
    }

    /// Equal when every field and the cause's description are equal.
    public static func == (lhs: KommoAPIError, rhs: KommoAPIError) -> Bool {
        lhs.code == rhs.code && lhs.request == rhs.request && lhs.status == rhs.status
            && lhs.requestID == rhs.requestID && lhs.detail == rhs.detail
            && lhs.validationErrors == rhs.validationErrors && lhs.retryAfter == rhs.retryAfter && lhs.body == rhs.body
            && causesMatch(lhs.underlyingError, rhs.underlyingError)
    }

    /// Hashes code, request, status, request id and detail.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(request)
        hasher.combine(status)
        hasher.combine(requestID)
        hasher.combine(detail)
    }

    private var summary: String {
        switch code {
        case .invalidURL: "invalid URL: \(detail). Give an https URL or a subdomain such as 'acme'."
        case .hostNotAllowed:
            "host not allowed: \(detail). Tokens are only sent to hosts under kommo.com, amocrm.ru or amocrm.com "
                + "(or the configured allow-list); check where the URL came from."
        case .insecureURL: "insecure URL: \(detail). Use https (plain http is accepted only for loopback hosts)."
        case .invalidArgument: "invalid argument: \(detail)."
        case .badRequest: "the request was rejected as malformed: \(detail). Do not retry; fix the request."
        case .validationFailed:
            "the request failed validation: \(detail). Do not retry; fix the fields listed below."
        case .unauthorized:
            "the access token was rejected: \(detail). Refreshing did not help or is not possible; issue a new "
                + "token or re-authorize the integration."
        case .paymentRequired:
            "the Kommo account's subscription or trial has expired: \(detail). Requests fail until it is paid."
        case .forbidden:
            "access denied: \(detail). The token lacks rights (users need an admin token) or this IP is not on the "
                + "account's allow-list."
        case .blockedAfterRateLimit:
            "access denied after rate limiting: \(detail). Kommo has probably blocked this IP or account for "
                + "exceeding 7 requests per second; stop all traffic, alert an operator and contact Kommo support."
        case .notFound: "not found: \(detail). Check the id and the path."
        case .unprocessable:
            "the request could not be processed: \(detail). Split large writes into batches of at most 50 items."
        case .rateLimited:
            "rate limit exceeded and retries used up: \(detail). Slow down; repeated 429s lead Kommo to block the IP."
        case .serverError: "Kommo failed: \(detail). Retry later."
        case .unexpectedStatus: "unexpected response: \(detail)."
        case .transport: "no usable response: \(detail)."
        case .decodingFailed: "the response could not be decoded: \(detail)."
        case .invalidPaging: "paging stopped: \(detail)."
        case .notAuthorized:
            "no tokens are stored: \(detail). Authorize the integration (exchange an authorization code) first."
        case .grantRevoked:
            "the OAuth grant is no longer valid: \(detail). A person must re-authorize the integration; "
                + "refreshing again will not help."
        case .tokenRefreshFailed: "refreshing the access token failed: \(detail)."
        case .tokenStoreFailed:
            "the token store failed: \(detail). Fix the token store; tokens that could not be saved were not used."
        default: "\(code): \(detail)."
        }
    }
}

extension KommoAPIError {
    /// The error for an unsuccessful HTTP response: status mapped to a code, problem body parsed, body truncated,
    /// secrets removed.
    ///
    /// `code` replaces the status's own code (the token endpoint's errors).
    static func from(response: HTTPResponse, body: Data, request: HTTPRequest, secrets: [String], now: Date,
                     afterRateLimit: Bool, code override: Code? = nil) -> KommoAPIError {
        let problem = ProblemDetails(body)
        let status = response.status
        let retryAfter = RetryAfter.from(response.headers, now: now) ?? problem.retryAfter
        let code: Code
        switch status {
        case 400: code = problem.validationErrors.isEmpty ? .badRequest : .validationFailed
        case 401: code = .unauthorized
        case 402: code = .paymentRequired
        case 403: code = afterRateLimit ? .blockedAfterRateLimit : .forbidden
        case 404: code = .notFound
        case 422: code = .unprocessable
        case 429: code = .rateLimited
        case 500...599: code = .serverError
        default: code = .unexpectedStatus
        }
        let detail = problem.detail ?? problem.title ?? "HTTP \(status)"
        return KommoAPIError(
            code: override ?? code, request: request.description, status: status,
            requestID: response.headers["X-Request-Id"], detail: Redaction.scrub(detail, secrets: secrets),
            validationErrors: problem.validationErrors.map {
                ValidationIssue(requestID: $0.requestID, code: Redaction.scrub($0.code, secrets: secrets),
                                path: Redaction.scrub($0.path, secrets: secrets),
                                detail: Redaction.scrub($0.detail, secrets: secrets))
            },
            retryAfter: retryAfter, body: Redaction.excerpt(body, secrets: secrets))
    }
}

/// The fields of an `application/problem+json` body that the client uses; every field is optional.
struct ProblemDetails {
    struct Issue {
        var requestID: String?
        var code: String
        var path: String
        var detail: String
    }

    var title: String?
    var detail: String?
    var retryAfter: Duration?
    var validationErrors: [Issue] = []

    init(_ body: Data) {
        guard !body.isEmpty, let object = try? JSONDecoder().decode(JSONValue.self, from: body),
              case .object = object else { return }
        title = object["title"]?.stringValue
        detail = object["detail"]?.stringValue
        switch object["retry_after"] {
        case .int(let seconds)?: retryAfter = .clampedSeconds(Double(seconds))
        case .double(let seconds)?: retryAfter = .clampedSeconds(seconds)
        case .string(let text)?: retryAfter = Double(text).map(Duration.clampedSeconds)
        default: break
        }
        for group in object["validation-errors"]?.arrayValue ?? [] {
            let requestID = group["request_id"]?.stringValue ?? group["request_id"]?.intValue.map(String.init)
            for error in group["errors"]?.arrayValue ?? [] {
                validationErrors.append(Issue(requestID: requestID, code: error["code"]?.stringValue ?? "",
                                              path: error["path"]?.stringValue ?? "",
                                              detail: error["detail"]?.stringValue ?? ""))
            }
        }
    }
}
