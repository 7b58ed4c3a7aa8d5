import Foundation
import KommoSegment

/// `kommo-segment inbox list|show|retry`: looks at the dead letters and queues them again.
enum InboxCommand {
    /// Runs the subcommand; returns the exit status.
    static func run(_ arguments: [String], environment: [String: String]) async -> Int32 {
        var rest: [String] = []
        var directory = environment["KOMMO_SEGMENT_INBOX"].flatMap { $0.isEmpty ? nil : $0 }
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument == "--inbox" {
                guard let value = iterator.next(), !value.isEmpty else {
                    return Usage.refuse("--inbox needs a value", command: "inbox")
                }
                directory = value
            } else if argument.hasPrefix("--inbox=") {
                directory = String(argument.dropFirst("--inbox=".count))
            } else {
                rest.append(argument)
            }
        }
        let subcommand = rest.first.flatMap { ["list", "show", "retry"].contains($0) ? $0 : nil }
        if Usage.asksForHelp(rest) {
            switch subcommand {
            case "list"?: return Usage.show(Usage.inboxList)
            case "show"?: return Usage.show(Usage.inboxShow)
            case "retry"?: return Usage.show(Usage.inboxRetry)
            default: return Usage.show(Usage.inbox)
            }
        }
        // A mistake points to the help of the subcommand it was made in, when there is one.
        func refuse(_ problem: String) -> Int32 {
            Usage.refuse(problem, command: subcommand.map { "inbox \($0)" } ?? "inbox")
        }
        guard let directory, !directory.isEmpty else { return refuse("inbox needs --inbox DIR (or KOMMO_SEGMENT_INBOX)") }
        guard let command = rest.first else { return refuse("inbox needs list, show ID or retry ID...|--all") }
        // The arguments first: a mistake opens (and so creates) no inbox directory.
        switch command {
        case "list": guard rest.count == 1 else { return refuse("inbox list takes no argument") }
        case "show": guard rest.count == 2 else { return refuse("inbox show takes one record id") }
        case "retry": guard rest.count > 1 else { return refuse("inbox retry needs record ids, or --all") }
        default: return refuse("unknown inbox command '\(command)'")
        }
        let inbox: FileWebhookInbox
        do {
            inbox = try FileWebhookInbox(directory: URL(fileURLWithPath: directory))
        } catch {
            printError("kommo-segment: --inbox \(directory): \(error)")
            return 2
        }
        do {
            switch command {
            case "list": return try await list(inbox, directory: directory)
            case "show": return try await show(rest[1], inbox: inbox)
            default: return try await retry(Array(rest.dropFirst()), inbox: inbox)
            }
        } catch {
            printError("kommo-segment: \(error)")
            return 1
        }
    }

    /// The distinct accounts of the records pending (each read under a short lease, then given back), and how many
    /// records another worker holds.
    static func accounts(in inbox: any WebhookInbox) async throws(InboxError) -> (accounts: Set<Int64>, held: Int) {
        var accounts = Set<Int64>()
        var held = 0
        for id in try await inbox.pending(limit: Int.max) {
            guard let (record, lease) = try await inbox.lease(id, for: .seconds(30)) else {
                held += 1
                continue
            }
            accounts.insert(record.accountID)
            try await inbox.release(lease)
        }
        return (accounts, held)
    }

    private static func list(_ inbox: FileWebhookInbox, directory: String) async throws(InboxError) -> Int32 {
        print(try await InboxReport.list(inbox, name: "inbox \(directory)"))
        return 0
    }

    private static func show(_ id: String, inbox: FileWebhookInbox) async throws(InboxError) -> Int32 {
        guard let (header, body) = try await InboxReport.show(id, in: inbox) else {
            printError("kommo-segment: no dead letter \(id) (see kommo-segment inbox list)")
            return 1
        }
        print(header)
        FileHandle.standardOutput.write(body)
        print("")
        return 0
    }

    private static func retry(_ ids: [String], inbox: FileWebhookInbox) async throws(InboxError) -> Int32 {
        let (queued, missing) = try await InboxReport.retry(ids, in: inbox)
        for id in missing { printError("kommo-segment: no dead letter \(id)") }
        printError("inbox: \(queued) records queued again; run kommo-segment resume to process them")
        return missing.isEmpty ? 0 : 1
    }
}
