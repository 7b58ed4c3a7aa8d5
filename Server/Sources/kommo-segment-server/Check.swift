import Foundation
import KommoSegment
import KommoSegmentHummingbird
import KommoSegmentPostgres
import Logging

/// `check`: validates the configuration, then tries each account's Kommo token (`GET /api/v4/account`) and its
/// Segment endpoint's reachability (a `GET` of the origin: no message is sent). Exit status 0 when everything works,
/// 1 when something does not, 2 for a configuration mistake.
enum Check {
    static func run(environment: [String: String]) async -> Int32 {
        guard let configuration = loadConfiguration(environment) else { return 2 }
        print("configuration: ok (\(configuration.accounts.count) account(s), listening on "
            + "\(configuration.host):\(configuration.port))")
        guard let url = configuration.database else {
            var failures = 0
            let inbox = URL(fileURLWithPath: configuration.inboxDirectory)
            do {
                _ = try FileWebhookInbox(directory: inbox)
                print("inbox \(configuration.inboxDirectory): ok")
            } catch {
                print("inbox \(configuration.inboxDirectory): FAILED: \(error)")
                failures += 1
            }
            return finish(failures + (await checkAccounts(configuration, database: nil)))
        }
        let database = KommoSegmentDatabase(url: url, logger: Logger(label: "kommo-segment"))
        let failures = (try? await database.withRunningPool { () async -> Int in
            guard await database.isReachable() else {
                print("database \(url): FAILED: not reachable; check DATABASE_URL and that the server is up")
                return 1
            }
            print("database \(url): ok (the inbox, deduplication, rate limit and tokens are kept there)")
            return await checkAccounts(configuration, database: database)
        }) ?? 1
        return finish(failures)
    }

    private static func finish(_ failures: Int) -> Int32 {
        print(failures == 0 ? "check: everything works" : "check: \(failures) problem(s)")
        return failures == 0 ? 0 : 1
    }

    /// Tries each account's Kommo token and Segment endpoint; returns how many checks failed.
    private static func checkAccounts(_ configuration: ServerConfiguration, database: KommoSegmentDatabase?) async
        -> Int {
        var failures = 0
        let transport = URLSessionTransport()
        for account in configuration.accounts {
            let name = "account \(account.accountID)"
            let token: LongLivedToken
            switch await tokenToTry(account, database: database) {
            case .success(let found):
                token = found
            case .failure(let problem):
                print("\(name): kommo \(account.kommoHost): \(problem.message)")
                if problem.isFailure { failures += 1 }
                continue
            }
            let client = HTTPKommoClient(host: account.kommoHost, tokenProvider: token, transport: transport)
            do {
                let found = try await client.account()
                if found.id == account.accountID {
                    print("\(name): kommo \(account.kommoHost): ok (the token reads account \(found.id))")
                } else {
                    print("\(name): kommo \(account.kommoHost): FAILED: the token belongs to account \(found.id), "
                        + "not \(account.accountID); check KOMMO_ACCOUNT_ID and KOMMO_BASE_URL")
                    failures += 1
                }
            } catch {
                print("\(name): kommo \(account.kommoHost): FAILED: \(error)")
                failures += 1
            }
            let origin = account.segmentEndpoint.origin
            do {
                let (response, _) = try await transport.send(HTTPRequest(method: .get, url: origin,
                                                                         timeout: .seconds(10)), body: nil)
                print("\(name): segment \(origin.absoluteString): reachable (HTTP \(response.status); the write key "
                    + "is checked by the first delivery)")
            } catch {
                print("\(name): segment \(origin.absoluteString): FAILED: not reachable: \(error)")
                failures += 1
            }
        }
        return failures
    }

    /// Why an account's Kommo token is not tried.
    struct Untried: Error {
        var message: String
        var isFailure: Bool
    }

    /// The token to try `GET /api/v4/account` with. For OAuth, the stored access token while it is valid: `check`
    /// never refreshes, because a refresh rotates the refresh token under a server that may be running on the same
    /// file, which would then hold a dead one.
    static func tokenToTry(_ account: ServerConfiguration.AccountSettings, database: KommoSegmentDatabase?) async
        -> Result<LongLivedToken, Untried> {
        switch account.kommoAuthentication {
        case .longLivedToken(let token):
            return .success(token)
        case .oauth(_, let tokenFile):
            let place = tokenFile ?? "the database"
            let pair: KommoTokenPair?
            do {
                pair = try await account.tokenStore(database: database)?.load()
            } catch {
                return .failure(Untried(message: "FAILED: \(error)", isFailure: true))
            }
            guard let pair else {
                return .failure(Untried(message: "FAILED: no tokens in \(place); run kommo-segment-server authorize CODE",
                                        isFailure: true))
            }
            guard pair.expiresAt > Date() else {
                return .failure(Untried(message: "not tried: the access token in \(place) expired at "
                    + "\(ISO8601DateFormatter().string(from: pair.expiresAt)); the server refreshes it when it needs "
                    + "it (check never refreshes, so as not to rotate the tokens under a running server)",
                    isFailure: false))
            }
            return .success(LongLivedToken(pair.accessToken))
        }
    }
}
