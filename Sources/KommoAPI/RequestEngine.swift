import Foundation
import HTTPCore

/// Sends one logical Kommo call: rate limit, bearer token, retries, one reactive token refresh, error mapping.
///
/// A value type without mutable state, so concurrent calls run in parallel; shared state lives in the rate limiter
/// and the token provider.
struct RequestEngine: Sendable {
    let host: KommoAccountHost
    let tokenProvider: any KommoTokenProvider
    let configuration: HTTPKommoClient.Configuration
    let transport: any HTTPTransport
    let limiter: any KommoRequestLimiter
    let clock: MonotonicClock
    let wallClock: WallClock
    let random: @Sendable () -> Double
    let statistics: StatisticsCounter
    let logger: SDKLogger

    /// A successful response: its head and body; the body is empty for 204.
    struct Reply: Sendable {
        var response: HTTPResponse
        var body: Data
        var request: HTTPRequest
        /// What must never appear in an error made from this reply: the token it was fetched with.
        var secrets: [String]
        var isEmpty: Bool { response.status == 204 }
    }

    // MARK: Calls with decoding

    /// GET one object; `nil` on 204.
    func getObject<T: Decodable>(_ type: T.Type, path: String, query: [(String, String)] = []) async throws -> T? {
        let url = try host.url(path: path, percentEncodedQuery: query.isEmpty ? nil : KommoQuery.encode(query))
        let reply = try await perform(method: .get, url: url, body: nil)
        if reply.isEmpty { return nil }
        return try decode(T.self, reply)
    }

    /// GET one page of a collection: its items, and whether `_links.next` is present; no items on 204.
    func getPage<Item: HALCollectionItem>(_ type: Item.Type, path: String,
                                          query: [(String, String)]) async throws -> ([Item], Bool) {
        let url = try host.url(path: path, percentEncodedQuery: query.isEmpty ? nil : KommoQuery.encode(query))
        let reply = try await perform(method: .get, url: url, body: nil)
        if reply.isEmpty { return ([], false) }
        let page = try decode(HALPage<Item>.self, reply)
        return (page.items, page.next != nil)
    }

    /// GET every page of a collection, following `_links.next` on the same host.
    func getAll<Item: HALCollectionItem>(_ type: Item.Type, path: String,
                                         query: [(String, String)]) async throws -> [Item] {
        var url = try host.url(path: path, percentEncodedQuery: query.isEmpty ? nil : KommoQuery.encode(query))
        var seen: Set<URL> = [url]
        var items: [Item] = []
        var pages = 0
        while true {
            let reply = try await perform(method: .get, url: url, body: nil)
            if reply.isEmpty { return items }
            let page = try decode(HALPage<Item>.self, reply)
            items += page.items
            pages += 1
            guard let next = page.next else { return items }
            guard host.owns(next) else {
                throw KommoAPIError(code: .invalidPaging, request: reply.request.description,
                                    detail: "_links.next points to another host (\(next.redactedForLogs)); "
                                        + "not followed so that the token stays on \(host.host)")
            }
            guard seen.insert(next).inserted else { return items }
            guard pages < max(configuration.maxPages, 1) else {
                throw KommoAPIError(code: .invalidPaging, request: reply.request.description,
                                    detail: "more than \(configuration.maxPages) pages; raise maxPages or narrow "
                                        + "the request")
            }
            url = next
        }
    }

    /// POST a JSON body and decode a collection answer; an empty array on 204.
    func post<Item: HALCollectionItem>(_ type: Item.Type, path: String, body: Data,
                                       extraHeaders: HTTPHeaders = [:]) async throws -> [Item] {
        let url = try host.url(path: path)
        let reply = try await perform(method: .post, url: url, body: body, extraHeaders: extraHeaders)
        if reply.isEmpty { return [] }
        return try decode(HALPage<Item>.self, reply).items
    }

    private func decode<T: Decodable>(_ type: T.Type, _ reply: Reply) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: reply.body)
        } catch {
            throw KommoAPIError(code: .decodingFailed, request: reply.request.description,
                                status: reply.response.status, requestID: reply.response.headers["X-Request-Id"],
                                detail: Self.describe(error), body: Redaction.excerpt(reply.body, secrets: reply.secrets),
                                underlyingError: error)
        }
    }

    private static func describe(_ error: any Error) -> String {
        guard let decodingError = error as? DecodingError else { return "\(type(of: error))" }
        let path: [any CodingKey]
        switch decodingError {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context),
             .dataCorrupted(let context):
            path = context.codingPath
        @unknown default:
            path = []
        }
        let pointer = path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return "invalid JSON or shape at '\(pointer)'"
    }

    // MARK: Sending

    /// Sends the call with a token; after a 401, asks the provider for a new token and repeats the call once.
    func perform(method: HTTPMethod, url: URL, body: Data?, extraHeaders: HTTPHeaders = [:]) async throws -> Reply {
        let token = try await tokenProvider.accessToken()
        do {
            return try await performWithRetries(method: method, url: url, body: body, token: token,
                                                extraHeaders: extraHeaders)
        } catch let error as KommoAPIError where error.code == .unauthorized {
            logger.log(.notice, "Kommo token rejected; asking the token provider for a new one", ["path": url.path])
            guard let fresh = try await tokenProvider.tokenRejected(token), fresh != token else { throw error }
            do {
                return try await performWithRetries(method: method, url: url, body: body, token: fresh,
                                                    extraHeaders: extraHeaders)
            } catch let again as KommoAPIError where again.code == .unauthorized {
                throw KommoAPIError(code: again.code, request: again.request, status: again.status,
                                    requestID: again.requestID,
                                    detail: again.detail + " (rejected again after a token refresh)",
                                    validationErrors: again.validationErrors, retryAfter: again.retryAfter,
                                    body: again.body, underlyingError: again)
            }
        }
    }

    /// Retries per the documented rules:
    /// - 429: every method (Kommo refused the request, so it was not processed), after `Retry-After` /
    ///   `retry_after` or exponential backoff from ``RetryPolicy/baseDelay``;
    /// - 5xx and transient transport failures: GET only;
    /// - everything else (and a 403 after a 429, which is an IP block): never.
    private func performWithRetries(method: HTTPMethod, url: URL, body: Data?, token: String,
                                    extraHeaders: HTTPHeaders) async throws -> Reply {
        let isIdempotent = method == .get
        let retrier = Retrier(policy: configuration.retryPolicy, monotonic: clock, random: random)
        var sawRateLimit = false
        let logger = self.logger
        return try await retrier.run(classify: { Self.classify($0, isIdempotent: isIdempotent) }, onWait: { wait in
            logger.log(.debug, "Kommo retry wait", [
                "seconds": String(wait.duration.seconds), "attempts": String(wait.attemptsSoFar),
                "requestedByServer": String(wait.isRequestedByServer),
            ])
        }, operation: { attempt in
            try await limiter.acquire()
            statistics.update {
                $0.requests += 1
                if attempt.previousAttempts > 0 { $0.retries += 1 }
            }
            let request = makeRequest(method: method, url: url, hasBody: body != nil, token: token,
                                      extraHeaders: extraHeaders)
            let (response, data) = try await send(request, body: body, token: token)
            if response.isSuccess {
                return Reply(response: response, body: data, request: request, secrets: [token])
            }
            if response.status == 429 { sawRateLimit = true }
            throw await failure(response, body: data, request: request, token: token, sawRateLimit: sawRateLimit)
        })
    }

    /// Kommo's retry rules: 429 on every method, 5xx and transient transport failures on GETs only.
    private static func classify(_ error: any Error, isIdempotent: Bool) -> RetryVerdict {
        guard let error = error as? KommoAPIError else { return .doNotRetry }
        switch error.code {
        case .rateLimited:
            return error.retryAfter.map { .retryAfter($0) } ?? .retry
        case .serverError:
            return isIdempotent ? .retry : .doNotRetry
        case .transport:
            return isIdempotent && error.isTransientTransportFailure ? .retry : .doNotRetry
        default:
            return .doNotRetry
        }
    }

    private func makeRequest(method: HTTPMethod, url: URL, hasBody: Bool, token: String,
                             extraHeaders: HTTPHeaders) -> HTTPRequest {
        var headers: HTTPHeaders = [
            "Authorization": "Bearer \(token)",
            "Accept": "application/json",
            "User-Agent": configuration.userAgent,
        ]
        if hasBody { headers["Content-Type"] = "application/json" }
        for field in extraHeaders { headers[field.name] = field.value }
        return HTTPRequest(method: method, url: url, headers: headers, timeout: configuration.requestTimeout)
    }

    /// One exchange; a transport failure becomes a `.transport` error with the token scrubbed from its cause.
    private func send(_ request: HTTPRequest, body: Data?, token: String) async throws -> (HTTPResponse, Data) {
        do {
            return try await transport.send(request, body: body)
        } catch let error as HTTPTransportError {
            let scrubbed = error.scrubbed { Redaction.scrub($0, secrets: [token]) }
            throw KommoAPIError(code: .transport, request: request.description, status: error.status,
                                detail: scrubbed.description, underlyingError: scrubbed)
        }
    }

    /// The error of a response that is not a success; a 429 pauses the shared limiter, and a 403 soon after a 429
    /// is read as an IP block.
    private func failure(_ response: HTTPResponse, body: Data, request: HTTPRequest, token: String,
                         sawRateLimit: Bool) async -> KommoAPIError {
        let now = wallClock.now
        if response.status == 429 {
            statistics.update { $0.rateLimited += 1 }
            logger.log(.notice, "Kommo rate limit reached", ["path": request.url.path])
            let error = KommoAPIError.from(response: response, body: body, request: request, secrets: [token],
                                           now: now, afterRateLimit: false)
            let maxRetryAfter = configuration.retryPolicy.maxRetryAfter
            await limiter.noteRateLimited(retryAfter: error.retryAfter.map { min($0, maxRetryAfter) })
            return error
        }
        var afterRateLimit = false
        if response.status == 403 {
            let recent = await limiter.wasRateLimited(within: configuration.blockDetectionWindow)
            afterRateLimit = sawRateLimit || recent
        }
        return KommoAPIError.from(response: response, body: body, request: request, secrets: [token], now: now,
                                  afterRateLimit: afterRateLimit)
    }
}
