import Foundation
import KommoSegment
import KommoSegmentHummingbird
import KommoSegmentPostgres
import KommoSegmentTesting
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bundled Kommo fixtures and the won-deal webhook sample, moved in time so that the events log ends an hour
/// ago: a server catching up over the last 10 days reads all of it.
struct RecentLog {
    /// The time of the newest bundled event (`01jh…16`, the Deal Won of `webhook-lead-status-won.txt`).
    static let newestBundledEvent: Int64 = 1_768_912_200
    /// How far the events are moved.
    let shift: Int64
    /// The fixture files, with `events.json` moved.
    let files: [String: Data]
    /// `webhook-lead-status-won.txt` at the moved time.
    let wonWebhook: Data

    init() throws {
        let shift = Int64(Date().timeIntervalSince1970) - 3_600 - Self.newestBundledEvent
        self.shift = shift
        var files = try Fixtures.kommoAPIFiles()
        let bundled = try #require(files["events.json"])
        let log = try #require(try JSONSerialization.jsonObject(with: bundled) as? [String: Any])
        var embedded = try #require(log["_embedded"] as? [String: Any])
        let events = try #require(embedded["events"] as? [[String: Any]])
        embedded["events"] = events.map { event -> [String: Any] in
            var event = event
            if let time = event["created_at"] as? NSNumber { event["created_at"] = time.int64Value + shift }
            return event
        }
        var moved = log
        moved["_embedded"] = embedded
        files["events.json"] = try JSONSerialization.data(withJSONObject: moved)
        self.files = files
        let sample = String(decoding: try Fixtures.webhook("webhook-lead-status-won.txt"), as: UTF8.self)
        wonWebhook = Data(sample.replacingOccurrences(of: String(Self.newestBundledEvent),
                                                      with: String(Self.newestBundledEvent + shift)).utf8)
    }

    /// The server's catch-up settings: every second, over the last 10 days, with no settle delay.
    static let environment = [
        "KOMMO_SEGMENT_CATCH_UP_INTERVAL": "1", "KOMMO_SEGMENT_CATCH_UP_LOOK_BACK": "864000",
        "KOMMO_SEGMENT_CATCH_UP_SETTLE": "0",
    ]

    /// The message ids an in-process pipeline sends for `webhooks` followed by one catch-up over the moved log, and
    /// how many changes that catch-up recovered.
    func expected(webhooks: [Data]) async throws -> (ids: Set<String>, recovered: Int) {
        let kommo = HTTPKommoClient(host: try KommoAccountHost(subdomain: "acme"), tokenProvider: LongLivedToken("t"),
                                    configuration: .init(rateLimit: .init(requestsPerSecond: 1_000, burst: 100)),
                                    transport: KommoFixtureTransport(files: files))
        let segment = InMemorySegmentClient()
        var configuration = KommoSegmentPipeline.Configuration(requiresSecret: false)
        configuration.catchUp.lookBack = .seconds(864_000)
        configuration.catchUp.settleDelay = .zero
        let pipeline = try KommoSegmentPipeline(
            accounts: [KommoSegmentAccount(accountID: sampleAccountID, kommo: kommo, segment: segment)],
            configuration: configuration)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run() }
            for body in webhooks {
                _ = await pipeline.process(body: body, contentType: "application/x-www-form-urlencoded",
                                           requestTarget: "/")
            }
            let report = try await pipeline.catchUp(CatchUpRequest(accountID: sampleAccountID))
            _ = await pipeline.shutdown(timeout: .seconds(10))
            try await group.waitForAll()
            return (Set(segment.messages.compactMap(\.messageID)), report.recovered)
        }
    }
}

@Suite("kommo-segment-server catches up on its schedule", .serialized)
struct CatchUpIntegrationTests {
    @Test("a webhook missed is recovered with no one asking, once; the one received is not sent again; metrics count it",
          .timeLimit(.minutes(2)))
    func scheduledCatchUpRecovers() async throws {
        let log = try RecentLog()
        let stage = try Stage(files: log.files)
        defer { stage.remove() }
        let expected = try await log.expected(webhooks: [log.wonWebhook])
        #expect(expected.recovered == 9, "the bundled log less the Deal Won the webhook brought")
        let server = try await stage.start(stage.environment().merging(RecentLog.environment) { $1 })
        #expect(try await server.postWebhook(log.wonWebhook, secret: webhookSecret) == 200)
        let received = try await stage.segment.waitForMessages { Set($0) == expected.ids }
        #expect(Set(received) == expected.ids)
        #expect(received.count == expected.ids.count, "no message sent twice")
        let (_, metrics) = try await server.metrics {
            metric($0, #"kommo_segment_catch_up_runs_total{outcome="finished"}"#) >= 2
        }
        // The webhook and the first run race for the Deal Won: whichever claims it, it is sent once.
        let recovered = metric(metrics, #"kommo_segment_catch_up_events_total{outcome="recovered"}"#)
        #expect(recovered == 9 || recovered == 10)
        #expect(metric(metrics, #"kommo_segment_catch_up_events_total{outcome="failed"}"#) == 0)
        #expect(metric(metrics, #"kommo_segment_catch_up_runs_total{outcome="failed"}"#) == 0)
        #expect(metric(metrics, "kommo_segment_catch_up_pages_total") >= 2)
        #expect(try await server.signal(SIGTERM) == 0)
        // Without a database the checkpoint is kept beside the inbox, at the end of the last window read.
        let file = stage.inbox.appendingPathComponent(KommoSegmentServer.checkpointFileName)
        let checkpoint = try await FileCatchUpCheckpointStore(path: file.path).checkpoint(for: sampleAccountID)
        #expect(try #require(checkpoint) > RecentLog.newestBundledEvent + log.shift)
    }

    @Test("two instances on one PostgreSQL: one catches the account up at a time; each change sent once, no failure",
          .enabled(if: postgresAvailable), .timeLimit(.minutes(3)))
    func twoInstancesShareTheCatchUp() async throws {
        try await withTestDatabase { databases in
            let url = databases[0].url
            let log = try RecentLog()
            let stage = try Stage(files: log.files)
            defer { stage.remove() }
            let expected = try await log.expected(webhooks: [])
            #expect(expected.recovered == 10)
            var environment = stage.environment().merging(RecentLog.environment) { $1 }
            environment["DATABASE_URL"] = "postgres://\(url.user)@\(url.host):\(url.port)/\(url.database)"
                + "?sslmode=disable"
            environment["KOMMO_SEGMENT_INBOX"] = nil
            let a = try await ServerProcess(environment: environment, directory: stage.work.appendingPathComponent("a"))
            let b = try await ServerProcess(environment: environment, directory: stage.work.appendingPathComponent("b"))
            let received = try await stage.segment.waitForMessages { Set($0) == expected.ids }
            #expect(Set(received) == expected.ids)
            // Several rounds more: later runs, on either instance, go on from the shared checkpoint.
            var texts: [String] = []
            for server in [a, b] {
                texts.append(try await server.metrics(timeout: .seconds(20)) {
                    metric($0, #"kommo_segment_catch_up_runs_total{outcome="finished"}"#)
                        + metric($0, #"kommo_segment_catch_up_runs_total{outcome="deferred"}"#) >= 3
                }.1)
            }
            #expect(stage.segment.messageIDs.count == expected.ids.count, "no message sent twice")
            func total(_ name: String) -> Double { texts.reduce(0) { $0 + metric($1, name) } }
            #expect(total(#"kommo_segment_catch_up_events_total{outcome="recovered"}"#) == 10)
            #expect(total(#"kommo_segment_catch_up_events_total{outcome="failed"}"#) == 0)
            #expect(total(#"kommo_segment_catch_up_events_total{outcome="held_elsewhere"}"#) == 0)
            #expect(total(#"kommo_segment_catch_up_runs_total{outcome="failed"}"#) == 0)
            let checkpoint = try await PostgresCatchUpCheckpointStore(database: databases[0])
                .checkpoint(for: sampleAccountID)
            #expect(try #require(checkpoint) > RecentLog.newestBundledEvent + log.shift)
            for server in [a, b] { #expect(try await server.signal(SIGTERM) == 0) }
        }
    }
}
