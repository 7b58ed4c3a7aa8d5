import Foundation
import JSONCore
import KommoSegment
import KommoSegmentTesting
import Testing

/// The message ids of the Segment batch requests a loopback server received, in order.
private func batchMessageIDs(_ requests: [LoopbackHTTPServer.Request]) throws -> [String] {
    try requests.filter { $0.target.hasSuffix("/v1/batch") }.flatMap { request in
        try JSONDecoder().decode(JSONValue.self, from: request.body)["batch"]?.arrayValue ?? []
    }.compactMap { $0["messageId"]?.stringValue }
}

/// `--help`, `--version`, usage errors, the variables that stand for `--config` and `--segment-region`, the dry run's
/// summary word, the demo's account of every item, and the reasons account detection gives.
@Suite("kommo-segment usage", .serialized, .timeLimit(.minutes(1)))
struct CommandLineUsageTests {
    static let won = "webhook-lead-status-won.txt"
    /// An inbox directory that no test creates.
    static let unopened = FileManager.default.temporaryDirectory
        .appendingPathComponent("kommo-segment-unopened-inbox-\(UUID().uuidString)").path

    @Test("--help prints the command's usage on stdout and exits 0, whatever else is given", arguments: [
        (["--help"], "usage: kommo-segment demo",
         "kommo-segment COMMAND --help shows the command's options and environment variables."),
        (["-h"], "usage: kommo-segment demo", "--version prints the SDK version."),
        (["help"], "usage: kommo-segment demo", "       kommo-segment --version"),
        (["demo", "--help"], "usage: kommo-segment demo",
         "stdout: the Segment messages it would send, one JSON object per line."),
        (["replay", "--help"], "usage: kommo-segment replay [options] FILE...",
         "  --config FILE               the mapping configuration, JSON (Documentation/MappingConfiguration.md) "
            + "[KOMMO_SEGMENT_CONFIG]"),
        (["replay", "--dry-run", "--no-such-option", "-h"], "usage: kommo-segment replay [options] FILE...",
         "  --segment-region us|eu      Segment's US (default) or EU region, any case           [SEGMENT_REGION]"),
        (["resume", "--help"], "usage: kommo-segment resume --inbox DIR [options]",
         "Finishes what the inbox DIR holds, for the account of its records. Takes replay's options and no FILE."),
        (["inbox", "--help"], "usage: kommo-segment inbox list --inbox DIR",
         "retry     Queues dead letters again (--all: every one) for the next resume."),
        (["inbox", "list", "--help"], "usage: kommo-segment inbox list --inbox DIR",
         "  --inbox DIR                 the inbox directory                                     [KOMMO_SEGMENT_INBOX]"),
        (["inbox", "show", "--help"], "usage: kommo-segment inbox show ID --inbox DIR",
         "Prints one dead letter: id, account, times, attempts, reason, content type, then its body (personal data)."),
        (["inbox", "retry", "-h"], "usage: kommo-segment inbox retry ID...|--all --inbox DIR",
         "exit status: 0 done, 1 no such dead letter or the inbox failed, 2 bad usage"),
    ] as [([String], String, String)])
    func help(_ arguments: [String], firstLine: String, line: String) async throws {
        let run = try await Tool.run(arguments)
        #expect(run.status == 0)
        #expect(run.stderr.isEmpty, "stderr: \(run.stderr)")
        #expect(run.stdoutLines.first == firstLine)
        #expect(run.stdoutLines.contains(line), "stdout: \(run.stdout)")
    }

    @Test("--help of a subcommand is its own: replay's is not resume's, and no command's is the overview")
    func helpTextsDiffer() async throws {
        var texts: [String] = []
        for arguments in [["--help"], ["demo", "--help"], ["replay", "--help"], ["resume", "--help"],
                          ["inbox", "--help"], ["inbox", "list", "--help"], ["inbox", "show", "--help"],
                          ["inbox", "retry", "--help"]] {
            let run = try await Tool.run(arguments)
            #expect(run.status == 0)
            texts.append(run.stdout)
        }
        #expect(Set(texts).count == texts.count)
    }

    @Test("--version prints the SDK version and exits 0")
    func version() async throws {
        let run = try await Tool.run(["--version"])
        #expect(run.status == 0)
        #expect(run.stdout == "kommo-segment \(SDKInfo.version)\n")
        #expect(run.stderr.isEmpty)
    }

    @Test("a usage error is one line and where the help is, on stderr, exit status 2", arguments: [
        (["replay", "--no-such-option", "x.txt"], "unknown option --no-such-option", "replay"),
        (["replay", "--dry-run"], "replay needs at least one FILE (or - for stdin)", "replay"),
        (["replay", "--dry-run", "x.txt"], "--kommo-base-url (or KOMMO_BASE_URL) is required without --fixtures",
         "replay"),
        (["resume", "--dry-run"], "resume needs --inbox DIR (or KOMMO_SEGMENT_INBOX)", "resume"),
        (["demo", "--verbose"], "demo takes no arguments, not '--verbose'", "demo"),
        (["inbox", "list"], "inbox needs --inbox DIR (or KOMMO_SEGMENT_INBOX)", "inbox list"),
        (["inbox", "retry", "--inbox", CommandLineUsageTests.unopened], "inbox retry needs record ids, or --all",
         "inbox retry"),
        (["inbox", "frob", "--inbox", CommandLineUsageTests.unopened], "unknown inbox command 'frob'", "inbox"),
        (["inbox", "--inbox"], "--inbox needs a value", "inbox"),
        (["frobnicate"], "unknown command 'frobnicate'", nil),
        (["--verbose"], "unknown option --verbose", nil),
        ([], "a command is needed: demo, replay, resume, catch-up, backfill or inbox", nil),
    ] as [([String], String, String?)])
    func usageError(_ arguments: [String], problem: String, command: String?) async throws {
        let run = try await Tool.run(arguments)
        #expect(run.status == 2)
        let help = command.map { "see 'kommo-segment \($0) --help'" } ?? "see 'kommo-segment --help'"
        #expect(run.stderrLines == ["kommo-segment: \(problem)", help])
        #expect(run.stdout.isEmpty)
        // A usage error does nothing: not even the inbox directory it names is created.
        #expect(!FileManager.default.fileExists(atPath: Self.unopened))
    }

    @Test("--segment-region takes us and eu in any case, from the flag or SEGMENT_REGION; a flag wins", arguments: [
        (["--segment-region", "EU"], [:], 1),
        (["--segment-region=Us"], [:], 1),
        ([], ["SEGMENT_REGION": "eU"], 1),
        (["--segment-region", "us"], ["SEGMENT_REGION": "asia"], 1),
        (["--segment-region", "asia"], [:], 2),
        ([], ["SEGMENT_REGION": "asia"], 2),
    ] as [([String], [String: String], Int32)])
    func region(_ flags: [String], environment: [String: String], status: Int32) async throws {
        // The only file is missing: a region that is accepted gets as far as looking for the account (status 1),
        // without any request; one that is refused stops at the options (status 2).
        let run = try await Tool.run(["replay", "--segment-write-key", "wk", "--fixtures",
                                      try Fixtures.kommoAPIDirectory().path] + flags
                                     + ["/nonexistent/kommo-segment/missing.txt"], environment: environment)
        #expect(run.status == status)
        if status == 2 {
            let given = flags.last ?? environment["SEGMENT_REGION"] ?? ""
            #expect(run.stderrLines == ["kommo-segment: --segment-region must be 'us' or 'eu' (any case), not "
                                            + "'\(given)'", "see 'kommo-segment replay --help'"])
        } else {
            #expect(run.stderrLines.first == "/nonexistent/kommo-segment/missing.txt: no such file",
                    "stderr: \(run.stderr)")
        }
    }

    @Test("--segment-endpoint wins over SEGMENT_REGION; the two variables together are a usage error")
    func endpointAndRegion() async throws {
        let segment = try LoopbackHTTPServer { _ in .json(#"{"success":true}"#) }
        defer { segment.stop() }
        let fixtures = try Fixtures.kommoAPIDirectory().path
        let run = try await Tool.run(["replay", "--fixtures", fixtures, "--segment-write-key", "wk",
                                      "--segment-endpoint", segment.baseURL.absoluteString,
                                      try Tool.sample(Self.won)],
                                     environment: ["SEGMENT_REGION": "eu"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(try batchMessageIDs(segment.requests).count == 3)
        #expect(run.stderrLines.last == "webhooks: 1, events: 1, messages: 3 delivered, 0 skipped, 0 failed, "
                    + "kommo requests: 6")

        let both = try await Tool.run(["replay", "--fixtures", fixtures, "--segment-write-key", "wk",
                                       try Tool.sample(Self.won)],
                                      environment: ["SEGMENT_REGION": "eu",
                                                    "SEGMENT_ENDPOINT": segment.baseURL.absoluteString])
        #expect(both.status == 2)
        #expect(both.stderrLines == ["kommo-segment: SEGMENT_ENDPOINT and SEGMENT_REGION cannot be used together",
                                     "see 'kommo-segment replay --help'"])
    }

    @Test("KOMMO_SEGMENT_CONFIG stands for --config, and the flag wins over it")
    func configVariable() async throws {
        let renamed = try Tool.temporaryFile(#"{"eventNames": {"dealWon": "Order Completed"}}"#, name: "renamed.json")
        let invalid = try Tool.temporaryFile(#"{"wonStatusIdz": [142]}"#, name: "invalid.json")
        defer {
            try? FileManager.default.removeItem(atPath: renamed)
            try? FileManager.default.removeItem(atPath: invalid)
        }
        let arguments = ["replay", "--dry-run", "--fixtures", try Fixtures.kommoAPIDirectory().path,
                         try Tool.sample(Self.won)]
        let fromVariable = try await Tool.run(arguments, environment: ["KOMMO_SEGMENT_CONFIG": renamed])
        #expect(fromVariable.status == 0, "stderr: \(fromVariable.stderr)")
        #expect(jsonLines(fromVariable).compactMap { $0["event"]?.stringValue } == ["Order Completed"])

        let badVariable = try await Tool.run(arguments, environment: ["KOMMO_SEGMENT_CONFIG": invalid])
        #expect(badVariable.status == 2)
        #expect(badVariable.stderrLines.first?.hasPrefix("kommo-segment: --config \(invalid): ") == true,
                "stderr: \(badVariable.stderr)")
        #expect(badVariable.stderrLines.first?.contains("wonStatusIdz") == true)
        #expect(badVariable.stderrLines.last == "see 'kommo-segment replay --help'")
        #expect(badVariable.stdout.isEmpty)

        let flagWins = try await Tool.run(["replay", "--config", renamed] + arguments.dropFirst(),
                                          environment: ["KOMMO_SEGMENT_CONFIG": invalid])
        #expect(flagWins.status == 0, "stderr: \(flagWins.stderr)")
        #expect(jsonLines(flagWins).compactMap { $0["event"]?.stringValue } == ["Order Completed"])
    }

    @Test("a dry run counts its messages as printed")
    func dryRunSummary() async throws {
        let run = try await Tool.run(["replay", "--dry-run", "--fixtures", try Fixtures.kommoAPIDirectory().path,
                                      try Tool.sample(Self.won)])
        #expect(run.status == 0)
        #expect(run.stderrLines
                == ["webhooks: 1, events: 1, messages: 3 printed, 0 skipped, 0 failed, kommo requests: 6"])
    }

    @Test("the demo tells on stderr, file by file, what each item made or why not; stdout is only the messages")
    func demoExplains() async throws {
        let run = try await Tool.run(["demo"])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let messages = jsonLines(run)
        #expect(messages.count == 12)
        let lines = run.stderrLines
        #expect(lines.first == "demo: 14 sample webhooks of account 31234567 (acme), Kommo answered from bundled "
                    + "fixtures, Segment messages printed on stdout instead of sent")
        #expect(lines.last
                == "webhooks: 14, events: 17, messages: 12 printed, 7 skipped, 0 failed, kommo requests: 29")
        let won = try #require(lines.firstIndex(of: "webhook-lead-status-won.txt"))
        #expect(Array(lines[won...].prefix(5)) == [
            "webhook-lead-status-won.txt",
            "  leads[status] 24000017 → 3 messages",
            "    identify 288d8840-c5cc-5c86-b60c-7eeabf37c0bc",
            "    track \"Deal Won\" 36d8ead2-3196-59ab-a32c-069727103614",
            "    group 2147ec88-54f6-5191-88e8-377e8cf2f4f6",
        ])
        let batch = try #require(lines.firstIndex(of: "webhook-lead-status-batch.txt"))
        #expect(Array(lines[batch...].prefix(8)) == [
            "webhook-lead-status-batch.txt",
            "  leads[status] 24000017 → 1 message",
            "    track \"Stage Changed\" 131ae20f-ac1a-5fd3-82f2-e9ce87678d64",
            "  leads[status] 24000018 → skipped: noContact: lead 24000018 has no contact",
            "  leads[status] 24000019 → 2 messages",
            "    identify 5f24581f-facb-597d-8972-e6f047d7532d",
            "    track \"Deal Won\" 55d261e3-4d00-596a-b195-31eac545456e",
            "    no group: noCompany: lead 24000019 has no company and the configured company field is empty",
        ])
        #expect(lines.contains(
            "  leads[status] 24000017 → duplicate: the same change as an earlier item, not sent again"))
        #expect(lines.filter { $0.hasPrefix("message ") } == [
            "message efd648d4-d8ea-54b9-a7c5-eaad8bdc0470 (track \"Stage Changed\") came from "
                + "webhook-dp-lead-status-minimal.txt and webhook-lead-status-middle-stage.txt: the same change twice, "
                + "with one messageId, so Segment's deduplication counts it once",
        ])
        // Every file has its block, and the ids listed are those printed on stdout, in the same order.
        #expect(lines.filter { $0.hasPrefix("webhook-") } == Fixtures.sampleWebhookNames)
        let listed = lines.filter { $0.hasPrefix("    ") && !$0.hasPrefix("    no ") }
            .compactMap { $0.split(separator: " ").last.map(String.init) }
        #expect(listed == messages.compactMap { $0["messageId"]?.stringValue })
        // Ids, event names and reasons only: no person's email or name reaches stderr.
        #expect(!run.stderr.contains("@example.com") && !run.stderr.contains("Olivia"))
    }

    @Test("account detection prints, for every file it could not read, the file and the parser's reason")
    func accountDetectionReasons() async throws {
        let garbage = "this is not a webhook"
        let badAccount = "account%5Bid%5D=acme&leads%5Bstatus%5D%5B0%5D%5Bid%5D=1"
        let first = try Tool.temporaryFile(garbage, name: "garbage.txt")
        let second = try Tool.temporaryFile(badAccount, name: "bad-account.txt")
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        func reason(_ body: String) -> String {
            do {
                _ = try KommoWebhookParser().parse(body: Data(body.utf8),
                                                   contentType: "application/x-www-form-urlencoded")
                return "parsed"
            } catch {
                return error.description
            }
        }
        let run = try await Tool.run(["replay", "--dry-run", "--fixtures", try Fixtures.kommoAPIDirectory().path,
                                      first, "/nonexistent/kommo-segment/missing.txt", second])
        #expect(run.status == 1)
        #expect(run.stderrLines == [
            "\(first): \(reason(garbage))",
            "/nonexistent/kommo-segment/missing.txt: no such file",
            "\(second): \(reason(badAccount))",
            "kommo-segment: no file is a readable Kommo webhook (reasons above), so the account is unknown; give "
                + "--kommo-account-id",
        ])
        #expect(reason(garbage) != "parsed" && reason(badAccount) != "parsed")
        #expect(run.stdout.isEmpty)
    }
}
