import Foundation
import KommoSegment

/// The secrets one account accepts in its webhook URL: the current one first and, during a rotation, the other.
///
/// The pipeline knows one secret per account (the current one). ``KommoWebhookRoute`` compares the URL's secret with
/// every accepted one in constant time and, when it is the other one, hands the pipeline the request target with the
/// current secret in its place; the rewritten target is never logged. Never printed: it describes itself as
/// `<redacted>`.
public struct WebhookSecrets: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let values: [String]

    /// The secrets, the current one first (`KOMMO_WEBHOOK_SECRET=current,previous`).
    public init(_ secrets: [String]) { values = secrets }

    /// The current secret, which the pipeline checks.
    public var current: WebhookSecret { WebhookSecret(values.first ?? "") }

    /// The accepted secret `candidate` equals, compared in constant time against each; `nil` when none.
    func match(_ candidate: String) -> (index: Int, current: String)? {
        var found: Int?
        for (index, value) in values.enumerated() where WebhookSecret(value).matches(candidate) && found == nil {
            found = index
        }
        guard let found, let current = values.first else { return nil }
        return (found, current)
    }

    /// How many secrets are accepted.
    public var count: Int { values.count }

    /// Always `<redacted>`.
    public var description: String { "<redacted>" }
    /// Always `WebhookSecrets(<redacted>)`.
    public var debugDescription: String { "WebhookSecrets(<redacted>)" }
}

/// The secret rotation of every account a route serves.
struct SecretRotation: Sendable {
    let accounts: [WebhookSecrets]
    let parameter: String

    /// `target` with the current secret in place of a previous one, when the URL carries a previous one; else
    /// `target` unchanged (the pipeline then decides: right, wrong or missing).
    func canonical(_ target: String) -> String {
        guard accounts.contains(where: { $0.count > 1 }),
              var components = URLComponents(string: target),
              let items = components.queryItems,
              let candidate = items.first(where: { $0.name == parameter })?.value else { return target }
        for secrets in accounts {
            guard let (index, current) = secrets.match(candidate) else { continue }
            guard index > 0 else { return target }
            components.queryItems = items.map { item in
                item.name == parameter ? URLQueryItem(name: parameter, value: current) : item
            }
            return components.string ?? target
        }
        return target
    }
}
