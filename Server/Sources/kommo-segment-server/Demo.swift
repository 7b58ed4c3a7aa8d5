import Foundation
import KommoSegment
import KommoSegmentHummingbird
import KommoSegmentTesting

/// `--demo` (or `KOMMO_SEGMENT_DEMO=1`): account 31234567 (acme), Kommo answered from the bundled fixtures, each
/// Segment message printed on standard output as one JSON line instead of sent.
enum Demo {
    /// The demo's webhook secret: `curl ... 'http://127.0.0.1:8080/kommo/webhook?secret=demo-secret-0123456789'`.
    static let secret = "demo-secret-0123456789"

    static func setup(environment: [String: String]) throws -> (ServerConfiguration, KommoSegmentServer.Overrides) {
        let kept = ["HOST", "PORT", "LOG_LEVEL", "KOMMO_SEGMENT_SHUTDOWN_GRACE"]
        var variables = environment.filter { kept.contains($0.key) }
        variables["KOMMO_ACCOUNT_ID"] = "31234567"
        variables["KOMMO_BASE_URL"] = "acme"
        variables["KOMMO_ACCESS_TOKEN"] = "demo-token"
        variables["KOMMO_WEBHOOK_SECRET"] = secret
        variables["SEGMENT_WRITE_KEY"] = "demo-write-key"
        variables["KOMMO_SEGMENT_INBOX"] = environment["KOMMO_SEGMENT_INBOX"] ?? "./data/demo-inbox"
        let configuration = try ServerConfiguration(environment: variables)
        let transport = try KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory())
        let printer = PrintingSegmentClient()
        let overrides = KommoSegmentServer.Overrides(
            kommoTransport: transport, segmentClient: { _ in printer },
            kommoRateLimit: KommoRateLimiter.Limit(requestsPerSecond: 1_000, burst: 100))
        printError("kommo-segment-server: demo: account 31234567, Kommo answered from the bundled fixtures, Segment "
            + "messages printed on stdout; try: curl -X POST -H 'Content-Type: application/x-www-form-urlencoded' "
            + "--data-binary @webhook-lead-status-won.txt "
            + "'http://\(configuration.host):\(configuration.port)/kommo/webhook?secret=\(secret)'")
        return (configuration, overrides)
    }
}
