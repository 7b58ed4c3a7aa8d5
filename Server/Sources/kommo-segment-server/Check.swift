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
            let client = HTTPKommoClient(host: account.kommoHost, tokenProvider: account.kommoToken,
                                         transport: transport)
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
}
