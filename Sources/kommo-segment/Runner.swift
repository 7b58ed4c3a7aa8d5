import Foundation
import KommoSegment
import KommoSegmentTesting

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// The body of one webhook file.
struct WebhookFile {
    var name: String
    var body: Data
}

/// Runs `replay` (and `demo`, which is a replay of bundled files against bundled fixtures).
enum Runner {
    /// Runs a replay; returns the exit status.
    static func replay(_ options: ReplayOptions) async -> Int32 {
        // Configuration first: a mistake there is exit status 2 before any work.
        let setup: Setup
        do {
            setup = try Setup(options)
        } catch let error as UsageError {
            printError("kommo-segment: \(error)")
            return 2
        } catch {
            printError("kommo-segment: \(error)")
            return 2
        }

        var failures = 0
        var files = options.webhooks
        for path in options.files {
            do {
                let body = path == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                    : try Data(contentsOf: URL(fileURLWithPath: path))
                files.append(WebhookFile(name: path == "-" ? "<stdin>" : path, body: body))
            } catch {
                printError("\(path): cannot be read (\(type(of: error)))")
                failures += 1
            }
        }

        let accountID: Int64
        if let given = options.kommoAccountID {
            accountID = given
        } else if let first = files.lazy.compactMap({ try? KommoWebhookParser().parse(body: $0.body,
                                                                                     contentType: formContentType) })
                    .first {
            accountID = first.account.id
        } else {
            printError("kommo-segment: no file is a readable Kommo webhook, so the account is unknown; "
                + "give --kommo-account-id")
            return 1
        }

        let pipeline: KommoSegmentPipeline
        do {
            pipeline = try setup.pipeline(accountID: accountID)
        } catch {
            printError("kommo-segment: \(error)")
            return 2
        }
        // The pipeline's run() delivers; the files are processed beside it, then shutdown ends it.
        return await withTaskGroup(of: Void.self) { group -> Int32 in
            group.addTask {
                do {
                    try await pipeline.run()
                } catch {
                    printError("kommo-segment: \(error)")
                }
            }
            let failed = await process(files, pipeline: pipeline)
            let undelivered = await pipeline.shutdown()
            await group.waitForAll()
            let counters = await pipeline.statistics
            let total = failures + failed + counters.webhooksRejected + counters.eventsFailed
                + (undelivered.isEmpty ? 0 : 1)
            printError("webhooks: \(counters.webhooks), events: \(counters.events), messages: "
                + "\(counters.messagesDelivered) delivered, \(counters.eventsSkipped) skipped, "
                + "\(counters.eventsFailed + counters.webhooksRejected) failed, kommo requests: "
                + "\(counters.kommoRequests)")
            return total == 0 ? 0 : 1
        }
    }

    /// Processes the files one after another and prints each one's problems; returns 0 (failures are counted by
    /// the pipeline).
    private static func process(_ files: [WebhookFile], pipeline: KommoSegmentPipeline) async -> Int {
        for (position, file) in files.enumerated() {
            let report = await pipeline.process(body: file.body, contentType: formContentType, requestTarget: "/")
            if !report.acknowledgement.isAccepted {
                printError("\(file.name): rejected: \(report.acknowledgement.detail)")
            }
            for event in report.events {
                switch event.outcome {
                case .failed(let error): printError("\(file.name): \(event.item) failed: \(error)")
                case .skipped(let reasons):
                    printError("\(file.name): \(event.item) skipped: "
                        + reasons.map { $0.code.rawValue }.joined(separator: ", "))
                case .duplicate: printError("\(file.name): \(event.item) duplicate")
                case .delivered: break
                }
            }
            if let noteError = report.noteError { printError("\(file.name): notes not written: \(noteError)") }
            if files.count > 20 && (position + 1) % 20 == 0 {
                printError("replay: \(position + 1)/\(files.count) files")
            }
        }
        return 0
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
    var usesFixtures: Bool

    init(_ options: ReplayOptions) throws {
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
            segment = DryRunSegmentClient()
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
        usesFixtures = options.fixtures != nil
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

    /// The pipeline for one account; replays are trusted input, so no URL secret is asked for.
    func pipeline(accountID: Int64) throws -> KommoSegmentPipeline {
        var configuration = HTTPKommoClient.Configuration()
        if usesFixtures {
            // Files on disk are not Kommo: its 7 requests a second do not apply.
            configuration.rateLimit = KommoRateLimiter.Limit(requestsPerSecond: 10_000, burst: 100)
        }
        let kommo = HTTPKommoClient(host: kommoHost, tokenProvider: LongLivedToken(token), configuration: configuration,
                                    transport: kommoTransport)
        let account = KommoSegmentAccount(accountID: accountID, kommo: kommo, segment: segment, mapping: mapping,
                                          writesNotes: notes)
        return try KommoSegmentPipeline(accounts: [account],
                                    configuration: KommoSegmentPipeline.Configuration(requiresSecret: false))
    }
}
