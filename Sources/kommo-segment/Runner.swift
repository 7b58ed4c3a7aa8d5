import Foundation
import KommoSegment
import KommoSegmentTesting

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Runs `replay` (and `demo`, which is a replay of bundled files against bundled fixtures) and `resume`.
enum Runner {
    /// Runs a replay; returns the exit status.
    static func replay(_ options: ReplayOptions) async -> Int32 {
        // Configuration first: a mistake there is exit status 2 before any work.
        guard let setup = setup(options, command: "replay") else { return 2 }
        let parser = KommoWebhookParser()
        var queue = WebhookFileQueue(preRead: options.webhooks, paths: options.files,
                                     reader: WebhookFileReader(limit: parser.limits.maxBodyBytes))
        var failures = 0
        // The account: given, or that of the first readable file; files are read one at a time throughout.
        var first: WebhookFile?
        let accountID: Int64
        if let given = options.kommoAccountID {
            accountID = given
        } else {
            var found: Int64?
            while found == nil, let next = queue.next() {
                switch next {
                case .failure(let error):
                    printError(error.description)
                    failures += 1
                case .success(let file):
                    do {
                        found = try parser.parse(body: file.body, contentType: formContentType).account.id
                        first = file
                    } catch {
                        printError("\(file.name): \(error.description)")
                        failures += 1
                    }
                }
            }
            guard let found else {
                printError("kommo-segment: no file is a readable Kommo webhook (reasons above), so the account is "
                    + "unknown; give --kommo-account-id")
                return 1
            }
            accountID = found
        }
        let pipeline: KommoSegmentPipeline
        do {
            pipeline = try setup.pipeline(accountIDs: [accountID])
        } catch {
            printError("kommo-segment: \(error)")
            return 2
        }
        let files = queue
        let firstFile = first
        let fileFailures = failures
        let explains = options.explains
        let concurrency = options.concurrency
        return await running(pipeline, dryRun: setup.dryRun) { () async -> Int in
            var queue = files
            var failures = fileFailures
            if setup.inbox != nil {
                // Finish what the inbox already holds, keep every file, then process them: a crash at any point
                // loses none of them.
                let earlier = await processInbox(pipeline)
                var kept = 0
                failures += await forEachFile(first: firstFile, queue: &queue) { file in
                    kept += 1
                    return await keep(file, pipeline: pipeline)
                }
                printError("inbox: \(kept) files kept")
                let now = await processInbox(pipeline)
                return failures + earlier + now
            }
            var explanation = explains ? RunExplanation() : nil
            // Files are read as there is room, processed together, and reported in the order they were given.
            var first = firstFile
            var names: [String] = []
            var finished: [Int: WebhookReport] = [:]
            var printed = 0
            await pipeline.process(maxConcurrency: concurrency, next: {
                func body(of file: WebhookFile) -> WebhookBody {
                    names.append(file.name)
                    return WebhookBody(body: file.body)
                }
                if let file = first {
                    first = nil
                    return body(of: file)
                }
                while let next = queue.next() {
                    switch next {
                    case .failure(let error):
                        printError(error.description)
                        failures += 1
                    case .success(let file): return body(of: file)
                    }
                }
                return nil
            }, report: { position, report in
                finished[position] = report
                while let next = finished.removeValue(forKey: printed) {
                    if explanation == nil { printProblems(of: next, name: names[printed]) }
                    explanation?.explain(next, name: names[printed])
                    printed += 1
                    if printed % 20 == 0 { printError("replay: \(printed) files") }
                }
            })
            explanation?.explainSharedMessages()
            return failures
        }
    }

    /// Runs `resume`: finishes what the inbox holds, for the account of its records; returns the exit status.
    static func resume(_ options: ReplayOptions) async -> Int32 {
        guard let setup = setup(options, command: "resume") else { return 2 }
        guard let inbox = setup.inbox else {
            return Usage.refuse("resume needs --inbox DIR (or KOMMO_SEGMENT_INBOX)", command: "resume")
        }
        let accounts: Set<Int64>
        do {
            // Dead letters past their retention (7 days) hold personal data no one needs any more.
            let purged = try await inbox.purgeExpiredDeadLetters()
            if purged > 0 { printError("inbox: \(purged) dead letters past their retention purged") }
            let found = try await InboxCommand.accounts(in: inbox)
            if found.accounts.isEmpty && found.held > 0 {
                printError("inbox \(options.inbox ?? ""): \(found.held) records pending, all held by another worker's "
                    + "lease; try again once it has finished or its lease has expired (60 s)")
                return 1
            }
            accounts = options.kommoAccountID.map { [$0] } ?? found.accounts
        } catch {
            printError("kommo-segment: \(error)")
            return 1
        }
        guard !accounts.isEmpty else {
            printError("inbox \(options.inbox ?? ""): nothing pending")
            return 0
        }
        let pipeline: KommoSegmentPipeline
        do {
            pipeline = try setup.pipeline(accountIDs: accounts.sorted())
        } catch {
            printError("kommo-segment: \(error)")
            return 2
        }
        return await running(pipeline, dryRun: setup.dryRun) { await processInbox(pipeline) }
    }

    /// The setup from the options; `nil` (after printing why, and where the help of `command` is) for a
    /// configuration mistake.
    static func setup(_ options: ReplayOptions, command: String) -> Setup? {
        do {
            return try Setup(options)
        } catch {
            _ = Usage.refuse("\(error)", command: command)
            return nil
        }
    }

    /// Runs `work` beside the pipeline's `run()`, then shuts down and prints the summary (a dry run counts its
    /// messages as printed, not delivered); returns the exit status.
    static func running(_ pipeline: KommoSegmentPipeline, dryRun: Bool, summary: Bool = true,
                        _ work: @escaping @Sendable () async -> Int) async -> Int32 {
        await withTaskGroup(of: Void.self) { group -> Int32 in
            group.addTask {
                do {
                    try await pipeline.run()
                } catch {
                    printError("kommo-segment: \(error)")
                }
            }
            let failed = await work()
            let undelivered = await pipeline.shutdown()
            await group.waitForAll()
            let counters = await pipeline.statistics
            let total = failed + counters.webhooksRejected + counters.eventsFailed + (undelivered.isEmpty ? 0 : 1)
            let sent = dryRun ? "printed" : "delivered"
            if summary {
                printError("webhooks: \(counters.webhooks), events: \(counters.events), messages: "
                    + "\(counters.messagesDelivered) \(sent), \(counters.eventsSkipped) skipped, "
                    + "\(counters.eventsFailed + counters.webhooksRejected) failed, kommo requests: "
                    + "\(counters.kommoRequests)")
            }
            return total == 0 ? 0 : 1
        }
    }

    /// Hands `first` and then every file of the queue, read one at a time, to `handle`; returns the failures: the
    /// files that could not be read (each printed with its reason) and those `handle` refused.
    private static func forEachFile(first: WebhookFile?, queue: inout WebhookFileQueue,
                                    _ handle: (WebhookFile) async -> Bool) async -> Int {
        var failures = 0
        if let first, !(await handle(first)) { failures += 1 }
        while let next = queue.next() {
            switch next {
            case .failure(let error):
                printError(error.description)
                failures += 1
            case .success(let file):
                if !(await handle(file)) { failures += 1 }
            }
        }
        return failures
    }

    /// Keeps one file in the inbox; `false` (and a line on stderr) when it is refused.
    private static func keep(_ file: WebhookFile, pipeline: KommoSegmentPipeline) async -> Bool {
        let acknowledgement = await pipeline.keep(body: file.body, contentType: formContentType, requestTarget: "/")
        if !acknowledgement.isAccepted { printError("\(file.name): rejected: \(acknowledgement.detail)") }
        return acknowledgement.isAccepted
    }

    /// Processes what the inbox holds until nothing is due; returns 1 when records remain pending or went to the
    /// dead letters (saying how many and where), else 0.
    private static func processInbox(_ pipeline: KommoSegmentPipeline) async -> Int {
        var pass = InboxPass()
        do {
            // One pass takes every due record; a second catches records deferred while the first was busy.
            for _ in 0..<2 {
                let next = try await pipeline.processInbox()
                pass.completed += next.completed
                pass.retried += next.retried
                pass.deadLettered += next.deadLettered
                for report in next.reports { printProblems(of: report, name: "inbox") }
                if next.deferred == 0 { break }
            }
        } catch {
            printError("kommo-segment: \(error)")
            return 1
        }
        let status = await pipeline.inboxStatus
        let pending = status?.pending ?? 0
        guard pending > 0 || pass.deadLettered > 0 else { return 0 }
        printError("inbox: \(pending) records remain pending, \(pass.deadLettered) went to the dead letters "
            + "(see: kommo-segment inbox list --inbox DIR; run kommo-segment resume to try again)")
        return 1
    }

    private static func printProblems(of report: WebhookReport, name: String) {
        if !report.acknowledgement.isAccepted {
            printError("\(name): rejected: \(report.acknowledgement.detail)")
        }
        for event in report.events {
            switch event.outcome {
            case .failed(let error): printError("\(name): \(event.item) failed: \(error)")
            case .skipped(let reasons):
                printError("\(name): \(event.item) skipped: " + reasons.map { $0.code.rawValue }.joined(separator: ", "))
            case .duplicate: printError("\(name): \(event.item) duplicate")
            case .delivered: break
            }
        }
        if let noteError = report.noteError { printError("\(name): notes not written: \(noteError)") }
    }
}

let formContentType = "application/x-www-form-urlencoded"

/// Everything built from the options before any file is processed.
struct Setup {
    var mapping = MappingConfiguration()
    var kommoHost: KommoAccountHost
    var token: String
    var kommoTransport: any HTTPTransport
    var segment: any SegmentClient
    var notes: Bool
    /// Whether Segment is the dry run's standard output.
    var dryRun: Bool
    var usesFixtures: Bool
    var inbox: FileWebhookInbox?
    /// Files or inbox records in flight at once.
    var concurrency: Int

    init(_ options: ReplayOptions) throws {
        concurrency = options.concurrency
        if let path = options.configFile {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw UsageError(description: "--config \(path): cannot be read")
            }
            do {
                mapping = try MappingConfiguration.load(from: data)
            } catch {
                throw UsageError(description: "--config \(path): \(error)")
            }
        }
        if let directory = options.fixtures {
            do {
                kommoTransport = try KommoFixtureTransport(directory: URL(fileURLWithPath: directory))
            } catch {
                throw UsageError(description: "--fixtures \(directory): \(error)")
            }
            kommoHost = try Self.host(options.kommoBaseURL ?? "https://fixtures.kommo.com")
            token = try Self.token(options) ?? "fixtures"
        } else {
            guard let base = options.kommoBaseURL else {
                throw UsageError(description: "--kommo-base-url (or KOMMO_BASE_URL) is required without --fixtures")
            }
            kommoHost = try Self.host(base)
            guard let token = try Self.token(options) else {
                throw UsageError(description: "a Kommo token is required without --fixtures: "
                    + "--kommo-token-file, --kommo-token, KOMMO_ACCESS_TOKEN_FILE or KOMMO_ACCESS_TOKEN")
            }
            self.token = token
            kommoTransport = URLSessionTransport()
        }
        if options.dryRun {
            segment = PrintingSegmentClient()
        } else {
            guard let key = options.segmentWriteKey else {
                throw UsageError(description: "--segment-write-key (or SEGMENT_WRITE_KEY) is required without --dry-run")
            }
            var endpoint = SegmentEndpoint.us
            if options.segmentRegion == "eu" { endpoint = .eu }
            if let origin = options.segmentEndpoint {
                guard let url = URL(string: origin) else {
                    throw UsageError(description: "--segment-endpoint: '\(origin)' is not a URL")
                }
                do {
                    endpoint = try SegmentEndpoint(origin: url)
                } catch {
                    throw UsageError(description: "--segment-endpoint: \(error)")
                }
            }
            segment = HTTPSegmentClient(configuration: SegmentClientConfiguration(writeKey: SegmentWriteKey(key),
                                                                                  endpoint: endpoint))
        }
        notes = options.notes
        dryRun = options.dryRun
        usesFixtures = options.fixtures != nil
        if let directory = options.inbox {
            do {
                inbox = try FileWebhookInbox(directory: URL(fileURLWithPath: directory))
            } catch {
                throw UsageError(description: "--inbox \(directory): \(error)")
            }
        }
    }

    private static func host(_ text: String) throws -> KommoAccountHost {
        do {
            return try KommoAccountHost(url: text)
        } catch {
            throw UsageError(description: "--kommo-base-url: \(error)")
        }
    }

    /// The token from the file (preferred) or the option; `nil` when neither is given.
    private static func token(_ options: ReplayOptions) throws -> String? {
        if let path = options.kommoTokenFile {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw UsageError(description: "--kommo-token-file \(path): cannot be read")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw UsageError(description: "--kommo-token-file \(path): the file is empty") }
            return token
        }
        return options.kommoToken
    }

    /// The Kommo client of the options.
    func kommoClient() -> HTTPKommoClient {
        var configuration = HTTPKommoClient.Configuration()
        if usesFixtures {
            // Files on disk are not Kommo: its 7 requests a second do not apply.
            configuration.rateLimit = KommoRateLimiter.Limit(requestsPerSecond: 10_000, burst: 100)
        }
        return HTTPKommoClient(host: kommoHost, tokenProvider: LongLivedToken(token), configuration: configuration,
                               transport: kommoTransport)
    }

    /// The pipeline for the accounts; replays are trusted input, so no URL secret is asked for.
    func pipeline(accountIDs: [Int64], kommo: HTTPKommoClient? = nil,
                  checkpoints: any CatchUpCheckpointStore = InMemoryCatchUpCheckpointStore()) throws
        -> KommoSegmentPipeline {
        let kommo = kommo ?? kommoClient()
        let accounts = accountIDs.map {
            KommoSegmentAccount(accountID: $0, kommo: kommo, segment: segment, mapping: mapping, writesNotes: notes)
        }
        var pipelineConfiguration = KommoSegmentPipeline.Configuration(requiresSecret: false)
        // The command drives the inbox itself, pass by pass.
        pipelineConfiguration.inboxScanInterval = nil
        pipelineConfiguration.inboxConcurrency = concurrency
        return try KommoSegmentPipeline(accounts: accounts, configuration: pipelineConfiguration, inbox: inbox,
                                        checkpoints: checkpoints)
    }
}
