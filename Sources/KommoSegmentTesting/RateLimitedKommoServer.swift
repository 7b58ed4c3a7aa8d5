import Foundation

/// A Kommo on loopback that serves the fixtures of a ``KommoFixtureTransport`` and enforces Kommo's limit the way
/// Kommo does: a request that would be the 8th to arrive within one second is answered `429` with `Retry-After: 1`.
///
/// It records every arrival, so a test can check how many requests a design made, how many were refused, and the
/// most that arrived in any one second.
public final class RateLimitedKommoServer: Sendable {
    /// The fixtures it answers from.
    public let api: KommoFixtureTransport
    /// The loopback server; its ``LoopbackHTTPServer/baseURL`` is the account's Kommo URL.
    public let server: LoopbackHTTPServer
    /// The most requests allowed to arrive within one second.
    public let limit: Int
    private let arrivals = Locked<[ContinuousClock.Instant]>([])
    private let refusals = Locked(0)

    /// Starts the server on a free loopback port.
    /// - Parameters:
    ///   - api: the fixtures to answer from (the bundled directory by default, any bearer token accepted).
    ///   - limit: the most requests per second before 429; Kommo's 7 by default.
    public init(api: KommoFixtureTransport? = nil, limit: Int = 7) throws {
        let api = try api ?? KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory())
        self.api = api
        self.limit = limit
        let arrivals = self.arrivals
        let refusals = self.refusals
        server = try LoopbackHTTPServer { request in
            let now = ContinuousClock.now
            let crowded = arrivals.withLock { times -> Bool in
                times.append(now)
                return times.filter { now - $0 < .seconds(1) }.count > limit
            }
            if crowded {
                refusals.withLock { $0 += 1 }
                return LoopbackHTTPServer.Response(status: 429, headers: [("Retry-After", "1")])
            }
            return api.respond(to: request)
        }
    }

    /// How many requests were answered 429.
    public var rateLimited: Int { refusals.withLock { $0 } }
    /// Every request's arrival, in order.
    public var arrivalTimes: [ContinuousClock.Instant] { arrivals.withLock { $0 } }
    /// How many requests arrived.
    public var requestCount: Int { arrivals.withLock { $0.count } }
    /// The most requests that arrived within any one second.
    public var busiestSecond: Int { Self.busiestSecond(arrivalTimes) }

    /// The most of `times` within any one-second window.
    public static func busiestSecond(_ times: [ContinuousClock.Instant]) -> Int {
        let sorted = times.sorted()
        var best = 0, low = 0
        for high in sorted.indices {
            while sorted[high] - sorted[low] >= .seconds(1) { low += 1 }
            best = max(best, high - low + 1)
        }
        return best
    }

    /// Stops the server.
    public func stop() { server.stop() }
}
