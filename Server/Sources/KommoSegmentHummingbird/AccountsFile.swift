import Foundation

/// The accounts file named by `KOMMO_SEGMENT_ACCOUNTS`: several accounts in one JSON object.
///
/// ```json
/// {
///   "accounts": [
///     {
///       "accountID": 31234567,
///       "kommoBaseURL": "https://acme.kommo.com",
///       "kommoAccessTokenFile": "/run/secrets/acme-kommo-token",
///       "webhookSecret": "9f2c…,41ab…",
///       "segmentWriteKey": "…",
///       "segmentRegion": "eu",
///       "mappingConfig": "/etc/kommo-segment/acme.json"
///     }
///   ]
/// }
/// ```
///
/// Each key is the camel-case form of the single-account variable it replaces, with the same rules:
/// `kommoAccessToken` or `kommoAccessTokenFile` (or, for OAuth, `kommoClientID`, `kommoClientSecret` or
/// `kommoClientSecretFile`, `kommoRedirectURI` and `kommoTokenFile`), `segmentEndpoint` or `segmentRegion`,
/// `mappingConfig` optional.
/// Unknown keys are refused, so a misspelt key is not silently ignored.
enum AccountsFile {
    private struct Document: Decodable {
        var accounts: [AccountSource]
    }

    /// The keys of an entry, by the variable each replaces.
    static let keys: [String: String] = [
        "KOMMO_ACCOUNT_ID": "accountID", "KOMMO_BASE_URL": "kommoBaseURL", "KOMMO_ACCESS_TOKEN": "kommoAccessToken",
        "KOMMO_ACCESS_TOKEN_FILE": "kommoAccessTokenFile", "KOMMO_CLIENT_ID": "kommoClientID",
        "KOMMO_CLIENT_SECRET": "kommoClientSecret", "KOMMO_CLIENT_SECRET_FILE": "kommoClientSecretFile",
        "KOMMO_REDIRECT_URI": "kommoRedirectURI", "KOMMO_TOKEN_FILE": "kommoTokenFile",
        "KOMMO_WEBHOOK_SECRET": "webhookSecret",
        "SEGMENT_WRITE_KEY": "segmentWriteKey", "SEGMENT_ENDPOINT": "segmentEndpoint",
        "SEGMENT_REGION": "segmentRegion", "KOMMO_SEGMENT_CONFIG": "mappingConfig",
    ]

    static func read(path: String, usesDatabase: Bool, readFile: @escaping @Sendable (String) throws -> Data)
    throws(ServerConfigurationError) -> [ServerConfiguration.AccountSettings] {
        let variable = ServerConfiguration.accountsFileVariable
        let data = try AccountSource.Check(naming: { $0 }, usesDatabase: usesDatabase, readFile: readFile)
            .read(path, variable)
        try refuseUnknownKeys(data, path: path)
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch {
            // The decoder's message names keys and types, never values.
            throw ServerConfigurationError(.invalidAccountsFile, variable: variable, "\(path) is not an accounts "
                + "file (\(Self.describe(error))); see Documentation/Server.md")
        }
        guard !document.accounts.isEmpty else {
            throw ServerConfigurationError(.invalidAccountsFile, variable: variable, "\(path) lists no account")
        }
        var settings: [ServerConfiguration.AccountSettings] = []
        for (index, source) in document.accounts.enumerated() {
            let account = try source.settings(naming: { "\(path): accounts[\(index)].\(keys[$0] ?? $0)" },
                                              usesDatabase: usesDatabase, readFile: readFile)
            guard !settings.contains(where: { $0.accountID == account.accountID }) else {
                throw ServerConfigurationError(.invalidAccountsFile, variable: "\(path): accounts[\(index)].accountID",
                                               "repeats account \(account.accountID); list each account once")
            }
            settings.append(account)
        }
        return settings
    }

    private static func refuseUnknownKeys(_ data: Data, path: String) throws(ServerConfigurationError) {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let accounts = object["accounts"] as? [[String: Any]] else { return }
        let known = Set(keys.values)
        for (index, entry) in accounts.enumerated() {
            if let unknown = entry.keys.sorted().first(where: { !known.contains($0) }) {
                throw ServerConfigurationError(.invalidAccountsFile, variable: "\(path): accounts[\(index)].\(unknown)",
                                               "is not a key of the accounts file; the keys are "
                                                   + known.sorted().joined(separator: ", "))
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?:
            return "missing \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context)?, .valueNotFound(_, let context)?:
            return "wrong type at \(path(context.codingPath))"
        case .dataCorrupted(let context)?:
            return context.codingPath.isEmpty ? "not valid JSON" : "invalid value at \(path(context.codingPath))"
        default:
            return "unreadable"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
    }
}
