import Foundation
import KommoSegment

/// Reads the WHEN of `--since`, `--until` and `--closed-since`: an ISO-8601 time (`2026-01-20T12:30:00Z`,
/// `2026-01-20T15:30:00+03:00`, or a date, `2026-01-20`, meaning its midnight UTC) or a duration back from now:
/// a whole number and `s`, `m`, `h` or `d` (`90m`, `24h`, `7d`).
enum WhenParser {
    static func parse(_ text: String, flag: String, now: Date) throws -> Date {
        if let unit = text.last, let amount = Int64(text.dropLast()), amount >= 0 {
            let seconds: Int64? = switch unit {
            case "s": 1
            case "m": 60
            case "h": 3_600
            case "d": 86_400
            default: nil
            }
            if let seconds {
                let (total, overflow) = amount.multipliedReportingOverflow(by: seconds)
                guard !overflow, total <= 100 * 365 * 86_400 else {
                    throw UsageError(description: "\(flag) \(text): too far back")
                }
                return now.addingTimeInterval(-TimeInterval(total))
            }
        }
        let withTime = ISO8601DateFormatter()
        withTime.formatOptions = [.withInternetDateTime]
        if let date = withTime.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if let date = day.date(from: text) { return date }
        throw UsageError(description: "\(flag) must be an ISO-8601 time (2026-01-20T12:30:00Z), a date (2026-01-20) "
            + "or a duration back from now (90m, 24h, 7d), not '\(text)'")
    }
}

/// Runs `catch-up` and `backfill`.
enum CatchUpCommand {
    /// Runs a catch-up; returns the exit status.
    static func catchUp(_ options: ReplayOptions) async -> Int32 {
        guard let (since, until) = window(options.since, options.until, flags: ("--since", "--until"),
                                          command: "catch-up") else { return 2 }
        guard let setup = Runner.setup(options, command: "catch-up") else { return 2 }
        let checkpoints: any CatchUpCheckpointStore = options.checkpoint.map(FileCatchUpCheckpointStore.init(path:))
            ?? InMemoryCatchUpCheckpointStore()
        guard let (pipeline, accountID) = await connect(setup, options: options, checkpoints: checkpoints,
                                                        command: "catch-up") else { return 1 }
        let request = CatchUpRequest(accountID: accountID, since: since, until: until,
                                     movesCheckpoint: !options.dryRun && options.checkpoint != nil)
        return await Runner.running(pipeline, dryRun: setup.dryRun, summary: false) { () async -> Int in
            var lastPages = 0
            let report: CatchUpReport
            do {
                report = try await pipeline.catchUp(request) { progress in
                    switch progress.phase {
                    case .reading where progress.pages == 1 || progress.pages - lastPages >= 10:
                        lastPages = progress.pages
                        printError("catch-up: \(progress.pages) pages, \(progress.eventsRead) events read")
                    case .processing where progress.eventsProcessed > 0:
                        printError("catch-up: \(progress.eventsProcessed)/\(progress.eventsToProcess) lead changes "
                            + "processed, \(progress.delivered) delivered")
                    default: break
                    }
                }
            } catch {
                printError("kommo-segment: \(error)")
                return 1
            }
            for event in report.events {
                let name = "event \(event.event.id) (\(event.event.type) lead \(event.event.entityID))"
                switch event.outcome {
                case .failed(let error): printError("\(name): failed: \(error)")
                case .skipped(let reasons):
                    printError("\(name): skipped: " + reasons.map(\.code.rawValue).joined(separator: ", "))
                case .delivered, .duplicate: break
                }
            }
            let sent = setup.dryRun ? "printed" : "delivered"
            let stamp = { (seconds: Int64) in ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds))) }
            printError("catch-up \(stamp(report.from)) to \(stamp(report.to)): \(report.pages) pages, "
                + "\(report.eventsRead) events read, \(report.events.count) lead changes: \(report.recovered) \(sent), "
                + "\(report.alreadyProcessed) already processed, \(report.skipped) skipped, \(report.failed) failed"
                + (report.eventsNotProcessed > 0 ? ", \(report.eventsNotProcessed) not processed" : "")
                + "; checkpoint: " + (report.checkpoint.map(stamp) ?? "none")
                + (request.movesCheckpoint ? "" : " (not moved)"))
            return report.isComplete ? 0 : 1
        }
    }

    /// Runs a backfill; returns the exit status.
    static func backfill(_ options: ReplayOptions) async -> Int32 {
        guard let (closedSince, closedUntil) = window(options.closedSince, options.closedUntil,
                                                      flags: ("--closed-since", "--closed-until"),
                                                      command: "backfill") else { return 2 }
        guard let setup = Runner.setup(options, command: "backfill") else { return 2 }
        guard let (pipeline, accountID) = await connect(setup, options: options,
                                                        checkpoints: InMemoryCatchUpCheckpointStore(),
                                                        command: "backfill") else { return 1 }
        let request = BackfillRequest(accountID: accountID, closedSince: closedSince, closedUntil: closedUntil,
                                      includeTrack: options.withTrack)
        return await Runner.running(pipeline, dryRun: setup.dryRun, summary: false) { () async -> Int in
            let report: BackfillReport
            do {
                report = try await pipeline.backfill(request) { progress in
                    printError("backfill: \(progress.pages) pages, \(progress.leads) won leads read"
                        + (progress.sent > 0 ? ", \(progress.sent) sent" : ""))
                }
            } catch {
                printError("kommo-segment: \(error)")
                return 1
            }
            for lead in report.leads {
                switch lead.outcome {
                case .failed(let error): printError("lead \(lead.leadID): failed: \(error)")
                case .skipped(let reasons):
                    printError("lead \(lead.leadID): skipped: " + reasons.map(\.code.rawValue).joined(separator: ", "))
                case .delivered, .duplicate: break
                }
            }
            let sent = setup.dryRun ? "printed" : "sent"
            let messages = report.leads.reduce(0) { $0 + $1.messages.count }
            printError("backfill: \(report.leads.count) won leads in \(report.pages) pages: \(report.sent) \(sent) "
                + "(\(messages) messages), \(report.skipped) skipped, \(report.failed) failed")
            return report.failed == 0 ? 0 : 1
        }
    }

    /// The two ends of a window given as WHENs, read against one "now"; `nil` after refusing a mistake (exit 2).
    private static func window(_ start: String?, _ end: String?, flags: (start: String, end: String),
                               command: String) -> (Date?, Date?)? {
        let now = Date()
        do {
            let from = try start.map { try WhenParser.parse($0, flag: flags.start, now: now) }
            let to = try end.map { try WhenParser.parse($0, flag: flags.end, now: now) }
            if let from, let to, from > to {
                _ = Usage.refuse("\(flags.start) is after \(flags.end)", command: command)
                return nil
            }
            return (from, to)
        } catch {
            _ = Usage.refuse("\(error)", command: command)
            return nil
        }
    }

    /// The pipeline of the account: `--kommo-account-id`, else the token's account (`GET /api/v4/account`, which
    /// the client then keeps in its cache). `nil` after printing why.
    private static func connect(_ setup: Setup, options: ReplayOptions, checkpoints: any CatchUpCheckpointStore,
                                command: String) async -> (KommoSegmentPipeline, Int64)? {
        let kommo = setup.kommoClient()
        let accountID: Int64
        if let given = options.kommoAccountID {
            accountID = given
        } else {
            do {
                accountID = try await kommo.account().id
            } catch {
                printError("kommo-segment: the account could not be read from Kommo (GET /api/v4/account): \(error)")
                return nil
            }
        }
        do {
            return (try setup.pipeline(accountIDs: [accountID], kommo: kommo, checkpoints: checkpoints), accountID)
        } catch {
            printError("kommo-segment: \(error)")
            return nil
        }
    }
}
