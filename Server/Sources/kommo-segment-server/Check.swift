import Foundation
import KommoSegment
import KommoSegmentHummingbird

/// `check`: validates the configuration, then tries each account's Kommo token (`GET /api/v4/account`) and its
/// Segment endpoint's reachability (a `GET` of the origin: no message is sent). Exit status 0 when everything works,
/// 1 when something does not, 2 for a configuration mistake.
enum Check {
    static func run(environment: [String: String]) async -> Int32 {
        let configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration(environment: environment)
        } catch {
            printError("kommo-segment-server: \(error)")
            return 2
        }
        print("configuration: ok (\(configuration.accounts.count) account(s), listening on "
            + "\(configuration.host):\(configuration.port))")
        var failures = 0
        let inbox = URL(fileURLWithPath: configuration.inboxDirectory)
        do {
            _ = try FileWebhookInbox(directory: inbox)
            print("inbox \(configuration.inboxDirectory): ok")
        } catch {
            print("inbox \(configuration.inboxDirectory): FAILED: \(error)")
            failures += 1
        }
        let transport = URLSessionTransport()
        for account in configuration.accounts {
            let name = "account \(account.accountID)"
            let token: LongLivedToken
            switch tokenToTry(account) {
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
        print(failures == 0 ? "check: everything works" : "check: \(failures) problem(s)")
        return failures == 0 ? 0 : 1
    }

    /// Why an account's Kommo token is not tried.
    struct Untried: Error {
        var message: String
        var isFailure: Bool
    }

    /// The token to try `GET /api/v4/account` with. For OAuth, the stored access token while it is valid: `check`
    /// never refreshes, because a refresh rotates the refresh token under a server that may be running on the same
    /// file, which would then hold a dead one.
    static func tokenToTry(_ account: ServerConfiguration.AccountSettings) -> Result<LongLivedToken, Untried> {
        switch account.kommoAuthentication {
        case .longLivedToken(let token):
            return .success(token)
        case .oauth(_, let tokenFile):
            let pair: KommoTokenPair?
            do {
                pair = try FileTokenStore.read(path: tokenFile)
            } catch {
                return .failure(Untried(message: "FAILED: \(error)", isFailure: true))
            }
            guard let pair else {
                return .failure(Untried(message: "FAILED: the token file \(tokenFile) does not exist; run "
                    + "kommo-segment-server authorize CODE", isFailure: true))
            }
            guard pair.expiresAt > Date() else {
                return .failure(Untried(message: "not tried: the access token in \(tokenFile) expired at "
                    + "\(ISO8601DateFormatter().string(from: pair.expiresAt)); the server refreshes it when it needs "
                    + "it (check never refreshes, so as not to rotate the tokens under a running server)",
                    isFailure: false))
            }
            return .success(LongLivedToken(pair.accessToken))
        }
    }
}
