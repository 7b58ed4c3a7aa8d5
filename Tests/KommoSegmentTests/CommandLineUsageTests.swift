import Foundation
import JSONCore
import KommoSegment
import KommoSegmentTesting
import Testing

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
         "  --notes                     write a note back on each lead whose event was delivered"),
        (["replay", "--dry-run", "--no-such-option", "-h"], "usage: kommo-segment replay [options] FILE...",
         "  -h, --help                  this text"),
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
        ([], "a command is needed: demo, replay, resume or inbox", nil),
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

}
