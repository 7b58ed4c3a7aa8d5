import Foundation
import KommoAPI

/// The cheap checks every webhook passes before it is accepted: size, URL secret, parse, account.
///
/// A `Sendable` value that runs on the caller's task, so one webhook's parse never waits for another's, across all
/// accounts. No Kommo request is made.
struct WebhookGate: Sendable {
    /// What the gate decided.
    enum Decision: Sendable {
        case accepted(KommoWebhook, accountID: Int64, WebhookAcknowledgement)
        case rejected(WebhookAcknowledgement)
    }

    private let accounts: [(id: Int64, secret: WebhookSecret?)]
    private let secretLocation: WebhookSecretLocation
    private let requiresSecret: Bool
    let parser: KommoWebhookParser

    init(accounts: [KommoSegmentAccount], configuration: KommoSegmentPipeline.Configuration) {
        self.accounts = accounts.map { ($0.accountID, $0.secret) }
        secretLocation = configuration.secretLocation
        requiresSecret = configuration.requiresSecret
        parser = KommoWebhookParser(
            limits: configuration.parserLimits,
            knownAccounts: accounts.compactMap { account in
                account.host.map { KommoWebhookParser.KnownAccount(id: account.accountID, host: $0.host) }
            })
    }

    func check(body: Data, contentType: String?, requestTarget: String) -> Decision {
        let maxBytes = parser.limits.maxBodyBytes
        if body.count > maxBytes {
            return .rejected(.rejected(.tooLarge, "the body has \(body.count) bytes (limit \(maxBytes))"))
        }
        // The secret is checked before the body is parsed: a forged request costs no parsing.
        let candidate = secretLocation.candidate(in: requestTarget)
        let secretOwners = accounts.filter { account in
            guard let secret = account.secret, let candidate else { return false }
            return secret.matches(candidate)
        }
        let openAccounts = requiresSecret ? [] : accounts.filter { $0.secret == nil }
        if secretOwners.isEmpty && openAccounts.isEmpty {
            return .rejected(.rejected(.badSecret, candidate == nil ? "the URL carries no secret"
                                                                    : "the URL's secret is wrong"))
        }
        let webhook: KommoWebhook
        do {
            webhook = try parser.parse(body: body, contentType: contentType)
        } catch {
            switch error.code {
            case .bodyTooLarge: return .rejected(.rejected(.tooLarge, error.description))
            case .unsupportedContentType: return .rejected(.rejected(.unsupportedMediaType, error.description))
            default: return .rejected(.rejected(.malformed, error.description))
            }
        }
        let accountID = webhook.account.id
        let candidates = secretOwners.isEmpty ? openAccounts : secretOwners
        guard candidates.contains(where: { $0.id == accountID }) else {
            // Name the secret only when one decided the candidates (replays and open routes have none).
            let reason = secretOwners.isEmpty ? "is not served by this pipeline" : "is not served with this secret"
            return .rejected(.rejected(.otherAccount, "account \(accountID) \(reason)", accountID: accountID))
        }
        let acknowledgement = WebhookAcknowledgement(outcome: .accepted, httpStatus: 200, accountID: accountID,
                                                     eventCount: webhook.events.count, detail: "accepted")
        return .accepted(webhook, accountID: accountID, acknowledgement)
    }
}
