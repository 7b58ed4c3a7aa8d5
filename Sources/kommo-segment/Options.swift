import Foundation
import KommoSegment

/// A command-line mistake: printed with a pointer to the command's `--help`, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
}

/// The commands that take the connection options.
enum ConnectedCommand: String {
    case replay, resume
    case catchUp = "catch-up"
    case backfill
}

/// The options of `replay`, `resume`, `catch-up` and `backfill`, from flags and environment variables (a flag wins
/// over its variable).
struct ReplayOptions {
    var files: [String] = []
    /// `catch-up --since`, `--until`; `backfill --closed-since`: the text as given (``WhenParser`` reads it).
    var since: String?
    var until: String?
    var closedSince: String?
    var closedUntil: String?
    /// `catch-up --checkpoint FILE`.
    var checkpoint: String?
    /// `backfill --with-track`.
    var withTrack = false
    var kommoBaseURL: String?
    var kommoToken: String?
    var kommoTokenFile: String?
    var segmentWriteKey: String?
    var segmentEndpoint: String?
    var segmentRegion: String?
    var configFile: String?
    var kommoAccountID: Int64?
    var fixtures: String?
    var inbox: String?
    var dryRun = false
    var notes = false
    /// How many files (or inbox records) are processed at once; 1 processes them one after another, in order.
    var concurrency = 64
    /// Whether standard error tells, file by file, what every item made (``RunExplanation``), instead of only the
    /// items not delivered; the demo's, not a flag.
    var explains = false
    /// Webhook bodies already read, processed before `files` (the demo's samples, from `Fixtures`).
    var webhooks: [WebhookFile] = []

    /// Flags that take a value, with the environment variable each falls back to.
    static let valued: [String: String?] = [
        "--kommo-base-url": "KOMMO_BASE_URL",
        "--kommo-token": "KOMMO_ACCESS_TOKEN",
        "--kommo-token-file": "KOMMO_ACCESS_TOKEN_FILE",
        "--segment-write-key": "SEGMENT_WRITE_KEY",
        "--segment-endpoint": "SEGMENT_ENDPOINT",
        "--segment-region": "SEGMENT_REGION",
        "--config": "KOMMO_SEGMENT_CONFIG",
        "--kommo-account-id": "KOMMO_ACCOUNT_ID",
        "--fixtures": nil,
        "--inbox": "KOMMO_SEGMENT_INBOX",
        "--concurrency": nil,
        "--since": nil,
        "--until": nil,
        "--checkpoint": "KOMMO_SEGMENT_CHECKPOINT",
        "--closed-since": nil,
        "--closed-until": nil,
    ]

    /// The flags only some commands take, and which.
    static let commandFlags: [String: Set<ConnectedCommand>] = [
        "--since": [.catchUp], "--until": [.catchUp], "--checkpoint": [.catchUp],
        "--closed-since": [.backfill], "--closed-until": [.backfill], "--with-track": [.backfill],
        "--inbox": [.replay, .resume], "--notes": [.replay, .resume, .catchUp], "--concurrency": [.replay, .resume],
    ]

    /// Parses `arguments` (after `command`) with `environment` as the fallback.
    static func parse(_ arguments: [String], environment: [String: String],
                      command: ConnectedCommand = .replay) throws -> ReplayOptions {
        let takesFiles = command == .replay
        var values: [String: String] = [:]
        var options = ReplayOptions()
        var iterator = arguments.makeIterator()
        var onlyFiles = false
        while let argument = iterator.next() {
            if onlyFiles || argument == "-" || !argument.hasPrefix("-") {
                guard command == .replay || command == .resume else {
                    throw UsageError(description: "\(command.rawValue) takes no FILE, not '\(argument)'")
                }
                options.files.append(argument)
                continue
            }
            if argument == "--" { onlyFiles = true; continue }
            var name = argument
            var inline: String?
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            if let commands = commandFlags[name], !commands.contains(command) {
                throw UsageError(description: "\(command.rawValue) does not take \(name)")
            }
            switch name {
            case "--dry-run": options.dryRun = true
            case "--notes": options.notes = true
            case "--with-track": options.withTrack = true
            case _ where valued.keys.contains(name):
                guard let value = inline ?? iterator.next(), !value.isEmpty else {
                    throw UsageError(description: "\(name) needs a value")
                }
                guard values[name] == nil else { throw UsageError(description: "\(name) is given twice") }
                values[name] = value
            default:
                throw UsageError(description: "unknown option \(name)")
            }
        }
        func value(_ flag: String) -> String? {
            if let given = values[flag] { return given }
            guard let variable = valued[flag] ?? nil, let fromEnvironment = environment[variable],
                  !fromEnvironment.isEmpty else { return nil }
            return fromEnvironment
        }
        options.kommoBaseURL = value("--kommo-base-url")
        options.kommoToken = value("--kommo-token")
        options.kommoTokenFile = value("--kommo-token-file")
        options.segmentWriteKey = value("--segment-write-key")
        options.segmentEndpoint = value("--segment-endpoint")
        options.segmentRegion = value("--segment-region")
        options.configFile = value("--config")
        options.fixtures = values["--fixtures"]
        options.inbox = commandFlags["--inbox"]?.contains(command) == true ? value("--inbox") : nil
        options.since = values["--since"]
        options.until = values["--until"]
        options.closedSince = values["--closed-since"]
        options.closedUntil = values["--closed-until"]
        options.checkpoint = command == .catchUp ? value("--checkpoint") : nil
        if command == .catchUp && options.since == nil && options.checkpoint == nil {
            throw UsageError(description: "catch-up needs --since WHEN, --checkpoint FILE, or both "
                + "(KOMMO_SEGMENT_CHECKPOINT)")
        }
        if options.inbox != nil && options.dryRun {
            throw UsageError(description: "--inbox and --dry-run cannot be used together: a dry run sends nothing, "
                + "so it would keep or settle inbox records without delivering them")
        }
        if let text = values["--concurrency"] {
            guard let count = Int(text), (1...1_000).contains(count) else {
                throw UsageError(description: "--concurrency must be an integer from 1 to 1000, not '\(text)'")
            }
            options.concurrency = count
        }
        if let text = value("--kommo-account-id") {
            guard let id = Int64(text), id > 0 else {
                throw UsageError(description: "--kommo-account-id must be a positive integer, not '\(text)'")
            }
            options.kommoAccountID = id
        }
        // Either chooses where Segment is. A flag also wins over the other one's variable (SEGMENT_REGION in the
        // environment does not stop --segment-endpoint); two flags, or two variables, are a mistake.
        switch (values["--segment-endpoint"] != nil, values["--segment-region"] != nil) {
        case (true, false): options.segmentRegion = nil
        case (false, true): options.segmentEndpoint = nil
        default: break
        }
        if options.segmentEndpoint != nil && options.segmentRegion != nil {
            throw UsageError(description: values["--segment-endpoint"] == nil
                ? "SEGMENT_ENDPOINT and SEGMENT_REGION cannot be used together"
                : "--segment-endpoint and --segment-region cannot be used together")
        }
        if let region = options.segmentRegion {
            let lowercased = region.lowercased()
            guard lowercased == "us" || lowercased == "eu" else {
                throw UsageError(description: "--segment-region must be 'us' or 'eu' (any case), not '\(region)'")
            }
            options.segmentRegion = lowercased
        }
        guard takesFiles else {
            if let file = options.files.first {
                throw UsageError(description: "\(command.rawValue) takes no FILE, not '\(file)'")
            }
            if command == .resume && options.inbox == nil {
                throw UsageError(description: "resume needs --inbox DIR (or KOMMO_SEGMENT_INBOX)")
            }
            return options
        }
        if options.files.isEmpty { throw UsageError(description: "replay needs at least one FILE (or - for stdin)") }
        if options.files.filter({ $0 == "-" }).count > 1 {
            throw UsageError(description: "standard input (-) can be read only once")
        }
        return options
    }
}
