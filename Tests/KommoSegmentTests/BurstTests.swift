import Foundation
import JSONCore
import KommoSegment
import KommoSegmentTesting
import Testing

/// A burst of webhook files through `kommo-segment replay`, over TCP, against a Kommo that enforces its limit of 7
/// requests per second: Kommo reads are shared by the whole burst, Segment batches span files, and the messages do
/// not depend on the order of the files.
@Suite("Bursts at Kommo's limit", .serialized, .timeLimit(.minutes(2)))
struct BurstTests {
    /// The lead samples in the order `Benchmarks/burst/make_burst.py` repeats them: 14 files, 28 lead items over
    /// 5 leads.
    static let cycle = [
        "webhook-lead-status-batch.txt", "webhook-lead-status-won.txt", "webhook-lead-status-batch.txt",
        "webhook-lead-status-lost.txt", "webhook-lead-add.txt", "webhook-lead-status-batch.txt",
        "webhook-lead-status-middle-stage.txt", "webhook-mixed-update-and-status.txt", "webhook-lead-status-batch.txt",
        "webhook-lead-responsible-changed.txt", "webhook-lead-status-batch.txt", "webhook-lead-update.txt",
        "webhook-mixed-update-and-status.txt", "webhook-lead-status-batch.txt",
    ]

    /// Writes `count` files into a new temporary directory (removed afterwards) and hands their paths to `body`:
    /// the cycle's bodies with the change times of file `i` set to a second of its own.
    static func withBurst(count: Int, _ body: ([String]) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kommo-segment-burst-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(try writeBurst(count: count, into: directory))
    }

    private static func writeBurst(count: Int, into directory: URL) throws -> [String] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let times = try NSRegularExpression(pattern: #"(last_modified|updated_at)%5D=[0-9]+"#)
        return try (0..<count).map { index in
            let body = try #require(String(data: try Fixtures.webhook(cycle[index % cycle.count]), encoding: .utf8))
            let changed = times.stringByReplacingMatches(
                in: body, range: NSRange(body.startIndex..., in: body), withTemplate: "$1%5D=\(1_769_000_000 + index)")
            let url = directory.appendingPathComponent(String(format: "burst-%03d.txt", index))
            try Data(changed.utf8).write(to: url)
            return url.path
        }
    }

    /// Every message Segment received, by message id, and the number of batch requests.
    static func received(_ segment: LoopbackHTTPServer) throws -> (messages: [String: JSONValue], batches: Int) {
        let batches = segment.requests.filter { $0.target.hasSuffix("/v1/batch") }
        var messages: [String: JSONValue] = [:]
        for request in batches {
            for message in try JSONDecoder().decode(JSONValue.self, from: request.body)["batch"]?.arrayValue ?? [] {
                let id = try #require(message["messageId"]?.stringValue)
                #expect(messages.updateValue(message, forKey: id) == nil, "message \(id) sent twice")
            }
        }
        return (messages, batches.count)
    }

    /// Replays `files` against a fresh rate-limited Kommo and a fresh Segment.
    static func replay(_ files: [String]) async throws
        -> (run: ToolRun, kommo: RateLimitedKommoServer, messages: [String: JSONValue], batches: Int) {
        let kommo = try RateLimitedKommoServer()
        defer { kommo.stop() }
        let segment = try LoopbackHTTPServer { _ in .json(#"{"success":true}"#) }
        defer { segment.stop() }
        let run = try await Tool.run(["replay", "--kommo-base-url", kommo.server.baseURL.absoluteString,
                                      "--kommo-token", "burst-token", "--segment-write-key", "burst-write-key",
                                      "--segment-endpoint", segment.baseURL.absoluteString] + files)
        let (messages, batches) = try received(segment)
        return (run, kommo, messages, batches)
    }

    @Test("60 files, 120 lead events over 5 leads: at most 12 Kommo requests and no 429, at most 4 Segment requests")
    func burst() async throws {
        try await Self.withBurst(count: 60) { files in
            let first = try await Self.replay(files)
            #expect(first.run.status == 0, "stderr: \(first.run.stderr)")
            #expect(first.kommo.rateLimited == 0)
            #expect(first.kommo.requestCount <= 12, "Kommo requests: \(first.kommo.requestCount)")
            #expect(first.kommo.busiestSecond <= 7)
            #expect(first.batches <= 4, "Segment requests: \(first.batches)")
            #expect(first.messages.count > 100)
            let summary = "webhooks: 60, events: 120, messages: \(first.messages.count) delivered"
            #expect(first.run.stderrLines.last?.hasPrefix(summary) == true, "stderr: \(first.run.stderr)")

            // The same files in the opposite order: the same messages, body for body.
            let reversed = try await Self.replay(files.reversed())
            #expect(reversed.run.status == 0, "stderr: \(reversed.run.stderr)")
            #expect(reversed.messages == first.messages)
            #expect(reversed.kommo.rateLimited == 0)
        }
    }

    @Test("--concurrency 1 processes the files one after another: the same messages, in the order of the files")
    func oneAtATime() async throws {
        try await Self.withBurst(count: 14) { files in
            let together = try await Self.replay(files)
            let sequential = try await Self.replay(["--concurrency", "1"] + files)
            #expect(together.run.status == 0 && sequential.run.status == 0, "stderr: \(sequential.run.stderr)")
            // The times increase with the files, so the event-time order is the files' order: the same messages.
            #expect(sequential.messages == together.messages)
            #expect(sequential.kommo.requestCount > together.kommo.requestCount)
        }
    }
}
