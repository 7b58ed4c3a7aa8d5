import Foundation
import KommoSegment

/// The help texts (`--help` on every command, on stdout, exit status 0) and the usage error (one line, then where the
/// help is, on stderr, exit status 2).
enum Usage {
    /// `kommo-segment --help`: the commands, and where each one's options are.
    static let overview = """
    usage: kommo-segment demo
           kommo-segment replay [options] FILE...
           kommo-segment resume --inbox DIR [options]
           kommo-segment catch-up --since WHEN|--checkpoint FILE [options]
           kommo-segment backfill [options]
           kommo-segment inbox list|show ID|retry ID...|retry --all --inbox DIR
           kommo-segment --version

    demo      Runs the bundled sample webhooks through the real pipeline, with the Kommo API answered from bundled
              fixtures; prints the Segment messages it would send (one JSON object per line) on stdout.
    replay    Processes each FILE (a raw Kommo webhook body; - is standard input) to completion.
    resume    Finishes what the inbox holds, for the account of its records (replay's options; no FILE).
    catch-up  Recovers what the webhooks missed from Kommo's events log, with the same message ids.
    backfill  Sends the identify and group of every lead that is won now: the customers you already have.
    inbox     Lists the dead letters, shows one, or queues them again for the next resume.

    kommo-segment COMMAND --help shows the command's options and environment variables.
    --version prints the SDK version.

    \(exitStatus)
    """

    /// `kommo-segment demo --help`.
    static let demo = """
    usage: kommo-segment demo

    Runs the bundled sample webhooks of account 31234567 (acme) through the real pipeline, with the Kommo API
    answered from bundled fixtures and Segment replaced by a dry run: no credentials, no network, no arguments.
    stdout: the Segment messages it would send, one JSON object per line.
    stderr: file by file, the messages each item made (type, event, message id) or why it made none; the message
    ids that two files share; then the summary.

    exit status: 0 every item printed, skipped or a duplicate, 1 something failed, 2 bad usage
    """

    /// `kommo-segment replay --help`.
    static let replay = """
    usage: kommo-segment replay [options] FILE...

    Processes each FILE (a raw Kommo webhook body; - is standard input) to completion. Files are processed
    together, as a server processes a burst: Kommo reads are shared (each distinct lead, contact and company read
    once, up to 250 ids a request), the changes of one lead are applied in event-time order, and Segment batches
    span files. Problems are printed file by file, in the order of the FILE arguments.

    \(options)

    \(exitStatus)
    """

    /// `kommo-segment resume --help`.
    static let resume = """
    usage: kommo-segment resume --inbox DIR [options]

    Finishes what the inbox DIR holds, for the account of its records. Takes replay's options and no FILE.

    \(options)

    \(exitStatus)
    """

    /// `kommo-segment inbox --help`.
    static let inbox = """
    usage: kommo-segment inbox list --inbox DIR
           kommo-segment inbox show ID --inbox DIR
           kommo-segment inbox retry ID...|--all --inbox DIR

    list      The counts, then one line per dead letter: id, account, time, reason.
    show      One dead letter: its metadata and its body (personal data).
    retry     Queues dead letters again (--all: every one) for the next resume.

    \(inboxOption)

    \(inboxExitStatus)
    """

    /// `kommo-segment inbox list --help`.
    static let inboxList = """
    usage: kommo-segment inbox list --inbox DIR

    Prints the inbox's counts (pending records, dead letters, bytes), then one line per dead letter: id, account,
    time, reason.

    \(inboxOption)

    \(inboxExitStatus)
    """

    /// `kommo-segment inbox show --help`.
    static let inboxShow = """
    usage: kommo-segment inbox show ID --inbox DIR

    Prints one dead letter: id, account, times, attempts, reason, content type, then its body (personal data).

    \(inboxOption)

    \(inboxExitStatus)
    """

    /// `kommo-segment inbox retry --help`.
    static let inboxRetry = """
    usage: kommo-segment inbox retry ID...|--all --inbox DIR

    Moves the dead letters ID... (--all: every one) back to the pending records, attempts reset; the next
    kommo-segment resume processes them.

    \(inboxOption)

    \(inboxExitStatus)
    """

    /// The options of `replay` and `resume`, with their environment variables.
    private static let options = """
    \(optionsHeader)
    \(connectionOptions)
      --kommo-account-id ID       serve only this account (default: the account of the first readable file) [KOMMO_ACCOUNT_ID]
      --notes                     write a note back on each lead whose event was delivered
      --inbox DIR                 keep every file in DIR before processing; finish what DIR holds first [KOMMO_SEGMENT_INBOX]
      --concurrency N             files (or inbox records) in flight at once, 1 to 1000; default 64. With 1, one
                                  after another, in order, each flushed to Segment on its own
      -h, --help                  this text
    """

    private static let optionsHeader = "options (environment variable in brackets; a flag wins over its variable):"

    /// Where Kommo and Segment are, and the mapping: the options every command that connects takes.
    private static let connectionOptions = """
      --kommo-base-url URL        the account's Kommo URL, https (http only on loopback)   [KOMMO_BASE_URL]
      --kommo-token TOKEN         a long-lived token (visible in ps: prefer the file)     [KOMMO_ACCESS_TOKEN]
      --kommo-token-file FILE     a file holding the token                                [KOMMO_ACCESS_TOKEN_FILE]
      --segment-write-key KEY     the Segment source's write key                          [SEGMENT_WRITE_KEY]
      --segment-endpoint URL      an origin such as https://api.segment.io (/v1/batch appended) [SEGMENT_ENDPOINT]
      --segment-region us|eu      Segment's US (default) or EU region, any case           [SEGMENT_REGION]
      --config FILE               the mapping configuration, JSON (Documentation/MappingConfiguration.md) [KOMMO_SEGMENT_CONFIG]
      --fixtures DIR              answer Kommo API reads from JSON files in DIR (see Documentation/KommoClient.md)
      --dry-run                   print each Segment message as it would be sent; send nothing, no write key needed
    """

    /// `kommo-segment catch-up --help`.
    static let catchUp = """
    usage: kommo-segment catch-up --since WHEN|--checkpoint FILE [options]

    Recovers what the webhooks missed: reads Kommo's events log (GET /api/v4/events: stage changes, owner
    changes, leads added, deleted and restored) from WHEN, or from the checkpoint, to a minute ago, and processes
    every lead change in it, oldest first, as its webhook would have been: same fetch, mapping and message ids,
    batched. A stage "change" whose stages are equal is skipped, as with webhooks. The account is the token's
    (GET /api/v4/account) unless --kommo-account-id names it. Progress goes to stderr.

    WHEN is an ISO-8601 time (2026-01-20T12:30:00Z), a date (2026-01-20, midnight UTC) or a duration back from
    now (90m, 24h, 7d).

    Never counts twice: within one run (or with a deduplication store shared with the webhooks, as the server
    has), a change already delivered is not sent again, even when the log's time is a few seconds off the
    webhook's. Separate runs of this command share no such store: a change delivered before is sent again with
    the same message ids, and Segment drops the repeat only within its de-duplication window of about 24 hours;
    RudderStack keeps none unless its operator enables it. Use --checkpoint so that each run goes on where the
    last one stopped (see Documentation/CatchUp.md).

    \(optionsHeader)
    \(connectionOptions)
      --since WHEN                the first time read (default: the second after the checkpoint)
      --until WHEN                the last time read (default: a minute ago)
      --checkpoint FILE           read and move the account's checkpoint in FILE; without --since, go on from it
                                  (a first run reads the last 24 hours). --dry-run never moves it [KOMMO_SEGMENT_CHECKPOINT]
      --kommo-account-id ID       the account (default: the token's account, GET /api/v4/account) [KOMMO_ACCOUNT_ID]
      --notes                     write a note back on each lead whose event was delivered
      -h, --help                  this text

    exit status: 0 every lead change delivered (or printed), already processed or deliberately skipped, 1 Kommo
    could not be read, the checkpoint not kept, or a change failed (the checkpoint stays before it), 2 bad usage
    or configuration
    """

    /// `kommo-segment backfill --help`.
    static let backfill = """
    usage: kommo-segment backfill [options]

    Tells Segment about the customers you already have: for every lead that is won now (stage 142, or the
    mapping's wonStatusIds, in any pipeline), the identify of its main contact with the traits of a Deal Won and
    the group of its company, so audiences exclude existing customers from day one. Leads are read 250 a page
    with their contacts, then contacts and companies by id in batches. Message ids are deterministic: running it
    again sends the same ids (Documentation/MessageIDs.md). Progress goes to stderr.

    \(optionsHeader)
    \(connectionOptions)
      --closed-since WHEN         only leads closed since WHEN (ISO-8601 time, date, or 90m, 24h, 7d back)
      --closed-until WHEN         only leads closed until WHEN
      --with-track                also send the historical Deal Won track, timestamped with the lead's closed_at;
                                  its id is not the webhook's, so end it (--closed-until) where the webhooks began
      --kommo-account-id ID       the account (default: the token's account, GET /api/v4/account) [KOMMO_ACCOUNT_ID]
      -h, --help                  this text

    exit status: 0 every won lead sent (or printed) or deliberately skipped, 1 Kommo could not be read or a lead
    failed, 2 bad usage or configuration
    """

    private static let exitStatus = """
    exit status: 0 all delivered (or printed) or deliberately skipped, 1 something failed (or, with --inbox, records
    remain pending or went to the dead letters), 2 bad usage or configuration
    """

    private static let inboxOption = """
    options:
      --inbox DIR                 the inbox directory                                     [KOMMO_SEGMENT_INBOX]
      -h, --help                  this text
    """

    private static let inboxExitStatus = "exit status: 0 done, 1 no such dead letter or the inbox failed, 2 bad usage"

    /// Whether `arguments` (those after the command) ask for the help: `--help` or `-h` before any `--`.
    static func asksForHelp(_ arguments: [String]) -> Bool {
        arguments.prefix { $0 != "--" }.contains { $0 == "--help" || $0 == "-h" }
    }

    /// Prints `text` on stdout; returns exit status 0.
    static func show(_ text: String) -> Int32 {
        print(text)
        return 0
    }

    /// Prints the mistake and where the help of `command` (a subcommand such as `replay` or `inbox list`, or `nil`
    /// for the top level) is, on stderr; returns exit status 2.
    static func refuse(_ problem: String, command: String?) -> Int32 {
        let help = ["kommo-segment", command, "--help"].compactMap { $0 }.joined(separator: " ")
        printError("kommo-segment: \(problem)\nsee '\(help)'")
        return 2
    }
}
