import Foundation
import HTTPCore
import KommoAPI

/// A Kommo account served from the bundled sample data: a ``KommoFixtureTransport`` over
/// ``Fixtures/kommoAPIDirectory()`` and an `HTTPKommoClient` wired to it.
///
/// The client talks to `https://acme.kommo.com` with the token ``token``, on an ``ImmediateClock`` by
/// default, so rate-limit waits cost no wall-clock time. Nothing leaves the process.
///
/// ```swift
/// let fake = try KommoAPIFake()
/// let leads = try await fake.client.leads(ids: [24000017, 24000099])   // 24000099 is deleted: one lead
/// #expect(fake.transport.requestCount(path: "/api/v4/leads") == 1)
/// ```
public struct KommoAPIFake: Sendable {
    /// The bearer token the fake client sends (and the transport accepts).
    public static let token = "fixture-token"
    /// The sample account's id.
    public static let accountID: Int64 = 31_234_567
    /// The sample account's subdomain.
    public static let subdomain = "acme"

    /// The transport answering from the bundled fixtures; read its counters and recorded notes.
    public let transport: KommoFixtureTransport
    /// A client of the sample account over ``transport``.
    public let client: HTTPKommoClient

    /// Creates the fake.
    ///
    /// - Parameters:
    ///   - usersForbidden: answer users requests with 403, as for a token without admin rights.
    ///   - configuration: the client's configuration.
    ///   - clock: the monotonic clock of the client's rate limiter, retries and caches; a ``TestClock`` also gives
    ///     the client its wall clock, so `Retry-After` dates are read on the same fake time.
    /// - Throws: ``Fixtures/Missing`` when the bundle lacks the fixtures; `KommoAPIError` for an invalid host.
    public init(usersForbidden: Bool = false, configuration: HTTPKommoClient.Configuration = .init(),
                clock: any Clock<Duration> = ImmediateClock()) throws {
        let transport = KommoFixtureTransport(source: .files(try Fixtures.kommoAPIFiles()),
                                              usersForbidden: usersForbidden, acceptedToken: Self.token)
        self.transport = transport
        client = HTTPKommoClient(host: try KommoAccountHost(subdomain: Self.subdomain),
                                 tokenProvider: LongLivedToken(Self.token), configuration: configuration,
                                 transport: transport, clock: clock,
                                 wallClock: (clock as? any TestClock)?.wallClock ?? .system)
    }
}
