import Foundation
import KommoSegment
import KommoSegmentPostgres
import KommoSegmentTesting
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Segment fake that keeps every body received for each message id.
final class RecordingSegment: Sendable {
    let server: LoopbackHTTPServer
    private let bodies = LockedValue<[String: Set<String>]>([:])

    init() throws {
        let bodies = self.bodies
        server = try LoopbackHTTPServer { request in
            if let object = try? JSONSerialization.jsonObject(with: request.body) as? [String: Any],
               let batch = object["batch"] as? [[String: Any]] {
                for message in batch {
                    guard let id = message["messageId"] as? String,
                          let canonical = try? JSONSerialization.data(withJSONObject: message, options: [.sortedKeys])
                    else { continue }
                    bodies.withLock { _ = $0[id, default: []].insert(String(decoding: canonical, as: UTF8.self)) }
                }
            }
            return .json(#"{"success":true}"#)
        }
    }

    /// The distinct bodies received for each message id.
    var received: [String: Set<String>] { bodies.value }

    /// Waits until the ids received include `expected`, or `timeout` passes.
    func waitFor(_ expected: Set<String>, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while !expected.isSubset(of: Set(received.keys)) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

@Suite("Three kommo-segment-server instances on one PostgreSQL", .serialized, .enabled(if: postgresAvailable))
struct MultiInstanceTests {
    @Test("one Kommo budget (never a 429), a killed instance's webhooks finished by the others, one id per change",
          .timeLimit(.minutes(4)))
    func threeInstances() async throws {
        try await withTestDatabase { databases in
            let url = databases[0].url
            let kommo = try RateLimitedKommoServer(
                api: KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory(), acceptedToken: kommoToken))
            let segment = try RecordingSegment()
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("kommo-segment-multi-\(UUID())")
            defer { try? FileManager.default.removeItem(at: work) }
            let environment = [
                "KOMMO_ACCOUNT_ID": String(sampleAccountID), "KOMMO_BASE_URL": kommo.server.baseURL.absoluteString,
                "KOMMO_ACCESS_TOKEN": kommoToken, "KOMMO_WEBHOOK_SECRET": webhookSecret,
                "SEGMENT_WRITE_KEY": segmentWriteKey, "SEGMENT_ENDPOINT": segment.server.baseURL.absoluteString,
                "DATABASE_URL": "postgres://\(url.user)@\(url.host):\(url.port)/\(url.database)?sslmode=disable",
                "KOMMO_SEGMENT_LEASE_SECONDS": "3", "LOG_LEVEL": "info",
            ]
            var servers: [ServerProcess] = []
            for name in ["a", "b", "c"] {
                servers.append(try await ServerProcess(environment: environment,
                                                       directory: work.appendingPathComponent(name)))
            }
            let (a, b, c) = (servers[0], servers[1], servers[2])

            // The samples in turn, each also redelivered to another instance (Kommo retries); the first half goes to
            // b, which is killed right after it has answered them, before it can have processed them all.
            let samples = try sampleWebhooks()
            let expected = try await expectedMessageIDs(samples.map(\.body))
            let half = samples.count / 2
            var leftBehind = 0
            for (index, sample) in samples.enumerated() {
                let first = index < half ? b : (index.isMultiple(of: 2) ? a : c)
                let again = index.isMultiple(of: 2) ? c : a
                #expect(try await first.postWebhook(sample.body, secret: webhookSecret) == 200)
                #expect(try await again.postWebhook(sample.body, secret: webhookSecret) == 200)
                if index == half - 1 {
                    #expect(try await b.signal(SIGKILL) == SIGKILL)
                    leftBehind = try await PostgresInbox(database: databases[0]).status().pending
                }
            }
            try await segment.waitFor(expected, timeout: .seconds(120))

            let received = segment.received
            #expect(Set(received.keys) == expected, "every change delivered, and no id that the SDK would not make")
            #expect(received.values.allSatisfy { $0.count == 1 }, "each id always with the same body")
            #expect(kommo.rateLimited == 0, "the three instances kept to one budget")
            let times = kommo.arrivalTimes
            #expect(kommo.busiestSecond <= 7)
            #expect(leftBehind > 0, "b was killed with webhooks it had accepted but not finished")
            #expect(times.count > 14, "enough Kommo requests for the budget to matter: \(times.count)")
            // The metrics read the shared inbox: its depth and the age of its oldest pending record.
            let metrics = try await a.request("GET", "/metrics").1
            let gauges = metrics.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) ?? "" }
            #expect(gauges.contains("kommo_segment_inbox_pending"))
            #expect(gauges.contains("kommo_segment_inbox_oldest_pending_age_seconds"))
            #expect(try await a.request("GET", "/ready") == (200, "ready\n"))
            for server in [a, c] { #expect(try await server.signal(SIGTERM) == 0) }
        }
    }

    @Test("inbox list, show and retry work on the PostgreSQL inbox",
          .timeLimit(.minutes(2)))
    func inboxCommands() async throws {
        try await withTestDatabase { databases in
            let url = databases[0].url
            let inbox = PostgresInbox(database: databases[0])
            let received = Date().addingTimeInterval(-120)
            let dead = InboxRecord(id: InboxRecord.makeID(receivedAt: received), accountID: sampleAccountID,
                                   receivedAt: received, contentType: "application/x-www-form-urlencoded",
                                   body: try Fixtures.webhook("webhook-lead-status-won.txt"))
            try await inbox.append(dead)
            let lease = try #require(try await inbox.lease(dead.id, for: .seconds(60))?.1)
            try await inbox.deadLetter(lease, reason: "mapping: invalidConfiguration")
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("kommo-segment-inbox-\(UUID())")
            defer { try? FileManager.default.removeItem(at: work) }
            let environment = [
                "DATABASE_URL": "postgres://\(url.user)@\(url.host):\(url.port)/\(url.database)?sslmode=disable",
            ]
            let list = try await ServerProcess.runToEnd(["inbox", "list"], environment: environment, directory: work)
            #expect(list.status == 0, "\(list.stderr)")
            let lines = list.stdout.split(separator: "\n")
            #expect(lines.first?.hasSuffix(": 0 pending, 1 dead letters, \(dead.body.count) bytes") == true)
            #expect(lines.dropFirst().first?.hasPrefix("\(dead.id)\taccount \(sampleAccountID)\t") == true)
            let show = try await ServerProcess.runToEnd(["inbox", "show", "no-such-record"], environment: environment,
                                                        directory: work)
            #expect(show.status == 1)
            let retry = try await ServerProcess.runToEnd(["inbox", "retry", "--all"], environment: environment,
                                                         directory: work)
            #expect(retry.status == 0)
            let status = try await inbox.status()
            #expect(status.pending == 1 && status.deadLetters == 0)
            let usage = try await ServerProcess.runToEnd(["inbox", "purge"], environment: environment, directory: work)
            #expect(usage.status == 2)
        }
    }
}

@Suite("OAuth tokens in PostgreSQL", .serialized, .enabled(if: postgresAvailable))
struct DatabaseTokenTests {
    @Test("with DATABASE_URL: no start before authorize; authorize writes the pair there; check and serve read it",
          .timeLimit(.minutes(3)))
    func oauthInDatabase() async throws {
        try await withTestDatabase { databases in
            let url = databases[0].url
            let grant = try Fixtures.kommo("api-oauth-token.json")
            let grantObject = try #require(try JSONSerialization.jsonObject(with: grant) as? [String: Any])
            let issued = try #require(grantObject["access_token"] as? String)
            let stage = try Stage(acceptedToken: issued, tokenGrant: grant)
            defer { stage.remove() }
            var environment = stage.environment()
            environment["KOMMO_ACCESS_TOKEN"] = nil
            environment["KOMMO_CLIENT_ID"] = "integration-client"
            environment["KOMMO_CLIENT_SECRET"] = "integration-client-secret-4242"
            environment["KOMMO_REDIRECT_URI"] = "https://app.example.com/kommo/oauth"
            environment["DATABASE_URL"] = "postgres://\(url.user)@\(url.host):\(url.port)/\(url.database)?sslmode=disable"

            let early = try await ServerProcess.runToEnd([], environment: environment, directory: stage.work)
            #expect(early.status == 2, "no tokens in the database: the server never listens")
            #expect(early.stderr.split(separator: "\n").last?.hasPrefix("kommo-segment-server: account ") == true)
            #expect(!early.stderr.contains("listening"))

            let authorized = try await ServerProcess.runToEnd(["authorize", "code-from-the-redirect"],
                                                              environment: environment, directory: stage.work)
            #expect(authorized.status == 0, "\(authorized.stderr)")
            let host = try #require(stage.kommo.baseURL.host)
            let stored = try await PostgresTokenStore(database: databases[0], account: host).load()
            #expect(stored?.accessToken == issued)

            let checked = try await ServerProcess.runToEnd(["check"], environment: environment, directory: stage.work)
            #expect(checked.status == 0, "\(checked.stdout)")

            try await stage.servesTheWonDeal(environment)
            #expect(stage.kommo.requests.filter { $0.target.hasPrefix("/oauth2/") }.count == 1)
        }
    }
}

/// A PostgreSQL server of the test's own (`Server/Scripts/test-postgres.sh`), which the test may stop and start.
struct OwnPostgres {
    let directory: URL
    let url: String

    static let script = repositoryRoot.appendingPathComponent("Server/Scripts/test-postgres.sh").path

    static func start() async throws -> OwnPostgres {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kommo-segment-pg-\(UUID())")
        try run(["start", directory.path])
        let url = try String(contentsOf: directory.appendingPathComponent("url"), encoding: .utf8)
        return OwnPostgres(directory: directory, url: url.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func pause() throws { try Self.run(["pause", directory.path]) }
    func resume() throws { try Self.run(["resume", directory.path]) }
    func stop() { try? Self.run(["stop", directory.path]) }

    /// Runs the script to its end with `posix_spawn` and `waitpid`: Foundation's `Process` missed the script's exit
    /// once it had started the database as a daemon. Its output goes to /dev/null; `start` leaves the URL in DIR/url.
    static func run(_ arguments: [String]) throws {
        let argv = (["/bin/bash", script] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ) == 0 else {
            throw ServerProcess.Failure(description: "test-postgres.sh could not be started")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            throw ServerProcess.Failure(description: "test-postgres.sh \(arguments.joined(separator: " ")) failed "
                + "(status \(status))")
        }
    }
}

@Suite("kommo-segment-server while PostgreSQL goes down and comes back", .serialized, .enabled(if: postgresAvailable))
struct DatabaseOutageTests {
    @Test("down: webhooks answered 503 and not ready; back: accepted and delivered, with no restart",
          .timeLimit(.minutes(3)))
    func outage() async throws {
        let postgres = try await OwnPostgres.start()
        defer { postgres.stop() }
        let stage = try Stage()
        defer { stage.remove() }
        var environment = stage.environment()
        environment["DATABASE_URL"] = postgres.url
        let server = try await stage.start(environment)
        let sample = try Fixtures.webhook("webhook-lead-status-won.txt")
        let expected = try await expectedMessageIDs([sample])

        try postgres.pause()
        #expect(try await server.postWebhook(sample, secret: webhookSecret) == 503)
        #expect(try await server.request("GET", "/ready") == (503, "database not reachable\n"))
        #expect(try await server.request("GET", "/health").0 == 200)

        try postgres.resume()
        var status = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while status != 200 && ContinuousClock.now < deadline {
            status = try await server.postWebhook(sample, secret: webhookSecret)
            if status != 200 { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(status == 200, "accepted again once the database is back")
        let received = try await stage.segment.waitForMessages { Set($0) == expected }
        #expect(Set(received) == expected)
        #expect(try await server.request("GET", "/ready") == (200, "ready\n"))
        #expect(try await server.signal(SIGTERM) == 0)
    }
}
