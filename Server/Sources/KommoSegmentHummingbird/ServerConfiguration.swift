import Foundation
import KommoSegment
import KommoSegmentPostgres
import Logging

/// Everything `kommo-segment-server` needs, read from environment variables (and the files they name) before it
/// listens: where to listen, the inbox, the log level, the grace period, and each account served.
///
/// ```swift
/// let configuration = try ServerConfiguration(environment: ProcessInfo.processInfo.environment)
/// ```
///
/// `Documentation/Server.md` lists the variables and the accounts file's format.
public struct ServerConfiguration: Sendable {
    /// The address to listen on (`HOST`); default `127.0.0.1`.
    public var host: String
    /// The port to listen on (`PORT`); default 8080; 0 picks a free port.
    public var port: Int
    /// The inbox directory (`KOMMO_SEGMENT_INBOX`); default `./data/inbox`. Ignored when ``database`` is set.
    public var inboxDirectory: String
    /// The PostgreSQL database that several instances share (`DATABASE_URL`): the inbox, the deduplication store, the
    /// Kommo rate limiter and OAuth tokens are then kept there. `nil`: the file inbox, an in-memory deduplication
    /// store and a limiter in this process.
    public var database: PostgresURL?
    /// How long a claim on a change and a lease on an inbox record last unless renewed
    /// (`KOMMO_SEGMENT_LEASE_SECONDS`); default 60 seconds. Work in progress renews them; a killed instance's work is
    /// taken over by another once they lapse, within about one and a half times this (the inbox is scanned every
    /// half of it).
    public var leaseDuration: Duration = .seconds(60)
    /// How often every account is caught up from Kommo's events log (`KOMMO_SEGMENT_CATCH_UP_INTERVAL`, seconds; `0`
    /// turns it off); default every 10 minutes. `nil`: never. See `Documentation/CatchUp.md`.
    public var catchUpInterval: Duration? = .seconds(600)
    /// How far back catch-up reads at most: an account's first run, and after an outage
    /// (`KOMMO_SEGMENT_CATCH_UP_LOOK_BACK`, seconds); default 24 hours.
    public var catchUpLookBack: Duration = .seconds(86_400)
    /// How long after an event catch-up reads it (`KOMMO_SEGMENT_CATCH_UP_SETTLE`, seconds): a webhook on its way has
    /// this long to arrive first; default 60 seconds.
    public var catchUpSettleDelay: Duration = .seconds(60)
    /// Settings given but not used, to be logged once at start (`KOMMO_SEGMENT_INBOX` with `DATABASE_URL`).
    public var ignoredSettings: [String] = []
    /// The swift-log level (`LOG_LEVEL`); default `info`.
    public var logLevel: Logger.Level
    /// How long a graceful shutdown drains before it gives up (`KOMMO_SEGMENT_SHUTDOWN_GRACE`, seconds);
    /// default 25 seconds.
    public var shutdownGracePeriod: Duration
    /// The accounts served, at least one.
    public var accounts: [AccountSettings]

    /// Creates a configuration from its parts (tests, and teams that read their settings elsewhere).
    public init(host: String = "127.0.0.1", port: Int = 8080, inboxDirectory: String = "./data/inbox",
                database: PostgresURL? = nil, logLevel: Logger.Level = .info,
                shutdownGracePeriod: Duration = .seconds(25), accounts: [AccountSettings]) {
        self.host = host
        self.port = port
        self.inboxDirectory = inboxDirectory
        self.database = database
        self.logLevel = logLevel
        self.shutdownGracePeriod = shutdownGracePeriod
        self.accounts = accounts
    }

    /// How the server authenticates to one Kommo account.
    public enum KommoAuthentication: Sendable {
        /// A private integration's long-lived token (`KOMMO_ACCESS_TOKEN` or `KOMMO_ACCESS_TOKEN_FILE`).
        case longLivedToken(LongLivedToken)
        /// OAuth (`KOMMO_CLIENT_ID`, `KOMMO_CLIENT_SECRET` or `KOMMO_CLIENT_SECRET_FILE`, `KOMMO_REDIRECT_URI`), with
        /// the rotating token pair in the file `tokenFile` (`KOMMO_TOKEN_FILE`), a ``FileTokenStore``; `nil` when the
        /// tokens are kept in the PostgreSQL database (`DATABASE_URL`), shared by every instance.
        case oauth(KommoOAuthCredentials, tokenFile: String?)
    }

    /// The settings of one Kommo account: its Kommo host and token, webhook secrets, Segment destination and mapping.
    public struct AccountSettings: Sendable {
        /// The Kommo account id (`account[id]` in its webhooks).
        public var accountID: Int64
        /// The account's Kommo host.
        public var kommoHost: KommoAccountHost
        /// The long-lived token, or the OAuth client and its token file.
        public var kommoAuthentication: KommoAuthentication
        /// The secrets accepted in the webhook URL: the current one, and during a rotation the other.
        public var webhookSecrets: WebhookSecrets
        /// The Segment write key.
        public var segmentWriteKey: SegmentWriteKey
        /// Where Segment (or RudderStack) is.
        public var segmentEndpoint: SegmentEndpoint
        /// How events become Segment calls.
        public var mapping: MappingConfiguration

        /// Creates an account's settings.
        public init(accountID: Int64, kommoHost: KommoAccountHost, kommoAuthentication: KommoAuthentication,
                    webhookSecrets: WebhookSecrets, segmentWriteKey: SegmentWriteKey,
                    segmentEndpoint: SegmentEndpoint = .us, mapping: MappingConfiguration = MappingConfiguration()) {
            self.accountID = accountID
            self.kommoHost = kommoHost
            self.kommoAuthentication = kommoAuthentication
            self.webhookSecrets = webhookSecrets
            self.segmentWriteKey = segmentWriteKey
            self.segmentEndpoint = segmentEndpoint
            self.mapping = mapping
        }

        /// The account's OAuth token store: a ``FileTokenStore`` on the token file, or a `PostgresTokenStore` for the
        /// account's host on `database`; `nil` for a long-lived token.
        public func tokenStore(database: KommoSegmentDatabase?) -> (any KommoTokenStore)? {
            guard case .oauth(_, let tokenFile) = kommoAuthentication else { return nil }
            if let tokenFile { return FileTokenStore(path: tokenFile) }
            guard let database else { return nil }
            return PostgresTokenStore(database: database, account: kommoHost.baseURL.host ?? "\(accountID)")
        }

        /// The token provider for this account's Kommo requests: the long-lived token, or an
        /// `OAuthTokenProvider` over ``tokenStore(database:)``, whose token requests go through `transport`.
        ///
        /// - Throws: ``ServerStartError`` (step `tokens`) when an OAuth account's token file does not exist yet, cannot
        ///   be read or does not hold a token pair: a server that starts without tokens could only answer 401s. (With
        ///   tokens in the database, the server checks them once the database is reachable.)
        public func kommoTokenProvider(transport: any HTTPTransport, database: KommoSegmentDatabase? = nil)
        throws(ServerStartError) -> any KommoTokenProvider {
            switch kommoAuthentication {
            case .longLivedToken(let token):
                return token
            case .oauth(let credentials, nil):
                guard let store = tokenStore(database: database) else {
                    throw ServerStartError(.tokens, "account \(accountID): OAuth without a token file needs "
                        + "DATABASE_URL", underlyingError: KommoAPIError(code: .notAuthorized, detail: "no token store"))
                }
                return OAuthTokenProvider(host: kommoHost, credentials: credentials, store: store, transport: transport)
            case .oauth(let credentials, let tokenFile?):
                let stored: KommoTokenPair?
                do {
                    stored = try FileTokenStore.read(path: tokenFile)
                } catch {
                    throw ServerStartError(.tokens, "account \(accountID): \(error.detail); fix the file or "
                        + "authorize again (kommo-segment-server authorize CODE)", underlyingError: error)
                }
                guard stored != nil else {
                    throw ServerStartError(.tokens, "account \(accountID): the token file \(tokenFile) does not exist: "
                        + "authorize the integration first (kommo-segment-server authorize CODE, see "
                        + "Documentation/Server.md)",
                        underlyingError: KommoAPIError(code: .notAuthorized, detail: "no token file"))
                }
                return OAuthTokenProvider(host: kommoHost, credentials: credentials,
                                          store: FileTokenStore(path: tokenFile), transport: transport)
            }
        }
    }

    /// The variable that names the accounts file (several accounts, one JSON file).
    public static let accountsFileVariable = "KOMMO_SEGMENT_ACCOUNTS"

    /// The single-account variables, which the accounts file replaces.
    static let singleAccountVariables = ["KOMMO_ACCOUNT_ID", "KOMMO_BASE_URL", "KOMMO_ACCESS_TOKEN",
                                         "KOMMO_ACCESS_TOKEN_FILE", "KOMMO_CLIENT_ID", "KOMMO_CLIENT_SECRET",
                                         "KOMMO_CLIENT_SECRET_FILE", "KOMMO_REDIRECT_URI", "KOMMO_TOKEN_FILE",
                                         "KOMMO_WEBHOOK_SECRET", "SEGMENT_WRITE_KEY", "SEGMENT_ENDPOINT",
                                         "SEGMENT_REGION", "KOMMO_SEGMENT_CONFIG"]

    /// Reads the configuration from environment variables.
    ///
    /// - Parameters:
    ///   - environment: the variables (`ProcessInfo.processInfo.environment`); empty values count as unset.
    ///   - readFile: reads a file the variables name (token, mapping, accounts file); `Data(contentsOf:)` by default.
    /// - Throws: ``ServerConfigurationError`` naming the variable (never its value when it is a secret) and what to
    ///   do.
    public init(environment: [String: String],
                readFile: @escaping @Sendable (String) throws -> Data = {
                    try Data(contentsOf: URL(fileURLWithPath: $0))
                }) throws(ServerConfigurationError) {
        let variables = Variables(environment)
        host = variables["HOST"] ?? "127.0.0.1"
        port = 8080
        if let text = variables["PORT"] {
            guard let value = Int(text), (0...65_535).contains(value) else {
                throw ServerConfigurationError(.invalidValue, variable: "PORT",
                                               "must be a port number from 0 to 65535, not '\(text)'")
            }
            port = value
        }
        inboxDirectory = variables["KOMMO_SEGMENT_INBOX"] ?? "./data/inbox"
        database = nil
        if let text = variables["DATABASE_URL"] {
            do {
                database = try PostgresURL(text)
            } catch {
                throw ServerConfigurationError(.invalidValue, variable: "DATABASE_URL", "cannot be used: \(error.detail)")
            }
            if variables["KOMMO_SEGMENT_INBOX"] != nil { ignoredSettings.append("KOMMO_SEGMENT_INBOX") }
        }
        logLevel = .info
        if let text = variables["LOG_LEVEL"] {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw ServerConfigurationError(.invalidValue, variable: "LOG_LEVEL", "must be one of "
                    + Logger.Level.allCases.map(\.rawValue).joined(separator: ", ") + ", not '\(text)'")
            }
            logLevel = level
        }
        shutdownGracePeriod = .seconds(25)
        if let grace = try Self.duration(variables, "KOMMO_SEGMENT_SHUTDOWN_GRACE", in: 0...3_600) {
            shutdownGracePeriod = grace
        }
        if let lease = try Self.duration(variables, "KOMMO_SEGMENT_LEASE_SECONDS", in: 2...3_600) {
            leaseDuration = lease
        }
        if let interval = try Self.duration(variables, "KOMMO_SEGMENT_CATCH_UP_INTERVAL", in: 0...86_400) {
            catchUpInterval = interval == .zero ? nil : interval
        }
        if let lookBack = try Self.duration(variables, "KOMMO_SEGMENT_CATCH_UP_LOOK_BACK", in: 60...2_592_000) {
            catchUpLookBack = lookBack
        }
        if let settle = try Self.duration(variables, "KOMMO_SEGMENT_CATCH_UP_SETTLE", in: 0...3_600) {
            catchUpSettleDelay = settle
        }
        if let path = variables[Self.accountsFileVariable] {
            if let clash = Self.singleAccountVariables.first(where: { variables[$0] != nil }) {
                throw ServerConfigurationError(.conflict, variable: clash, "cannot be set together with "
                    + "\(Self.accountsFileVariable); put every account in the accounts file")
            }
            accounts = try AccountsFile.read(path: path, usesDatabase: database != nil, readFile: readFile)
        } else {
            accounts = [try Self.singleAccount(variables, usesDatabase: database != nil, readFile: readFile)]
        }
    }

    /// The number of seconds in `name`, within `range`, to the millisecond; `nil` when unset.
    private static func duration(_ variables: Variables, _ name: String, in range: ClosedRange<Double>)
    throws(ServerConfigurationError) -> Duration? {
        guard let text = variables[name] else { return nil }
        guard let seconds = Double(text), range.contains(seconds) else {
            throw ServerConfigurationError(.invalidValue, variable: name, "must be a number of seconds from "
                + "\(Int(range.lowerBound)) to \(Int(range.upperBound)), not '\(text)'")
        }
        return .milliseconds(Int64(seconds * 1_000))
    }

    private static func singleAccount(_ variables: Variables, usesDatabase: Bool,
                                      readFile: @escaping @Sendable (String) throws -> Data)
    throws(ServerConfigurationError) -> AccountSettings {
        let source = AccountSource(
            accountID: AccountSource.Number(try variables.required("KOMMO_ACCOUNT_ID")),
            kommoBaseURL: try variables.required("KOMMO_BASE_URL"),
            kommoAccessToken: variables["KOMMO_ACCESS_TOKEN"],
            kommoAccessTokenFile: variables["KOMMO_ACCESS_TOKEN_FILE"],
            kommoClientID: variables["KOMMO_CLIENT_ID"], kommoClientSecret: variables["KOMMO_CLIENT_SECRET"],
            kommoClientSecretFile: variables["KOMMO_CLIENT_SECRET_FILE"],
            kommoRedirectURI: variables["KOMMO_REDIRECT_URI"], kommoTokenFile: variables["KOMMO_TOKEN_FILE"],
            webhookSecret: try variables.required("KOMMO_WEBHOOK_SECRET"),
            segmentWriteKey: try variables.required("SEGMENT_WRITE_KEY"),
            segmentEndpoint: variables["SEGMENT_ENDPOINT"], segmentRegion: variables["SEGMENT_REGION"],
            mappingConfig: variables["KOMMO_SEGMENT_CONFIG"])
        return try source.settings(naming: { $0 }, usesDatabase: usesDatabase, readFile: readFile)
    }
}

/// The environment, with empty values treated as unset.
struct Variables {
    private let values: [String: String]

    init(_ environment: [String: String]) { values = environment.filter { !$0.value.isEmpty } }

    subscript(name: String) -> String? { values[name] }

    func required(_ name: String) throws(ServerConfigurationError) -> String {
        guard let value = values[name] else {
            throw ServerConfigurationError(.missing, variable: name, "is required (see Documentation/Server.md)")
        }
        return value
    }
}

/// One account's settings as text, from the variables or from an entry of the accounts file (whose keys are these
/// properties' names).
struct AccountSource: Sendable, Decodable {
    /// The account id as written: text in a variable, a number in the accounts file.
    struct Number: Sendable, Decodable {
        var text: String
        init(_ text: String) { self.text = text }
        init(from decoder: any Decoder) throws { text = String(try decoder.singleValueContainer().decode(Int64.self)) }
    }

    var accountID: Number
    var kommoBaseURL: String
    var kommoAccessToken: String?
    var kommoAccessTokenFile: String?
    var kommoClientID: String?
    var kommoClientSecret: String?
    var kommoClientSecretFile: String?
    var kommoRedirectURI: String?
    var kommoTokenFile: String?
    var webhookSecret: String
    var segmentWriteKey: String
    var segmentEndpoint: String?
    var segmentRegion: String?
    var mappingConfig: String?

    /// Validates and converts; `naming` turns a variable's name into the name of the setting in its source;
    /// `usesDatabase` tells whether OAuth tokens are kept in PostgreSQL (a token file is then not needed).
    func settings(naming: @escaping (String) -> String, usesDatabase: Bool,
                  readFile: @escaping @Sendable (String) throws -> Data)
    throws(ServerConfigurationError) -> ServerConfiguration.AccountSettings {
        let check = Check(naming: naming, usesDatabase: usesDatabase, readFile: readFile)
        guard let id = Int64(accountID.text), id > 0 else {
            throw check.fail(.invalidValue, "KOMMO_ACCOUNT_ID", "must be a positive integer, not '\(accountID.text)'")
        }
        let host: KommoAccountHost
        do {
            host = kommoBaseURL.contains("://") ? try KommoAccountHost(url: kommoBaseURL)
                : try KommoAccountHost(subdomain: kommoBaseURL)
        } catch {
            throw check.fail(.invalidValue, "KOMMO_BASE_URL", "is not a Kommo account URL or subdomain: \(error)")
        }
        var mapping = MappingConfiguration()
        if let path = mappingConfig {
            do {
                mapping = try MappingConfiguration.load(from: try check.read(path, "KOMMO_SEGMENT_CONFIG"))
            } catch let error as ServerConfigurationError {
                throw error
            } catch {
                throw check.fail(.invalidValue, "KOMMO_SEGMENT_CONFIG", "\(path): \(error)")
            }
        }
        return ServerConfiguration.AccountSettings(
            accountID: id, kommoHost: host, kommoAuthentication: try authentication(check),
            webhookSecrets: WebhookSecrets(try secrets(check)), segmentWriteKey: SegmentWriteKey(segmentWriteKey),
            segmentEndpoint: try endpoint(check), mapping: mapping)
    }

    /// The errors and file reads of one source.
    struct Check {
        let naming: (String) -> String
        let usesDatabase: Bool
        let readFile: @Sendable (String) throws -> Data

        func fail(_ code: ServerConfigurationError.Code, _ variable: String, _ message: String)
        -> ServerConfigurationError {
            ServerConfigurationError(code, variable: naming(variable), message)
        }

        func read(_ path: String, _ variable: String) throws(ServerConfigurationError) -> Data {
            do {
                return try readFile(path)
            } catch {
                throw fail(.unreadableFile, variable, "\(path) cannot be read; check the path and its permissions")
            }
        }
    }

    private func authentication(_ check: Check) throws(ServerConfigurationError)
    -> ServerConfiguration.KommoAuthentication {
        let usesDatabase = check.usesDatabase
        let oauth = [("KOMMO_CLIENT_ID", kommoClientID), ("KOMMO_CLIENT_SECRET", kommoClientSecret),
                     ("KOMMO_CLIENT_SECRET_FILE", kommoClientSecretFile), ("KOMMO_REDIRECT_URI", kommoRedirectURI),
                     ("KOMMO_TOKEN_FILE", kommoTokenFile)].filter { $0.1 != nil }.map(\.0)
        if oauth.isEmpty {
            return .longLivedToken(LongLivedToken(try longLivedToken(check)))
        }
        if let longLived = [("KOMMO_ACCESS_TOKEN", kommoAccessToken),
                            ("KOMMO_ACCESS_TOKEN_FILE", kommoAccessTokenFile)].first(where: { $0.1 != nil })?.0 {
            throw check.fail(.conflict, longLived, "and \(check.naming(oauth[0])) cannot both be set: use a "
                + "long-lived token or OAuth, not both")
        }
        guard let clientID = kommoClientID else {
            throw check.fail(.missing, "KOMMO_CLIENT_ID", "is required with \(check.naming(oauth[0])): the "
                + "integration id of the OAuth client")
        }
        let secret = try secretValue(check, value: kommoClientSecret, file: kommoClientSecretFile,
                                     variable: "KOMMO_CLIENT_SECRET", what: "the integration's secret key")
        guard let redirectURI = kommoRedirectURI else {
            throw check.fail(.missing, "KOMMO_REDIRECT_URI", "is required with OAuth: the redirect URI exactly as "
                + "registered for the integration")
        }
        guard let url = URL(string: redirectURI), let scheme = url.scheme?.lowercased(),
              scheme == "https" || scheme == "http", url.host != nil else {
            throw check.fail(.invalidValue, "KOMMO_REDIRECT_URI", "'\(redirectURI)' is not an http(s) URL")
        }
        if usesDatabase {
            // Tokens are in PostgreSQL, shared by the instances; a token file would be a second copy that goes stale.
            guard kommoTokenFile == nil else {
                throw check.fail(.conflict, "KOMMO_TOKEN_FILE", "cannot be set with DATABASE_URL: the tokens are kept "
                    + "in the database, shared by every instance")
            }
        } else if kommoTokenFile == nil {
            throw check.fail(.missing, "KOMMO_TOKEN_FILE", "is required with OAuth without DATABASE_URL: the file that "
                + "keeps the rotating token pair (created by kommo-segment-server authorize)")
        }
        return .oauth(KommoOAuthCredentials(clientID: clientID, clientSecret: secret, redirectURI: redirectURI),
                      tokenFile: kommoTokenFile)
    }

    private func longLivedToken(_ check: Check) throws(ServerConfigurationError) -> String {
        guard kommoAccessToken != nil || kommoAccessTokenFile != nil else {
            throw check.fail(.missing, "KOMMO_ACCESS_TOKEN_FILE", "(or \(check.naming("KOMMO_ACCESS_TOKEN"))) is "
                + "required: the account's long-lived Kommo token; for OAuth set \(check.naming("KOMMO_CLIENT_ID")) "
                + "and the other OAuth settings instead")
        }
        return try secretValue(check, value: kommoAccessToken, file: kommoAccessTokenFile,
                               variable: "KOMMO_ACCESS_TOKEN", what: "the account's long-lived Kommo token")
    }

    /// A secret given as a value (`variable`) or in a file (`variable_FILE`), exactly one of them.
    private func secretValue(_ check: Check, value: String?, file: String?, variable: String, what: String)
    throws(ServerConfigurationError) -> String {
        let fileVariable = variable + "_FILE"
        switch (value, file) {
        case (.some, .some):
            throw check.fail(.conflict, variable, "and \(check.naming(fileVariable)) cannot both be set; keep the file")
        case (nil, nil):
            throw check.fail(.missing, fileVariable, "(or \(check.naming(variable))) is required: \(what)")
        case (.some(let value), nil):
            return value
        case (nil, .some(let path)):
            let secret = String(decoding: try check.read(path, fileVariable), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard !secret.isEmpty else { throw check.fail(.invalidValue, fileVariable, "\(path) is empty") }
            return secret
        }
    }

    private func secrets(_ check: Check) throws(ServerConfigurationError) -> [String] {
        let secrets = webhookSecret.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard secrets.allSatisfy({ !$0.isEmpty }), secrets.count <= 2 else {
            throw check.fail(.invalidValue, "KOMMO_WEBHOOK_SECRET", "must be one secret, or two separated by a comma "
                + "during a rotation, none of them empty")
        }
        guard secrets.allSatisfy({ $0.count >= 16 }) else {
            throw check.fail(.invalidValue, "KOMMO_WEBHOOK_SECRET", "is too short: use at least 16 characters "
                + "(openssl rand -hex 32)")
        }
        return secrets
    }

    private func endpoint(_ check: Check) throws(ServerConfigurationError) -> SegmentEndpoint {
        switch (segmentEndpoint, segmentRegion) {
        case (.some, .some):
            throw check.fail(.conflict, "SEGMENT_ENDPOINT", "and \(check.naming("SEGMENT_REGION")) cannot both be set")
        case (.some(let origin), nil):
            guard let url = URL(string: origin) else {
                throw check.fail(.invalidValue, "SEGMENT_ENDPOINT", "'\(origin)' is not a URL")
            }
            do {
                return try SegmentEndpoint(origin: url)
            } catch {
                throw check.fail(.invalidValue, "SEGMENT_ENDPOINT", "\(error.detail)")
            }
        case (nil, .some(let region)):
            switch region.lowercased() {
            case "us": return .us
            case "eu": return .eu
            default: throw check.fail(.invalidValue, "SEGMENT_REGION", "must be 'us' or 'eu', not '\(region)'")
            }
        case (nil, nil):
            return .us
        }
    }
}

/// Why the configuration cannot work: one line that names the variable (or the accounts file's entry and key) and
/// says what to do. It never holds a secret's value.
public struct ServerConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The code's name.
        public var description: String { rawValue }

        /// A required variable is not set.
        public static let missing = Code(rawValue: "missing")
        /// A value cannot be used (not a number, not a URL, an unknown region, a mapping that does not load…).
        public static let invalidValue = Code(rawValue: "invalidValue")
        /// Two settings that exclude each other are both set.
        public static let conflict = Code(rawValue: "conflict")
        /// A file a variable names cannot be read.
        public static let unreadableFile = Code(rawValue: "unreadableFile")
        /// The accounts file is not in the documented format.
        public static let invalidAccountsFile = Code(rawValue: "invalidAccountsFile")
    }

    /// What is wrong.
    public let code: Code
    /// The variable, or the accounts file's `accounts[i].key`, that is wrong.
    public let variable: String
    /// What is wrong with it and what to do, without any secret.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, variable: String, _ message: String) {
        self.code = code
        self.variable = variable
        self.message = message
    }

    /// `configuration: VARIABLE message`, on one line.
    public var description: String { "configuration: \(variable) \(message)" }
}
