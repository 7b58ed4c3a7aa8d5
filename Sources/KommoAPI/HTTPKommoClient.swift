import Foundation
import HTTPCore
import JSONCore

/// The Kommo API v4 client over an ``HTTPTransport``.
///
/// ```swift
/// let client = HTTPKommoClient(host: try KommoAccountHost(subdomain: "acme"),
///                              tokenProvider: LongLivedToken(token))
/// let leads = try await client.leads(ids: [24000017, 24000031])
/// ```
///
/// - **Rate limit**: every request first waits on a ``KommoRateLimiter`` (6.5 requests/s, burst 1 by default).
///   Pass the same limiter to every client of one account.
/// - **Auth**: a bearer token from the ``KommoTokenProvider``; after a 401 the provider is asked once for a new
///   token and the call is repeated once; a second 401 fails with ``KommoAPIError/Code/unauthorized``.
/// - **Retries** (``Configuration/retryPolicy``): 429 on any method (honouring `Retry-After` or `retry_after`,
///   else backoff from 1 s); 5xx and transient transport failures on GETs only. A note POST whose outcome is
///   unknown (timeout, broken connection, 5xx) is **not** repeated, so notes are never written twice by the
///   client. A 403 that follows a 429 is reported as ``KommoAPIError/Code/blockedAfterRateLimit`` and never retried.
/// - **Caching**: pipelines, users, loss reasons and the account are cached for ``Configuration/cacheTTL``
///   (10 minutes) on the injected monotonic clock; concurrent callers share one fetch. A 403 on users is cached as "no users
///   known" (`nil`) for the same TTL. Leads, contacts and companies are never cached.
/// - **Errors**: ``KommoAPIError`` with status, `X-Request-Id`, validation details and at most 512 body bytes;
///   tokens never appear in it.
///
/// A struct whose copies share one cache; safe to use from many tasks at once.
public struct HTTPKommoClient: KommoClient, CustomStringConvertible, CustomReflectable {
    /// Settings of the client; every field has a default.
    public struct Configuration: Sendable, Hashable {
        /// The deadline of one HTTP exchange. Default: 15 seconds.
        public var requestTimeout: Duration
        /// When to retry (see the type's documentation for what is retried). Default: ``RetryPolicy/kommo``.
        public var retryPolicy: RetryPolicy
        /// The rate limit of the limiter the client creates when none is injected. Default: 6.5/s, burst 1.
        public var rateLimit: KommoRateLimiter.Limit
        /// How long pipelines, users, loss reasons and the account stay cached. Default: 10 minutes.
        public var cacheTTL: Duration
        /// The `User-Agent` header. Default: ``SDKInfo/userAgent``.
        public var userAgent: String
        /// The most ids per `filter[id][]` request (clamped to 1...250). Default: 250, Kommo's page size.
        public var idsPerRequest: Int
        /// The longest request URL an id list may make, in bytes (at least 1,024); a list that would be longer is
        /// split into more requests. Default: 8,000, under the 8 KB that servers and proxies commonly accept.
        public var maxURLLength: Int
        /// The `limit` of list requests (clamped to 1...250). Default: 250.
        public var pageLimit: Int
        /// The most notes per POST (clamped to 1...250). Default: 50.
        public var notesPerRequest: Int
        /// The most pages one list call follows before failing with ``KommoAPIError/Code/invalidPaging``.
        /// Default: 200.
        public var maxPages: Int
        /// A 403 within this time after a 429 on the same limiter is read as an IP block. Default: 15 minutes.
        public var blockDetectionWindow: Duration
        /// Sent as `X-Context-User-ID` with note writes so that they are attributed to this user. Default: `nil`.
        public var contextUserID: Int64?

        /// Creates a configuration.
        public init(requestTimeout: Duration = .seconds(15), retryPolicy: RetryPolicy = .kommo,
                    rateLimit: KommoRateLimiter.Limit = .default, cacheTTL: Duration = .seconds(600),
                    userAgent: String = SDKInfo.userAgent, idsPerRequest: Int = 250, pageLimit: Int = 250,
                    notesPerRequest: Int = 50, maxPages: Int = 200, blockDetectionWindow: Duration = .seconds(900),
                    contextUserID: Int64? = nil, maxURLLength: Int = 8_000) {
            self.requestTimeout = requestTimeout
            self.retryPolicy = retryPolicy
            self.rateLimit = rateLimit
            self.cacheTTL = cacheTTL
            self.userAgent = userAgent
            self.idsPerRequest = idsPerRequest
            self.pageLimit = pageLimit
            self.notesPerRequest = notesPerRequest
            self.maxPages = maxPages
            self.blockDetectionWindow = blockDetectionWindow
            self.contextUserID = contextUserID
            self.maxURLLength = maxURLLength
        }
    }

    /// The account host every call goes to.
    public let host: KommoAccountHost
    /// The settings in force.
    public let configuration: Configuration
    /// The rate limiter in force (shared with other clients when injected).
    public let rateLimiter: any KommoRequestLimiter
    private let engine: RequestEngine
    private let caches: Caches
    private let counters: StatisticsCounter

    /// The requests sent, retries, 429s and cache hits of this client and its copies so far.
    public var statistics: KommoClientStatistics {
        get async { counters.snapshot }
    }

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - host: the account's host (see ``KommoAccountHost``).
    ///   - tokenProvider: ``LongLivedToken`` or ``OAuthTokenProvider``.
    ///   - configuration: timeouts, retries, rate limit, cache TTL.
    ///   - transport: the HTTP transport; default a new ``URLSessionTransport``.
    ///   - rateLimiter: a limiter shared by every client of this account (a ``KommoRequestLimiter``; one shared
    ///     by several processes when they call the same account); default a new ``KommoRateLimiter`` from
    ///     ``Configuration/rateLimit`` on `clock`.
    ///   - clock: the monotonic clock for waits, retries, rate limiting and cache expiry; `ContinuousClock` by
    ///     default.
    ///   - wallClock: reads `Retry-After` dates.
    ///   - random: the source of retry jitter, in `0..<1`.
    ///   - log: where retry waits (debug) and rate limiting (notice) are logged; silent by default.
    public init(host: KommoAccountHost, tokenProvider: any KommoTokenProvider, configuration: Configuration = .init(),
                transport: any HTTPTransport = URLSessionTransport(), rateLimiter: (any KommoRequestLimiter)? = nil,
                clock: any Clock<Duration> = ContinuousClock(), wallClock: WallClock = .system,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, log: (any LogSink)? = nil) {
        self.host = host
        self.configuration = configuration
        let limiter: any KommoRequestLimiter = rateLimiter ?? KommoRateLimiter(limit: configuration.rateLimit,
                                                                               clock: clock)
        self.rateLimiter = limiter
        let monotonic = MonotonicClock(clock)
        let counter = StatisticsCounter()
        engine = RequestEngine(host: host, tokenProvider: tokenProvider, configuration: configuration,
                               transport: transport, limiter: limiter, clock: monotonic, wallClock: wallClock,
                               random: random, statistics: counter, logger: SDKLogger(log, source: "kommo"))
        caches = Caches(clock: monotonic, ttl: configuration.cacheTTL, statistics: counter)
        counters = counter
    }

    /// The host; never a token.
    public var description: String { "HTTPKommoClient(host: \(host))" }
    /// The host and configuration only, so that `dump` cannot reach the token provider.
    public var customMirror: Mirror { Mirror(self, children: ["host": host, "configuration": configuration]) }

    private var idsPerRequest: Int { min(max(configuration.idsPerRequest, 1), 250) }
    private var pageLimit: String { String(min(max(configuration.pageLimit, 1), 250)) }

    // MARK: Entities by id

    /// `GET /api/v4/leads?filter[id][]=…&with=contacts,loss_reason&limit=250`, ≤ 250 ids per request (fewer when
    /// the URL would pass ``Configuration/maxURLLength``), all pages.
    public func leads(ids: [Int64]) async throws -> [Lead] {
        try await byIDs(Lead.self, path: "/api/v4/leads", ids: ids, extra: [("with", "contacts,loss_reason")])
    }

    /// `GET /api/v4/leads/{id}?with=contacts,loss_reason`; `nil` on 204.
    public func lead(id: Int64) async throws -> Lead? {
        try await engine.getObject(Lead.self, path: "/api/v4/leads/\(id)", query: [("with", "contacts,loss_reason")])
    }

    /// `GET /api/v4/contacts?filter[id][]=…&limit=250`, ≤ 250 ids per request (and URLs within
    /// ``Configuration/maxURLLength``), all pages.
    public func contacts(ids: [Int64]) async throws -> [Contact] {
        try await byIDs(Contact.self, path: "/api/v4/contacts", ids: ids, extra: [])
    }

    /// `GET /api/v4/companies?filter[id][]=…&limit=250`, ≤ 250 ids per request (and URLs within
    /// ``Configuration/maxURLLength``), all pages.
    public func companies(ids: [Int64]) async throws -> [Company] {
        try await byIDs(Company.self, path: "/api/v4/companies", ids: ids, extra: [])
    }

    private func byIDs<Item: HALCollectionItem>(_ type: Item.Type, path: String, ids: [Int64],
                                                extra: [(String, String)]) async throws -> [Item] {
        var seen = Set<Int64>()
        let unique = ids.filter { seen.insert($0).inserted }
        let tail = extra + [("limit", pageLimit)]
        // The URL without ids: origin, path, "?", the other parameters, and the "&" before them.
        let fixed = try host.url(path: path, percentEncodedQuery: KommoQuery.encode(tail)).absoluteString.utf8.count + 1
        let budget = max(configuration.maxURLLength, 1_024) - fixed
        let name = KommoQuery.escape("filter[id][]")
        var result: [Item] = []
        var start = 0
        while start < unique.count {
            var end = start
            var length = 0
            while end < unique.count && end - start < idsPerRequest {
                // "name=digits&", the last "&" standing for the one before the other parameters.
                let added = name.utf8.count + 2 + String(unique[end]).utf8.count
                if end > start && length + added > budget { break }
                length += added
                end += 1
            }
            let query = unique[start..<end].map { ("filter[id][]", String($0)) } + tail
            start = end
            result += try await engine.getAll(Item.self, path: path, query: query)
        }
        return result
    }

    // MARK: Lists page by page

    /// `GET /api/v4/events?filter[type][]=…&filter[entity][]=lead&filter[created_at][from]=…&limit=100&page=N`: one
    /// page, newest first; an empty last page on 204.
    public func events(_ query: KommoEventQuery, page: Int) async throws -> KommoPage<KommoEvent> {
        let number = max(page, 1)
        let (items, hasNext) = try await engine.getPage(KommoEvent.self, path: "/api/v4/events",
                                                        query: query.parameters(page: number))
        return KommoPage(items: items, number: number, hasNext: hasNext)
    }

    /// `GET /api/v4/leads?filter[statuses][i][…]=…&filter[closed_at][from]=…&with=contacts,loss_reason&limit=250&page=N`:
    /// one page, by Kommo's order; an empty last page on 204.
    public func leads(_ query: KommoLeadQuery, page: Int) async throws -> KommoPage<Lead> {
        let number = max(page, 1)
        let (items, hasNext) = try await engine.getPage(Lead.self, path: "/api/v4/leads",
                                                        query: query.parameters(page: number))
        return KommoPage(items: items, number: number, hasNext: hasNext)
    }

    // MARK: Reference data (cached)

    /// `GET /api/v4/leads/pipelines` (all pages), cached for ``Configuration/cacheTTL``.
    public func pipelines() async throws -> [Pipeline] {
        let engine = self.engine
        return try await caches.pipelines.value {
            try await engine.getAll(Pipeline.self, path: "/api/v4/leads/pipelines", query: [])
        }
    }

    /// `GET /api/v4/users?limit=250` (all pages), cached; `nil` (also cached) when Kommo answers 403 because the
    /// token lacks admin rights. A 403 that looks like an IP block is thrown, not degraded.
    public func users() async throws -> [User]? {
        let engine = self.engine
        let limit = pageLimit
        return try await caches.users.value {
            do {
                return try await engine.getAll(User.self, path: "/api/v4/users", query: [("limit", limit)])
            } catch let error as KommoAPIError where error.code == .forbidden {
                return nil
            }
        }
    }

    /// `GET /api/v4/leads/loss_reasons` (all pages), cached.
    public func lossReasons() async throws -> [LossReason] {
        let engine = self.engine
        return try await caches.lossReasons.value {
            try await engine.getAll(LossReason.self, path: "/api/v4/leads/loss_reasons", query: [])
        }
    }

    /// `GET /api/v4/account`, cached.
    public func account() async throws -> Account {
        let engine = self.engine
        return try await caches.account.value {
            guard let account = try await engine.getObject(Account.self, path: "/api/v4/account") else {
                throw KommoAPIError(code: .unexpectedStatus, request: "GET /api/v4/account", status: 204,
                                    detail: "the account endpoint returned no content")
            }
            return account
        }
    }

    /// Waits until the rate limiter would let a request start at once, without reserving the start.
    public func waitForNextStart() async throws {
        try await rateLimiter.waitForNextStart()
    }

    /// Forgets every cached value, so the next calls fetch again.
    public func invalidateCaches() async {
        await caches.pipelines.invalidate()
        await caches.users.invalidate()
        await caches.lossReasons.invalidate()
        await caches.account.invalidate()
    }

    // MARK: Writes

    /// `POST /api/v4/leads/notes` in batches of at most ``Configuration/notesPerRequest``; returns the created
    /// notes in order. Not retried when the outcome is unknown; if a later batch fails, earlier batches are
    /// already written.
    public func addNotes(_ notes: [NewNote]) async throws -> [Note] {
        let size = min(max(configuration.notesPerRequest, 1), 250)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = HTTPHeaders()
        if let user = configuration.contextUserID { headers["X-Context-User-ID"] = String(user) }
        var created: [Note] = []
        var start = 0
        while start < notes.count {
            let batch = Array(notes[start..<min(start + size, notes.count)])
            start += batch.count
            let body: Data
            do {
                body = try encoder.encode(batch)
            } catch {
                throw KommoAPIError(code: .invalidArgument, detail: "a note could not be encoded as JSON",
                                    underlyingError: error)
            }
            created += try await engine.post(Note.self, path: "/api/v4/leads/notes", body: body,
                                             extraHeaders: headers)
        }
        return created
    }
}

extension RetryPolicy {
    /// The Kommo client's default: 4 attempts in all, backoff from 1 s doubling to 30 s with up to 20% jitter,
    /// `Retry-After` honoured up to 60 s and counted as an attempt (repeated 429s get an IP blocked), 2 minutes
    /// in all.
    public static let kommo = RetryPolicy(maxAttempts: 4, baseDelay: .seconds(1), maxDelay: .seconds(30), jitter: 0.2,
                                          totalDeadline: .seconds(120), maxRetryAfter: .seconds(60),
                                          rateLimitWaitsCount: true)
}

/// The client's caches of reference data, shared by copies of one client.
final class Caches: Sendable {
    let pipelines: CachedValue<[Pipeline]>
    let users: CachedValue<[User]?>
    let lossReasons: CachedValue<[LossReason]>
    let account: CachedValue<Account>

    init(clock: MonotonicClock, ttl: Duration, statistics: StatisticsCounter) {
        pipelines = CachedValue(clock: clock, ttl: ttl, statistics: statistics)
        users = CachedValue(clock: clock, ttl: ttl, statistics: statistics)
        lossReasons = CachedValue(clock: clock, ttl: ttl, statistics: statistics)
        account = CachedValue(clock: clock, ttl: ttl, statistics: statistics)
    }
}

/// One cached value with a time to live; concurrent callers of an empty or expired cache share one fetch, and a
/// failed fetch is not cached.
///
/// Counting: the caller that starts a fetch is a miss; a caller answered from the stored value, or by a shared fetch
/// that succeeded, is a hit; a caller that joined a shared fetch that failed is neither.
actor CachedValue<Value: Sendable> {
    private let clock: MonotonicClock
    private let ttl: Duration
    private let statistics: StatisticsCounter
    private var stored: (value: Value, fetchedAt: Duration)?
    private var inFlight: Task<Value, any Error>?
    private var generation = 0

    init(clock: MonotonicClock, ttl: Duration, statistics: StatisticsCounter) {
        self.clock = clock
        self.statistics = statistics
        self.ttl = ttl
    }

    func value(fetch: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let stored, clock.now - stored.fetchedAt < ttl {
            statistics.update { $0.cacheHits += 1 }
            return stored.value
        }
        if let inFlight {
            // A joiner is a hit only when the shared fetch succeeds: a failed one answered nothing from the cache.
            let value = try await inFlight.value
            statistics.update { $0.cacheHits += 1 }
            return value
        }
        statistics.update { $0.cacheMisses += 1 }
        let task = Task { try await fetch() }
        inFlight = task
        let startedGeneration = generation
        defer { if generation == startedGeneration { inFlight = nil } }
        let value = try await task.value
        if generation == startedGeneration { stored = (value, clock.now) }
        return value
    }

    func invalidate() {
        stored = nil
        inFlight = nil
        generation += 1
    }
}
