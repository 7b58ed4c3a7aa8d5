import Foundation
import JSONCore
import KommoSegment
import KommoSegmentTesting
import Testing

/// `kommo-segment catch-up` and `backfill`, as processes, over TCP against a Kommo that enforces its limit of 7
/// requests a second and a loopback Segment.
@Suite("catch-up and backfill on the command line", .serialized, .timeLimit(.minutes(3)))
struct CatchUpCommandTests {
    static func connection(_ kommo: RateLimitedKommoServer, _ segment: LoopbackHTTPServer) -> [String] {
        ["--kommo-base-url", kommo.server.baseURL.absoluteString, "--kommo-token", "cli-token",
         "--segment-write-key", "cli-write-key", "--segment-endpoint", segment.baseURL.absoluteString]
    }

    static func withDirectory(_ body: (URL) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kommo-segment-cu-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory)
    }

    @Test("January's log with a checkpoint: the missed changes delivered, the checkpoint at the window's end; the next run goes on from it")
    func catchUpWithCheckpoint() async throws {
        try await Self.withDirectory { directory in
            let kommo = try RateLimitedKommoServer()
            defer { kommo.stop() }
            let segment = try LoopbackHTTPServer { _ in .json(#"{"success":true}"#) }
            defer { segment.stop() }
            let checkpoint = directory.appendingPathComponent("checkpoint.json").path
            let first = try await Tool.run(["catch-up", "--since", "2026-01-01", "--until", "2026-02-01T00:00:00Z",
                                            "--checkpoint", checkpoint] + Self.connection(kommo, segment))
            #expect(first.status == 0, "stderr: \(first.stderr)")
            #expect(first.stderrLines.last == "catch-up 2026-01-01T00:00:00Z to 2026-02-01T00:00:00Z: 1 pages, "
                + "15 events read, 15 lead changes: 10 delivered, 0 already processed, 5 skipped, 0 failed; "
                + "checkpoint: 2026-02-01T00:00:00Z")
            #expect(first.stderrLines.first == "catch-up: 1 pages, 15 events read")
            let (messages, _) = try BurstTests.received(segment)
            #expect(messages["36d8ead2-3196-59ab-a32c-069727103614"] != nil)
            #expect(kommo.rateLimited == 0)
            let stored = try await FileCatchUpCheckpointStore(path: checkpoint).checkpoint(for: 31_234_567)
            #expect(stored == 1_769_904_000)

            let before = segment.requests.count
            let second = try await Tool.run(["catch-up", "--checkpoint", checkpoint] + Self.connection(kommo, segment))
            #expect(second.status == 0, "stderr: \(second.stderr)")
            #expect(segment.requests.count == before)
            let moved = try #require(try await FileCatchUpCheckpointStore(path: checkpoint).checkpoint(for: 31_234_567))
            #expect(moved > 1_769_904_000)
            #expect(Double(moved) <= Date().timeIntervalSince1970 - 59)
        }
    }

    @Test("a dry run prints the messages and never moves the checkpoint")
    func dryRun() async throws {
        try await Self.withDirectory { directory in
            let checkpoint = directory.appendingPathComponent("checkpoint.json").path
            let run = try await Tool.run(["catch-up", "--since", "2026-01-01", "--until", "2026-02-01",
                                          "--checkpoint", checkpoint, "--dry-run", "--fixtures",
                                          try Fixtures.kommoAPIDirectory().path])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            let printed = try run.stdoutLines.map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            #expect(printed.count == 16)
            #expect(printed.contains { $0["messageId"]?.stringValue == "36d8ead2-3196-59ab-a32c-069727103614" })
            #expect(run.stderrLines.last?.hasSuffix("; checkpoint: none (not moved)") == true)
            #expect(!FileManager.default.fileExists(atPath: checkpoint))
        }
    }

    @Test("mistakes are exit status 2 with a pointer to the help", arguments: [
        ["catch-up", "--dry-run"],
        ["catch-up", "--since", "yesterday", "--dry-run"],
        ["catch-up", "--since", "24h", "--until", "48h", "--dry-run"],
        ["catch-up", "--since", "24h", "--dry-run", "file.txt"],
        ["catch-up", "--since", "24h", "--dry-run", "--inbox", "/tmp/x"],
        ["backfill", "--dry-run", "--since", "24h"],
        ["backfill", "--dry-run", "--closed-since", "soon"],
    ])
    func usage(arguments: [String]) async throws {
        let run = try await Tool.run(arguments + ["--fixtures", try Fixtures.kommoAPIDirectory().path])
        #expect(run.status == 2, "stderr: \(run.stderr)")
        #expect(run.stderrLines.last == "see 'kommo-segment \(arguments[0]) --help'")
        #expect(run.stdout.isEmpty)
    }

    @Test("a backfill of 300 won leads over TCP: at most 20 Kommo requests, no 429, 450 messages")
    func backfillOverTCP() async throws {
        try await Self.withDirectory { directory in
            for (path, data) in try WonAccount.files(won: 300) {
                let url = directory.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                        withIntermediateDirectories: true)
                try data.write(to: url)
            }
            let kommo = try RateLimitedKommoServer(api: KommoFixtureTransport(directory: directory))
            defer { kommo.stop() }
            let segment = try LoopbackHTTPServer { _ in .json(#"{"success":true}"#) }
            defer { segment.stop() }
            let run = try await Tool.run(["backfill"] + Self.connection(kommo, segment))
            #expect(run.status == 0, "stderr: \(run.stderr)")
            #expect(kommo.requestCount <= 20, "Kommo requests: \(kommo.requestCount)")
            #expect(kommo.rateLimited == 0)
            #expect(kommo.busiestSecond <= 7)
            let (messages, _) = try BurstTests.received(segment)
            #expect(messages.count == 450)
            #expect(run.stderrLines.last == "backfill: 300 won leads in 2 pages: 300 sent (450 messages), 0 skipped, "
                + "0 failed")
        }
    }
}
