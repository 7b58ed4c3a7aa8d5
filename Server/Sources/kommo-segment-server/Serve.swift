import Foundation
import KommoSegment
import KommoSegmentHummingbird
import Logging

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

let usage = """
    usage: kommo-segment-server            serve, configured by environment variables
           kommo-segment-server check      validate the configuration and try each account's credentials
           kommo-segment-server authorize CODE [--account ID]
                                           save an OAuth account's first tokens (KOMMO_TOKEN_FILE)
           kommo-segment-server inbox list|show ID|retry ID...|--all
                                           the dead letters of the inbox (PostgreSQL's with DATABASE_URL)
           kommo-segment-server --demo     serve the bundled sample data; Segment messages printed on stdout
           kommo-segment-server --version

    Variables: KOMMO_ACCOUNT_ID, KOMMO_BASE_URL, KOMMO_ACCESS_TOKEN_FILE (or KOMMO_ACCESS_TOKEN), or for OAuth
    KOMMO_CLIENT_ID, KOMMO_CLIENT_SECRET_FILE (or KOMMO_CLIENT_SECRET), KOMMO_REDIRECT_URI and KOMMO_TOKEN_FILE,
    KOMMO_WEBHOOK_SECRET (two, comma-separated, during a rotation), SEGMENT_WRITE_KEY, SEGMENT_ENDPOINT or
    SEGMENT_REGION, KOMMO_SEGMENT_CONFIG, or KOMMO_SEGMENT_ACCOUNTS (a JSON file of several accounts);
    KOMMO_SEGMENT_INBOX (./data/inbox), or DATABASE_URL (several instances: PostgreSQL keeps the inbox, deduplication,
    the Kommo rate limit and OAuth tokens), HOST (127.0.0.1), PORT (8080), LOG_LEVEL (info),
    KOMMO_SEGMENT_SHUTDOWN_GRACE (25 seconds), KOMMO_SEGMENT_DEMO=1 (the demo).
    Exit status: 0 after a graceful shutdown, 1 on a failure while running, 2 for a configuration mistake.
    See Documentation/Server.md.
    """

/// The configuration from `environment`, or `nil` after printing the one-line mistake (the caller exits 2).
func loadConfiguration(_ environment: [String: String]) -> ServerConfiguration? {
    do {
        return try ServerConfiguration(environment: environment)
    } catch {
        printError("kommo-segment-server: \(error)")
        return nil
    }
}

/// Serving: configuration first (a mistake is exit status 2 before listening), then the service until SIGTERM.
enum Serve {
    static func run(environment: [String: String], demo: Bool) async -> Int32 {
        let configuration: ServerConfiguration
        var overrides = KommoSegmentServer.Overrides()
        do {
            if demo {
                (configuration, overrides) = try Demo.setup(environment: environment)
            } else {
                configuration = try ServerConfiguration(environment: environment)
            }
        } catch {
            printError("kommo-segment-server: \(error)")
            return 2
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "kommo-segment")
        let server: KommoSegmentServer
        do {
            server = try KommoSegmentServer(configuration: configuration, logger: logger, overrides: overrides)
        } catch {
            printError("kommo-segment-server: \(error)")
            return 2
        }
        let host = configuration.host
        let accounts = configuration.accounts.map { String($0.accountID) }.joined(separator: ",")
        do {
            try await server.run { port in
                logger.info("listening", metadata: ["host": "\(host)", "port": "\(port)", "accounts": "\(accounts)"])
                printError("kommo-segment-server: listening on \(host):\(port)")
            }
        } catch let error as ServerStartError {
            // Found before listening (the database or its tokens): a setup mistake, not a failure while running.
            printError("kommo-segment-server: \(error)")
            return 2
        } catch {
            printError("kommo-segment-server: \(error)")
            return 1
        }
        return 0
    }
}
