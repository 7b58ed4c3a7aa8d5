import Foundation
import JSONCore
import KommoSegmentTesting
import Testing

/// What one run of the executable produced.
struct ToolRun: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String

    /// Standard output split into lines, without empty ones.
    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
    /// Standard error split into lines, without empty ones.
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    /// Both streams, for checks that something never appears anywhere.
    var allOutput: String { stdout + stderr }
}

/// Runs the built `kommo-segment` executable, found next to the test bundle (`.build/<config>/kommo-segment`).
enum Tool {
    /// The executable, or `nil` when the build did not produce it (`swift build --build-tests` does).
    static let executable = BuiltProducts.executable(named: "kommo-segment")

    /// The executable, or an issue saying it is missing.
    static func require() throws -> URL {
        guard let executable else {
            Issue.record("""
                the kommo-segment executable was not found next to the test bundle \
                (\(CommandLine.arguments.first ?? "?")); build it with `swift build --build-tests` before `swift test`
                """)
            throw Missing()
        }
        return executable
    }

    struct Missing: Error {}

    /// Runs the executable with `arguments` and only the given environment (plus PATH and HOME), and waits for it
    /// without blocking a thread of the cooperative pool.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> ToolRun {
        let executable = try require()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("kommo-segment-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout")
        let errURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var base: [String: String] = [:]
        let inherited = ProcessInfo.processInfo.environment
        for name in ["PATH", "HOME", "TMPDIR"] { base[name] = inherited[name] }
        process.environment = base.merging(environment) { _, given in given }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try out.close()
        try err.close()
        return ToolRun(status: status,
                       stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                       stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// The path of the bundled sample webhook `name`.
    static func sample(_ name: String) throws -> String {
        try Fixtures.kommoAPIDirectory().deletingLastPathComponent()
            .appendingPathComponent("kommo").appendingPathComponent(name).path
    }

    /// Writes `text` to a new temporary file and returns its path.
    static func temporaryFile(_ text: String, name: String) throws -> String {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("kommo-segment-\(UUID().uuidString)-\(name)")
        try Data(text.utf8).write(to: url)
        return url.path
    }
}

/// The summary line: `webhooks: N, events: N, messages: N delivered, N skipped, N failed, kommo requests: N`, with
/// `printed` instead of `delivered` for a dry run.
struct Summary: Equatable {
    var webhooks, events, delivered, skipped, failed, kommoRequests: Int
    /// `delivered`, or `printed` for a dry run.
    var verb: String

    init(webhooks: Int, events: Int, delivered: Int, skipped: Int, failed: Int, kommoRequests: Int,
         verb: String = "delivered") {
        (self.webhooks, self.events, self.delivered, self.skipped, self.failed, self.kommoRequests)
            = (webhooks, events, delivered, skipped, failed, kommoRequests)
        self.verb = verb
    }

    /// Parses the last line of standard error; `nil` when it is not a summary line.
    init?(_ run: ToolRun) {
        guard let line = run.stderrLines.last,
              let regex = try? NSRegularExpression(pattern: #"^webhooks: (\d+), events: (\d+), messages: (\d+) "#
                  + #"(delivered|printed), (\d+) skipped, (\d+) failed, kommo requests: (\d+)$"#),
              let match = regex.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) else {
            return nil
        }
        let groups = (1...7).compactMap { index -> String? in
            Range(match.range(at: index), in: line).map { String(line[$0]) }
        }
        guard groups.count == 7 else { return nil }
        let numbers = groups.enumerated().compactMap { $0.offset == 3 ? nil : Int($0.element) }
        guard numbers.count == 6 else { return nil }
        self.init(webhooks: numbers[0], events: numbers[1], delivered: numbers[2], skipped: numbers[3],
                  failed: numbers[4], kommoRequests: numbers[5], verb: groups[3])
    }
}

/// Each stdout line parsed as a JSON object; records an issue for a line that is not one.
func jsonLines(_ run: ToolRun) -> [JSONValue] {
    run.stdoutLines.compactMap { line in
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)), value.objectValue != nil
        else {
            Issue.record("stdout line is not a JSON object: \(line.prefix(200))")
            return nil
        }
        return value
    }
}

@Suite("kommo-segment executable", .serialized, .timeLimit(.minutes(5)))
struct CommandLineTests {
    @Test("the executable was built next to the test bundle")
    func executableExists() throws {
        _ = try Tool.require()
    }

    @Test("demo exits 0, prints only JSON messages on stdout and the summary on stderr")
    func demo() async throws {
        let run = try await Tool.run(["demo"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let messages = jsonLines(run)
        #expect(messages.count == run.stdoutLines.count)
        #expect(!messages.isEmpty)
        for message in messages {
            #expect(message["messageId"]?.stringValue?.isEmpty == false)
            #expect(["identify", "track", "group"].contains(message["type"]?.stringValue ?? ""))
        }
        let summary = try #require(Summary(run), "no summary line in: \(run.stderr)")
        #expect(summary.webhooks == Fixtures.sampleWebhookNames.count)
        #expect(summary.delivered == messages.count)
        #expect(summary.verb == "printed")
        #expect(summary.failed == 0)
        #expect(summary.kommoRequests > 0)
    }

    @Test("usage errors exit 2 with a message naming the option", arguments: [
        (["replay", "--no-such-option", "x.txt"], "--no-such-option"),
        (["replay", "--segment-endpoint", "http://127.0.0.1:9", "--segment-region", "eu", "x.txt"],
         "--segment-endpoint"),
        (["replay", "--dry-run"], "FILE"),
        (["replay", "--kommo-account-id", "acme", "x.txt"], "--kommo-account-id"),
        (["replay", "--kommo-account-id", "-5", "x.txt"], "--kommo-account-id"),
        (["replay", "--segment-region", "asia", "x.txt"], "--segment-region"),
        (["demo", "--verbose"], "demo takes no arguments"),
    ])
    func usageErrors(_ arguments: [String], named: String) async throws {
        let run = try await Tool.run(arguments)
        #expect(run.status == 2)
        #expect(run.stderr.contains(named), "stderr: \(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test("a --config file with an unknown key exits 2 naming the option and the key")
    func badConfig() async throws {
        let config = try Tool.temporaryFile(#"{"wonStatusIds": [142], "wonStatusIdz": [143]}"#, name: "config.json")
        defer { try? FileManager.default.removeItem(atPath: config) }
        let run = try await Tool.run(["replay", "--dry-run", "--config", config,
                                      "--fixtures", try Fixtures.kommoAPIDirectory().path,
                                      try Tool.sample("webhook-lead-status-won.txt")])
        #expect(run.status == 2)
        #expect(run.stderr.contains("--config"))
        #expect(run.stderr.contains("wonStatusIdz"), "stderr: \(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test("replay --fixtures --dry-run prints the messages of a sample webhook and exits 0")
    func dryRunReplay() async throws {
        let run = try await Tool.run(["replay", "--fixtures", try Fixtures.kommoAPIDirectory().path, "--dry-run",
                                      try Tool.sample("webhook-lead-status-won.txt")])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let messages = jsonLines(run)
        #expect(messages.compactMap { $0["type"]?.stringValue } == ["identify", "track", "group"])
        #expect(messages.map { $0["userId"]?.stringValue } == Array(repeating: "olivia.bennett@example.com", count: 3))
        #expect(messages[1]["event"]?.stringValue == "Deal Won")
        #expect(Summary(run) == Summary(webhooks: 1, events: 1, delivered: 3, skipped: 0, failed: 0, kommoRequests: 6,
                                        verb: "printed"))
    }

    @Test("a file that is not a webhook makes the exit status 1, and the other files are still processed")
    func badFileAmongGood() async throws {
        let garbage = try Tool.temporaryFile("this is not a webhook", name: "garbage.txt")
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        let run = try await Tool.run(["replay", "--fixtures", try Fixtures.kommoAPIDirectory().path, "--dry-run",
                                      garbage, try Tool.sample("webhook-lead-status-won.txt"),
                                      "/nonexistent/kommo-segment/missing.txt",
                                      try Tool.sample("webhook-lead-status-lost.txt")])
        #expect(run.status == 1)
        #expect(run.stderr.contains(garbage) && run.stderr.contains("rejected"), "stderr: \(run.stderr)")
        #expect(run.stderr.contains("missing.txt"))
        let events = jsonLines(run).compactMap { $0["event"]?.stringValue }
        #expect(events == ["Deal Won", "Deal Lost"])
        #expect(jsonLines(run).count == 5)
        #expect(Summary(run)?.delivered == 5)
    }

    @Test("the Kommo token never appears in any output, even when Kommo refuses it with 401")
    func tokenNeverPrinted() async throws {
        let token = "cli-secret-token-9b1f4e7a2c"
        let kommo = try LoopbackHTTPServer { _ in
            .json(#"{"title":"Unauthorized","type":"https://httpstatus.es/401","status":401,"#
                + #""detail":"Invalid access token"}"#, status: 401)
        }
        defer { kommo.stop() }
        let run = try await Tool.run(["replay", "--kommo-base-url", kommo.baseURL.absoluteString,
                                      "--kommo-token", token, "--dry-run",
                                      try Tool.sample("webhook-lead-status-won.txt")])
        #expect(run.status == 1)
        #expect(run.stderr.contains("401"), "stderr: \(run.stderr)")
        #expect(!run.allOutput.contains(token))
        #expect(run.stdout.isEmpty)
        // The token was used: it reached the server in the Authorization header.
        #expect(kommo.requests.first?.headers["Authorization"] == "Bearer \(token)")
    }

    @Test("environment variables are read, and a flag wins over its variable")
    func environment() async throws {
        let fixtures = try Fixtures.kommoAPIDirectory().path
        let won = try Tool.sample("webhook-lead-status-won.txt")
        // KOMMO_ACCOUNT_ID names another account: the webhook of account 31234567 is rejected.
        let fromVariable = try await Tool.run(["replay", "--fixtures", fixtures, "--dry-run", won],
                                              environment: ["KOMMO_ACCOUNT_ID": "40000001"])
        #expect(fromVariable.status == 1)
        #expect(fromVariable.stderr.contains("rejected: account 31234567 is not served by this pipeline"),
                "stderr: \(fromVariable.stderr)")
        #expect(fromVariable.stdout.isEmpty)
        // A bad value in the variable is reported under the option's name.
        let badVariable = try await Tool.run(["replay", "--fixtures", fixtures, "--dry-run", won],
                                             environment: ["KOMMO_ACCOUNT_ID": "acme"])
        #expect(badVariable.status == 2)
        #expect(badVariable.stderr.contains("--kommo-account-id"))
        // The flag wins over the variable.
        let flagWins = try await Tool.run(["replay", "--fixtures", fixtures, "--dry-run",
                                           "--kommo-account-id", "31234567", won],
                                          environment: ["KOMMO_ACCOUNT_ID": "40000001"])
        #expect(flagWins.status == 0, "stderr: \(flagWins.stderr)")
        #expect(jsonLines(flagWins).count == 3)
    }
}
