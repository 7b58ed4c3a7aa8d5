import Foundation
import HTTPCore
import JSONCore
import KommoSegmentTesting
import Testing

/// Message id → the JSON of that message, from Segment batch requests.
private func messagesByID(_ requests: [LoopbackHTTPServer.Request]) throws -> [String: [JSONValue]] {
    var messages: [String: [JSONValue]] = [:]
    for request in requests where request.target.hasSuffix("/v1/batch") {
        let batch = try JSONDecoder().decode(JSONValue.self, from: request.body)
        for message in batch["batch"]?.arrayValue ?? [] {
            guard let id = message["messageId"]?.stringValue else { continue }
            messages[id, default: []].append(message)
        }
    }
    return messages
}

@Suite("kommo-segment with an inbox: kill, resume, dead letters, bounded reads", .serialized,
       .timeLimit(.minutes(5)))
struct CommandLineInboxTests {
    static let samples = ["webhook-lead-status-won.txt", "webhook-lead-status-lost.txt",
                          "webhook-lead-status-batch.txt", "webhook-lead-add.txt"]

    @Test("SIGKILL mid-delivery, then resume: every message id arrives, none with two bodies; a second resume sends nothing")
    func crashThenResume() async throws {
        let executable = try Tool.require()
        let fixtures = try Fixtures.kommoAPIDirectory().path
        let files = try Self.samples.map(Tool.sample)
        let inbox = FileManager.default.temporaryDirectory.appendingPathComponent("cli-inbox-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: inbox) }

        // The ids a complete run sends.
        let dry = try await Tool.run(["replay", "--fixtures", fixtures, "--dry-run"] + files)
        #expect(dry.status == 0, "stderr: \(dry.stderr)")
        let expected = Set(dry.stdoutLines.compactMap {
            (try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)))?["messageId"]?.stringValue
        })
        #expect(expected.count >= 8)

        // A Segment that holds every request: the replay is killed while its first batch is in flight.
        let firstRequest = AsyncLatch<Bool>()
        let holding = try LoopbackHTTPServer { _ in
            firstRequest.resolve(true)
            return .init(hangs: true)
        }
        defer { holding.stop() }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["replay", "--inbox", inbox.path, "--fixtures", fixtures,
                             "--segment-endpoint", holding.baseURL.absoluteString, "--segment-write-key", "wk"] + files
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exited = AsyncLatch<Int32>()
        process.terminationHandler = { exited.resolve($0.terminationStatus) }
        try process.run()
        _ = await firstRequest.wait()
        kill(process.processIdentifier, SIGKILL)
        _ = await exited.wait()
        #expect(process.terminationReason == .uncaughtSignal)
        let held = try messagesByID(holding.requests)

        // Resume against a Segment that answers.
        let segment = try LoopbackHTTPServer { _ in .json(#"{"success":true}"#) }
        defer { segment.stop() }
        let resume = try await Tool.run(["resume", "--inbox", inbox.path, "--fixtures", fixtures,
                                         "--segment-endpoint", segment.baseURL.absoluteString,
                                         "--segment-write-key", "wk"])
        #expect(resume.status == 0, "stderr: \(resume.stderr)")
        let delivered = try messagesByID(segment.requests)
        #expect(Set(delivered.keys) == expected)
        for (id, copies) in delivered {
            let bodies = Set(copies + (held[id] ?? []))
            #expect(bodies.count == 1, "message \(id) was sent with \(bodies.count) different bodies")
        }

        let again = try await Tool.run(["resume", "--inbox", inbox.path, "--fixtures", fixtures,
                                        "--segment-endpoint", segment.baseURL.absoluteString,
                                        "--segment-write-key", "wk"])
        #expect(again.status == 0, "stderr: \(again.stderr)")
        #expect(try messagesByID(segment.requests).values.map(\.count).reduce(0, +)
                == delivered.values.map(\.count).reduce(0, +))
    }

    @Test("a Segment 400 leaves dead letters: resume exits 1 saying so; inbox list shows them and retry queues them")
    func deadLettersOnTheCommandLine() async throws {
        let fixtures = try Fixtures.kommoAPIDirectory().path
        let inbox = FileManager.default.temporaryDirectory.appendingPathComponent("cli-inbox-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: inbox) }
        let refusing = try LoopbackHTTPServer { _ in .json(#"{"error":"bad"}"#, status: 400) }
        defer { refusing.stop() }
        let replay = try await Tool.run(["replay", "--inbox", inbox.path, "--fixtures", fixtures,
                                         "--segment-endpoint", refusing.baseURL.absoluteString,
                                         "--segment-write-key", "wk", try Tool.sample("webhook-lead-status-won.txt")])
        #expect(replay.status == 1)
        #expect(replay.stderr.contains("1 went to the dead letters"), "stderr: \(replay.stderr)")

        let list = try await Tool.run(["inbox", "list", "--inbox", inbox.path])
        #expect(list.status == 0)
        #expect(list.stdoutLines.count == 2)
        #expect(list.stdoutLines.last?.contains("Segment rejected, HTTP 400") == true, "stdout: \(list.stdout)")
        let id = try #require(list.stdoutLines.last?.split(separator: "\t").first.map(String.init))
        let show = try await Tool.run(["inbox", "show", id, "--inbox", inbox.path])
        #expect(show.status == 0)
        #expect(show.stdout.contains("account: 31234567"))

        let retry = try await Tool.run(["inbox", "retry", "--all", "--inbox", inbox.path])
        #expect(retry.status == 0)
        let segment = try LoopbackHTTPServer { _ in .json(#"{"success":true}"#) }
        defer { segment.stop() }
        let resume = try await Tool.run(["resume", "--inbox", inbox.path, "--fixtures", fixtures,
                                         "--segment-endpoint", segment.baseURL.absoluteString,
                                         "--segment-write-key", "wk"])
        #expect(resume.status == 0, "stderr: \(resume.stderr)")
        #expect(try messagesByID(segment.requests).count == 3)
    }

    @Test("replay - on an endless standard input is refused after the body limit, without reading it whole")
    func endlessStandardInput() async throws {
        let process = Process()
        process.executableURL = try Tool.require()
        process.arguments = ["replay", "--fixtures", try Fixtures.kommoAPIDirectory().path, "--dry-run", "-"]
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"]
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/zero"))
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let exited = AsyncLatch<Int32>()
        process.terminationHandler = { exited.resolve($0.terminationStatus) }
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(await exited.wait() == 1)
        #expect(stderr.contains("<stdin>: is larger than the limit of 1048576 bytes; not read further"),
                "stderr: \(stderr)")
    }

    @Test("--inbox with --dry-run is refused with a clear message")
    func inboxWithDryRun() async throws {
        let run = try await Tool.run(["replay", "--inbox", "/tmp/x", "--dry-run", "x.txt"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("--inbox and --dry-run cannot be used together"))
    }

    @Test("file errors name their reason; a file over the limit is refused without being read whole")
    func fileErrors() async throws {
        let fixtures = try Fixtures.kommoAPIDirectory().path
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cli-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let large = directory.appendingPathComponent("large.txt")
        // A sparse file of 2 GB: reading it whole would take the memory, a bounded read refuses it at once.
        #expect(FileManager.default.createFile(atPath: large.path, contents: nil))
        let handle = try FileHandle(forWritingTo: large)
        try handle.truncate(atOffset: 2 << 30)
        try handle.close()
        let unreadable = directory.appendingPathComponent("unreadable.txt")
        try Data("x".utf8).write(to: unreadable)
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: unreadable.path)
        let run = try await Tool.run(["replay", "--fixtures", fixtures, "--dry-run", large.path, directory.path,
                                      directory.appendingPathComponent("missing.txt").path, unreadable.path,
                                      try Tool.sample("webhook-lead-status-won.txt")])
        #expect(run.status == 1)
        #expect(run.stderr.contains("\(large.path): has 2147483648 bytes, larger than the limit"), "stderr: \(run.stderr)")
        #expect(run.stderr.contains("\(directory.path): is a directory"))
        #expect(run.stderr.contains("missing.txt: no such file"))
        if getuid() != 0 { #expect(run.stderr.contains("unreadable.txt: permission denied")) }
        #expect(Summary(run)?.delivered == 3)
    }
}
