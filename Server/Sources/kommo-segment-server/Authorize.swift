import Foundation
import KommoSegment
import KommoSegmentHummingbird
import KommoSegmentPostgres
import Logging

/// `authorize CODE [--account ID]`: exchanges an OAuth authorization code (from the integration's redirect; valid
/// 20 minutes, single use) for the first token pair and writes it to the account's token file (or to the
/// database, with `DATABASE_URL`). Exit status 0 when
/// the pair is saved, 1 when Kommo or the file refuses, 2 for a usage or configuration mistake.
enum Authorize {
    static let usage = "usage: kommo-segment-server authorize CODE [--account ID]"

    static func run(arguments: [String], environment: [String: String]) async -> Int32 {
        var code: String?
        var accountID: Int64?
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--account":
                guard let text = rest.popFirst(), let id = Int64(text), id > 0 else {
                    printError("kommo-segment-server authorize: --account needs an account id\n\(usage)")
                    return 2
                }
                accountID = id
            case "--help", "-h":
                print(usage + "\n\nExchanges the authorization code from the integration's redirect for the first "
                    + "OAuth token pair,\nand saves it to the account's KOMMO_TOKEN_FILE. See Documentation/Server.md.")
                return 0
            default:
                guard code == nil, !argument.hasPrefix("-") else {
                    printError("kommo-segment-server authorize: unexpected argument '\(argument)'\n\(usage)")
                    return 2
                }
                code = argument
            }
        }
        guard let code else {
            printError("kommo-segment-server authorize: the authorization code is missing\n\(usage)")
            return 2
        }
        guard let configuration = loadConfiguration(environment) else { return 2 }
        let candidates = configuration.accounts.filter { accountID == nil || $0.accountID == accountID }
        guard candidates.count == 1, let account = candidates.first else {
            printError(accountID.map { "kommo-segment-server authorize: account \($0) is not configured" }
                ?? "kommo-segment-server authorize: several accounts are configured; name one with --account ID")
            return 2
        }
        guard case .oauth(let credentials, let tokenFile) = account.kommoAuthentication else {
            printError("kommo-segment-server authorize: account \(account.accountID) uses a long-lived token; "
                + "authorize is for OAuth (KOMMO_CLIENT_ID and the other OAuth settings)")
            return 2
        }
        let logger = Logger(label: "kommo-segment")
        let database = configuration.database.map { KommoSegmentDatabase(url: $0, logger: logger) }
        guard let store = account.tokenStore(database: database) else {
            printError("kommo-segment-server authorize: account \(account.accountID) has no token store")
            return 2
        }
        let place = tokenFile ?? "the database (\(configuration.database.map { "\($0)" } ?? "-"))"
        let provider = OAuthTokenProvider(host: account.kommoHost, credentials: credentials, store: store)
        do {
            let pair: KommoTokenPair
            if let database {
                pair = try await database.withRunningPool {
                    try await database.migrate()
                    return try await provider.exchangeAuthorizationCode(code)
                }
            } else {
                pair = try await provider.exchangeAuthorizationCode(code)
            }
            print("account \(account.accountID): tokens saved to \(place) (the access token expires at "
                + "\(ISO8601DateFormatter().string(from: pair.expiresAt)); the server refreshes it)")
            return 0
        } catch {
            printError("kommo-segment-server authorize: account \(account.accountID): \(error)")
            return 1
        }
    }
}
