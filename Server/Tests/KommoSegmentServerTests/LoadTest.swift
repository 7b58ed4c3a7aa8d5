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

/// The load test of issue 11, run by `Server/Scripts/load-test.sh` (never in CI: it takes minutes and measures
/// time). It drives the built server on loopback at `KOMMO_SEGMENT_LOAD_RATE` webhooks per second (200) for
/// `KOMMO_SEGMENT_LOAD_SECONDS` (60) with the sample webhooks, in turn, the Kommo and Segment fakes also on loopback,
/// with the inbox on; then prints the figures of Documentation/Performance.md.
@Suite("Load test (KOMMO_SEGMENT_LOAD_TEST=1)",
       .enabled(if: ProcessInfo.processInfo.environment["KOMMO_SEGMENT_LOAD_TEST"] == "1"))
struct LoadTest {
    @Test("200 webhooks per second for 60 s: acknowledgement and end-to-end latency, Kommo rate, RSS, accepted = done",
          .timeLimit(.minutes(10)))
    func load() async throws {
        let variables = ProcessInfo.processInfo.environment
        let rate = Int(variables["KOMMO_SEGMENT_LOAD_RATE"] ?? "") ?? 200
        let seconds = Int(variables["KOMMO_SEGMENT_LOAD_SECONDS"] ?? "") ?? 60
        let api = try KommoFixtureTransport(directory: Fixtures.kommoAPIDirectory(), acceptedToken: kommoToken)
        let kommoTimes = LockedValue<[ContinuousClock.Instant]>([])
        let kommo = try LoopbackHTTPServer { request in
            kommoTimes.withLock { $0.append(.now) }
            return api.respond(to: request)
        }
        let segmentTimes = LockedValue<[String: ContinuousClock.Instant]>([:])
        let segmentMessages = LockedValue(0)
        let segment = try LoopbackHTTPServer { request in
            let now = ContinuousClock.now
            let ids = SegmentFake.messageIDs(in: request.body)
            segmentMessages.withLock { $0 += ids.count }
            segmentTimes.withLock { times in for id in ids where times[id] == nil { times[id] = now } }
            return .json(#"{"success":true}"#)
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kommo-segment-load-\(UUID())")
        defer { try? FileManager.default.removeItem(at: work) }
        let inbox = work.appendingPathComponent("inbox")
        var environment = [
            "KOMMO_ACCOUNT_ID": String(sampleAccountID), "KOMMO_BASE_URL": kommo.baseURL.absoluteString,
            "KOMMO_ACCESS_TOKEN": kommoToken, "KOMMO_WEBHOOK_SECRET": webhookSecret,
            "SEGMENT_WRITE_KEY": segmentWriteKey, "SEGMENT_ENDPOINT": segment.baseURL.absoluteString,
            "KOMMO_SEGMENT_INBOX": inbox.path, "LOG_LEVEL": "error",
        ]
        // KOMMO_SEGMENT_LOAD_DATABASE_URL: the same load with the stores in PostgreSQL (an empty database).
        let database = variables["KOMMO_SEGMENT_LOAD_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let database {
            environment["DATABASE_URL"] = database
            environment["KOMMO_SEGMENT_INBOX"] = nil
        }
        let server = try await ServerProcess(environment: environment, directory: work)
        /// Pending webhooks: the directory's records, or the database's (a pool runs once: one per reading).
        func pendingCount() async throws -> Int {
            guard let database else { return pendingRecords(inbox).count }
            let shared = KommoSegmentDatabase(url: try PostgresURL(database), maximumConnections: 1, logger: quietLogger)
            return try await shared.withRunningPool { try await PostgresInbox(database: shared).status().pending }
        }

        let samples = try sampleWebhooks()
        var firstSent: [Int: ContinuousClock.Instant] = [:]
        let start = ContinuousClock.now
        let total = rate * seconds
        for index in 0..<min(samples.count, total) {
            firstSent[index] = start + .nanoseconds(Int64(index) * 1_000_000_000 / Int64(rate))
        }
        // The client: 4 threads, each on its own kept-alive connection, send the webhooks at their scheduled times
        // with blocking sockets. (URLSession on Linux added tens of milliseconds of its own scheduling at p99.)
        let results = LockedValue<[(Int, Int, Duration)]>([])
        let target = "/kommo/webhook?secret=\(webhookSecret)"
        let bodies = samples.map { Array($0.body) }
        let port = server.port
        let threads = 4
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<threads {
                group.addTask {
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        Thread {
                            let connection = KeepAliveConnection(port: port)
                            for index in stride(from: worker, to: total, by: threads) {
                                let slot = start + .nanoseconds(Int64(index) * 1_000_000_000 / Int64(rate))
                                let wait = slot - ContinuousClock.now
                                if wait > .zero { Thread.sleep(forTimeInterval: Self.seconds(wait)) }
                                let sent = ContinuousClock.now
                                let status = connection.post(target, body: bodies[index % bodies.count],
                                                             contentType: "application/x-www-form-urlencoded") ?? 0
                                let latency = ContinuousClock.now - sent
                                results.withLock { $0.append((index, status, latency)) }
                            }
                            done.resume()
                        }.start()
                    }
                }
            }
        }
        let answered = results.value
        let driven = ContinuousClock.now - start
        let accepted = answered.filter { $0.1 == 200 }.count
        let peakRSS = Self.peakResidentKilobytes(of: server.process.processIdentifier)

        // Every accepted webhook is done (delivered, skipped or a duplicate) when the inbox is empty; webhooks that
        // found their change claimed by an earlier copy still in flight wait the 30-second backoff first.
        let drainStart = ContinuousClock.now
        while try await pendingCount() > 0 && ContinuousClock.now - drainStart < .seconds(180) {
            try await Task.sleep(for: .milliseconds(250))
        }
        let drainedEmpty = try await pendingCount() == 0
        let drained = ContinuousClock.now - drainStart
        let metrics = try await server.request("GET", "/metrics").1
        #expect(try await server.signal(SIGTERM) == 0)

        var expectedBySample: [Int: Set<String>] = [:]
        for (index, sample) in samples.enumerated() {
            expectedBySample[index] = try await expectedMessageIDs([sample.body])
        }
        let times = segmentTimes.value
        var endToEnd: [Duration] = []
        for (index, ids) in expectedBySample {
            guard let sent = firstSent[index] else { continue }
            for id in ids { if let received = times[id] { endToEnd.append(received - sent) } }
        }
        let expected = expectedBySample.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        let latencies = answered.filter { $0.1 == 200 }.map(\.2).sorted()
        let kommoWindow = RateLimitedKommoServer.busiestSecond(kommoTimes.value)
        let statuses = Dictionary(grouping: answered, by: \.1).mapValues(\.count)
        let perMessage = Double(segment.requests.count) / Double(max(segmentMessages.value, 1))
        let histogram = ["0.005", "0.01", "0.02", "0.05", "0.1", "0.5"].map { bound in
            let name = "kommo_segment_acknowledgement_seconds_bucket{le=\"\(bound)\"}"
            return "≤\(bound) s: \(Int(metric(metrics, name)))"
        }.joined(separator: ", ")
        let counted = metrics.split(separator: "\n").filter {
            $0.hasPrefix("kommo_segment_events_total") || $0.hasPrefix("kommo_segment_webhooks_total")
        }.joined(separator: "; ")
        let report = """
            load test: \(total) webhooks at \(rate)/s for \(seconds) s (driven in \(Self.format(driven)))
            answers: \(statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
            acknowledgement latency (client, accepted): p50 \(Self.format(Self.percentile(latencies, 0.50))), \
            p99 \(Self.format(Self.percentile(latencies, 0.99))), max \(Self.format(latencies.last ?? .zero))
            acknowledgement latency (server histogram, every answer): \(histogram), \
            count \(Int(metric(metrics, "kommo_segment_acknowledgement_seconds_count")))
            end-to-end to the Segment fake (first copy of each sample): p50 \
            \(Self.format(Self.percentile(endToEnd.sorted(), 0.5))), max \(Self.format(endToEnd.max() ?? .zero))
            Kommo requests: \(kommoTimes.value.count), busiest second \(kommoWindow)
            Segment requests: \(segment.requests.count) for \(segmentMessages.value) messages, \(times.count) distinct \
            (\(String(format: "%.3f", perMessage)) per message)
            peak RSS: \(peakRSS.map { "\($0 / 1024) MiB" } ?? "unknown")
            accepted: \(accepted); done (inbox empty) \(drainedEmpty ? "yes" : "NO") \
            after \(Self.format(drained)) more; messages delivered \(times.count) of \(expected.count) expected
            server: \(counted)
            """
        print(report)
        #expect(drainedEmpty)
        #expect(Set(times.keys) == expected)
        #expect(kommoWindow <= 7)
    }

    static func percentile(_ sorted: [Duration], _ fraction: Double) -> Duration {
        guard !sorted.isEmpty else { return .zero }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func format(_ duration: Duration) -> String {
        let milliseconds = Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
        return milliseconds < 1_000 ? String(format: "%.1f ms", milliseconds)
            : String(format: "%.2f s", milliseconds / 1_000)
    }

    /// `VmHWM` of `/proc/<pid>/status`, in KiB.
    static func peakResidentKilobytes(of pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
}
