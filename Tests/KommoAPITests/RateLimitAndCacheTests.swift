import Foundation
import HTTPCore
import JSONCore
import KommoAPI
import KommoSegmentTesting
import Testing

/// The most timestamps falling in any closed one-second window.
private func maxInAnySecond(_ dates: [Date]) -> Int {
    let sorted = dates.sorted()
    var best = 0
    for (i, start) in sorted.enumerated() {
        let count = sorted[i...].prefix { $0.timeIntervalSince(start) <= 1.0 }.count
        best = max(best, count)
    }
    return best
}

@Suite("Kommo rate limiter", .timeLimit(.minutes(1)))
struct RateLimiterTests {
    @Test("20 sequential calls never put more than 7 requests in any one-second window")
    func sequentialWindow() async throws {
        let time = ImmediateClock()
        let stamps = Recorder<Date>()
        let transport = ScriptedTransport(fallback: { _, _ in
            stamps.append(time.date)
            return K.noContent
        })
        let client = try K.client(transport, clock: time)
        for id: Int64 in 0..<20 { _ = try await client.lead(id: id) }
        let dates = stamps.values
        #expect(dates.count == 20)
        #expect(maxInAnySecond(dates) == 7)
        let gaps = zip(dates.dropFirst(), dates).map { $0.timeIntervalSince($1) }
        #expect(gaps.allSatisfy { $0 >= 1 / 6.5 - 1e-3 })
        // 19 gaps of 1/6.5 s: the limiter does not wait longer than it must.
        #expect(abs(dates[19].timeIntervalSince(dates[0]) - 19 / 6.5) < 0.01)
    }

    @Test("20 concurrent calls on two clients sharing a limiter stay within 7 per second")
    func concurrentSharedWindow() async throws {
        // A manual clock: every sleeper wakes at its own deadline while the test moves time in 5 ms steps.
        let time = ManualClock()
        let stamps = Recorder<Date>()
        let transport = ScriptedTransport(fallback: { _, _ in
            stamps.append(time.date)
            return K.noContent
        })
        let limiter = KommoRateLimiter(clock: time)
        let a = try K.client(transport, clock: time, limiter: limiter)
        let b = try K.client(transport, clock: time, limiter: limiter)
        let work = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id: Int64 in 0..<20 {
                    let client = id.isMultiple(of: 2) ? a : b
                    group.addTask { _ = try await client.lead(id: id) }
                }
                try await group.waitForAll()
            }
        }
        // Move time only once every task is either finished (stamped) or asleep on the clock, so each request
        // is stamped at the first 5 ms step after its slot. With a burst of 1, one request starts at once and the
        // other 19 sleep until their slots.
        await stamps.wait(for: 1)
        await time.waitForSleepers(19)
        var steps = 0
        while stamps.values.count < 20 && steps < 2_000 {
            time.advance(by: .milliseconds(5))
            // The sleepers whose slot came are awake now and about to be stamped; the others still sleep, and
            // nobody starts a new sleep, so the two add up to 20 once the woken ones are stamped.
            await stamps.wait(for: 20 - time.sleeperCount)
            steps += 1
        }
        try await work.value
        #expect(stamps.values.count == 20)
        #expect(maxInAnySecond(stamps.values) <= 7)
        #expect(await limiter.grantedCount == 20)
        // Spread over about 19 intervals of 1/6.5 s, not serialised behind anything slower.
        let span = try #require(stamps.values.max()).timeIntervalSince(try #require(stamps.values.min()))
        #expect(span >= 19 / 6.5 - 0.01 && span < 19 / 6.5 + 0.2)
    }

    @Test("callers wait on the manual clock until their slot")
    func manualClock() async throws {
        let time = ManualClock()
        let limiter = KommoRateLimiter(clock: time)
        let done = Recorder<Int>()
        try await limiter.acquire()  // the first request starts at once
        let second = Task {
            try await limiter.acquire()
            done.append(2)
        }
        await time.waitForSleepers(1)
        #expect(done.values.isEmpty)
        time.advance(by: .milliseconds(150))
        #expect(done.values.isEmpty)
        #expect(time.sleeperCount == 1)
        time.advance(by: .milliseconds(5))  // 155 ms ≥ 1/6.5 s
        try await second.value
        #expect(done.values == [2])
    }

    @Test("after a 429 every caller of the account is held back for Retry-After")
    func pauseAfter429() async throws {
        let time = ImmediateClock()
        let limiter = KommoRateLimiter(clock: time)
        await limiter.noteRateLimited(retryAfter: .seconds(4))
        let before = time.date
        try await limiter.acquire()
        #expect(time.date.timeIntervalSince(before) >= 4)
        #expect(time.sleeps.reduce(Duration.zero, +) >= .seconds(4))
        #expect(await limiter.wasRateLimited(within: .seconds(900)))
        time.advance(by: .seconds(901))
        #expect(await limiter.wasRateLimited(within: .seconds(900)) == false)
    }
}

@Suite("Kommo client caches", .timeLimit(.minutes(1)))
struct CacheTests {
    @Test("pipelines are cached for the TTL, then fetched again")
    func pipelinesTTL() async throws {
        let time = ImmediateClock()
        let transport = ScriptedTransport(fallback: { _, _ in (try? K.fixture("api-pipelines.json")) ?? K.noContent })
        let client = try K.client(transport, clock: time)
        #expect(try await client.pipelines().count == 2)
        #expect(try await client.pipelines().count == 2)
        #expect(try await client.status(id: 142, pipelineID: 7_654_400)?.name == "Closed - won")
        #expect(transport.requests.count == 1)
        time.advance(by: .seconds(599))
        _ = try await client.pipelines()
        #expect(transport.requests.count == 1)
        time.advance(by: .seconds(2))
        _ = try await client.pipelines()
        #expect(transport.requests.count == 2)
    }

    @Test("concurrent callers of an empty cache share one request")
    func sharedFetch() async throws {
        let time = ImmediateClock()
        let transport = ScriptedTransport(fallback: { _, _ in (try? K.fixture("api-pipelines.json")) ?? K.noContent })
        let client = try K.client(transport, clock: time)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<10 { group.addTask { try await client.pipelines().count } }
            for try await count in group { #expect(count == 2) }
        }
        #expect(transport.requests.count == 1)
    }

    @Test("a failed fetch is not cached; invalidateCaches forces a refetch")
    func failuresNotCached() async throws {
        let transport = ScriptedTransport([
            K.json("", status: 404), try K.fixture("api-account.json"), try K.fixture("api-account.json"),
        ])
        let client = try K.client(transport)
        await #expect(throws: KommoAPIError.self) { _ = try await client.account() }
        #expect(try await client.account().name == "ACME Corp")
        #expect(try await client.account().name == "ACME Corp")
        #expect(transport.requests.count == 2)
        await client.invalidateCaches()
        _ = try await client.account()
        #expect(transport.requests.count == 3)
    }

    @Test("users: a 403 degrades to nil, cached for the TTL like a list")
    func usersDegrade() async throws {
        let time = ImmediateClock()
        let transport = ScriptedTransport([
            K.json(#"{"title":"Forbidden","detail":"Admin rights required"}"#, status: 403),
            K.page("users", [try K.fixtureJSON("api-user.json")]),
        ])
        let client = try K.client(transport, clock: time)
        #expect(try await client.users() == nil)
        #expect(try await client.user(id: 9_000_001) == nil)
        #expect(transport.requests.count == 1)
        time.advance(by: .seconds(601))
        #expect(try await client.users()?.map(\.id) == [9_000_001])
        #expect(try await client.user(id: 9_000_001)?.email == "maria.lopez@example.com")
        #expect(try await client.user(id: 1) == nil)
        #expect(transport.requests.count == 2)
    }

    @Test("users: a 403 right after a 429 is a block, thrown rather than degraded")
    func usersBlockNotDegraded() async throws {
        let transport = ScriptedTransport([K.json("", status: 429, headers: ["Retry-After": "1"]),
                                           .respond(status: 403)])
        let error = await #expect(throws: KommoAPIError.self) { _ = try await K.client(transport).users() }
        #expect(error?.code == .blockedAfterRateLimit)
    }

    @Test("leads are never cached")
    func leadsNotCached() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in K.noContent })
        let client = try K.client(transport)
        _ = try await client.lead(id: 1)
        _ = try await client.lead(id: 1)
        #expect(transport.requests.count == 2)
    }
}

@Suite("Kommo client statistics", .timeLimit(.minutes(1)))
struct ClientStatisticsTests {
    @Test("requests, retries, 429s, cache hits and misses are counted, shared by copies and seen through the protocol")
    func counts() async throws {
        let transport = ScriptedTransport([
            K.json("{}", status: 429, headers: ["Retry-After": "1"]),
            try K.fixture("api-pipelines.json"),
        ], fallback: { _, _ in K.noContent })
        let client = try K.client(transport)
        #expect(await client.statistics == KommoClientStatistics())
        #expect(try await client.pipelines().count == 2)  // a miss: a 429, then the pipelines
        #expect(try await client.pipelines().count == 2)  // a hit
        #expect(try await client.status(id: 142, pipelineID: 7_654_400)?.name == "Closed - won")  // a hit
        let copy = client
        _ = try await copy.lead(id: 1)  // leads are not cached: a request, neither a hit nor a miss
        _ = try await copy.lead(id: 1)

        var expected = KommoClientStatistics()
        expected.requests = 4
        expected.retries = 1
        expected.rateLimited = 1
        expected.cacheHits = 2
        expected.cacheMisses = 1
        #expect(await client.statistics == expected)
        #expect(await copy.statistics == expected)
        let erased: any KommoClient = client
        #expect(await erased.statistics == expected)
        #expect(transport.requests.count == expected.requests)
    }

    @Test("concurrent readers of an empty cache: one miss and one request, every other reader a hit")
    func sharedFetchCounts() async throws {
        let transport = ScriptedTransport(fallback: { _, _ in (try? K.fixture("api-account.json")) ?? K.noContent })
        let client = try K.client(transport)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 { group.addTask { _ = try await client.account() } }
            try await group.waitForAll()
        }
        let statistics = await client.statistics
        #expect(statistics.cacheMisses == 1)
        #expect(statistics.cacheHits == 9)
        #expect(statistics.requests == 1)
        #expect(statistics.retries == 0 && statistics.rateLimited == 0)
        #expect(transport.requests.count == 1)
    }

    @Test("readers that join a shared fetch that fails are not counted as hits")
    func failedSharedFetchCounts() async throws {
        let gate = HeldTransport(ScriptedTransport(fallback: { _, _ in K.json("", status: 404) }))
        let client = HTTPKommoClient(host: try K.host(), tokenProvider: LongLivedToken(K.accessToken),
                                     transport: gate, clock: ImmediateClock(), random: { 0 })
        let read: @Sendable () async -> KommoAPIError.Code? = {
            do {
                _ = try await client.account()
                return nil
            } catch {
                return (error as? KommoAPIError)?.code
            }
        }
        let codes = await withTaskGroup(of: KommoAPIError.Code?.self) { group in
            group.addTask { await read() }
            await gate.waitUntilHeld()
            // The others start while the first fetch is held: each joins it, or (if it already failed) fetches again;
            // either way no read is answered from the cache.
            for _ in 0..<9 { group.addTask { await read() } }
            try? await Task.sleep(for: .milliseconds(100))
            gate.release()
            var codes: [KommoAPIError.Code?] = []
            for await code in group { codes.append(code) }
            return codes
        }
        #expect(codes == Array(repeating: .notFound, count: 10))
        let statistics = await client.statistics
        #expect(statistics.cacheHits == 0)
        #expect(statistics.cacheMisses == statistics.requests)
        #expect(statistics.requests == gate.requests)
        #expect(statistics.requests >= 1)
    }
}

/// Holds the first request until released, then answers every request from `wrapped`.
final class HeldTransport: HTTPTransport {
    private let wrapped: ScriptedTransport
    private let state = LockedValue<(held: Bool, released: Bool, waiter: CheckedContinuation<Void, Never>?)>(
        (false, false, nil))

    private let heldSignal = AsyncLatch<Bool>()

    init(_ wrapped: ScriptedTransport) { self.wrapped = wrapped }

    /// Requests received so far.
    var requests: Int { wrapped.requests.count }

    func send(_ request: HTTPRequest, body: Data?) async throws -> (HTTPResponse, Data) {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let proceed = state.withLock { s -> Bool in
                if s.held || s.released { return true }
                s.held = true
                s.waiter = continuation
                return false
            }
            if proceed { continuation.resume() } else { heldSignal.resolve(true) }
        }
        return try await wrapped.send(request, body: body)
    }

    /// Returns once the first request is held.
    func waitUntilHeld() async {
        _ = await heldSignal.wait()
    }

    /// Lets the held request (and every later one) through.
    func release() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.released = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }
}

@Suite("Kommo account hosts", .timeLimit(.minutes(1)))
struct HostTests {
    @Test("hosts from webhooks and OAuth referers under Kommo's domains are accepted", arguments: [
        ("https://acme.kommo.com", "https://acme.kommo.com"),
        ("https://ACME.Kommo.com/", "https://acme.kommo.com"),
        ("acme.kommo.com", "https://acme.kommo.com"),
        ("https://acme.amocrm.ru", "https://acme.amocrm.ru"),
        ("https://acme.amocrm.com/api/v4/account?x=1", "https://acme.amocrm.com"),
        ("https://api-c.kommo.com:443", "https://api-c.kommo.com"),
        (" https://acme-2.kommo.com ", "https://acme-2.kommo.com"),
    ])
    func accepted(input: String, expected: String) throws {
        #expect(try KommoAccountHost(validating: input).baseURL.absoluteString == expected)
    }

    @Test("anything else is refused with a typed error", arguments: [
        ("http://acme.kommo.com", KommoAPIError.Code.insecureURL),
        ("https://kommo.com", .hostNotAllowed),
        ("https://www.kommo.com", .hostNotAllowed),
        ("https://evil.com", .hostNotAllowed),
        ("https://acme.kommo.com.evil.com", .hostNotAllowed),
        ("https://evilkommo.com", .hostNotAllowed),
        ("https://acme.kommo.com@evil.com", .hostNotAllowed),
        ("https://user:pw@acme.kommo.com", .hostNotAllowed),
        ("https://acme.kommo.com:8443", .hostNotAllowed),
        ("https://acme.kommo.com.", .hostNotAllowed),
        ("https://acme_x.kommo.com", .hostNotAllowed),
        ("https://127.0.0.1", .hostNotAllowed),
        ("ftp://acme.kommo.com", .insecureURL),
        ("", .invalidURL),
    ])
    func refused(input: String, code: KommoAPIError.Code) {
        let error = #expect(throws: KommoAPIError.self) { try KommoAccountHost(validating: input) }
        #expect(error?.code == code)
    }

    @Test("an explicit allow-list replaces the defaults; loopback entries match exactly")
    func allowList() throws {
        #expect(try KommoAccountHost(validating: "https://acme.crm.example.net", allowedParentDomains: ["crm.example.net"])
            .host == "acme.crm.example.net")
        #expect(throws: KommoAPIError.self) {
            try KommoAccountHost(validating: "https://acme.kommo.com", allowedParentDomains: ["crm.example.net"])
        }
        #expect(try KommoAccountHost(validating: "http://127.0.0.1:8080/x", allowedParentDomains: ["127.0.0.1"])
            .baseURL.absoluteString == "http://127.0.0.1:8080")
    }

    @Test("subdomains build https URLs; invalid ones are refused")
    func subdomains() throws {
        #expect(try KommoAccountHost(subdomain: "acme").baseURL.absoluteString == "https://acme.kommo.com")
        #expect(try KommoAccountHost(subdomain: "Acme", parentDomain: "amocrm.ru").description == "https://acme.amocrm.ru")
        for bad in ["", "a.b", "acme/x", "-acme", "ac me", "evil.com#"] {
            #expect(throws: KommoAPIError.self) { try KommoAccountHost(subdomain: bad) }
        }
    }

    @Test("explicit URLs: https anywhere, http only on loopback, path prefix kept")
    func explicitURLs() throws {
        #expect(try KommoAccountHost(url: "https://proxy.example.com/kommo/").baseURL.absoluteString
            == "https://proxy.example.com/kommo")
        #expect(try KommoAccountHost(url: "http://localhost:9000").baseURL.absoluteString == "http://localhost:9000")
        #expect(try KommoAccountHost(url: "http://[::1]:9000").host.contains("::1"))
        let insecure = #expect(throws: KommoAPIError.self) { try KommoAccountHost(url: "http://proxy.example.com") }
        #expect(insecure?.code == .insecureURL)
        let query = #expect(throws: KommoAPIError.self) { try KommoAccountHost(url: "https://x.example.com/?a=1") }
        #expect(query?.code == .invalidURL)
    }

    @Test("a client on a proxy prefix calls paths under it")
    func proxyPrefix() async throws {
        let transport = ScriptedTransport([K.noContent])
        let client = HTTPKommoClient(host: try KommoAccountHost(url: "https://proxy.example.com/kommo"),
                                     tokenProvider: LongLivedToken(K.accessToken), transport: transport,
                                     clock: ImmediateClock())
        _ = try await client.lead(id: 5)
        #expect(transport.requests.first?.request.url.absoluteString
            == "https://proxy.example.com/kommo/api/v4/leads/5?with=contacts,loss_reason")
    }
}
