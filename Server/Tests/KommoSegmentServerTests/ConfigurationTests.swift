import Foundation
import KommoSegment
import KommoSegmentHummingbird
import Logging
import Testing

/// The single-account variables of a configuration that works.
let validEnvironment = [
    "KOMMO_ACCOUNT_ID": "31234567", "KOMMO_BASE_URL": "acme", "KOMMO_ACCESS_TOKEN": "token-value-123",
    "KOMMO_WEBHOOK_SECRET": "current-secret-0123456789", "SEGMENT_WRITE_KEY": "write-key-value-456",
]

/// Reads files from a dictionary instead of the disk.
func files(_ contents: [String: String]) -> @Sendable (String) throws -> Data {
    { path in
        guard let text = contents[path] else { throw CocoaError(.fileNoSuchFile) }
        return Data(text.utf8)
    }
}

@Suite("Server configuration from the environment", .timeLimit(.minutes(1)))
struct ConfigurationTests {
    @Test("the defaults: 127.0.0.1:8080, ./data/inbox, info, 25 s, catch-up every 10 min over 24 h, one US account")
    func defaults() throws {
        let configuration = try ServerConfiguration(environment: validEnvironment, readFile: files([:]))
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.inboxDirectory == "./data/inbox")
        #expect(configuration.logLevel == .info)
        #expect(configuration.shutdownGracePeriod == .seconds(25))
        #expect(configuration.catchUpInterval == .seconds(600))
        #expect(configuration.catchUpLookBack == .seconds(86_400))
        #expect(configuration.catchUpSettleDelay == .seconds(60))
        let account = try #require(configuration.accounts.first)
        #expect(configuration.accounts.count == 1)
        #expect(account.accountID == 31_234_567)
        #expect(account.kommoHost.baseURL.absoluteString == "https://acme.kommo.com")
        #expect(account.segmentEndpoint == .us)
        #expect(account.webhookSecrets.count == 1)
        #expect(account.webhookSecrets.current.matches("current-secret-0123456789"))
    }

    @Test("every variable read: host, port, level, grace, inbox, catch-up, region, token file, two secrets, mapping")
    func everyVariable() throws {
        var environment = validEnvironment
        environment["KOMMO_ACCESS_TOKEN"] = nil
        environment["KOMMO_ACCESS_TOKEN_FILE"] = "/secrets/token"
        environment["KOMMO_WEBHOOK_SECRET"] = "current-secret-0123456789,previous-secret-0123456789"
        environment["SEGMENT_REGION"] = "EU"
        environment["HOST"] = "0.0.0.0"
        environment["PORT"] = "0"
        environment["LOG_LEVEL"] = "DEBUG"
        environment["KOMMO_SEGMENT_SHUTDOWN_GRACE"] = "2.5"
        environment["KOMMO_SEGMENT_INBOX"] = "/var/lib/kommo-segment/inbox"
        environment["KOMMO_SEGMENT_CONFIG"] = "/etc/mapping.json"
        environment["KOMMO_SEGMENT_CATCH_UP_INTERVAL"] = "300"
        environment["KOMMO_SEGMENT_CATCH_UP_LOOK_BACK"] = "172800"
        environment["KOMMO_SEGMENT_CATCH_UP_SETTLE"] = "0"
        let configuration = try ServerConfiguration(environment: environment, readFile: files([
            "/secrets/token": "file-token\n", "/etc/mapping.json": "{}",
        ]))
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 0)
        #expect(configuration.logLevel == .debug)
        #expect(configuration.shutdownGracePeriod == .milliseconds(2_500))
        #expect(configuration.inboxDirectory == "/var/lib/kommo-segment/inbox")
        #expect(configuration.catchUpInterval == .seconds(300))
        #expect(configuration.catchUpLookBack == .seconds(172_800))
        #expect(configuration.catchUpSettleDelay == .zero)
        environment["KOMMO_SEGMENT_CATCH_UP_INTERVAL"] = "0"
        #expect(try ServerConfiguration(environment: environment, readFile: files([
            "/secrets/token": "file-token\n", "/etc/mapping.json": "{}",
        ])).catchUpInterval == nil, "0 turns the schedule off")
        let account = try #require(configuration.accounts.first)
        #expect(account.segmentEndpoint == .eu)
        #expect(account.webhookSecrets.count == 2)
        #expect(account.webhookSecrets.current.matches("current-secret-0123456789"))
        #expect("\(account.webhookSecrets)" == "<redacted>")
    }

    @Test("missing or invalid settings: a typed error naming the variable, never the secret's value",
          arguments: [
              ("KOMMO_ACCOUNT_ID", nil, ServerConfigurationError.Code.missing),
              ("KOMMO_ACCOUNT_ID", "acme", .invalidValue),
              ("KOMMO_BASE_URL", "http://acme.example.com", .invalidValue),
              ("KOMMO_WEBHOOK_SECRET", nil, .missing),
              ("KOMMO_WEBHOOK_SECRET", "short", .invalidValue),
              ("KOMMO_WEBHOOK_SECRET", "a-secret-0123456789,,", .invalidValue),
              ("SEGMENT_WRITE_KEY", nil, .missing),
              ("SEGMENT_REGION", "asia", .invalidValue),
              ("SEGMENT_ENDPOINT", "http://segment.example.com", .invalidValue),
              ("PORT", "80800", .invalidValue),
              ("LOG_LEVEL", "loud", .invalidValue),
              ("KOMMO_SEGMENT_SHUTDOWN_GRACE", "-1", .invalidValue),
              ("KOMMO_SEGMENT_CATCH_UP_INTERVAL", "ten minutes", .invalidValue),
              ("KOMMO_SEGMENT_CATCH_UP_LOOK_BACK", "10", .invalidValue),
              ("KOMMO_SEGMENT_CATCH_UP_SETTLE", "7200", .invalidValue),
              ("KOMMO_SEGMENT_CONFIG", "/missing.json", .unreadableFile),
          ] as [(String, String?, ServerConfigurationError.Code)])
    func refusals(variable: String, value: String?, code: ServerConfigurationError.Code) throws {
        var environment = validEnvironment
        environment[variable] = value
        let error = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: environment, readFile: files([:]))
        }
        #expect(error.code == code)
        #expect(error.variable == variable)
        #expect(error.description.hasPrefix("configuration: \(variable) "))
        #expect(!error.description.contains("\n"))
        for secret in ["token-value-123", "current-secret-0123456789", "write-key-value-456"] {
            #expect(!error.description.contains(secret))
        }
    }

    @Test("token: the file and the variable together are a conflict; neither is missing; an empty file is refused")
    func tokenSources() throws {
        var both = validEnvironment
        both["KOMMO_ACCESS_TOKEN_FILE"] = "/secrets/token"
        #expect(throws: ServerConfigurationError(.conflict, variable: "KOMMO_ACCESS_TOKEN",
                                                 "and KOMMO_ACCESS_TOKEN_FILE cannot both be set; keep the file")) {
            try ServerConfiguration(environment: both, readFile: files(["/secrets/token": "t"]))
        }
        var neither = validEnvironment
        neither["KOMMO_ACCESS_TOKEN"] = nil
        let missing = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: neither, readFile: files([:]))
        }
        #expect(missing.code == .missing)
        #expect(missing.variable == "KOMMO_ACCESS_TOKEN_FILE")
        var empty = neither
        empty["KOMMO_ACCESS_TOKEN_FILE"] = "/secrets/token"
        let emptyError = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: empty, readFile: files(["/secrets/token": " \n"]))
        }
        #expect(emptyError.code == .invalidValue)
    }

    /// The OAuth variables of a configuration that works (with `validEnvironment`'s other variables).
    static let oauthEnvironment: [String: String] = {
        var environment = validEnvironment
        environment["KOMMO_ACCESS_TOKEN"] = nil
        environment["KOMMO_CLIENT_ID"] = "0b6d5c1e-client"
        environment["KOMMO_CLIENT_SECRET_FILE"] = "/secrets/client"
        environment["KOMMO_REDIRECT_URI"] = "https://app.example.com/kommo/oauth"
        environment["KOMMO_TOKEN_FILE"] = "/var/lib/kommo-segment/tokens.json"
        return environment
    }()

    @Test("OAuth: client id, secret file, redirect URI and token file make an OAuth account")
    func oauth() throws {
        let configuration = try ServerConfiguration(environment: Self.oauthEnvironment,
                                                    readFile: files(["/secrets/client": "client-secret-789\n"]))
        let account = try #require(configuration.accounts.first)
        guard case .oauth(let credentials, let tokenFile) = account.kommoAuthentication else {
            Issue.record("expected OAuth, got \(account.kommoAuthentication)")
            return
        }
        #expect(credentials == KommoOAuthCredentials(clientID: "0b6d5c1e-client", clientSecret: "client-secret-789",
                                                     redirectURI: "https://app.example.com/kommo/oauth"))
        #expect(tokenFile == "/var/lib/kommo-segment/tokens.json")
    }

    @Test("OAuth refusals: mixed with a long-lived token, incomplete, a bad redirect URI, two secrets",
          arguments: [
              ("KOMMO_ACCESS_TOKEN", "token-value-123", "KOMMO_ACCESS_TOKEN", ServerConfigurationError.Code.conflict),
              ("KOMMO_CLIENT_ID", nil, "KOMMO_CLIENT_ID", .missing),
              ("KOMMO_CLIENT_SECRET_FILE", nil, "KOMMO_CLIENT_SECRET_FILE", .missing),
              ("KOMMO_CLIENT_SECRET", "client-secret-789", "KOMMO_CLIENT_SECRET", .conflict),
              ("KOMMO_REDIRECT_URI", nil, "KOMMO_REDIRECT_URI", .missing),
              ("KOMMO_REDIRECT_URI", "app.example.com/oauth", "KOMMO_REDIRECT_URI", .invalidValue),
              ("KOMMO_TOKEN_FILE", nil, "KOMMO_TOKEN_FILE", .missing),
          ] as [(String, String?, String, ServerConfigurationError.Code)])
    func oauthRefusals(variable: String, value: String?, named: String, code: ServerConfigurationError.Code) throws {
        var environment = Self.oauthEnvironment
        environment[variable] = value
        let error = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: environment, readFile: files(["/secrets/client": "client-secret-789"]))
        }
        #expect(error.code == code)
        #expect(error.variable == named)
        for secret in ["client-secret-789", "token-value-123"] {
            #expect(!error.description.contains(secret))
        }
    }

    @Test("OAuth in the accounts file, next to a long-lived account")
    func oauthInAccountsFile() throws {
        let text = """
            {"accounts": [
              {"accountID": 1001, "kommoBaseURL": "one", "kommoAccessToken": "t1",
               "webhookSecret": "secret-one-0123456789", "segmentWriteKey": "k1"},
              {"accountID": 1002, "kommoBaseURL": "two", "kommoClientID": "c2", "kommoClientSecretFile": "/c2",
               "kommoRedirectURI": "https://app.example.com/oauth", "kommoTokenFile": "/tokens/1002.json",
               "webhookSecret": "secret-two-0123456789", "segmentWriteKey": "k2"}
            ]}
            """
        let configuration = try ServerConfiguration(environment: ["KOMMO_SEGMENT_ACCOUNTS": "/a.json"],
                                                    readFile: files(["/a.json": text, "/c2": "secret-2"]))
        guard case .longLivedToken = configuration.accounts[0].kommoAuthentication,
              case .oauth(let credentials, "/tokens/1002.json") = configuration.accounts[1].kommoAuthentication else {
            Issue.record("expected a long-lived and an OAuth account")
            return
        }
        #expect(credentials.clientSecret == "secret-2")

        let incomplete = text.replacingOccurrences(of: #""kommoTokenFile": "/tokens/1002.json","#, with: "")
        let error = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: ["KOMMO_SEGMENT_ACCOUNTS": "/a.json"],
                                    readFile: files(["/a.json": incomplete, "/c2": "secret-2"]))
        }
        #expect(error.variable == "/a.json: accounts[1].kommoTokenFile")
        #expect(error.code == .missing)
    }

    @Test("DATABASE_URL: parsed without echoing the password; OAuth then keeps its tokens there, not in a file")
    func database() throws {
        var environment = validEnvironment
        environment["DATABASE_URL"] = "postgres://app:s3cret-pass@db.internal:6432/kommo"
        environment["KOMMO_SEGMENT_INBOX"] = "/var/lib/inbox"
        environment["KOMMO_SEGMENT_LEASE_SECONDS"] = "10"
        let configuration = try ServerConfiguration(environment: environment, readFile: files([:]))
        let url = try #require(configuration.database)
        #expect(url.host == "db.internal" && url.port == 6432 && url.database == "kommo" && url.sslMode == .prefer)
        #expect(configuration.ignoredSettings == ["KOMMO_SEGMENT_INBOX"])
        #expect(configuration.leaseDuration == .seconds(10))

        var oauth = Self.oauthEnvironment
        oauth["DATABASE_URL"] = "postgres://app@db.internal/kommo"
        oauth["KOMMO_TOKEN_FILE"] = nil
        let shared = try ServerConfiguration(environment: oauth, readFile: files(["/secrets/client": "client-secret"]))
        guard case .oauth(_, nil) = try #require(shared.accounts.first).kommoAuthentication else {
            Issue.record("expected OAuth with the tokens in the database")
            return
        }
        oauth["KOMMO_TOKEN_FILE"] = "/var/lib/tokens.json"
        let both = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: oauth, readFile: files(["/secrets/client": "client-secret"]))
        }
        #expect(both.code == .conflict && both.variable == "KOMMO_TOKEN_FILE")

        for bad in ["mysql://app@db/kommo", "postgres://app:s3cret-pass@db/kommo?sslmode=sometimes"] {
            environment["DATABASE_URL"] = bad
            let error = try #require(throws: ServerConfigurationError.self) {
                try ServerConfiguration(environment: environment, readFile: files([:]))
            }
            #expect(error.code == .invalidValue && error.variable == "DATABASE_URL")
            #expect(!error.description.contains("s3cret-pass"))
        }
        environment["DATABASE_URL"] = nil
        environment["KOMMO_SEGMENT_LEASE_SECONDS"] = "1"
        #expect(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: environment, readFile: files([:]))
        }
    }

    @Test("the accounts file: several accounts, each checked with its entry's key named")
    func accountsFile() throws {
        let environment = ["KOMMO_SEGMENT_ACCOUNTS": "/etc/accounts.json", "PORT": "9000"]
        let text = """
            {"accounts": [
              {"accountID": 1001, "kommoBaseURL": "https://one.kommo.com", "kommoAccessTokenFile": "/t1",
               "webhookSecret": "secret-one-0123456789", "segmentWriteKey": "k1"},
              {"accountID": 1002, "kommoBaseURL": "two", "kommoAccessToken": "t2",
               "webhookSecret": "secret-two-0123456789,secret-old-0123456789", "segmentWriteKey": "k2",
               "segmentRegion": "eu"}
            ]}
            """
        let configuration = try ServerConfiguration(environment: environment,
                                                    readFile: files(["/etc/accounts.json": text, "/t1": "one"]))
        #expect(configuration.port == 9000)
        #expect(configuration.accounts.map(\.accountID) == [1001, 1002])
        #expect(configuration.accounts.map(\.segmentEndpoint) == [.us, .eu])
        #expect(configuration.accounts[1].webhookSecrets.count == 2)

        let misspelt = text.replacingOccurrences(of: "\"segmentRegion\"", with: "\"segmentRegoin\"")
        let unknown = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: environment,
                                    readFile: files(["/etc/accounts.json": misspelt, "/t1": "one"]))
        }
        #expect(unknown.code == .invalidAccountsFile)
        #expect(unknown.variable == "/etc/accounts.json: accounts[1].segmentRegoin")

        let badRegion = text.replacingOccurrences(of: "\"eu\"", with: "\"mars\"")
        let region = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: environment,
                                    readFile: files(["/etc/accounts.json": badRegion, "/t1": "one"]))
        }
        #expect(region.variable == "/etc/accounts.json: accounts[1].segmentRegion")

        let repeated = text.replacingOccurrences(of: "1002", with: "1001")
        let twice = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: environment,
                                    readFile: files(["/etc/accounts.json": repeated, "/t1": "one"]))
        }
        #expect(twice.variable == "/etc/accounts.json: accounts[1].accountID")

        let missingKey = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: environment,
                                    readFile: files(["/etc/accounts.json": #"{"accounts": [{"accountID": 1}]}"#]))
        }
        #expect(missingKey.code == .invalidAccountsFile)
        #expect(missingKey.message.contains("missing accounts[0].kommoBaseURL"))
    }

    @Test("the accounts file and a single-account variable together are a conflict")
    func accountsFileConflict() throws {
        var environment = validEnvironment
        environment["KOMMO_SEGMENT_ACCOUNTS"] = "/etc/accounts.json"
        let error = try #require(throws: ServerConfigurationError.self) {
            try ServerConfiguration(environment: environment, readFile: files([:]))
        }
        #expect(error.code == .conflict)
    }
}
