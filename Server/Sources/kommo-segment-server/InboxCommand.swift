import Foundation
import KommoSegment
import KommoSegmentPostgres
import Logging

/// `inbox list | show ID | retry ID...|--all`: the dead letters of the server's inbox, the PostgreSQL one with
/// `DATABASE_URL`, else the directory of `KOMMO_SEGMENT_INBOX` (`./data/inbox`). Needs no account settings. Exit status
/// 0, 1 when a record is not found or the inbox fails, 2 for a usage mistake.
enum InboxCommand {
    static let usage = """
        usage: kommo-segment-server inbox list                 pending count, dead letters and why each died
               kommo-segment-server inbox show ID              one dead letter, with its body (personal data)
               kommo-segment-server inbox retry ID...|--all    queue dead letters again; a running server takes them
        The inbox is PostgreSQL's with DATABASE_URL, else the directory KOMMO_SEGMENT_INBOX (./data/inbox).
        """

    static func run(_ arguments: [String], environment: [String: String]) async -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(usage)
            return 0
        }
        guard let command = arguments.first,
              (command == "list" && arguments.count == 1) || (command == "show" && arguments.count == 2)
                || (command == "retry" && arguments.count > 1) else {
            printError("kommo-segment-server inbox: " + (arguments.isEmpty ? "a subcommand is missing"
                : "'\(arguments.joined(separator: " "))' is not an inbox command") + "\n" + usage)
            return 2
        }
        let variables = environment.filter { !$0.value.isEmpty }
        if let text = variables["DATABASE_URL"] {
            let url: PostgresURL
            do {
                url = try PostgresURL(text)
            } catch {
                printError("kommo-segment-server: configuration: DATABASE_URL cannot be used: \(error.detail)")
                return 2
            }
            let database = KommoSegmentDatabase(url: url, logger: Logger(label: "kommo-segment"))
            do {
                return try await database.withRunningPool {
                    await perform(command, Array(arguments.dropFirst()), inbox: PostgresInbox(database: database),
                                  name: "inbox \(url)")
                }
            } catch {
                printError("kommo-segment-server: \(error)")
                return 1
            }
        }
        let directory = variables["KOMMO_SEGMENT_INBOX"] ?? "./data/inbox"
        let inbox: FileWebhookInbox
        do {
            inbox = try FileWebhookInbox(directory: URL(fileURLWithPath: directory))
        } catch {
            printError("kommo-segment-server: KOMMO_SEGMENT_INBOX \(directory): \(error)")
            return 1
        }
        return await perform(command, Array(arguments.dropFirst()), inbox: inbox, name: "inbox \(directory)")
    }

    private static func perform(_ command: String, _ rest: [String], inbox: any WebhookInbox, name: String) async
        -> Int32 {
        do {
            switch command {
            case "list":
                print(try await InboxReport.list(inbox, name: name))
                return 0
            case "show":
                guard let (header, body) = try await InboxReport.show(rest[0], in: inbox) else {
                    printError("kommo-segment-server: no dead letter \(rest[0]) (see kommo-segment-server inbox list)")
                    return 1
                }
                print(header)
                FileHandle.standardOutput.write(body)
                print("")
                return 0
            default:
                let (queued, missing) = try await InboxReport.retry(rest, in: inbox)
                for id in missing { printError("kommo-segment-server: no dead letter \(id)") }
                printError("inbox: \(queued) records queued again; a running server processes them at its next scan")
                return missing.isEmpty ? 0 : 1
            }
        } catch {
            printError("kommo-segment-server: \(error)")
            return 1
        }
    }
}
