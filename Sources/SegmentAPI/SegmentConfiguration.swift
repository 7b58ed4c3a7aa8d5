import Foundation

/// A Segment (or RudderStack) write key: a secret that is never printed.
///
/// `description`, `debugDescription` and string interpolation show `<redacted>`, so the key cannot end up in a log
/// by accident.
public struct SegmentWriteKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    ExpressibleByStringLiteral {
    /// The key itself; read only where it is sent.
    package let value: String

    /// Wraps a write key.
    public init(_ value: String) { self.value = value }
    /// Wraps a write key given as a literal.
    public init(stringLiteral value: String) { self.value = value }

    /// Always `<redacted>`.
    public var description: String { "<redacted>" }
    /// Always `SegmentWriteKey(<redacted>)`.
    public var debugDescription: String { "SegmentWriteKey(<redacted>)" }

    /// The `Authorization` header value: `Basic base64(writeKey + ":")`.
    package var basicAuthorization: String { "Basic " + Data((value + ":").utf8).base64EncodedString() }
}

/// Where batches are sent: Segment's US or EU region, or any Segment-compatible origin (RudderStack, a proxy).
///
/// Configure the origin only (scheme, host, optional port and path prefix); `/v1/batch` is appended. A write key
/// works only in the region that issued it, so the endpoint belongs with the key.
public struct SegmentEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The origin, for example `https://api.segment.io`.
    public let origin: URL

    /// Segment's US region (Oregon): `https://api.segment.io`. The default.
    public static let us = SegmentEndpoint(trustedHost: "api.segment.io")
    /// Segment's EU region (Dublin): `https://events.eu1.segmentapis.com`.
    public static let eu = SegmentEndpoint(trustedHost: "events.eu1.segmentapis.com")

    private init(trustedHost host: String) {
        var components = URLComponents()
        components.scheme = "https"
        components.host = host
        origin = components.url ?? URL(fileURLWithPath: "/")
    }

    /// A custom origin, such as a RudderStack data plane (`https://acme.dataplane.rudderstack.com`) or a loopback
    /// server in tests. Must be `https` with a host and carry no query, fragment or credentials.
    ///
    /// Plain `http` would send the write key in clear, so it is accepted only for a loopback host (`127.0.0.0/8`,
    /// `::1`, `localhost`), or anywhere when `allowsInsecureHTTP` is set (a self-hosted RudderStack on a private
    /// network, say).
    public init(origin: URL, allowsInsecureHTTP: Bool = false) throws(SegmentError) {
        guard let scheme = origin.scheme?.lowercased(), scheme == "https" || scheme == "http",
              let host = origin.host, !host.isEmpty else {
            throw SegmentError(code: .invalidConfiguration,
                               detail: "endpoint \(origin.redactedForLogs) is not an http(s) origin with a host")
        }
        if scheme == "http" && !allowsInsecureHTTP && !Self.isLoopback(host) {
            throw SegmentError(code: .invalidConfiguration,
                               detail: "endpoint \(origin.redactedForLogs) uses plain http to a host that is not "
                                   + "loopback, which would send the write key in clear; use https, or set "
                                   + "allowsInsecureHTTP for a private network")
        }
        guard origin.query == nil, origin.fragment == nil, origin.user == nil, origin.password == nil else {
            throw SegmentError(code: .invalidConfiguration,
                               detail: "endpoint \(origin.redactedForLogs) must not carry a query, fragment or credentials")
        }
        self.origin = origin
    }

    /// Whether `host` is a loopback name or address.
    static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return name == "localhost" || name == "::1" || name.hasPrefix("127.")
    }

    /// The batch URL: the origin with `/v1/batch` appended.
    public var batchURL: URL {
        origin.appendingPathComponent("v1").appendingPathComponent("batch")
    }

    /// The origin.
    public var description: String { origin.absoluteString }
}

/// A seam for request body compression (for example gzip), which the SDK itself does not provide.
///
/// Foundation has no zlib binding on Linux, so the SDK sends uncompressed JSON. A service that has a compressor
/// can plug it in here; size limits still apply to the uncompressed JSON.
public protocol SegmentBodyCompressor: Sendable {
    /// The `Content-Encoding` header value, for example `gzip`.
    var contentEncoding: String { get }
    /// Compresses a request body.
    func compress(_ body: Data) throws -> Data
}

/// Settings of ``HTTPSegmentClient``: credentials, endpoint and request options. Every field but the key has a default.
public struct SegmentClientConfiguration: Sendable {
    /// The source's write key.
    public var writeKey: SegmentWriteKey
    /// Where to send: ``SegmentEndpoint/us`` by default.
    public var endpoint: SegmentEndpoint
    /// The total deadline of one HTTP request. Default: 15 seconds.
    public var requestTimeout: Duration
    /// The `User-Agent` header. Default: `kommo-segment-swift/<version>`.
    public var userAgent: String
    /// Whether to add `writeKey` to the batch envelope as well as the Basic header (Segment's own libraries do;
    /// RudderStack ignores it). Default: `true`.
    public var includesWriteKeyInBody: Bool
    /// Optional body compression; `nil` (the default) sends plain JSON.
    public var compressor: (any SegmentBodyCompressor)?

    /// Creates a configuration.
    public init(
        writeKey: SegmentWriteKey, endpoint: SegmentEndpoint = .us, requestTimeout: Duration = .seconds(15),
        userAgent: String = SDKInfo.userAgent, includesWriteKeyInBody: Bool = true,
        compressor: (any SegmentBodyCompressor)? = nil
    ) {
        self.writeKey = writeKey
        self.endpoint = endpoint
        self.requestTimeout = requestTimeout
        self.userAgent = userAgent
        self.includesWriteKeyInBody = includesWriteKeyInBody
        self.compressor = compressor
    }
}

extension SegmentLibraryInfo {
    /// This SDK: `kommo-segment-swift` and its version.
    public static let kommoSegment = SegmentLibraryInfo(name: SDKInfo.name, version: SDKInfo.version)
}
